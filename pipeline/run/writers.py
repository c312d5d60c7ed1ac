"""Write a :class:`~pipeline.run.result.MeetingResult` into a folder, every file from :mod:`pipeline.run.outputs`.

CSV files are UTF-8 with BOM (Excel opens Japanese correctly) with formula-safe cells; the workbook holds
the same tables as sheets; the charts are drawn once and used for both the PNG files and the report.
The caller (the flow) chooses the folder — a temporary one it swaps in afterwards.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import KyoseiError
from pipeline.report.layout import build_report
from pipeline.report.render import render_html, render_markdown
from pipeline.report.word import render_docx
from pipeline.report.workbook import build_workbook
from pipeline.review import review_sheet
from pipeline.run import outputs
from pipeline.run.manifest import report_summary
from pipeline.run.parallel import SIDE_PROCESS_UNTIL, WORKBOOK_PROCESS_FROM, helper_process, inline
from pipeline.run.result import MeetingResult
from pipeline.safety import safe_frame
from pipeline.schemas import Items


def check_table(file: str, schema: Any, frame: pd.DataFrame) -> None:
    """Check an output table against its schema before anything is written; a value that breaks a rule stops the
    run with a message naming the file, the column, the rule and the rows that broke it (not a bare traceback)."""
    import pandera.errors

    try:
        schema.validate(frame)
    except (pandera.errors.SchemaError, pandera.errors.SchemaErrors) as errors:
        err = errors.schema_errors[0] if isinstance(errors, pandera.errors.SchemaErrors) else errors
        cases = err.failure_cases
        shown = ", ".join(f"#{i}: {v!r}" for i, v in zip(cases.get("index", []), cases.get("failure_case", []),
                                                            strict=False)) if hasattr(cases, "get") else str(cases)
        column = getattr(err.schema, "name", "") or ""
        raise KyoseiError(
            f"{file}: 列「{column}」の値が規則 {err.check} を満たしません（{shown[:300]}）。出力は書いていません（前回の出力は"
            f"そのままです）。kyosei の不具合です。この表示を添えて報告してください。\n"
            f"{file}: column {column!r} breaks the rule {err.check} ({shown[:300]}); nothing was written (the previous "
            "outputs are kept). This is a bug in kyosei: please report it with this message.") from errors


WORKBOOK_ROWS = 10_000
"""Rows of a table's sheet in the workbook (the CSV files hold every row):
a 100,000-comment consultation would otherwise write millions of cells nobody opens."""
REVIEW_ROWS = 20_000
"""Rows of the レビュー sheet (:func:`pipeline.review.review_sheet`: every perspective and every suggestion for a card
kept, then the comments' suggestions in order)."""


CSV_PART_ROWS = 50_000
"""Rows made formula-safe and written at a time: a long table (the review rows: 440,000 at 100,000 comments) is
never copied whole."""


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """UTF-8 with BOM, LF line ends, formula-safe cells (the same bytes written in parts of :data:`CSV_PART_ROWS`)."""
    write_csv_chunks((frame.iloc[i:i + CSV_PART_ROWS] for i in range(0, max(len(frame), 1), CSV_PART_ROWS)), path)


def write_csv_chunks(chunks: Iterable[pd.DataFrame], path: Path) -> None:
    """:func:`write_csv` of a table that comes in parts (one header, the parts' rows in order)."""
    # the BOM written by hand and the rest as plain UTF-8: the same bytes as "utf-8-sig", whose encoder is Python
    # code called once per row
    with path.open("w", encoding="utf-8", newline="") as f:
        for n, chunk in enumerate(chunks):
            if n == 0:
                f.write("\ufeff")
            safe_frame(chunk).to_csv(f, index=False, header=n == 0, lineterminator="\n")




def write_chunks(chunks: Callable[[], Iterable[pd.DataFrame]], path: Path) -> None:
    """:func:`write_csv_chunks` of what ``chunks()`` yields (a module function: it may run in another process)."""
    write_csv_chunks(chunks(), path)


def uses_second_process(n_items: int) -> bool:
    """Whether :func:`write_outputs` sends the long tables and the workbook to a second process: from
    :data:`~pipeline.run.parallel.WORKBOOK_PROCESS_FROM` to :data:`~pipeline.run.parallel.SIDE_PROCESS_UNTIL` items
    (above, the largest meetings are written by this process alone: a second one would hold a copy of the long
    tables)."""
    return WORKBOOK_PROCESS_FROM <= n_items <= SIDE_PROCESS_UNTIL


def write_outputs(result: MeetingResult, folder: Path, manifest: dict[str, Any], *,
                  now: Callable[[], datetime] = lambda: datetime.now(UTC),
                  workbook_process: bool | None = None) -> str:
    """Write every output of ``result`` into ``folder`` (which must exist); returns the report's Markdown.

    ``manifest`` (from :func:`pipeline.run.manifest.build_manifest`) gets ``finished_at`` and the list of files.
    ``workbook_process``: write the long tables and build the workbook in a second process (``None``:
    :func:`uses_second_process`); the bytes are the same either way."""
    second = uses_second_process(len(result.items)) if workbook_process is None else workbook_process
    with helper_process(keep=True) if second else nullcontext(inline) as side:
        # frames shipped (pipeline.run.parallel.Shipped, in parts when long): their texts sent without leaving a UTF-8 copy
        # in each string, and never all their bytes at once.  The long tables' files first (cut and written by the
        # side: a second process starts on them while this one draws the charts), then the workbook.
        tables = outputs.tables(result)
        long_tables = [side(write_chunks, spec.full(result), folder / spec.file) for spec, _ in tables
                       if spec.full is not None]
        images = outputs.images(result)
        summary = report_summary(manifest)
        for spec, frame in tables:
            if spec.schema is not None:
                check_table(spec.file, spec.schema, frame)
        shown = [(spec, max(len(frame), spec.full_rows(result)), frame.head(WORKBOOK_ROWS))
                 for spec, frame in tables if spec is not outputs.REVIEW]
        sheets = [(spec.sheet, view) for spec, _, view in shown]
        cut = [(f"{spec.sheet} シート", f"{len(view):,} 行を表示しています（全 {rows:,} 行は {spec.file}）")
               for spec, rows, view in shown if len(view) < rows]
        cards = result.items.loc[result.items[Items.source] == "card", Items.item_id].tolist()
        review = review_sheet(result.review, REVIEW_ROWS, always=cards)
        if len(review) < len(result.review):
            cut.append((f"{outputs.REVIEW.sheet} シート",
                        f"{len(review):,} 行を表示しています（新たな視点とカードへの提案はすべて、コメントのテーマと"
                        f"施策の紐づけは先頭から。全 {len(result.review):,} 行は {outputs.REVIEW.file}）"))
        pending = side(functools.partial(build_workbook, date=result.date,
                                         images=[(spec.title, images[spec.key]) for spec in outputs.IMAGES
                                                 if spec.key in images]),
                       result.meeting_id, result.title, [*summary, *cut], sheets, review)
        del sheets, shown, review
        ctx = build_report(result, images, summary)
        written: list[str] = []
        for spec, frame in tables:
            if spec.full is None:
                write_csv(frame, folder / spec.file)
            written.append(spec.file)
        del tables
        for spec in outputs.IMAGES:
            if spec.key in images:
                (folder / spec.file).write_bytes(images[spec.key])
                written.append(spec.file)
        markdown = render_markdown(ctx)
        (folder / outputs.REPORT_MD.file).write_text(markdown, encoding="utf-8")
        (folder / outputs.REPORT_HTML.file).write_text(render_html(ctx), encoding="utf-8")
        (folder / outputs.REPORT_DOCX.file).write_bytes(render_docx(ctx))
        del ctx, images
        for done in long_tables:
            done.result()
        workbook = pending.result()
    (folder / outputs.WORKBOOK.file).write_bytes(workbook)
    written += [outputs.WORKBOOK.file, outputs.REPORT_MD.file, outputs.REPORT_HTML.file, outputs.REPORT_DOCX.file,
                outputs.MANIFEST.file]
    manifest = {**manifest, "finished_at": now().isoformat(timespec="seconds"), "files": sorted(written)}
    (folder / outputs.MANIFEST.file).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                                encoding="utf-8")
    return markdown
