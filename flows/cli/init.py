"""``kyosei init FOLDER``: a city's workspace in one step — the data folder, a first meeting folder with a
``meeting.yaml`` to fill in, the city's own 体系表 read, checked and copied in, an empty ``codebook.local.yaml`` with
comments — then the next command to type."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from flows.cli import common as ui
from flows.cli.common import EXIT_ERROR, EXIT_OK
from pipeline.ingest.discover import MEETING_FILE

FIRST_MEETING = "第1回"

MEETING_YAML = """\
# この会議の情報です。分かるところを書き換えてください（# の行は説明です）。
# title: 報告書の表題に使います。 date: 開催日（2024-07-01 の形）。
# series: 同じシリーズの会議（第1回・第2回 …）に同じ名前を付けると、回ごとのテーマの推移を比べます。
title: 地域福祉計画 ワークショップ 第1回
date: {date}
series: 地域福祉計画ワークショップ
"""

LOCAL_CODEBOOK = """\
# この市のコードブック追加分です（kyosei 同梱のテーマの上に重ねます）。
# 市の事業名・愛称をテーマに結びつけたり、1語として扱ったりするときに書きます。例:
#
# lexicon:
#   terms: [ふれあいネット, まちの相談室]        # 1語として扱う事業名
#
# themes:
#   - id: 相談窓口                                # 同梱のテーマの id
#     measures: [2-1-1]                           # このテーマに当たる施策案の ID（kyosei validate が表示します）
#     rules:
#       - まちの相談室                            # この語があればこのテーマ
#
# 確認: kyosei codebook check --layer data/codebook.local.yaml
lexicon:
  terms: []
themes: []
"""


def _add_init(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser("init", help="市の作業フォルダを作ります（データフォルダ、最初の会議フォルダ、体系表）"
                                       "(set up a city's workspace)")
    init.add_argument("folder", type=Path, help="作業フォルダ（なければ作ります）(the workspace folder)")
    init.add_argument("--measures", type=Path, metavar="FILE",
                      help="市の体系表（.xlsx / .csv。ID の列がなくても、階層と番号から読みます）(the city's policy table)")


def _write_new(path: Path, text: str, made: list[str]) -> None:
    """Write ``text`` unless the file exists (a workspace set up before is never overwritten)."""
    if path.exists():
        ui.console.print(f"  そのまま / kept: {path}", markup=False, highlight=False)
        return
    path.write_text(text, encoding="utf-8")
    made.append(str(path))


def cmd_init(args: argparse.Namespace) -> int:
    import datetime as dt

    from pipeline.ingest.meeting import load_policy

    data = args.folder / "data"
    meeting = data / "meetings" / FIRST_MEETING
    policy = None
    if args.measures is not None:
        if not args.measures.is_file():
            ui.err_console.print(f"{args.measures}: 体系表が見つかりません / policy table not found", markup=False)
            return EXIT_ERROR
        policy = load_policy(args.measures)             # an unreadable table stops here, before anything is made
    meeting.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    _write_new(meeting / MEETING_FILE, MEETING_YAML.format(date=dt.date.today().isoformat()), made)
    _write_new(data / "codebook.local.yaml", LOCAL_CODEBOOK, made)
    if args.measures is not None and policy is not None:
        target = data / f"measures{args.measures.suffix.lower()}"
        if target.exists():
            ui.console.print(f"  そのまま / kept: {target}", markup=False, highlight=False)
        else:
            shutil.copyfile(args.measures, target)
            made.append(str(target))
            mapping = args.measures.with_suffix(".yaml")
            if mapping.is_file():                    # the table's column mapping travels with it
                shutil.copyfile(mapping, target.with_suffix(".yaml"))
                made.append(str(target.with_suffix(".yaml")))
        ui.console.print(f"体系表 / policy table: {args.measures}（{' > '.join(policy.levels)}、施策案 "
                         f"{len(policy.measures)} 件）", markup=False, highlight=False, soft_wrap=True)
        for line in policy.lines():
            ui.console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    for path in made:
        ui.console.print(f"  作成 / created: {path}", markup=False, highlight=False)
    ui.console.print("\n次に / next:", highlight=False)
    if args.measures is None:
        ui.console.print(f"  市の体系表を {data}/measures.xlsx（または .csv）として置いてください / put the city's "
                         "policy table there", markup=False, highlight=False, soft_wrap=True)
    ui.console.print(f"  1. 意見・カード・投票のファイル（.xlsx .csv .docx .txt）を {meeting} に置く / put the files there",
                     markup=False, highlight=False, soft_wrap=True)
    ui.console.print(f"  2. kyosei validate \"{meeting}\"   （読み方を確かめる / check how they are read）", markup=False,
                     highlight=False, soft_wrap=True)
    ui.console.print(f"  3. kyosei run \"{meeting}\"        （分析してレポートを書く / analyse）", markup=False,
                     highlight=False, soft_wrap=True)
    return EXIT_OK
