"""``kyosei`` command line: ``run`` and ``validate`` (more verbs arrive with their issues).

Messages are Japanese first, then English.  Errors in the inputs print one clear message and
exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flows.entry import EXIT_INTERRUPTED, INTERRUPTED
from pipeline.errors import KyoseiError

if TYPE_CHECKING:
    pass

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 3

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def default_measures(meeting_dir: Path) -> Path:
    """The policy table used when ``--measures`` is not given (see :func:`pipeline.ingest.find_measures`)."""
    from pipeline.ingest import find_measures

    return find_measures(meeting_dir)


def _optional(path: Path | None, what: str) -> Path | None:
    if path is None:
        return None
    if not path.is_file():
        err_console.print(f"[yellow]注意: {what} {path} がないため使いません / {what} {path} not found, not used[/]")
        return None
    return path


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"1 以上の整数にしてください / must be a whole number ≥ 1: {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kyosei",
        description="ワークショップのカード・投票・意見を分析します / analyse workshop cards, votes and comments",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_add_run, _add_demo, _add_pending, _add_serve, _add_validate, _add_codebook, _add_kwic, _add_review,
                _add_revise,
                _add_eval, _add_warm):
        add(sub)
    return p


def _add_demo(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="見本の会議（data/meetings）をすべて分析します / analyse the sample meetings")
    demo.add_argument("--meetings", type=Path, default=Path("data/meetings"), help="会議フォルダの親（既定 data/meetings）")
    demo.add_argument("--out-root", type=Path, default=Path("outputs"), help="出力先（既定: outputs/）")


def cmd_demo(args: argparse.Namespace) -> int:
    """Every meeting folder under ``--meetings`` through ``kyosei run --quiet`` (what ``make demo`` does, for a
    machine without make), then where the reports are."""
    if not args.meetings.is_dir():
        err_console.print(f"{args.meetings}: 見本の会議フォルダがありません。kyosei のフォルダで実行してください / "
                          "sample meetings not found; run this in the kyosei folder", markup=False, soft_wrap=True)
        return EXIT_ERROR
    from pipeline.outputs import REPORT_DOCX, REPORT_HTML

    meetings = sorted(p for p in args.meetings.iterdir() if p.is_dir() and not p.name.startswith("."))
    for m in meetings:
        console.print(f"分析中 / analysing: {m}", markup=False, highlight=False, soft_wrap=True)
        code = cmd_run(_parser().parse_args(["run", str(m), "--quiet", "--out-root", str(args.out_root)]))
        if code != EXIT_OK:
            return code
    console.print("レポート / reports:", highlight=False)
    for m in meetings:
        folder = args.out_root / m.name
        console.print(f"  {folder / REPORT_HTML.file}  ({folder / REPORT_DOCX.file})", markup=False, highlight=False,
                      soft_wrap=True)
    return EXIT_OK


def _add_run(sub: argparse._SubParsersAction) -> None:
    from pipeline.network import TOP_EDGES, TOP_TERMS

    run = sub.add_parser("run", help="会議を分析してレポートを書きます / analyse a meeting and write the report")
    run.add_argument("meeting_dir", type=Path, help="会議フォルダ (meeting.yaml, cards, feedback, votes)")
    run.add_argument("--measures", type=Path, help="施策一覧 CSV/XLSX（既定: data/measures.csv）")
    run.add_argument("--out-root", type=Path, default=Path("outputs"), help="出力先（既定: outputs/）")
    run.add_argument("--lexicon", type=Path, default=Path("models/lexicon.yaml"), help="ユーザー辞書 YAML")
    run.add_argument("--stopwords", type=Path, default=Path("models/stopwords.txt"), help="ストップワード")
    run.add_argument("--codebook", type=Path, default=Path("models/codebook.yaml"),
                     help="テーマのコードブック（YAML、または kyosei codebook export の Excel ブック）")
    run.add_argument("--codebook-layer", type=Path, action="append", default=[], metavar="FILE",
                     help="コードブックに重ねる追加分（地域の事業名など。何度でも指定可）。会議フォルダとデータフォルダの "
                          "codebook.local.yaml は指定しなくても重ねます")
    run.add_argument("--no-local-codebook", action="store_true",
                     help="会議フォルダ・データフォルダの codebook.local.yaml を重ねません")
    run.add_argument("--theme-labels", type=Path, default=Path("models/theme_labels.csv"),
                     help="学習層の教師データ（分析者が確認したテーマ）")
    run.add_argument("--decisions", type=Path, default=Path("models/review_decisions.csv"),
                     help="分析者の判定の記録（kyosei review apply が追記）")
    run.add_argument("--task-runner", default="serial",
                     help="serial（既定）/ dask（2ワーカーのローカルクラスタ）/ dask=tcp://HOST:8786（既存の Dask クラスタ）")
    run.add_argument("--chunk-size", type=int, default=500, help="Dask で分割する件数（既定 500）")
    run.add_argument("--network-words", type=_positive, default=TOP_TERMS,
                     help=f"共起ネットワークで数える語の数（出現件数の多い順。既定 {TOP_TERMS}）")
    run.add_argument("--network-edges", type=_positive, default=TOP_EDGES,
                     help=f"共起ネットワークに描く語の組の数（共起の強い順。既定 {TOP_EDGES}）")
    run.add_argument("--network-mst", action="store_true",
                     help="共起ネットワークを最小スパニング・ツリー（語をつなぐ最も強い組）だけにします")
    run.add_argument("--no-mask", action="store_true",
                     help="個人情報（氏名・電話番号・メール・住所）を伏せずに出力します（庁内限定の実行のみ）")
    run.add_argument("--quiet", action="store_true", help="エラーのほかは何も表示しません（定期実行向け）")
    run.add_argument("--verbose", action="store_true", help="Prefect のタスクごとの記録も表示します")


def _add_pending(sub: argparse._SubParsersAction) -> None:
    pend = sub.add_parser("run-pending", help="入力が変わった会議だけを日付順に分析します / run meetings whose inputs changed")
    pend.add_argument("data_root", type=Path, help="会議フォルダを含むデータフォルダ（例: data）")
    pend.add_argument("--out-root", type=Path, default=Path("outputs"))
    pend.add_argument("--measures", type=Path, help="施策一覧（既定: DATA_ROOT/measures.csv）")
    pend.add_argument("--codebook", type=Path, default=Path("models/codebook.yaml"))
    pend.add_argument("--no-mask", action="store_true")
    pend.add_argument("--quiet", action="store_true")


def _add_serve(sub: argparse._SubParsersAction) -> None:
    srv = sub.add_parser("serve", help="run-pending を定期実行する Prefect デプロイメントを起動します（要 Prefect サーバー）")
    srv.add_argument("--cron", default="0 18 * * *", help="実行スケジュール（cron 形式、既定: 毎日18時）")
    srv.add_argument("--data-root", type=Path, default=Path("data"))
    srv.add_argument("--out-root", type=Path, default=Path("outputs"))
    srv.add_argument("--codebook", type=Path, default=Path("models/codebook.yaml"))
    srv.add_argument("--name", default="kyosei-run-pending", help="デプロイメント名")
    srv.add_argument("--timezone", default="Asia/Tokyo")


def _add_validate(sub: argparse._SubParsersAction) -> None:
    val = sub.add_parser("validate", help="入力を検査し、問題をすべて表示します（何も書きません）")
    val.add_argument("meeting_dir", type=Path)
    val.add_argument("--measures", type=Path)
    val.add_argument("--codebook", type=Path, default=Path("models/codebook.yaml"),
                     help="施策IDの紐づけを確かめるコードブック（既定 models/codebook.yaml。"
                          "codebook.local.yaml があれば重ねます）")


def _add_codebook(sub: argparse._SubParsersAction) -> None:
    cb = sub.add_parser("codebook", help="コードブックの操作 / codebook tools")
    cb_sub = cb.add_subparsers(dest="codebook_command", required=True)
    check = cb_sub.add_parser("check", help="コードブック（YAML か Excel）を検査し、誤りを行番号つきで表示します")
    check.add_argument("file", type=Path, nargs="?", default=Path("models/codebook.yaml"))
    check.add_argument("--layer", type=Path, action="append", default=[], metavar="FILE",
                       help="重ねる追加分（codebook.local.yaml など）も一緒に検査します")
    check.add_argument("--measures", type=Path, default=Path("data/measures.csv"),
                       help="施策一覧（テーマの measures/pillars を照合。なければ照合しない）")
    export = cb_sub.add_parser("export", help="コードブックを Excel ブックに書き出します（シートごとに テーマ・ルール・除外 …）")
    export.add_argument("codebook", type=Path, help="コードブック YAML（例: models/codebook.yaml）")
    export.add_argument("out", type=Path, help="書き出す .xlsx")
    export.add_argument("--layer", type=Path, action="append", default=[], metavar="FILE",
                        help="重ねる追加分も合わせて1冊にします")
    export.add_argument("--lexicon", type=Path, default=Path("models/lexicon.yaml"),
                        help="同義語・辞書語のシートに入れるユーザー辞書（既定 models/lexicon.yaml。なければ入れない）")
    export.add_argument("--no-lexicon", action="store_true", help="ユーザー辞書の語を入れません（コードブック自身の分だけ）")
    imp = cb_sub.add_parser("import", help="Excel で編集したコードブックを検査して YAML に書きます（誤りがあれば何も書きません）")
    imp.add_argument("workbook", type=Path, help="kyosei codebook export の形式の .xlsx")
    imp.add_argument("out", type=Path, help="書き出す YAML（例: models/codebook.yaml）")
    imp.add_argument("--measures", type=Path, default=Path("data/measures.csv"),
                     help="施策一覧（テーマの施策・柱を照合。なければ照合しない）")


def _add_kwic(sub: argparse._SubParsersAction) -> None:
    from pipeline.outputs import KWIC

    kw = sub.add_parser("kwic", help="語の前後の文脈（KWIC）を表示します / show a word in its contexts")
    kw.add_argument("out_dir", type=Path, help=f"会議の出力フォルダ（outputs/<会議ID>。{KWIC.file} を読みます）")
    kw.add_argument("word", help="見る語（数えた形「働く」でも書かれた形「働き」でも）")
    kw.add_argument("--sort", choices=["order", "left", "right"], default="order",
                    help="並べ方: order（出てきた順。既定）/ left（語の直前の文字から）/ right（直後の文字から）")
    kw.add_argument("--limit", type=int, default=0, help="表示する行数の上限（既定: すべて）")
    kw.add_argument("--width", type=int, default=20, help="前後に表示する文字数（既定 20）")


def _add_review(sub: argparse._SubParsersAction) -> None:
    from pipeline.outputs import TAGGED, WORKBOOK

    rv = sub.add_parser("review", help="レビューシートの判定を記録します / record the analysts' review decisions")
    rv_sub = rv.add_subparsers(dest="review_command", required=True)
    apply = rv_sub.add_parser("apply", help=f"記入済みの {WORKBOOK.file} を検査し、判定を記録します")
    apply.add_argument("workbook", type=Path, help=f"レビューシートを記入した {WORKBOOK.file}")
    apply.add_argument("--log", type=Path, default=Path("models/review_decisions.csv"), help="判定の記録（追記）")
    apply.add_argument("--codebook", type=Path, default=Path("models/codebook.yaml"))
    apply.add_argument("--measures", type=Path, default=Path("data/measures.csv"))
    apply.add_argument("--out-root", type=Path, default=Path("outputs"),
                       help=f"その会議の出力（{TAGGED.file}）で対象IDを確認します")


def _add_revise(sub: argparse._SubParsersAction) -> None:
    from pipeline.outputs import MEASURES_DRAFT, MEASURES_DRAFT_XLSX

    rv = sub.add_parser("revise", help=f"採用した視点から施策案の見直し案（{MEASURES_DRAFT.file}）を書きます")
    rv.add_argument("out_dir", type=Path, help="その会議の出力フォルダ（outputs/<会議ID>）")
    rv.add_argument("--decisions", type=Path, default=Path("models/review_decisions.csv"),
                    help="判定の記録（kyosei review apply が書いたもの）")
    rv.add_argument("--measures", type=Path, help="見直す施策一覧（既定: その会議の分析に使ったもの）")
    rv.add_argument("--lexicon", type=Path, default=Path("models/lexicon.yaml"))
    rv.add_argument("--stopwords", type=Path, default=Path("models/stopwords.txt"))
    rv.add_argument("--out", type=Path, help=f"書き出し先フォルダ（既定: out_dir。{MEASURES_DRAFT.file} と "
                                             f"{MEASURES_DRAFT_XLSX.file}）")


def _add_eval(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="ラベル付きデータでテーマ付けの精度を測ります / evaluate theme tagging")
    ev.add_argument("labels", type=Path, help="id, text, テーマごとの 0/1 列 を持つ CSV/XLSX")
    ev.add_argument("--codebook", type=Path, default=Path("models/codebook.yaml"))
    ev.add_argument("--codebook-layer", type=Path, action="append", default=[], metavar="FILE",
                    help="コードブックに重ねる追加分（見本の会議の評価では data/codebook.local.yaml）")
    ev.add_argument("--lexicon", type=Path, default=Path("models/lexicon.yaml"))
    ev.add_argument("--theme-labels", type=Path, default=Path("models/theme_labels.csv"),
                    help="学習層の教師データ（評価データと重ならないこと）")
    ev.add_argument("--no-model", action="store_true", help="学習層を使わずルールだけで評価します")
    ev.add_argument("--errors", action="store_true", help="誤りの一覧も表示します")
    ev.add_argument("--measures", type=Path,
                    help="施策一覧。ラベルに gap 列があるとき、新たな視点(案)も評価します / with a gap column, also "
                         "evaluate the suggested perspectives against this policy table")
    ev.add_argument("--stopwords", type=Path, default=Path("models/stopwords.txt"))


ROLE_JA = {"cards": "カード", "feedback": "意見", "votes": "投票", "measures": "施策一覧"}
FIELD_JA = {"comment_id": "ID", "card_id": "カードID", "text": "本文", "kind": "種別", "group": "グループ",
            "section": "該当箇所", "reply": "市の考え方（分析しない）", "department": "部署", "title": "事業名",
            "body": "内容", "measure_ids": "施策ID", "round": "回", "blocks": "票数", "voter": "投票者",
            "pillar_id": "柱ID", "pillar_name": "基本方針", "measure_id": "施策ID", "measure_name": "施策案",
            "description": "説明", "keywords": "キーワード"}


def _print_mapping(c: dict) -> None:
    """One table's header row and column mapping, Japanese then English."""
    where = f"{c['file']}（{ROLE_JA.get(str(c['kind']), c['kind'])} / {c['kind']}）"
    how = f"、{c['header_found_by']}" if c.get("header_found_by") else ""
    console.print(f"[bold]{where}[/]: 見出し行 {c['header_row']}行目{how} / header row {c['header_row']}",
                  markup=True, soft_wrap=True)
    m = c.get("mapping") or {}
    for canon, header in (m.get("columns") or {}).items():
        console.print(f"    {header} → {FIELD_JA.get(canon, canon)} / {canon}", markup=False, soft_wrap=True)
    if m.get("questions"):
        console.print(f"    設問（1行の回答をそれぞれ別のコメントに）/ questions: {m['questions']}", markup=False)
    if m.get("rounds"):
        console.print(f"    回ごとの票 / votes per round: {m['rounds']}", markup=False)
    if m.get("attributes"):
        console.print(f"    属性として保持 / kept as attributes: {m['attributes']}", markup=False)
    if m.get("ignored"):
        console.print(f"    使わない列 / ignored: {m['ignored']}", markup=False)
    for note in m.get("notes") or []:
        console.print(f"    注意 / note: {note}", markup=False, soft_wrap=True)
    if c.get("rows_below_table_skipped"):
        console.print(f"    表の下の {c['rows_below_table_skipped']} 行（{c['rows_below_table_from']}行目から：合計・備考など）"
                      f"は読んでいません / {c['rows_below_table_skipped']} row(s) below the table not read",
                      markup=False)


def _validate_notices(args: argparse.Namespace, inputs: object) -> list[str]:
    """The same warnings a run prints and puts in the report's 概要 (without the refused rows, listed below)."""
    from dataclasses import replace

    from pipeline.codebook import load_codebook
    from pipeline.ingest.discover import find_codebook_layers, found_beside
    from pipeline.notices import input_notices, rejected_rows

    layers = find_codebook_layers(args.meeting_dir)
    codebook = load_codebook(args.codebook, layers=layers) if args.codebook.is_file() else None

    default = args.measures is None and not found_beside(args.meeting_dir, default_measures(args.meeting_dir))
    inputs = replace(inputs, measures_default=default)  # type: ignore[type-var]
    skip = rejected_rows(inputs)  # type: ignore[arg-type]
    return [n for n in input_notices(inputs, codebook) if n != skip]  # type: ignore[arg-type]


def cmd_validate(args: argparse.Namespace) -> int:
    from pipeline.ingest import load_meeting

    measures = args.measures or default_measures(args.meeting_dir)
    inputs = load_meeting(args.meeting_dir, measures)
    table = Table(title=f"会議 {inputs.meeting_id} の入力 / inputs")
    for col in ("ファイル file", "見出し行 header", "行 rows in", "取込 ok", "除外 rejected"):
        table.add_column(col)
    for c in inputs.counts:
        table.add_row(str(c["file"]), str(c.get("header_row", "")), str(c["rows_in"]), str(c["rows_ok"]),
                      str(c["rows_rejected"]))
    console.print(table)
    console.print("列の読み方 / how the columns were read:")
    for c in inputs.counts:
        _print_mapping(c)
    for s in inputs.skipped:
        console.print(f"  {s['file']}: 読みません / not read — {s['reason']}", markup=False)
    notices = _validate_notices(args, inputs)
    for line in notices:
        console.print(f"[yellow]注意 / note:[/] {escape(line)}", soft_wrap=True)
    if len(inputs.rejects) == 0:
        if notices:
            console.print("[green]取り込めない行はありません[/]（上の注意を確かめてください）/ no rows refused; "
                          "read the notes above", soft_wrap=True)
        else:
            console.print("[green]問題はありません / no problems found[/]")
        return EXIT_OK
    console.print(f"[red]{len(inputs.rejects)} 行に問題があります / {len(inputs.rejects)} row(s) with problems:[/]")
    for r in inputs.rejects.itertuples(index=False):
        col = f" [{r.column}]" if r.column else ""
        console.print(f"  {r.file} 行/row {r.row}{col}: {r.reason}", markup=False, soft_wrap=True)
    return EXIT_PROBLEMS


class _NoTraceback(logging.Filter):
    """Prefect logs a failed task with its traceback; the terminal gets one line (the CLI prints the
    error itself, and KYOSEI_DEBUG=1 restores tracebacks).  A failure caused by bad input or configuration
    (a :class:`KyoseiError`) is not logged at all: the CLI prints its message once, in Japanese and English."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], KyoseiError):
            return False
        message = record.getMessage() if record.args else str(record.msg)
        if any(f"{name}:" in message or f"{name}(" in message for name in _our_errors()):
            return False
        record.exc_info = None
        record.exc_text = None
        if isinstance(record.msg, str) and "Traceback (most recent call last)" in record.msg:
            record.msg = record.msg.split("Traceback (most recent call last)", 1)[0].rstrip() or "error"
        return True


@functools.cache
def _our_errors() -> frozenset[str]:
    """Names of the input/configuration errors (their messages are printed by the CLI itself)."""
    seen, todo = set(), [KyoseiError]
    while todo:
        cls = todo.pop()
        seen.add(cls.__name__)
        todo += cls.__subclasses__()
    return frozenset(seen)


def _quiet_tracebacks() -> None:
    if os.environ.get("KYOSEI_DEBUG"):
        return
    for logger in [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                          if isinstance(lg, logging.Logger))]:
        for h in logger.handlers:
            is_terminal = type(h) is logging.StreamHandler or type(h).__name__ == "PrefectConsoleHandler"
            if is_terminal and not any(isinstance(f, _NoTraceback) for f in h.filters):
                h.addFilter(_NoTraceback())


class _StageLines(logging.Handler):
    """Prints the stage messages of ``kyosei.progress`` as one line each (「2/7 個人情報のマスク・正規化・形態素解析・ルール照合
    76 件 … 1.2 秒」), then the run's summary lines."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        summary = getattr(record, "kyosei_summary", None)
        if summary is not None:
            console.print("")
            for line in summary:
                console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
            return
        step, total = getattr(record, "kyosei_step", None), getattr(record, "kyosei_total", None)
        if step is None:
            return
        label = getattr(record, "kyosei_label", "")
        detail = getattr(record, "kyosei_detail", "")
        seconds = float(getattr(record, "kyosei_seconds", 0.0) or 0.0)
        console.print(f"{step}/{total} {label}　{detail}　{seconds:.1f} 秒", markup=False, highlight=False,
                      soft_wrap=True)


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    handler = _StageLines()
    logger = logging.getLogger("kyosei.progress")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False                    # the lines are printed once, here, not again by the root logger
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def _prefect_env(verbose: bool) -> None:
    """Prefect's own INFO lines (task and flow states, the temporary server) only with ``--verbose``."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        logging.getLogger("distributed").setLevel(logging.WARNING)


def cmd_run_pending(args: argparse.Namespace) -> int:
    _prefect_env(not args.quiet)
    from flows.pending import PendingRunsFailed, run_pending_flow

    _quiet_tracebacks()

    if not args.data_root.is_dir():
        err_console.print(f"{args.data_root}: データフォルダが見つかりません / data folder not found", markup=False)
        return EXIT_ERROR
    try:
        result = run_pending_flow(data_root=args.data_root, out_root=args.out_root, measures=args.measures,
                                  codebook=args.codebook, mask_pii=not args.no_mask)
    except PendingRunsFailed as err:
        summary = err.summary
        for mid, message in summary.failed.items():
            err_console.print(f"失敗 / failed: {mid}: {message}", markup=False, soft_wrap=True)
        console.print(f"実行 / ran: {summary.ran or 'なし'}　変更なし / unchanged: {summary.skipped or 'なし'}")
        return EXIT_PROBLEMS
    console.print(f"実行 / ran: {result['ran'] or 'なし / none'}　変更なし / unchanged: {result['skipped'] or 'なし / none'}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    _prefect_env(True)
    from prefect.settings import PREFECT_API_URL

    from flows.pending import run_pending_flow

    if not PREFECT_API_URL.value():
        err_console.print(
            "Prefect サーバーが必要です。別の端末で `prefect server start --host 127.0.0.1` を起動し、"
            "PREFECT_API_URL=http://127.0.0.1:4200/api を設定してください。\n"
            "A Prefect server is needed: start `prefect server start --host 127.0.0.1` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api.", markup=False)
        return EXIT_ERROR
    console.print(f"デプロイメント {args.name} を cron「{args.cron}」（{args.timezone}）で待ち受けます。Ctrl+C で終了。")
    from prefect.schedules import Cron

    run_pending_flow.serve(
        name=args.name,
        schedule=Cron(args.cron, timezone=args.timezone),
        parameters={"data_root": str(args.data_root.resolve()), "out_root": str(args.out_root.resolve()),
                    "codebook": str(args.codebook.resolve())},
        description="kyosei: analyse meetings whose inputs changed (run-pending)",
        print_starting_message=False,
    )
    return EXIT_OK


def _measure_ids(path: Path | None) -> tuple[list[str] | None, list[str] | None]:
    from pipeline.ingest import load_measures

    if not path or not path.is_file():
        return None, None
    measures = load_measures(path)
    return list(measures["measure_id"]), list(measures["pillar_id"])


def _print_problems(problems: Sequence[tuple[Path, object]]) -> None:
    for file, p in sorted(problems, key=lambda fp: (str(fp[0]), fp[1].where, fp[1].line)):  # type: ignore[attr-defined]
        console.print(f"{file}: {p}", markup=False, soft_wrap=True)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write a whole file or nothing (a temporary file beside it, then renamed over it)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        from pipeline.safety import current_umask

        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_codebook(args: argparse.Namespace) -> int:
    return {"check": cmd_codebook_check, "export": cmd_codebook_export,
            "import": cmd_codebook_import}[args.codebook_command](args)


def cmd_codebook_check(args: argparse.Namespace) -> int:
    from pipeline.codebook import check_codebook

    measure_ids, pillar_ids = _measure_ids(args.measures)
    book, problems = check_codebook(args.file, layers=args.layer, measure_ids=measure_ids, pillar_ids=pillar_ids)
    _print_problems(problems)
    if book is None:
        console.print(f"[red]{args.file}: 誤りがあります / the codebook has errors[/]")
        return EXIT_PROBLEMS
    n_rules = sum(len(t.rules) + len(t.exclude) for t in book.themes)
    console.print(f"[green]{args.file}: OK[/] テーマ {len(book.themes)} / themes, ルール {n_rules} / rules"
                  + (f"（重ねたもの / layers: {', '.join(map(str, args.layer))}）" if args.layer else ""),
                  highlight=False, soft_wrap=True)
    return EXIT_OK


def cmd_codebook_export(args: argparse.Namespace) -> int:
    import yaml

    from pipeline.codebook import load_codebook
    from pipeline.codebook_excel import export_workbook

    if args.out.suffix.lower() != ".xlsx":
        err_console.print(f"{args.out}: 書き出し先は .xlsx にしてください / the output must be an .xlsx file", markup=False)
        return EXIT_ERROR
    book = load_codebook(args.codebook, layers=args.layer)
    lexicon = None
    if not args.no_lexicon and args.lexicon.is_file():
        lexicon = yaml.safe_load(args.lexicon.read_text(encoding="utf-8"))
    _write_atomic(args.out, export_workbook(book, lexicon=lexicon))
    n_rules = sum(len(t.rules) + len(t.exclude) for t in book.themes)
    console.print(f"[green]書き出しました / written:[/] {args.out}（テーマ {len(book.themes)}、ルール {n_rules}）",
                  highlight=False, soft_wrap=True)
    console.print("Excel で編集したら kyosei codebook import で YAML に戻すか、kyosei run --codebook にそのまま指定します。",
                  markup=False)
    return EXIT_OK


def cmd_codebook_import(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from pipeline.codebook import parse_codebook
    from pipeline.codebook_excel import workbook_to_yaml

    if not args.workbook.is_file():
        err_console.print(f"{args.workbook}: ファイルがありません / file not found", markup=False)
        return EXIT_ERROR
    text, problems = workbook_to_yaml(args.workbook)
    book = None
    if text:
        measure_ids, pillar_ids = _measure_ids(args.measures)
        book, more = parse_codebook(text, source=str(args.out), measure_ids=measure_ids, pillar_ids=pillar_ids)
        problems += [replace(p, where=args.workbook.name) for p in more]
    _print_problems([(args.workbook, p) for p in problems])
    if book is None:
        console.print(f"[red]{args.workbook}: 誤りがあります。{args.out} は書いていません / the workbook has errors; "
                      f"nothing was written[/]", highlight=False, soft_wrap=True)
        return EXIT_PROBLEMS
    _write_atomic(args.out, text.encode("utf-8"))
    n_rules = sum(len(t.rules) + len(t.exclude) for t in book.themes)
    console.print(f"[green]書きました / written:[/] {args.out}（テーマ {len(book.themes)}、ルール {n_rules}）",
                  highlight=False, soft_wrap=True)
    return EXIT_OK


def _fit(text: str, width: int, *, right: bool) -> str:
    from pipeline.report.render import display_width

    """``text`` cut to ``width`` columns (full-width characters count two) and padded: right-aligned for a left
    context, so every occurrence of the word lines up in one column."""
    while display_width(text) > width:
        text = text[1:] if right else text[:-1]
    pad = " " * (width - display_width(text))
    return pad + text if right else text + pad


def cmd_kwic(args: argparse.Namespace) -> int:
    import pandas as pd

    from pipeline.kwic import find_word, search_texts, sort_lines
    from pipeline.outputs import KWIC, TAGGED
    from pipeline.report.render import display_width

    path = args.out_dir / KWIC.file
    if not path.is_file():
        err_console.print(f"{path}: ありません。kyosei run の出力フォルダを指定してください / not found: give the output "
                          f"folder of a run (outputs/<meeting id>)", markup=False, soft_wrap=True)
        return EXIT_ERROR
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    lines = find_word(table, args.word)
    where = KWIC.file
    if not len(lines) and (args.out_dir / TAGGED.file).is_file():
        texts = pd.read_csv(args.out_dir / TAGGED.file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        lines = search_texts(texts, args.word, width=args.width)
        where = f"{TAGGED.file}（正規化した本文の文字列検索 / plain search of the normalised text）"
    if not len(lines):
        console.print(f"「{args.word}」は見つかりません / not found in {args.out_dir}", markup=False)
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
    console.print(f"{total} 行{more} / {total} line(s) — {where}", markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK


def cmd_revise(args: argparse.Namespace) -> int:
    """Accepted perspectives → measures_draft.csv / .xlsx beside the meeting's outputs (or in ``--out``)."""
    import json

    from pipeline.codebook import load_codebook
    from pipeline.ingest import load_measures
    from pipeline.matching import content_terms
    from pipeline.outputs import MANIFEST, MEASURES_DRAFT, MEASURES_DRAFT_XLSX
    from pipeline.review import load_decisions
    from pipeline.revision import revise_outputs
    from pipeline.tokenise import Lexicon, Tokeniser, extend_lexicon, load_lexicon, load_stopwords
    from pipeline.workbook import table_workbook
    from pipeline.writers import write_csv

    manifest = args.out_dir / MANIFEST.file
    if not manifest.is_file():
        raise KyoseiError(f"{args.out_dir}: 会議の出力フォルダではありません（{MANIFEST.file} がない）/ not a meeting's "
                          "output folder; give outputs/<meeting id>")
    params = json.loads(manifest.read_text(encoding="utf-8"))["parameters"]
    measures_path = args.measures or Path(params["measures"])
    lexicon = load_lexicon(args.lexicon) if args.lexicon.is_file() else Lexicon()
    codebook = Path(params.get("codebook") or "")
    if codebook.is_file():  # the words the run's codebook (and its layers) kept whole, as the run read them
        book = load_codebook(codebook, layers=_layers_of_run(args.out_dir))
        lexicon = extend_lexicon(lexicon, book.terms, book.synonyms, file=str(codebook))
    tokeniser = Tokeniser(lexicon=lexicon)
    stop = load_stopwords(args.stopwords) if args.stopwords.is_file() else frozenset()
    draft = revise_outputs(args.out_dir, load_decisions(args.decisions), load_measures(measures_path),
                           terms=lambda text: content_terms(tokeniser, text, stop))
    folder = args.out or args.out_dir
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(draft, folder / MEASURES_DRAFT.file)
    (folder / MEASURES_DRAFT_XLSX.file).write_bytes(table_workbook("施策一覧", draft))
    counts = draft["change"].value_counts()
    summary = "、".join(f"{c} {int(counts[c])}" for c in ("新設", "拡充", "紐づけ追加", "要検討") if c in counts)
    console.print(f"見直し案 / draft: {folder / MEASURES_DRAFT.file}（施策案 {len(draft)}。{summary or '変更なし'}）",
                  markup=False, highlight=False, soft_wrap=True)
    console.print(f"  次の会議 / next meeting: kyosei run MEETING_DIR --measures {folder / MEASURES_DRAFT.file}",
                  markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK


def _layers_of_run(out_dir: Path) -> list[Path]:
    """The codebook layers a run merged (its manifest's ``codebook_layer_<n>``), those still on disk: a theme a
    city's layer adds is a theme its analysts may name in the review sheet."""
    import json

    from pipeline.outputs import MANIFEST

    try:
        params = json.loads((out_dir / MANIFEST.file).read_text(encoding="utf-8")).get("parameters", {})
    except (OSError, ValueError):
        return []
    keys = sorted((k for k in params if k.startswith("codebook_layer_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    return [Path(params[k]) for k in keys if params[k] and Path(params[k]).is_file()]


def cmd_review_apply(args: argparse.Namespace) -> int:
    import datetime as dt

    import pandas as pd

    from pipeline.codebook import load_codebook
    from pipeline.ingest import load_measures
    from pipeline.outputs import TAGGED
    from pipeline.review import LOG_COLUMNS, SUMMARY_SHEET, decisions_from_sheet, read_review_sheet
    from pipeline.safety import safe_frame

    meeting_id, sheet = read_review_sheet(args.workbook)
    if not meeting_id:
        err_console.print(f"{args.workbook}: 「{SUMMARY_SHEET}」シートに会議IDがありません / no meeting id in the "
                          f"{SUMMARY_SHEET} sheet", markup=False)
        return EXIT_ERROR
    book = load_codebook(args.codebook, layers=_layers_of_run(args.out_root / meeting_id))
    measures = load_measures(args.measures)
    tagged_path = args.out_root / meeting_id / TAGGED.file
    known = None
    if tagged_path.is_file():
        known = list(pd.read_csv(tagged_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")["item_id"])
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    rows, problems = decisions_from_sheet(sheet, meeting_id=meeting_id, theme_ids=book.theme_ids,
                                          measure_ids=list(measures["measure_id"]), known_items=known,
                                          timestamp=stamp)
    if problems:
        for p in problems:
            console.print(f"{args.workbook}: {p}", markup=False, soft_wrap=True)
        console.print(f"[red]{len(problems)} 行に問題があるため、何も記録していません / "
                      f"{len(problems)} problem(s); nothing was recorded[/]")
        return EXIT_PROBLEMS
    if not len(rows):
        console.print("判定が入力された行がありません / no row has a decision")
        return EXIT_OK
    args.log.parent.mkdir(parents=True, exist_ok=True)
    new_file = not args.log.is_file()
    safe_frame(rows[LOG_COLUMNS]).to_csv(args.log, mode="a", header=new_file, index=False,
                                         encoding="utf-8-sig" if new_file else "utf-8", lineterminator="\n")
    counts = rows.groupby(["kind", "decision"]).size()
    detail = "、".join(f"{k}/{d} {n}" for (k, d), n in counts.items())
    console.print(f"[green]{len(rows)} 件の判定を {args.log} に記録しました / recorded {len(rows)} decision(s)[/] "
                  f"（{detail}）。次回の kyosei run {meeting_id} で反映されます。", soft_wrap=True)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    import pandas as pd

    from pipeline.evaluate import errors, label_columns, predicted_sets, scores
    from pipeline.ingest import header_key, read_table

    raw = read_table(args.labels)
    frame = raw.frame.drop(columns=["row"])
    keys = {header_key(c): c for c in frame.columns}
    text_col = next((keys[k] for k in ("text", "意見", "内容", "本文") if k in keys), None)
    if text_col is None:
        err_console.print(f"{raw.file}: text 列がありません / no text column (found {list(frame.columns)})",
                          markup=False)
        return EXIT_ERROR
    id_col = next((keys[k] for k in ("id", "item_id", "comment_id") if k in keys), None)
    ids = list(frame[id_col]) if id_col else [str(i + 2) for i in range(len(frame))]
    tagger = _tagger(args.codebook, args.lexicon, None if args.no_model else args.theme_labels, args.codebook_layer)
    themes = label_columns(frame, tagger.codebook.theme_ids)
    if not themes:
        err_console.print(f"{raw.file}: コードブックのテーマ名の列がありません / no column is a theme id "
                          f"({tagger.codebook.theme_ids})", markup=False)
        return EXIT_ERROR
    bad = [t for t in themes if not frame[t].isin(["0", "1"]).all()]
    if bad:
        err_console.print(f"{raw.file}: 列 {bad} は 0 か 1 で入れてください / columns {bad} must be 0 or 1",
                          markup=False)
        return EXIT_ERROR
    texts = list(frame[text_col])
    by_item = tagger.tag_texts(ids, texts)
    truth = frame[themes].astype(int).reset_index(drop=True)
    table = scores(truth, predicted_sets(by_item, ids), themes)
    out = Table(title=f"{raw.file}: {len(ids)} 件 / items" + ("（ルールのみ / rules only）" if args.no_model else ""))
    for col in table.columns:
        out.add_column(col, justify="left" if col == "theme" else "right")
    for rec in table.itertuples(index=False):
        out.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in rec])
    console.print(out)
    if args.errors:
        errs = errors(ids, texts, truth, predicted_sets(by_item, ids), themes)
        with pd.option_context("display.max_colwidth", 80, "display.width", 200):
            console.print(errs.to_string(index=False) if len(errs) else "誤りなし / no errors", markup=False)
    gap_col = keys.get("gap")
    if args.measures is not None and gap_col is not None:
        kinds = list(frame[keys["kind"]]) if "kind" in keys else ["その他"] * len(ids)
        _eval_perspectives(args, ids, texts, kinds, list(frame[gap_col]))
    return EXIT_OK


def _print_frame(title: str, frame) -> None:
    out = Table(title=title)
    for col in frame.columns:
        out.add_column(str(col))
    for rec in frame.itertuples(index=False):
        out.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in rec])
    console.print(out)


def _eval_perspectives(args: argparse.Namespace, ids: list[str], texts: list[str], kinds: list[str],
                       gaps: list[str]) -> None:
    """Run the whole analysis on the labelled comments as one meeting and score its suggestions."""
    import tempfile

    import pandas as pd

    from pipeline.analysis import Options, analyse
    from pipeline.evaluate import perspective_scores
    from pipeline.ingest import load_meeting
    from pipeline.models import load_models

    with tempfile.TemporaryDirectory() as tmp:
        meeting = Path(tmp) / "eval"
        meeting.mkdir()
        pd.DataFrame({"comment_id": ids, "text": texts, "kind": kinds}).to_csv(meeting / "feedback.csv", index=False)
        inputs = load_meeting(meeting, args.measures)
    models = load_models(codebook=args.codebook, lexicon=args.lexicon if args.lexicon.is_file() else None,
                         stopwords=args.stopwords if args.stopwords.is_file() else None,
                         codebook_layers=args.codebook_layer)
    result = analyse(inputs, models, options=Options(mask_pii=False))
    per_gap, per_suggestion, totals = perspective_scores(dict(zip(ids, gaps, strict=True)),
                                                         result.perspectives.suggestions)
    _print_frame("新たな視点(案) の評価: 抜けている分野ごと / per gap", per_gap)
    _print_frame("提案ごとの純度 / purity of each suggestion", per_suggestion)
    console.print(" ".join(f"{k}={v}" for k, v in totals.items()), markup=False)


def _tagger(codebook: Path, lexicon: Path | None, theme_labels: Path | None, layers: Sequence[Path] = ()):
    from pipeline.codebook import load_codebook
    from pipeline.tagging import Tagger
    from pipeline.tokenise import Lexicon, Tokeniser, extend_lexicon, load_lexicon

    book = load_codebook(codebook, layers=layers)
    lex = load_lexicon(lexicon) if lexicon and lexicon.is_file() else Lexicon()
    tok = Tokeniser(lexicon=extend_lexicon(lex, book.terms, book.synonyms, file=str(codebook)))
    return Tagger.build(book, tok, theme_labels if theme_labels and theme_labels.is_file() else None)


def cmd_run(args: argparse.Namespace) -> int:
    _prefect_env(args.verbose and not args.quiet)
    from flows.meeting import meeting_flow

    _quiet_tracebacks()
    measures = args.measures or default_measures(args.meeting_dir)
    if not args.quiet:
        console.print(f"分析中 / analysing: {args.meeting_dir}（施策一覧 / measures: {measures}）", markup=False,
                      highlight=False, soft_wrap=True)
    # The flow reads and checks the inputs (once) and takes the meeting's lock; an input problem comes back
    # as one message (see main).
    with _progress(not args.quiet):
        out = _run_flow(meeting_flow, args, measures)
    from pipeline.outputs import REPORT_DOCX, REPORT_HTML, WORKBOOK

    if not args.quiet:
        console.print(f"\n[green]完了 / done:[/] {Path(out) / REPORT_HTML.file}", highlight=False, soft_wrap=True)
        console.print(f"  Word: {Path(out) / REPORT_DOCX.file}　Excel: {Path(out) / WORKBOOK.file}", markup=False,
                      highlight=False, soft_wrap=True)
    return EXIT_OK


def _add_warm(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("warm", help="ライブラリを読み込んだプロセスを待機させ、この後の kyosei run / demo を約2秒早く始めます"
                                "（Ctrl-C で終了）/ keep a warm process so that kyosei run and demo start sooner")


def cmd_warm(args: argparse.Namespace) -> int:
    """Load everything a run needs, analyse the first sample meeting once (no Prefect, no output kept), then hand
    each ``kyosei run``/``demo`` started meanwhile to a forked copy (see flows/warm.py)."""
    import time

    from flows import warm

    if not warm.supported():
        err_console.print("この環境では使えません（fork と Unix ソケットが必要です）/ not available here: needs fork and "
                          "Unix sockets (Linux, macOS)", markup=False, soft_wrap=True)
        return EXIT_ERROR
    t0 = time.perf_counter()
    server = warm.WarmServer(warm.socket_path(), _run_forked,
                             log=lambda s: console.print(f"  {s}", markup=False, highlight=False, soft_wrap=True))
    try:
        server.check_free()
    except OSError as err:
        err_console.print(f"待機できません / cannot wait: {err}", markup=False, soft_wrap=True)
        return EXIT_ERROR
    _prefect_env(False)
    import flows.meeting  # noqa: F401 (Prefect and the pipeline, loaded once)

    _quiet_tracebacks()
    _warm_up()
    if threading.active_count() != 1:
        err_console.print(f"スレッドが動いているため待機できません / cannot wait: {threading.active_count()} threads "
                          "are running (a copy of this process would not be safe)", markup=False, soft_wrap=True)
        return EXIT_INTERNAL
    try:
        server.bind()
    except OSError as err:
        err_console.print(f"待機できません / cannot wait: {err}", markup=False, soft_wrap=True)
        return EXIT_ERROR
    console.print(f"準備できました（{time.perf_counter() - t0:.1f} 秒）。この後の kyosei run / demo はこのプロセスで動きます。"
                  f"Ctrl-C で終了します。/ ready: kyosei run and demo now start from this process; Ctrl-C stops it.\n"
                  f"  {server.path}", markup=False, highlight=False, soft_wrap=True)
    try:
        while True:
            server.serve_one()
    except KeyboardInterrupt:
        server.close()
        if server.children:
            console.print(f"実行中の {len(server.children)} 件の終了を待ちます / waiting for the runs in progress",
                          markup=False, highlight=False)
            server.wait_children()
        console.print("終了しました / stopped", highlight=False)
    finally:
        server.close()
    return EXIT_OK


def _warm_up() -> None:
    """One analysis of the first sample meeting, written to a temporary folder and removed: every lazy import,
    the dictionary, matplotlib's fonts and the report templates are loaded before the first real run."""
    import tempfile

    from flows.meeting import RunConfig, StageClock, load, write
    from pipeline.analysis import analyse
    from pipeline.manifest import RunInfo

    samples = Path(__file__).resolve().parents[1] / "data" / "meetings"
    meetings = sorted(p for p in samples.iterdir() if p.is_dir()) if samples.is_dir() else []
    models = Path(__file__).resolve().parents[1] / "models"
    if not meetings or not (models / "codebook.yaml").is_file():
        return
    with tempfile.TemporaryDirectory(prefix="kyosei-warm-") as tmp:
        config = RunConfig(meeting_dir=meetings[0], measures=default_measures(meetings[0]),
                           codebook=models / "codebook.yaml", lexicon=models / "lexicon.yaml",
                           stopwords=models / "stopwords.txt", out_root=Path(tmp))
        clock = StageClock(publish=False)
        try:
            inputs, loaded, history = load(config)
            write(analyse(inputs, loaded, history=history), RunInfo(config, "", clock.timings))
        except Exception as err:
            logging.getLogger(__name__).warning("warm-up analysis failed: %s", err)


def _run_forked(argv: list[str]) -> int:
    """A command in a copy of the warm process: as flows.entry would run it in a fresh one."""
    global console, err_console
    from flows import warm
    from flows.entry import _private_stderr

    _private_stderr()
    warm.repoint_logging()
    console = Console(highlight=False)
    err_console = Console(stderr=True, highlight=False)
    return main(argv)


def task_runner(spec: str) -> object | None:
    """``serial`` → None; ``dask`` → a 2-worker LocalCluster on 127.0.0.1; ``dask=ADDRESS`` → that cluster."""
    if spec == "serial":
        return None
    kind, _, address = spec.partition("=")
    if kind != "dask":
        raise KyoseiError(f"--task-runner「{spec}」は使えません（serial, dask, dask=ADDRESS）/ "
                          f"unknown task runner {spec!r}; use serial, dask or dask=tcp://host:8786")
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True,
                                          "host": "127.0.0.1", "dashboard_address": None})


def _codebook_layers(args: argparse.Namespace) -> list[Path]:
    """The layers named with --codebook-layer after the codebook.local.yaml files found beside the meeting
    (those left out with --no-local-codebook); a named file that does not exist is an error."""
    from pipeline.ingest.discover import find_codebook_layers

    for path in args.codebook_layer:
        if not path.is_file():
            raise KyoseiError(f"{path}: コードブックの追加分が見つかりません / codebook layer not found")
    found = [] if args.no_local_codebook else find_codebook_layers(args.meeting_dir)
    return [*found, *(p for p in args.codebook_layer if all(p.resolve() != f.resolve() for f in found))]


def _run_flow(meeting_flow, args: argparse.Namespace, measures: Path) -> str:
    from pipeline.ingest.discover import found_beside

    runner = task_runner(args.task_runner)
    if runner is not None:
        meeting_flow = meeting_flow.with_options(task_runner=runner)
    return meeting_flow(
        meeting_dir=args.meeting_dir,
        measures=measures,
        out_root=args.out_root,
        lexicon=_optional(args.lexicon, "ユーザー辞書 / lexicon"),
        stopwords=_optional(args.stopwords, "ストップワード / stop words"),
        codebook=args.codebook,
        codebook_layers=_codebook_layers(args),
        theme_labels=args.theme_labels if args.theme_labels.is_file() else None,
        decisions=args.decisions,
        mask_pii=not args.no_mask,
        chunk_size=args.chunk_size if runner is not None else 0,
        network_words=args.network_words,
        network_edges=args.network_edges,
        network_mst=args.network_mst,
        measures_given=args.measures is not None or found_beside(args.meeting_dir, measures),
    )


def _console_encoding() -> None:
    """A Windows console in CP932 (Shift_JIS) cannot show every character kyosei prints (〜, —, ≥, a comment's
    emoji): such a character becomes 「?」 instead of stopping the program."""
    for stream in (sys.stdout, sys.stderr):
        encoding = str(getattr(stream, "encoding", "") or "").lower().replace("-", "").replace("_", "")
        if encoding and encoding not in ("utf8", "utf8sig") and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


class _Interrupt:
    """Ctrl-C: whatever was running when it came (Prefect's server stopping, a client call failing because the
    server got the signal too), the terminal gets one line and the exit code is 130."""

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, signum: int, frame: object) -> None:
        if not self.seen:
            self.seen = True
            logging.disable(logging.CRITICAL)          # no Prefect ERROR lines about the crashed run
        raise KeyboardInterrupt

    def finish(self) -> int:
        err_console.print(INTERRUPTED, markup=False, soft_wrap=True, highlight=False)
        # nothing after that line: shutdown messages of other threads and of the temporary server go nowhere
        sys.stdout.flush()
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        return EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    interrupt = _Interrupt()
    previous = signal.signal(signal.SIGINT, interrupt) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        args = _parser().parse_args(argv)
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        _console_encoding()
        commands = {"run": cmd_run, "demo": cmd_demo, "revise": cmd_revise, "validate": cmd_validate, "codebook": cmd_codebook, "kwic": cmd_kwic, "eval": cmd_eval,
                    "review": cmd_review_apply, "run-pending": cmd_run_pending, "serve": cmd_serve,
                    "warm": cmd_warm}
        return commands[args.command](args)
    except KeyboardInterrupt:
        return interrupt.finish()
    except KyoseiError as err:
        if interrupt.seen:
            return interrupt.finish()
        err_console.print("[red]エラー / Error[/]")
        err_console.print(str(err), markup=False, soft_wrap=True)
        return EXIT_ERROR
    except Exception as err:
        if interrupt.seen:
            return interrupt.finish()
        if os.environ.get("KYOSEI_DEBUG"):
            raise
        err_console.print("[red]内部エラー / internal error[/]")
        err_console.print(f"{type(err).__name__}: {err}", markup=False)
        err_console.print("出力フォルダは前回の結果か、書き終えた今回の結果のどちらかです（書きかけは残りません）。"
                          "KYOSEI_DEBUG=1 をつけて再実行すると詳細が出ます。/ The output folder holds either the previous "
                          "or the finished new results; rerun with KYOSEI_DEBUG=1 for the traceback.", markup=False)
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
