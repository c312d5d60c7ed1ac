"""Embed a Japanese font in the HTML report, subset to the characters the page uses.

A report opened on a machine without a Japanese font (a server, a kiosk browser) would otherwise show
missing-glyph boxes.  IPAex Gothic ships with matplotlib-fontja; its licence (IPA Font License v1.0)
allows embedding in documents.  fontTools (a matplotlib dependency) makes a subset of the glyphs used,
so a report carries ~100–300 KB of font instead of 6 MB.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path

FONT_FAMILY = "KyoseiJP"


def font_path() -> Path:
    import matplotlib_fontja

    return Path(matplotlib_fontja.__file__).parent / "fonts" / "ipaexg.ttf"


@lru_cache(maxsize=1)
def _font_bytes() -> bytes:
    return font_path().read_bytes()


def subset_font(text: str) -> bytes:
    """TrueType bytes of IPAex Gothic holding only the glyphs of ``text`` (deterministic)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(_font_bytes()), recalcTimestamp=False)
    options = subset.Options()
    options.recalc_timestamp = False
    options.name_IDs = ["*"]          # keep the copyright and licence names
    options.notdef_outline = True
    sub = subset.Subsetter(options)
    sub.populate(text="".join(sorted(set(text) | set(" ?0123456789"))))
    sub.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def font_face_css(text: str) -> str:
    """An ``@font-face`` rule with the subset font as a data: URI."""
    data = base64.b64encode(subset_font(text)).decode("ascii")
    return (f'@font-face {{ font-family: "{FONT_FAMILY}"; '
            f'src: url(data:font/ttf;base64,{data}) format("truetype"); }}')
