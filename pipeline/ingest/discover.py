"""Finding things on disk: a meeting's input files and ``meeting.yaml``, the meeting folders under a data
root, the policy table.  One list of input names and suffixes, shared by ``run``, ``validate`` and
``run-pending``."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from pipeline.errors import InputError

log = logging.getLogger(__name__)

INPUT_KINDS: tuple[str, ...] = ("cards", "feedback", "votes")
SUFFIXES: tuple[str, ...] = (".csv", ".xlsx", ".xlsm", ".tsv", ".txt", ".docx")
MEETING_FILE = "meeting.yaml"
MEASURES_FILE = "measures.csv"
MEASURES_NAMES: tuple[str, ...] = tuple(f"measures{s}" for s in (".csv", ".xlsx", ".xlsm", ".tsv", ".txt"))
"""The policy table's file names looked for beside a meeting (``kyosei init`` copies a city's 体系表 in as one)."""


_UNSAFE_ID = re.compile(r"[/\\:*?\"<>|\x00-\x1f\x7f]")
"""Characters a folder name cannot hold on Windows or that would leave the output folder; everything else
(Japanese, spaces, brackets) is kept as the meeting's name."""


def meeting_id_for(meeting_dir: Path, meta: dict[str, object]) -> str:
    """``meeting.yaml``'s ``id`` (a date is written as YYYY-MM-DD), else the folder name.

    Japanese, spaces and brackets are kept (「第3回 連携会議 (7月)」); an id a folder cannot be named by, or that
    could leave the output folder (``..``, slashes), is refused, pointing at what to change (the folder name,
    or ``meeting.yaml`` when the id comes from it).
    """
    raw = meta.get("id")
    if isinstance(raw, dt.date):
        raw = raw.isoformat()
    mid = str(raw).strip() if raw not in (None, "") else meeting_dir.resolve().name.strip()
    if mid and not _UNSAFE_ID.search(mid) and not mid.startswith(".") and not mid.endswith((".", " ")):
        return mid
    if raw not in (None, ""):
        raise InputError(
            str(meeting_dir / MEETING_FILE),
            f"meeting.yaml の id「{mid}」は会議IDに使えません（/ \\ : * ? \" < > | と制御文字、先頭の . は不可）。",
            f"the id {mid!r} in meeting.yaml cannot be a meeting id (no / \\ : * ? \" < > |, control characters "
            "or leading dot).",
            "id を「第3回連携会議」や 2024-05-22 のような名前にしてください。",
            "set id to a name such as 第3回連携会議 or 2024-05-22.",
        )
    raise InputError(
        str(meeting_dir),
        f"フォルダ名「{mid}」は会議IDに使えません（/ \\ : * ? \" < > | と制御文字、先頭の . は不可）。",
        f"the folder name {mid!r} cannot be a meeting id (no / \\ : * ? \" < > |, control characters or leading "
        "dot).",
        f"フォルダ名を変えるか、{MEETING_FILE} を作って「id: 第3回連携会議」のように書いてください。",
        f"rename the folder, or create {MEETING_FILE} with a line such as 'id: 第3回連携会議'.",
    )


def read_meeting_meta(meeting_dir: Path) -> dict[str, object]:
    """``meeting.yaml`` as a dict ({} when absent); refused when it is not a mapping."""
    path = meeting_dir / MEETING_FILE
    if not path.exists():
        return {}
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(str(path), "YAML として読めません。", f"not valid YAML ({err}).") from None
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise InputError(str(path), "「項目: 値」の形式ではありません。", "must be a mapping of key: value.")
    for key in ("id", "title", "organiser", "kind"):
        if key in meta and isinstance(meta[key], dict | list):
            raise InputError(str(path), f"「{key}」は1つの値（文字）にしてください。",
                             f"'{key}' must be a single value, not a list or mapping.")
    columns = meta.get("columns")
    if columns is not None and (not isinstance(columns, dict) or not all(
            k in INPUT_KINDS and isinstance(v, dict) for k, v in columns.items())):
        raise InputError(str(path), "「columns」は cards / feedback / votes ごとの「項目: 列名」にしてください。",
                         "'columns' must map cards / feedback / votes to 'column: header' mappings.",
                         "例: columns: {feedback: {text: ご意見の概要, reply: 市の考え方}}",
                         "e.g. columns: {feedback: {text: ご意見の概要, reply: 市の考え方}}")
    date = meta.get("date")
    if date is not None and not isinstance(date, dt.date) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(date)):
        raise InputError(str(path), f"date「{date}」は 2024-05-22 の形で書いてください。",
                         f"date {date!r} must look like 2024-05-22.")
    return meta


TABLE_SUFFIXES: tuple[str, ...] = SUFFIXES
"""Suffixes of a file with any other name (read sheet by sheet by what each sheet holds)."""


def _outside(path: Path, folder: Path) -> InputError:
    return InputError(
        str(path),
        "会議フォルダの外のファイルを指しています。",
        "the file points outside the meeting folder.",
        "ファイルそのものを会議フォルダに置いてください。",
        "put the file itself in the meeting folder.",
    )


def other_tables(folder: Path) -> list[Path]:
    """Table files of a meeting folder not named cards/feedback/votes/measures (a city's own file names:
    パブコメ結果.xlsx, ワークショップ記録.xlsx); hidden files and Excel's lock files (~$…) are not tables."""
    named = {f"{k}{s}" for k in (*INPUT_KINDS, "measures") for s in SUFFIXES} | set(CODEBOOK_LAYER_FILES)
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES and p.name not in named
                  and not p.name.startswith((".", "~$")))


_AS_TABLE = "意見を表（.xlsx / .csv）、Word（.docx）かテキスト（.txt）で保存し直してください / save the comments as a table " \
            "(.xlsx / .csv), a Word document (.docx) or a text file (.txt)"
UNREAD_REASONS: dict[str, str] = {
    ".doc": "古い形式の Word 文書（.doc）は読みません。Word で開いて .docx で保存し直してください / old Word documents (.doc) "
            "are not read: open it in Word and save it as .docx",
    ".xls": "古い形式の Excel ファイル（.xls）は読みません。Excel で開いて .xlsx で保存し直してください / old Excel workbooks "
            "(.xls) are not read: open it in Excel and save it as .xlsx",
    ".pdf": "PDF は読みません。元の Word・Excel のファイルを置くか、" + _AS_TABLE.replace(" / ", " / PDF files are not "
                                                                                 "read: use the original file or "),
    ".png": "画像は読みません。カードを文字に起こして表（.xlsx / .csv）かテキスト（.txt）にしてください / images are not read: "
            "type the cards into a table (.xlsx / .csv) or a text file (.txt)",
}
for _image in (".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".webp"):
    UNREAD_REASONS[_image] = UNREAD_REASONS[".png"]
for _other in (".pptx", ".ppt", ".odt", ".ods", ".rtf", ".json", ".html", ".htm"):
    UNREAD_REASONS[_other] = "この形式は読みません。" + _AS_TABLE
"""Why a file of a meeting folder is not read, by its suffix (others: not a file kyosei reads)."""

READ_KINDS = "表（.csv .tsv .xlsx .xlsm）、Word 文書（.docx）、テキスト（.txt）"
"""What a meeting folder's files are read as, for messages."""


def unread_files(meeting_dir: Path, found: Mapping[str, Path]) -> list[tuple[str, str]]:
    """Every other file of the meeting folder (not an input table, ``meeting.yaml``, a policy table or a codebook
    layer; hidden files and Excel's lock files aside), with why it is not read: nothing is left out in silence."""
    used = {p.name for p in found.values()} | {"meeting.yaml", "meeting.yml", *CODEBOOK_LAYER_FILES} | {
        f"measures{s}" for s in SUFFIXES}
    mappings = {p.with_suffix(".yaml").name for p in meeting_dir.iterdir() if p.suffix.lower() in TABLE_SUFFIXES}
    return [(p.name, UNREAD_REASONS.get(p.suffix.lower(), "読める形式ではありません。" + _AS_TABLE))
            for p in sorted(meeting_dir.iterdir())
            if p.is_file() and p.name not in used | mappings and not p.name.startswith((".", "~$"))]


def find_input_files(meeting_dir: Path) -> dict[str, Path]:
    """The meeting's table files: ``cards``/``feedback``/``votes`` (any of :data:`SUFFIXES`) under their role,
    and any other table file (:func:`other_tables`) under its own name."""
    if not meeting_dir.is_dir():
        raise InputError(str(meeting_dir), "会議フォルダが見つかりません。", "meeting folder not found.")
    found: dict[str, Path] = {}
    for kind in INPUT_KINDS:
        matches = [meeting_dir / f"{kind}{s}" for s in SUFFIXES if (meeting_dir / f"{kind}{s}").is_file()]
        if len(matches) > 1:
            raise InputError(
                str(meeting_dir),
                f"{kind} のファイルが複数あります: {[m.name for m in matches]}",
                f"several {kind} files: {[m.name for m in matches]}",
                "どれか1つだけ残してください。",
                "keep only one.",
            )
        if matches:
            found[kind] = matches[0]
    for path in other_tables(meeting_dir):
        found[path.name] = path
    for path in found.values():
        # never follow a link out of the meeting folder (feedback.csv -> /etc/passwd)
        if not path.resolve().is_relative_to(meeting_dir.resolve()):
            raise _outside(path, meeting_dir)
    if not found:
        others = unread_files(meeting_dir, found)
        seen_ja = "".join(f"\n  {name}: {why.split(' / ')[0]}" for name, why in others)
        seen_en = "".join(f"\n  {name}: {why.split(' / ')[-1]}" for name, why in others)
        raise InputError(
            str(meeting_dir),
            f"読めるファイルがありません。読むもの: {READ_KINDS}。" + (f"\nあったファイル:{seen_ja}" if others else ""),
            "no file kyosei reads: tables (.csv .tsv .xlsx .xlsm), Word documents (.docx) or text files (.txt)."
            + (f"\nfiles found:{seen_en}" if others else ""),
            "意見の表（.xlsx / .csv）、議事録（.docx）か意見を1行ずつ書いたテキスト（.txt）を置いてください。",
            "add a table of comments (.xlsx / .csv), minutes (.docx) or a text file with one comment per line.",
        )
    return found


def has_input_file(folder: Path) -> bool:
    """Whether ``folder`` holds a table :func:`find_input_files` would read."""
    return any((folder / f"{k}{s}").is_file() for k in INPUT_KINDS for s in SUFFIXES) or bool(other_tables(folder))


def discover_meetings(data_root: Path) -> list[Path]:
    """Meeting folders under ``DATA_ROOT/meetings/`` (or ``DATA_ROOT/``) that hold an input file, never
    following a link out of the data root."""
    root = data_root.resolve()
    base = data_root / "meetings" if (data_root / "meetings").is_dir() else data_root
    out = []
    for d in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not d.resolve().is_relative_to(root):
            log.warning("%s points outside %s; skipped", d, data_root)
            continue
        if has_input_file(d):
            out.append(d)
    return out


def find_measures(meeting_dir: Path, data_root: Path | None = None) -> Path:
    """The policy table used when none is given: ``measures.csv`` (or ``.xlsx`` …) beside the meeting, in the data
    root (``run-pending``'s ``DATA_ROOT``, else two levels up: ``data/meetings/<id>`` → ``data/``), else
    ``data/measures.csv`` under the current folder."""
    roots = [meeting_dir, data_root if data_root is not None else meeting_dir.parent.parent, Path("data")]
    for folder in roots:
        for name in MEASURES_NAMES:
            if (folder / name).is_file():
                return folder / name
    return roots[1] / MEASURES_FILE if data_root is not None else Path("data") / MEASURES_FILE


def found_beside(meeting_dir: Path, measures: Path, data_root: Path | None = None) -> bool:
    """Whether a policy table found by :func:`find_measures` belongs to the meeting (in its folder or its data
    root) rather than being the last resort, ``data/measures.csv`` of the current folder (the sample city's
    table in a kyosei checkout)."""
    if measures.resolve().parent == meeting_dir.resolve():
        return True
    mine = [meeting_dir, data_root if data_root is not None else meeting_dir.parent.parent]
    return any((folder / name).resolve() == measures.resolve() for folder in mine for name in MEASURES_NAMES)


CODEBOOK_LAYER_FILES = ("codebook.local.yaml", "codebook.local.xlsx")
"""A city's additions to the field's codebook (its programme names, local words), merged on top of it."""


def find_codebook_layers(meeting_dir: Path, data_root: Path | None = None) -> list[Path]:
    """The codebook layers that belong to a meeting: ``codebook.local.yaml`` (or ``.xlsx``) in its data root
    (``run-pending``'s ``DATA_ROOT``, else two levels up: ``data/meetings/<id>`` → ``data/``), then in the
    meeting folder itself (merged last, so a meeting's own additions come on top of the city's)."""
    root = data_root if data_root is not None else meeting_dir.parent.parent
    out: list[Path] = []
    for folder in (root, meeting_dir):
        for name in CODEBOOK_LAYER_FILES:
            path = folder / name
            if not path.is_file():
                continue
            if not path.resolve().is_relative_to(folder.resolve()):  # never follow a link out of the folder
                raise _outside(path, folder)
            if all(path.resolve() != p.resolve() for p in out):
                out.append(path)
    return out
