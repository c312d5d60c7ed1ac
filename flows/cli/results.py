"""Commands on a run's outputs: ``kwic``, ``review apply``, ``revise`` and ``eval``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from flows.cli import common as ui
from flows.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PROBLEMS,
    add_setting,
)
from pipeline.run.history import layers_of_run


def _add_kwic(sub: argparse._SubParsersAction) -> None:
    from pipeline.run.outputs import KWIC

    kw = sub.add_parser("kwic", help="語の前後の文脈（KWIC）を表示します (show a word in its contexts)")
    kw.add_argument("out_dir", type=Path,
                    help=f"会議の出力フォルダ（outputs/<会議ID>。{KWIC.file} を読みます）(a run's output folder)")
    kw.add_argument("word", help="見る語（数えた形「働く」でも書かれた形「働き」でも）(the word)")
    kw.add_argument("--sort", choices=["order", "left", "right"], default="order",
                    help="並べ方: order（出てきた順。既定）/ left（語の直前の文字から）/ right（直後の文字から）(order)")
    kw.add_argument("--limit", type=int, default=0, help="表示する行数の上限（既定: すべて）(most lines shown)")
    kw.add_argument("--width", type=int, default=20, help="前後に表示する文字数（既定 20）(characters each side)")


def _fit(text: str, width: int, *, right: bool) -> str:
    """``text`` cut to ``width`` columns (full-width characters count two) and padded: right-aligned for a left
    context, so every occurrence of the word lines up in one column."""
    from pipeline.xlsx import display_width

    while display_width(text) > width:
        text = text[1:] if right else text[:-1]
    pad = " " * (width - display_width(text))
    return pad + text if right else text + pad


def cmd_kwic(args: argparse.Namespace) -> int:

    from pipeline.run.outputs import KWIC, TAGGED
    from pipeline.themes.kwic import find_word, search_texts, sort_lines
    from pipeline.xlsx import display_width

    path = args.out_dir / KWIC.file
    if not path.is_file():
        ui.err_console.print(f"{path}: ありません。kyosei run の出力フォルダを指定してください / not found: give the output "
                          f"folder of a run (outputs/<meeting id>)", markup=False, soft_wrap=True)
        return EXIT_ERROR
    lines = find_word(KWIC.load(args.out_dir), args.word)
    where = KWIC.file
    if not len(lines) and (args.out_dir / TAGGED.file).is_file():
        lines = search_texts(TAGGED.load(args.out_dir), args.word, width=args.width)
        where = f"{TAGGED.file}（正規化した本文の文字列検索 / plain search of the normalised text）"
    if not len(lines):
        ui.console.print(f"「{args.word}」は見つかりません / not found in {args.out_dir}", markup=False)
        return EXIT_PROBLEMS
    lines = sort_lines(lines, args.sort)
    total = len(lines)
    if args.limit > 0:
        lines = lines.head(args.limit)
    id_width = max(display_width(str(i)) for i in lines["item_id"])
    kind_width = min(16, max(display_width(str(k)) for k in lines["kind"]))
    for item_id, kind, left, term, right, themes in zip(lines["item_id"], lines["kind"], lines["left"], lines["term"],
                                                        lines["right"], lines["themes"], strict=True):
        label = f"{_fit(str(item_id), id_width, right=False)} {_fit(str(kind), kind_width, right=False)}"
        tail = f"  [{themes.replace('|', '、')}]" if themes else ""
        print(f"{label} {_fit(left, args.width * 2, right=True)} 【{term}】 {_fit(right, args.width * 2, right=False)}"
              f"{tail}".rstrip())
    more = f"（{len(lines)} 行を表示）" if len(lines) < total else ""
    ui.console.print(f"{total} 行{more} / {total} line(s) — {where}", markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK


def _add_review(sub: argparse._SubParsersAction) -> None:
    from pipeline.run.outputs import TAGGED, WORKBOOK

    rv = sub.add_parser("review", help="レビューシートの判定を記録します (record the analysts' review decisions)")
    rv_sub = rv.add_subparsers(dest="review_command", required=True, title="コマンド (commands)", metavar="COMMAND")
    apply = rv_sub.add_parser("apply", help=f"記入済みの {WORKBOOK.file} を検査し、判定を記録します "
                                            "(check a filled-in review sheet and record its decisions)")
    apply.add_argument("workbook", type=Path, help=f"レビューシートを記入した {WORKBOOK.file} (the filled-in workbook)")
    apply.add_argument("--log", type=Path, default=Path("models/review_decisions.csv"), metavar="FILE",
                       help="判定を追記する記録（既定: models/review_decisions.csv。kyosei run の --decisions）(the decision log)")
    add_setting(apply, "codebook")
    apply.add_argument("--measures", type=Path, default=Path("data/measures.csv"), metavar="FILE",
                       help="施策一覧（既定: data/measures.csv）(the policy table)")
    apply.add_argument("--out-root", type=Path, default=Path("outputs"), metavar="DIR",
                       help=f"その会議の出力（{TAGGED.file}）で対象IDを確認します（既定: outputs）(the runs' output folder)")


def cmd_review_apply(args: argparse.Namespace) -> int:
    import datetime as dt

    from pipeline.ingest import load_measures
    from pipeline.review import LOG_COLUMNS, SUMMARY_SHEET, decisions_from_sheet, read_review_sheet
    from pipeline.run.outputs import TAGGED
    from pipeline.safety import safe_frame
    from pipeline.themes.load import load_codebook

    meeting_id, sheet = read_review_sheet(args.workbook)
    if not meeting_id:
        ui.err_console.print(f"{args.workbook}: 「{SUMMARY_SHEET}」シートに会議IDがありません / no meeting id in the "
                          f"{SUMMARY_SHEET} sheet", markup=False)
        return EXIT_ERROR
    book = load_codebook(args.codebook, layers=layers_of_run(args.out_root / meeting_id))
    measures = load_measures(args.measures)
    tagged_path = args.out_root / meeting_id / TAGGED.file
    known = None
    if tagged_path.is_file():
        known = list(TAGGED.load(args.out_root / meeting_id)["item_id"])
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    rows, problems = decisions_from_sheet(sheet, meeting_id=meeting_id, theme_ids=book.theme_ids,
                                          measure_ids=list(measures["measure_id"]), known_items=known,
                                          timestamp=stamp)
    if problems:
        for p in problems:
            ui.console.print(f"{args.workbook}: {p}", markup=False, soft_wrap=True)
        ui.console.print(f"[red]{len(problems)} 行に問題があるため、何も記録していません / "
                      f"{len(problems)} problem(s); nothing was recorded[/]")
        return EXIT_PROBLEMS
    if not len(rows):
        ui.console.print("判定が入力された行がありません / no row has a decision")
        return EXIT_OK
    args.log.parent.mkdir(parents=True, exist_ok=True)
    new_file = not args.log.is_file()
    safe_frame(rows[LOG_COLUMNS]).to_csv(args.log, mode="a", header=new_file, index=False,
                                         encoding="utf-8-sig" if new_file else "utf-8", lineterminator="\n")
    counts = rows.groupby(["kind", "decision"]).size()
    detail = "、".join(f"{k}/{d} {n}" for (k, d), n in counts.items())
    ui.console.print(f"[green]{len(rows)} 件の判定を {args.log} に記録しました / recorded {len(rows)} decision(s)[/] "
                  f"（{detail}）。次回の kyosei run {meeting_id} で反映されます。", soft_wrap=True)
    return EXIT_OK


def _add_revise(sub: argparse._SubParsersAction) -> None:
    from pipeline.run.outputs import MEASURES_DRAFT, MEASURES_DRAFT_XLSX

    rv = sub.add_parser("revise", help=f"採用した視点から施策案の見直し案（{MEASURES_DRAFT.file}）を書きます "
                                       "(write the next draft of the measures)")
    rv.add_argument("out_dir", type=Path, help="その会議の出力フォルダ（outputs/<会議ID>）(a run's output folder)")
    add_setting(rv, "decisions")
    rv.add_argument("--measures", type=Path, metavar="FILE",
                    help="見直す施策一覧（既定: その会議の分析に使ったもの）(the policy table to revise)")
    add_setting(rv, "lexicon")
    add_setting(rv, "stopwords")
    rv.add_argument("--out", type=Path, metavar="DIR", help=f"書き出し先フォルダ（既定: out_dir。{MEASURES_DRAFT.file} と "
                                                            f"{MEASURES_DRAFT_XLSX.file}）(where to write)")


def cmd_revise(args: argparse.Namespace) -> int:
    """Accepted perspectives → measures_draft.csv / .xlsx beside the meeting's outputs (or in ``--out``)."""
    from pipeline.ingest import load_policy
    from pipeline.ingest.policy import city_draft
    from pipeline.run.history import measures_of_run, revise_meeting
    from pipeline.run.outputs import MEASURES_DRAFT, MEASURES_DRAFT_XLSX, POLICY_DRAFT, POLICY_DRAFT_XLSX
    from pipeline.run.writers import write_csv
    from pipeline.xlsx import table_workbook

    draft = revise_meeting(args.out_dir, args.decisions, measures=args.measures, lexicon=args.lexicon,
                           stopwords=args.stopwords)
    folder = args.out or args.out_dir
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(draft, folder / MEASURES_DRAFT.file)
    (folder / MEASURES_DRAFT_XLSX.file).write_bytes(table_workbook("施策一覧", draft))
    policy = load_policy(args.measures or measures_of_run(args.out_dir))
    if not policy.own_ids:                   # the city's own table: the draft in its levels and numbering too
        city = city_draft(policy, draft)
        write_csv(city, folder / POLICY_DRAFT.file)
        (folder / POLICY_DRAFT_XLSX.file).write_bytes(table_workbook("施策体系", city))
        ui.console.print(f"市の体系表の形 / in the city's shape: {folder / POLICY_DRAFT.file}", markup=False,
                         highlight=False, soft_wrap=True)
    counts = draft["change"].value_counts()
    summary = "、".join(f"{c} {int(counts[c])}" for c in ("新設", "拡充", "紐づけ追加", "要検討") if c in counts)
    ui.console.print(f"見直し案 / draft: {folder / MEASURES_DRAFT.file}（施策案 {len(draft)}。{summary or '変更なし'}）",
                     markup=False, highlight=False, soft_wrap=True)
    ui.console.print(f"  次の会議 / next meeting: kyosei run MEETING_DIR --measures {folder / MEASURES_DRAFT.file}",
                     markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK


def _add_eval(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="ラベル付きデータでテーマ付けの精度を測ります (evaluate theme tagging on labels)")
    ev.add_argument("labels", type=Path, help="id, text, テーマごとの 0/1 列 を持つ CSV/XLSX (the labelled comments)")
    add_setting(ev, "codebook")
    add_setting(ev, "codebook_layers", dest="codebook_layer", help="見本の会議の評価では data/codebook.local.yaml")
    add_setting(ev, "lexicon")
    add_setting(ev, "theme_labels", help="評価データと重ならないこと")
    ev.add_argument("--no-model", action="store_true", help="学習層を使わずルールだけで評価します (rules only)")
    ev.add_argument("--errors", action="store_true", help="誤りの一覧も表示します (list the errors too)")
    ev.add_argument("--measures", type=Path,
                    help="施策一覧。ラベルに gap 列があるとき、新たな視点(案)も評価します / with a gap column, also "
                         "evaluate the suggested perspectives against this policy table")
    add_setting(ev, "stopwords")


def cmd_eval(args: argparse.Namespace) -> int:
    import pandas as pd

    from pipeline.run.evaluation import perspective_evaluation, read_labels, theme_scores
    from pipeline.run.models import load_models

    models = load_models(codebook=args.codebook, lexicon=args.lexicon if args.lexicon.is_file() else None,
                         stopwords=args.stopwords if args.stopwords.is_file() else None,
                         theme_labels=None if args.no_model or not args.theme_labels.is_file() else args.theme_labels,
                         codebook_layers=args.codebook_layer)
    labelled = read_labels(args.labels, models.codebook.theme_ids)
    table, errs = theme_scores(labelled, models)
    _print_frame(f"{labelled.file}: {len(labelled.ids)} 件 / items" + ("（ルールのみ / rules only）" if args.no_model else ""),
                 table, left="theme")
    if args.errors:
        with pd.option_context("display.max_colwidth", 80, "display.width", 200):
            ui.console.print(errs.to_string(index=False) if len(errs) else "誤りなし / no errors", markup=False)
    if args.measures is not None and labelled.gaps is not None:
        per_gap, per_suggestion, totals = perspective_evaluation(labelled, args.measures, models)
        _print_frame("新たな視点(案) の評価: 抜けている分野ごと / per gap", per_gap)
        _print_frame("提案ごとの純度 / purity of each suggestion", per_suggestion)
        ui.console.print(" ".join(f"{k}={v}" for k, v in totals.items()), markup=False)
    return EXIT_OK


def _print_frame(title: str, frame, *, left: str = "") -> None:
    out = Table(title=title)
    for col in frame.columns:
        out.add_column(str(col), justify="left" if not left or col == left else "right")
    for rec in frame.itertuples(index=False):
        out.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in rec])
    ui.console.print(out)
