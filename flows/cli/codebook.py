"""``kyosei codebook check | export | import``: the theme codebook checked and edited in Excel."""

from __future__ import annotations

import argparse
from pathlib import Path

from flows.cli import common as ui
from flows.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PROBLEMS,
    _measure_ids,
    _print_problems,
    _write_atomic,
    add_setting,
)
from pipeline.run.settings import shipped


def _add_codebook(sub: argparse._SubParsersAction) -> None:
    cb = sub.add_parser("codebook", help="コードブックの検査と Excel での編集 (check the codebook, edit it in Excel)")
    cb_sub = cb.add_subparsers(dest="codebook_command", required=True, title="コマンド (commands)", metavar="COMMAND")
    check = cb_sub.add_parser("check", help="コードブック（YAML か Excel）を検査し、誤りを行番号つきで表示します "
                                            "(check a codebook; errors with their lines)")
    check.add_argument("file", type=Path, nargs="?", default=shipped("codebook.yaml"),
                       help="コードブック（既定: 同梱のもの）(the codebook; default: the shipped one)")
    check.add_argument("--layer", type=Path, action="append", default=[], metavar="FILE",
                       help="重ねる追加分（codebook.local.yaml など）も一緒に検査します (layers to check with it)")
    check.add_argument("--measures", type=Path, default=Path("data/measures.csv"), metavar="FILE",
                       help="施策一覧（テーマの measures/pillars を照合。なければ照合しない）(the policy table)")
    export = cb_sub.add_parser("export", help="コードブックを Excel ブックに書き出します（シートごとに テーマ・ルール・除外 …）"
                                              "(write the codebook as a workbook)")
    export.add_argument("codebook", type=Path, nargs="?", default=shipped("codebook.yaml"),
                        help="コードブック YAML（既定: 同梱のもの）(the codebook; default: the shipped one)")
    export.add_argument("out", type=Path, help="書き出す .xlsx (the workbook to write)")
    export.add_argument("--layer", type=Path, action="append", default=[], metavar="FILE",
                        help="重ねる追加分も合わせて1冊にします (layers merged into it)")
    add_setting(export, "lexicon", help="同義語・辞書語のシートに入れます（なければ入れない）")
    export.add_argument("--no-lexicon", action="store_true",
                        help="ユーザー辞書の語を入れません（コードブック自身の分だけ）(leave the lexicon out)")
    imp = cb_sub.add_parser("import", help="Excel で編集したコードブックを検査して YAML に書きます（誤りがあれば何も書きません）"
                                           "(check an edited workbook and write it as YAML)")
    imp.add_argument("workbook", type=Path, help="kyosei codebook export の形式の .xlsx (the edited workbook)")
    imp.add_argument("out", type=Path, help="書き出す YAML（例: data/codebook.local.yaml）(the YAML to write)")
    imp.add_argument("--measures", type=Path, default=Path("data/measures.csv"), metavar="FILE",
                     help="施策一覧（テーマの施策・柱を照合。なければ照合しない）(the policy table)")


def cmd_codebook(args: argparse.Namespace) -> int:
    return {"check": cmd_codebook_check, "export": cmd_codebook_export,
            "import": cmd_codebook_import}[args.codebook_command](args)


def cmd_codebook_check(args: argparse.Namespace) -> int:
    from pipeline.themes.load import check_codebook

    measure_ids, pillar_ids = _measure_ids(args.measures)
    book, problems = check_codebook(args.file, layers=args.layer, measure_ids=measure_ids, pillar_ids=pillar_ids)
    _print_problems(problems)
    if book is None:
        ui.console.print(f"[red]{args.file}: 誤りがあります / the codebook has errors[/]")
        return EXIT_PROBLEMS
    n_rules = sum(len(t.rules) + len(t.exclude) for t in book.themes)
    ui.console.print(f"[green]{args.file}: OK[/] テーマ {len(book.themes)} / themes, ルール {n_rules} / rules"
                  + (f"（重ねたもの / layers: {', '.join(map(str, args.layer))}）" if args.layer else ""),
                  highlight=False, soft_wrap=True)
    return EXIT_OK


def cmd_codebook_export(args: argparse.Namespace) -> int:
    import yaml

    from pipeline.themes.codebook_excel import export_workbook
    from pipeline.themes.load import load_codebook

    if args.out.suffix.lower() != ".xlsx":
        ui.err_console.print(f"{args.out}: 書き出し先は .xlsx にしてください / the output must be an .xlsx file", markup=False)
        return EXIT_ERROR
    book = load_codebook(args.codebook, layers=args.layer)
    lexicon = None
    if not args.no_lexicon and args.lexicon.is_file():
        lexicon = yaml.safe_load(args.lexicon.read_text(encoding="utf-8"))
    _write_atomic(args.out, export_workbook(book, lexicon=lexicon))
    n_rules = sum(len(t.rules) + len(t.exclude) for t in book.themes)
    ui.console.print(f"[green]書き出しました / written:[/] {args.out}（テーマ {len(book.themes)}、ルール {n_rules}）",
                  highlight=False, soft_wrap=True)
    ui.console.print("Excel で編集したら kyosei codebook import で YAML に戻すか、kyosei run --codebook にそのまま指定します。",
                  markup=False)
    return EXIT_OK


def cmd_codebook_import(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from pipeline.themes.codebook import parse_codebook
    from pipeline.themes.codebook_excel import workbook_to_yaml

    if not args.workbook.is_file():
        ui.err_console.print(f"{args.workbook}: ファイルがありません / file not found", markup=False)
        return EXIT_ERROR
    text, problems = workbook_to_yaml(args.workbook)
    book = None
    if text:
        measure_ids, pillar_ids = _measure_ids(args.measures)
        book, more = parse_codebook(text, source=str(args.out), measure_ids=measure_ids, pillar_ids=pillar_ids)
        problems += [replace(p, where=args.workbook.name) for p in more]
    _print_problems([(args.workbook, p) for p in problems])
    if book is None:
        ui.console.print(f"[red]{args.workbook}: 誤りがあります。{args.out} は書いていません / the workbook has errors; "
                      f"nothing was written[/]", highlight=False, soft_wrap=True)
        return EXIT_PROBLEMS
    _write_atomic(args.out, text.encode("utf-8"))
    n_rules = sum(len(t.rules) + len(t.exclude) for t in book.themes)
    ui.console.print(f"[green]書きました / written:[/] {args.out}（テーマ {len(book.themes)}、ルール {n_rules}）",
                  highlight=False, soft_wrap=True)
    return EXIT_OK
