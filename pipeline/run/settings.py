"""The run's settings, declared once.

:class:`Settings` is what a user can choose for a run.  Everything else is derived from it: the command line's
options and their help (:func:`flows.cli.options.add_settings`), the flow's parameter, the manifest's ``parameters``,
the rerun fingerprint (:func:`pipeline.run.manifest.fingerprint`) and the ``run-pending`` / ``serve`` settings.
A field's :class:`Option` says how it appears on the command line and whether it can change the outputs.

The shipped models (codebook, lexicon, stop words, theme labels) are package data (:func:`shipped`); a path left
``None`` means the shipped file, so ``kyosei`` works from any folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.charts.network import TOP_EDGES, TOP_TERMS


def shipped(name: str) -> Path:
    """A model file shipped with kyosei (``codebook.yaml``, ``lexicon.yaml``, ``stopwords.txt``,
    ``theme_labels.csv``), read from the installed package."""
    return Path(str(resources.files("pipeline") / "resources" / name))


@dataclass(frozen=True)
class Option:
    """How a setting appears on the command line: ``flag`` (``--no-…`` for a setting that is on by default),
    Japanese help with English in parentheses, and whether it can change what a run writes (``results``: a
    change makes ``run-pending`` run the meeting again)."""

    flag: str
    help: str
    results: bool = True
    metavar: str | None = None


def _setting(default: Any, flag: str, help: str, *, results: bool = True, metavar: str | None = None) -> Any:
    return field(default=default, metadata={"option": Option(flag, help, results, metavar)})


@dataclass(frozen=True)
class Settings:
    """A run's settings (paths as given: relative ones are relative to the folder the command runs in)."""

    measures: Path | None = _setting(
        None, "--measures",
        "施策一覧（体系表）CSV/XLSX。既定: 会議フォルダの measures.csv、なければ2つ上のフォルダの measures.csv、"
        "なければ ./data/measures.csv (the policy table)", metavar="FILE")
    out_root: Path = _setting(Path("outputs"), "--out-root",
                              "出力先。会議ごとに OUT_ROOT/<会議ID>/ に書きます（既定: 実行したフォルダの outputs）"
                              " (output folder)", results=False, metavar="DIR")
    codebook: Path | None = _setting(
        None, "--codebook",
        "テーマのコードブック（YAML、または kyosei codebook export の Excel ブック）。既定: kyosei 同梱のもの "
        "(theme codebook; default: the shipped one)", metavar="FILE")
    codebook_layers: tuple[Path, ...] = _setting(
        (), "--codebook-layer",
        "コードブックに重ねる追加分（地域の事業名など。何度でも指定可）。会議フォルダとその2つ上の "
        "codebook.local.yaml は指定しなくても重ねます (a city's additions; repeatable)", metavar="FILE")
    local_codebook: bool = _setting(
        True, "--no-local-codebook",
        "会議フォルダ・データフォルダの codebook.local.yaml を重ねません (leave the found local layers out)")
    lexicon: Path | None = _setting(None, "--lexicon",
                                    "ユーザー辞書 YAML（既定: 同梱のもの）(user lexicon)", metavar="FILE")
    stopwords: Path | None = _setting(None, "--stopwords",
                                      "ストップワード（既定: 同梱のもの）(stop words)", metavar="FILE")
    theme_labels: Path | None = _setting(
        None, "--theme-labels", "学習層の教師データ（分析者が確認したテーマ。既定: 同梱のもの）(theme labels)",
        metavar="FILE")
    decisions: Path | None = _setting(
        Path("models/review_decisions.csv"), "--decisions",
        "分析者の判定の記録（kyosei review apply が追記。既定: models/review_decisions.csv）(decision log)",
        metavar="FILE")
    mask_pii: bool = _setting(
        True, "--no-mask",
        "個人情報（氏名・電話番号・メール・住所）を伏せずに出力します（庁内限定の実行のみ）(keep personal data)")
    split_cells: bool = _setting(
        True, "--keep-cells",
        "1つのセルに書かれた複数の意見（・や番号の箇条書き、文ごとの改行）を分けずに1件として読みます "
        "(keep a cell holding several comments as one item)")
    network_words: int = _setting(
        TOP_TERMS, "--network-words",
        f"共起ネットワークで数える語の数（出現件数の多い順。既定 {TOP_TERMS}）(words considered)", metavar="N")
    network_edges: int = _setting(
        TOP_EDGES, "--network-edges",
        f"共起ネットワークに描く語の組の数（共起の強い順。既定 {TOP_EDGES}）(word pairs drawn)", metavar="N")
    network_mst: bool = _setting(
        False, "--network-mst",
        "共起ネットワークを最小スパニング・ツリー（語をつなぐ最も強い組）だけにします (spanning tree only)")
    seed: int = _setting(0, "--seed", "乱数シード（既定 0。同じ入力・同じシードなら同じ出力）(random seed)",
                         metavar="N")
    task_runner: str = _setting(
        "serial", "--task-runner",
        "serial（既定）/ dask（2ワーカーのローカルクラスタ）/ dask=tcp://HOST:8786（既存の Dask クラスタ）"
        "。出力は同じです (where the item batches run; same outputs)", results=False, metavar="RUNNER")
    chunk_size: int = _setting(500, "--chunk-size", "Dask で分割する件数（既定 500。出力は同じです）(items per chunk)",
                               results=False, metavar="N")


def options() -> list[tuple[str, Any, Option]]:
    """Every setting as (name, default, :class:`Option`), in declaration order."""
    return [(f.name, f.default, f.metadata["option"]) for f in fields(Settings)]


NOT_RESULTS = tuple(name for name, _, opt in options() if not opt.results)
"""The settings that cannot change what a run writes (left out of the rerun fingerprint)."""

FILE_SETTINGS = ("measures", "out_root", "codebook", "codebook_layers", "local_codebook", "lexicon", "stopwords",
                 "theme_labels", "decisions")
"""The settings that choose files: the manifest records the files a run read, the fingerprint their content."""
