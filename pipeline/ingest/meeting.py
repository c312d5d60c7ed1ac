"""A whole meeting folder: read and validate every input and the policy table into :class:`MeetingInputs`.

A file named ``cards`` / ``feedback`` / ``votes`` holds that table; any other table file (a city's own
workbook: cards on one sheet, votes on another; a public-comment result table; a survey export) is read sheet
by sheet by what each sheet holds (:func:`pipeline.ingest.columns.classify`).  In every sheet the header row is
found below titles and notes, the columns are mapped by their words (or by ``meeting.yaml``'s ``columns``),
merged 班 cells are filled down and the rows below the table are left out.  Every data row ends either in a
validated frame or in the rejects, so ``rows_in == rows_ok + rows_rejected`` for every table (a survey row
answering two questions is one row of two comments; a wide vote row is one row of several votes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import yaml

from pipeline.errors import InputError
from pipeline.ingest.columns import REPLY, ColumnMap, canonical_frame, classify, map_columns
from pipeline.ingest.discover import (
    INPUT_KINDS,
    MEASURES_NAMES,
    find_input_files,
    find_measures,
    meeting_id_for,
    other_tables,
    read_meeting_meta,
    unread_files,
)
from pipeline.ingest.header import header_cells, locate_header
from pipeline.ingest.policy import (
    MAPPING_KEYS,
    PolicyTable,
    from_measures,
    in_own_shape,
    level_columns,
    looks_like_policy,
    read_policy,
)
from pipeline.ingest.read import (
    ROW,
    RawTable,
    Sheet,
    empty_rejects,
    header_key,
    make_rejects,
    read_sheets,
    table_from_sheet,
)
from pipeline.ingest.titles import found_title_and_date
from pipeline.ingest.validate import (
    Validated,
    clean_id,
    extra_columns,
    validate_cards,
    validate_feedback,
    validate_measures,
    validate_votes,
)
from pipeline.schemas import ALIASES, PUBLIC_COMMENT, REQUIRED, Cards, Feedback, Measures, Votes


@dataclass(frozen=True)
class MeetingInputs:
    """All validated inputs of one meeting (any of cards/feedback/votes may be ``None``).

    ``counts`` has one entry per table read (file, sheet, header row, column mapping, rows in/ok/rejected);
    ``skipped`` lists the sheets that hold no table kyosei reads, with the reason."""

    meeting_id: str
    meta: dict[str, str]
    measures: pd.DataFrame
    cards: pd.DataFrame | None
    feedback: pd.DataFrame | None
    votes: pd.DataFrame | None
    rejects: pd.DataFrame
    counts: list[dict[str, object]]
    files: dict[str, Path]
    skipped: list[dict[str, str]] = field(default_factory=list)
    series: str = ""
    """The meeting series this meeting belongs to (:func:`series_for`): only earlier meetings of the same
    series count for recurring perspectives and the theme trend."""
    measures_default: bool = False
    """True when the policy table was not named by the user (the sample's was used): the report warns."""
    policy: PolicyTable | None = None
    """The policy table as a tree (levels, ids made from the numbering, names)."""

    @property
    def attributes(self) -> list[str]:
        """The comments' attribute columns (年代, 地区 …), in input order."""
        if self.feedback is None:
            return []
        return extra_columns(self.feedback, Feedback.to_schema().columns)


@dataclass(frozen=True)
class Source:
    """One table to read: a sheet, its role, the mapping of its columns and what the analyst is told about it."""

    raw: RawTable
    role: str
    cmap: ColumnMap
    frame: pd.DataFrame
    notices: tuple[str, ...] = ()


GROUP_COLUMN = {"feedback": Feedback.group, "cards": Cards.group, "votes": Votes.group}
ID_COLUMN = {"feedback": Feedback.comment_id, "cards": Cards.card_id}


def sheets_as_groups(sources: list[Source]) -> list[Source]:
    """Several sheets of one workbook holding the same kind of table (one sheet per group): the sheet's name is
    the group where the table has no group column, and ids that repeat across the sheets (card numbers from 1 on
    each) are made unique as ``<sheet>-<id>`` — each said in a notice."""
    out = list(sources)
    families: dict[tuple[str, str], list[int]] = {}
    for i, s in enumerate(sources):
        if s.raw.sheet and s.raw.encoding == "xlsx":
            families.setdefault((s.raw.file.removesuffix(f"［{s.raw.sheet}］"), s.role), []).append(i)
    for (file, role), members in families.items():
        if len(members) < 2 or role not in GROUP_COLUMN:
            continue
        id_col = ID_COLUMN.get(role)
        ids = [{clean_id(str(v)) for v in sources[i].frame[id_col] if str(v).strip()}
               if id_col and id_col in sources[i].cmap.columns else set() for i in members]
        repeated = any(a & b for n, a in enumerate(ids) for b in ids[n + 1:])
        for i in members:
            s = sources[i]
            frame, notices = s.frame.copy(), list(s.notices)
            group = GROUP_COLUMN[role]
            if group not in s.cmap.columns:
                frame[group] = s.raw.sheet
                notices.append(f"{file} のシート「{s.raw.sheet}」の名前を班（グループ）としました / the sheet's name "
                               "is the group")
            if repeated and id_col:
                frame[id_col] = [f"{s.raw.sheet}-{clean_id(str(v))}" if str(v).strip() else v for v in frame[id_col]]
                notices.append(f"{file} の番号がシートごとに振られているため、ID をシート名つき（{s.raw.sheet}-1 など）"
                               "にしました / ids repeat across sheets: made unique with the sheet's name")
            out[i] = replace(s, frame=frame, notices=tuple(notices))
    return out


def _count(raw: RawTable, kind: str, validated: Validated, cmap: ColumnMap | None = None,
           notices: tuple[str, ...] = ()) -> dict[str, object]:
    bad_rows = set(raw.rejects[ROW]) | set(validated.rejects[ROW])
    out: dict[str, object] = {
        "file": raw.file,
        "kind": kind,
        "encoding": raw.encoding,
        "rows_in": raw.rows_in,
        "rows_ok": raw.rows_in - len(bad_rows),
        "rows_rejected": len(bad_rows),
        "blank_rows_skipped": raw.blank_rows,
        "header_row": raw.header_row,
    }
    if raw.footer_rows:
        out["rows_below_table_skipped"] = raw.footer_rows
        out["rows_below_table_from"] = raw.footer_from
    if raw.header_how:
        out["header_found_by"] = raw.header_how
    if raw.set_aside:
        out["rows_not_comments"] = len(raw.set_aside)
        out["not_comments"] = [{"row": n, "what": what, "text": text[:60]} for n, what, text in raw.set_aside]
    if validated.cells_split:
        out["cells_split"] = validated.cells_split
        out["items_from_split"] = validated.items_from_split
    if cmap is not None:
        out["mapping"] = cmap.describe()
    if notices or validated.notes:
        out["notices"] = [*notices, *validated.notes]
    return out


def _policy_sheet(sheets: list[Sheet], header_row: int | None = None) -> tuple[Sheet, RawTable]:
    """The sheet of a policy-table file that holds the table (a cover sheet may come first)."""
    tables = []
    for sheet in sheets:
        idx, how = (header_row - 1, "対応づけ / mapping") if header_row else locate_header(sheet)
        if idx is not None:
            tables.append((sheet, table_from_sheet(sheet, idx, how=how)))
    if not tables:
        raise InputError(sheets[0].file, "空のファイルです。", "the file is empty.")
    return next(((sh, raw) for sh, raw in tables if looks_like_policy(raw)), tables[0])


def policy_mapping(path: Path) -> dict[str, object]:
    """The policy table's mapping, ``<table>.yaml`` beside it (``施策体系.yaml`` for ``施策体系.xlsx``), {} when absent:
    ``levels`` (its level columns, top first), ``description``, ``keywords``, ``header_row``, ``measure_level``."""
    side = path.with_suffix(".yaml")
    if not side.is_file():
        return {}
    try:
        spec = yaml.safe_load(side.read_text(encoding="utf-8-sig")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(str(side), "YAML として読めません。", f"not valid YAML ({err}).") from None
    if not isinstance(spec, dict) or not set(spec) <= set(MAPPING_KEYS):
        raise InputError(str(side), f"体系表の対応づけに使える項目は {list(MAPPING_KEYS)} です。",
                         f"a policy table's mapping may hold {list(MAPPING_KEYS)} only.",
                         "例: levels: [基本目標, 施策の方向, 主な取組]", "e.g. levels: [基本目標, 施策の方向, 主な取組]")
    return spec


def _read_measures(path: Path) -> tuple[RawTable, ColumnMap, Validated, PolicyTable]:
    """The policy table as read, its column mapping, its validated measures and its tree: a table in kyosei's shape
    (ids given) as it is, a city's own (levels, numbering, merged cells; :func:`policy_mapping` where detection
    cannot tell) through :func:`read_policy`."""
    sheets = read_sheets(path, file=path.name)
    if not sheets:
        raise InputError(path.name, "空のファイルです。", "the file is empty.")
    spec = policy_mapping(path)
    header_row = spec.get("header_row")
    _, raw = _policy_sheet(sheets, int(header_row) if isinstance(header_row, int) else None)
    if not spec.get("levels") and (in_own_shape(raw) or len(level_columns(raw)) < 2):
        cmap = map_columns(raw, "measures")
        validated = validate_measures(canonical_frame(raw, cmap), file=raw.file)
        return raw, cmap, validated, from_measures(raw.file, validated.ok.assign(**{ROW: 0}))
    policy = read_policy(raw, spec)
    frame = policy.frame().astype({ROW: "int64"})
    canonical = frame.astype({c: str for c in frame.columns if c != ROW})
    validated = validate_measures(canonical, file=raw.file)
    levels = " > ".join(policy.levels)
    leaf = policy.levels[policy.measure_depth] if policy.measure_depth is not None else policy.levels[-1]
    notes = (f"市の体系表として読みました（階層: {levels}。上の階層を柱、「{leaf}」を施策案とし、番号から ID を作りました）/ "
             f"read as the city's own policy table (levels {levels}; measures: {leaf}; ids made from the numbering)",
             *policy.notes)
    cmap = ColumnMap("measures", {Measures.pillar_name: policy.levels[0], Measures.measure_name: leaf}, notes=notes)
    return raw, cmap, validated, policy


def load_measures(path: Path) -> pd.DataFrame:
    """The validated policy table (rows that cannot be used are left out; :func:`load_meeting` reports them)."""
    return _read_measures(path)[2].ok


def load_policy(path: Path) -> PolicyTable:
    """The policy table as a tree (levels, ids, numbering, names)."""
    return _read_measures(path)[3]


def _fill_merged(frame: pd.DataFrame, raw: RawTable, header: str | None) -> pd.DataFrame:
    """Cells of ``header`` inside a merged range (a 班 written once for several rows) get the range's value."""
    if header is None or not raw.merged or header not in raw.frame.columns:
        return frame
    col = list(raw.frame.columns).index(header) + 1
    by_row = dict(zip(raw.frame[ROW], raw.frame[header], strict=True))
    fill: dict[int, str] = {}
    for r1, c1, r2, c2 in raw.merged:
        if c1 <= col <= c2 and r2 > r1 and by_row.get(r1, ""):
            fill.update({r: by_row[r1] for r in range(r1 + 1, r2 + 1)})
    if not fill:
        return frame
    target = {"feedback": Feedback.group, "cards": Cards.group, "votes": Votes.group}
    out = frame.copy()
    for canon in target.values():
        if canon in out.columns:
            out[canon] = [fill.get(int(r), v) if not str(v).strip() else v for r, v in zip(out[ROW], out[canon],
                                                                                          strict=True)]
            break
    return out


def _sheet_sources(sheet: Sheet, role: str | None, explicit: Mapping[str, Mapping[str, object]],
                   skipped: list[dict[str, str]]) -> list[Source]:
    """The table a sheet holds, if any (``role`` None: decided by its columns)."""
    wanted = explicit.get(role or "", {})
    row = wanted.get("header_row") if role else None
    if row is not None:
        idx, how = int(row) - 1, "meeting.yaml"
    else:
        idx, how = locate_header(sheet)
    if idx is None:
        if role is not None:
            table_from_sheet(sheet, None)          # raises: empty file
        skipped.append({"file": sheet.label, "reason": "空のシート / empty sheet"})
        return []
    raw = table_from_sheet(sheet, idx, how=how)
    if role is None:
        role = classify(raw)
        if role is None:
            skipped.append({"file": sheet.label, "reason": "意見・カード・投票の表ではありません / holds no "
                                                         "comments, cards or votes"})
            return []
        if explicit.get(role, {}).get("header_row"):
            return _sheet_sources(sheet, role, explicit, skipped)
    cmap = map_columns(raw, role, explicit.get(role))
    group = cmap.columns.get("group")
    frame = _fill_merged(canonical_frame(raw, cmap), raw, group)
    return [Source(raw, role, cmap, frame)]


def _file_sources(path: Path, role: str | None, explicit: Mapping[str, Mapping[str, object]],
                  skipped: list[dict[str, str]], sheets: list[Sheet] | None = None) -> list[Source]:
    sheets = read_sheets(path) if sheets is None else sheets
    if role is None or len(sheets) == 1:
        return [s for sh in sheets for s in _sheet_sources(sh, role, explicit, skipped)]
    # a workbook named after its role: the first sheet whose header names the required column exactly, else
    # the first sheet holding that kind of table (a cover sheet may come first)
    wanted = {header_key(a) for req in REQUIRED[role] for a in ALIASES[role][req]}
    headers = [(sh, locate_header(sh)[0]) for sh in sheets]
    for sh, idx in headers:
        if wanted & {header_key(h) for h in header_cells(sh, idx)}:
            return _sheet_sources(sh, role, explicit, skipped)
    for sh, idx in headers:
        if idx is not None and classify(table_from_sheet(sh, idx)) == role:
            return _sheet_sources(sh, role, explicit, skipped)
    return _sheet_sources(sheets[0], role, explicit, skipped)


def _unique_across(validated: Validated, seen: dict[str, str], column: str, file: str) -> Validated:
    """Refuse rows whose id an earlier table of the meeting already used (several sheets of one kind)."""
    ok = validated.ok
    dup = ok[column].isin(seen)
    if not dup.any():
        seen.update(dict.fromkeys(ok[column], file))
        return validated
    extra = make_rejects((file, int(r), column, f"ID「{i}」は {seen[i]} でも使われています / id {i} is also used in "
                                                f"{seen[i]}", i) for i, r in zip(ok.loc[dup, column], ok.loc[dup, ROW],
                                                                                     strict=True))
    seen.update(dict.fromkeys(ok.loc[~dup, column], file))
    rejects = pd.concat([validated.rejects, extra], ignore_index=True) if len(validated.rejects) else extra
    return replace(validated, ok=ok[~dup].reset_index(drop=True), rejects=rejects)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame | None:
    if not frames:
        return None
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True).fillna("")


def _is_policy(sheets: list[Sheet]) -> bool:
    """Whether a file of the meeting folder is a 体系表 by its shape (:func:`looks_like_policy`)."""
    for sheet in sheets:
        idx, how = locate_header(sheet)
        if idx is not None and idx >= 0 and looks_like_policy(table_from_sheet(sheet, idx, how=how)):
            return True
    return False


POLICY_MAX_BYTES = 5_000_000
"""A file of a meeting folder larger than this is never taken for its policy table (a 体系表 is a small table; a
large file is comments, read once)."""


def policy_for(meeting_dir: Path, data_root: Path | None = None) -> Path:
    """The policy table of a meeting when none is named: ``measures.csv`` (or .xlsx …) in its folder, else a file of
    its folder shaped like a 体系表 (:func:`looks_like_policy`: the city left its own table beside the comments), else
    the data folder's (:func:`pipeline.ingest.discover.find_measures`)."""
    for name in MEASURES_NAMES:
        if (meeting_dir / name).is_file():
            return meeting_dir / name
    if meeting_dir.is_dir():
        for path in other_tables(meeting_dir):
            if path.stat().st_size <= POLICY_MAX_BYTES and _is_policy(read_sheets(path)):
                return path
    return find_measures(meeting_dir, data_root)


def _policy_in_folder(files: dict[str, Path], measures_path: Path,
                      skipped: list[dict[str, str]]) -> tuple[dict[str, list[Sheet]], str]:
    """The sheets of the folder's other files, without those shaped like a policy table: the one that is the
    meeting's policy table is said to be used, any other is named as not read (never read as comments)."""
    sheets: dict[str, list[Sheet]] = {}
    note = ""
    for name in [n for n in files if n not in INPUT_KINDS]:
        path = files[name]
        used = path.resolve() == measures_path.resolve()
        read = [] if used else read_sheets(path)
        if not used and not _is_policy(read):
            sheets[name] = read
            continue
        files.pop(name)
        if used:
            note = f"会議フォルダの {name} を体系表として使いました / the policy table {name} in the meeting folder is used"
        else:
            skipped.append({"file": name, "reason": f"体系表の形の表なので意見として読みません（使った体系表: "
                                                   f"{measures_path.name}）/ shaped like a policy table: not read as "
                                                   f"comments (policy table used: {measures_path.name})"})
    return sheets, note


def load_meeting(meeting_dir: Path, measures_path: Path, *, split_cells: bool = True,
                 measures_given: bool = True) -> MeetingInputs:
    """Read and validate a meeting folder and the policy table (``split_cells``: a cell holding several comments
    gives an item per comment).  A file of the folder shaped like a policy table is never read as comments (it is
    ``measures_path``, :func:`policy_for`, or named as not read).  ``measures_given`` False: ``measures_path`` is
    only the sample's (the report warns).

    Raises :class:`InputError` for a file that cannot be used at all; row problems become rejects.
    """
    meta = read_meeting_meta(meeting_dir)
    meeting_id = meeting_id_for(meeting_dir, meta)
    explicit: Mapping[str, Mapping[str, object]] = meta.get("columns") or {}  # type: ignore[assignment]
    files = find_input_files(meeting_dir)
    counts: list[dict[str, object]] = []
    rejects: list[pd.DataFrame] = []
    skipped: list[dict[str, str]] = [{"file": name, "reason": why} for name, why in unread_files(meeting_dir, files)]

    sheets, found_note = _policy_in_folder(files, measures_path, skipped)
    raw_m, cmap_m, measures, policy = _read_measures(measures_path)
    if found_note:
        cmap_m = replace(cmap_m, notes=(found_note, *cmap_m.notes))
    counts.append(_count(raw_m, "measures", measures, cmap_m))
    rejects += [raw_m.rejects, measures.rejects]

    sources: list[Source] = []
    for key, path in files.items():
        sources += _file_sources(path, key if key in INPUT_KINDS else None, explicit, skipped, sheets.get(key))
    sources = sheets_as_groups(sources)
    by_role = {r: [s for s in sources if s.role == r] for r in INPUT_KINDS}

    ok: dict[str, list[pd.DataFrame]] = {r: [] for r in INPUT_KINDS}
    seen: dict[str, dict[str, str]] = {"cards": {}, "feedback": {}}
    for s in by_role["cards"]:
        v = validate_cards(s.frame, file=s.raw.file, measure_ids=measures.ok[Measures.measure_id],
                           resolve=policy.resolve)
        v = _unique_across(v, seen["cards"], Cards.card_id, s.raw.file)
        counts.append(_count(s.raw, "cards", v, s.cmap, s.notices))
        rejects += [s.raw.rejects, v.rejects]
        ok["cards"].append(v.ok)
    cards_df = _concat(ok["cards"])
    card_ids = None if cards_df is None else list(cards_df[Cards.card_id])
    default_kind = str(meta.get("kind") or "")
    for n, s in enumerate(by_role["feedback"]):
        kind = default_kind or (PUBLIC_COMMENT if REPLY in s.cmap.columns else "その他")
        v = validate_feedback(s.frame, file=s.raw.file, card_ids=card_ids, reserved_ids=card_ids or (),
                              has_id_column=Feedback.comment_id in s.cmap.columns, default_kind=kind,
                              id_prefix="F" if n == 0 else f"F{n + 1}-", split_cells=split_cells)
        v = _unique_across(v, seen["feedback"], Feedback.comment_id, s.raw.file)
        counts.append(_count(s.raw, "feedback", v, s.cmap, s.notices))
        rejects += [s.raw.rejects, v.rejects]
        ok["feedback"].append(v.ok)
    for s in by_role["votes"]:
        v = validate_votes(s.frame, file=s.raw.file, card_ids=card_ids,
                           has_blocks_column=Votes.blocks in s.cmap.columns or bool(s.cmap.rounds))
        if s.cmap.rounds and len(v.rejects):   # a wide row is all or nothing
            v = Validated(v.ok[~v.ok[ROW].isin(v.rejects[ROW])].reset_index(drop=True), v.rejects)
        counts.append(_count(s.raw, "votes", v, s.cmap, s.notices))
        rejects += [s.raw.rejects, v.rejects]
        ok["votes"].append(v.ok)

    nonempty = [r for r in rejects if len(r)]
    all_rejects = pd.concat(nonempty, ignore_index=True) if nonempty else empty_rejects()
    meta_out = {str(k): ("" if v is None else (v.isoformat() if isinstance(v, dt.date) else str(v)))
                for k, v in meta.items() if k != "columns"}
    meta_out |= found_title_and_date(meta_out, [s.raw for s in sources], [*files.values(), meeting_dir.resolve()])
    feedback_df = _concat(ok["feedback"])
    return MeetingInputs(
        meeting_id=meeting_id, meta=meta_out, measures=measures.ok, cards=cards_df, feedback=feedback_df,
        votes=_concat(ok["votes"]), rejects=all_rejects, counts=counts, files={"measures": measures_path, **files},
        skipped=skipped,
        series=series_for(meeting_dir, meta, consultation(cards_df, feedback_df, _concat(ok["votes"]))),
        policy=policy,
        measures_default=not measures_given,
    )


WORKSHOP, PUBLIC_COMMENT_ROUND, SURVEY, COMMENTS = "ワークショップ", "パブリックコメント", "アンケート", "意見"


def consultation(cards: pd.DataFrame | None, feedback: pd.DataFrame | None, votes: pd.DataFrame | None) -> str:
    """What kind of consultation the inputs are: a workshop (cards or votes), a public-comment round (every
    comment a public comment), a survey (answers to questions), else comments."""
    if cards is not None or votes is not None:
        return WORKSHOP
    if feedback is None or not len(feedback):
        return COMMENTS
    if (feedback[Feedback.kind] == PUBLIC_COMMENT).all():
        return PUBLIC_COMMENT_ROUND
    if Feedback.question in feedback.columns and (feedback[Feedback.question].astype(str).str.strip() != "").any():
        return SURVEY
    return COMMENTS


def series_for(meeting_dir: Path, meta: Mapping[str, object], kind: str) -> str:
    """``meeting.yaml``'s ``series``, else the folder the meeting folder is in and the kind of consultation
    (``連携会議 / ワークショップ``): cities keep one series' meetings in one folder, and a public-comment round,
    a survey and a workshop are never one series unless ``meeting.yaml`` says so."""
    declared = meta.get("series")
    if declared not in (None, ""):
        return str(declared).strip()
    return f"{meeting_dir.resolve().parent.name} / {kind}"


__all__ = ["MeetingInputs", "consultation", "load_measures", "load_meeting", "load_policy", "policy_for",
           "series_for"]
