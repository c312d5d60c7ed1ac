"""pandera, imported without ``dask.dataframe``.

pandera checks each model's annotations against the dataframe types of every backend it finds, and to find dask's it
imports ``dask.dataframe`` (dask is here for Prefect's Dask task runner).  Without pyarrow that import fails halfway,
after loading dask's array and expression modules: 35 MiB and 0.34 s in every process that imports the schemas (the
main one, each item-pass worker, each helper), and then pandera treats dask as absent anyway.  kyosei validates pandas
frames only, so ``dask.dataframe`` is held back while pandera looks (an import of it then fails at once, as pandera
expects when dask is missing) and let go after: a later import by the Dask task runner is tried as usual.
"""

from __future__ import annotations

import sys

if "pandera.typing.dask" not in sys.modules and "dask.dataframe" not in sys.modules:
    sys.modules["dask.dataframe"] = None  # type: ignore[assignment]
    try:
        import pandera.typing.dask  # noqa: F401
    finally:
        del sys.modules["dask.dataframe"]

import pandera.pandas as pa
from pandera.typing import Series

__all__ = ["Series", "pa"]
