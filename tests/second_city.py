"""A second city's files, as such a city keeps them (written for these tests; every sentence is our own): workshop
minutes in Word, comments typed into a text file, Excel's 「Unicode テキスト」 save, comments pasted into column A
of a CSV without a header.  ``COMMENTS`` of each fixture are the comments a reader must find in it, in order."""

from __future__ import annotations

from pathlib import Path

MINUTES_TITLE = "第3回 地域福祉計画ワークショップ 議事録"
MINUTES_GROUPS = {
    "Aグループ": ["町内会の役員が毎年同じ人で、引き継ぐ人がいない。",
                 "見守りの対象者が増えて民生委員だけでは回らない。"],
    "Bグループ": ["ひきこもりの人の家族がどこに相談したらいいか分からない。",
                 "避難所に段ボールベッドが足りるのか心配。"],
}
MINUTES_TABLE = [("1", "ゴミ出しに困っている一人暮らしの高齢者が近所にいる。"),
                 ("2", "障害のある人が自分のペースで働ける職場を増やしてほしい。")]
MINUTES_COMMENTS = [c for cs in MINUTES_GROUPS.values() for c in cs] + [t for _, t in MINUTES_TABLE]


def word_minutes(path: Path) -> Path:
    """議事録: a title, the meeting's details, an intro paragraph, a heading per group with bullets under it (one
    bullet typed by hand with ・), then a table of further comments."""
    import docx

    d = docx.Document()
    d.add_heading(MINUTES_TITLE, 0)
    d.add_paragraph("日時：令和6年7月1日 14時から16時")
    d.add_paragraph("場所：市役所 3階 大会議室")
    d.add_paragraph("本日は二つのグループに分かれて、地域の困りごとについて話し合った。以下はその記録である。")
    for group, comments in MINUTES_GROUPS.items():
        d.add_heading(group, 1)
        for n, c in enumerate(comments):
            if n == len(comments) - 1 and group == "Bグループ":
                d.add_paragraph("・" + c)
            else:
                d.add_paragraph(c, style="List Bullet")
    table = d.add_table(rows=len(MINUTES_TABLE) + 1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "番号", "意見"
    for i, (n, text) in enumerate(MINUTES_TABLE, start=1):
        table.cell(i, 0).text, table.cell(i, 1).text = n, text
    d.save(str(path))
    return path


TEXT_LINES = ["バスの本数が少なくて通院が大変です。",
              "・近所に気軽に相談できる人がいない",
              "○ 子ども食堂をもっと増やしてほしい",
              "",
              "1. 災害のときに避難所まで行けるか心配",
              "②　空き家を地域の集いの場に使えないか"]
TEXT_COMMENTS = ["バスの本数が少なくて通院が大変です。", "近所に気軽に相談できる人がいない", "子ども食堂をもっと増やしてほしい",
                 "災害のときに避難所まで行けるか心配", "空き家を地域の集いの場に使えないか"]


def plain_text(path: Path, *, encoding: str = "cp932") -> Path:
    """意見メモ.txt: one comment per line, some with ・ ○ 1. ② markers, a blank line (Windows line ends)."""
    path.write_bytes(("\r\n".join(TEXT_LINES) + "\r\n").encode(encoding))
    return path


PARAGRAPHS = [["地域の行事に若い人が参加しなくなり、準備や片付けを", "いつも同じ高齢の役員が担っている。"],
              ["買い物に行ける店が近くになく、移動販売車が来る日を", "待つしかない。"]]
PARAGRAPH_COMMENTS = ["".join(p) for p in PARAGRAPHS]


def wrapped_text(path: Path) -> Path:
    """Comments written as paragraphs, hard-wrapped, a blank line between them (UTF-8)."""
    path.write_text("\n\n".join("\n".join(p) for p in PARAGRAPHS) + "\n", encoding="utf-8")
    return path


UNICODE_ROWS = [("1", "ゴミ出しが大変な高齢者が増えている。", "70代"),
                ("2", "学生のボランティアがもっと地域に来てほしい。", "20代"),
                ("3", "認知症の親を介護していて仕事との両立が難しい。", "50代")]


def unicode_text(path: Path) -> Path:
    """Excel's 「Unicode テキスト」 save: UTF-16 with BOM, tab-separated, .txt."""
    lines = ["ID\t意見\t年代"] + ["\t".join(r) for r in UNICODE_ROWS]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-16"))
    return path


HEADERLESS = [
    "公園のベンチが少なく、散歩の途中で休めない。",
    "民生委員の仕事が大変そうで、引き受ける人がいない。",
    "障害のある子どもの放課後の居場所が足りない。",
    "意見交換の場を増やしてほしい",              # short, with the word 意見: it must not become the header
    "夜道が暗くて一人で歩くのが怖い。",
    "困りごと",                                  # a column-name-like word, yet a comment of the column
    "地域の防災訓練に参加するのは高齢者ばかりだ。",
]


def headerless_csv(path: Path) -> Path:
    """Comments pasted into column A and saved as CSV: no header row (UTF-8 with BOM)."""
    path.write_text("\n".join(HEADERLESS) + "\n", encoding="utf-8-sig")
    return path


FORMS_HEADER = ["ID", "開始時刻", "完了時刻", "メール", "名前", "年代", "地域で困っていることを教えてください",
                "市の福祉に望むことを自由にお書きください", "最終変更時刻"]
FORMS_PEOPLE = [("kaede.morikawa@example.jp", "森川 楓"), ("t-ishizuka@example.jp", "石塚 亨"),
                ("anonymous", "匿名"), ("haruka.n@example.jp", "野々村 遥"), ("anonymous", "匿名"),
                ("s.kurobe@example.jp", "黒部 真司")]
FORMS_ANSWERS = [
    ("70代", "坂が多くて買い物に行くのが大変になってきた。", "移動販売や送迎の支援を増やしてほしい。"),
    ("40代", "共働きで子どもを預ける先が見つからない。", ""),
    ("30代", "外国籍の家族が地域の情報を得られていない。", "やさしい日本語で案内を出してほしい。"),
    ("60代", "", "民生委員の負担を減らす仕組みを考えてほしい。"),
    ("80代", "一人暮らしで、具合が悪くなったときに誰に知らせればいいか分からない。", "特になし"),
    ("50代", "障害のある息子が通える作業所が近くにない。", "親亡き後の住まいを用意してほしい。"),
]
FORMS_COMMENTS = [t for _, a, b in FORMS_ANSWERS for t in (a, b) if t]


def forms_export(path: Path) -> Path:
    """A Microsoft Forms export: ID, start and end times, e-mail, name, one choice, two free-text questions and the
    last-modified time (.xlsx, one sheet)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(FORMS_HEADER)
    for n, ((mail, name), (age, a, b)) in enumerate(zip(FORMS_PEOPLE, FORMS_ANSWERS, strict=True), start=1):
        ws.append([n, f"2024/07/0{n} 10:00:00", f"2024/07/0{n} 10:05:00", mail, name, age, a or None, b or None,
                   None])
    wb.save(path)
    return path


FORMS_PERSONAL = [v for mail, name in FORMS_PEOPLE for v in (mail, name) if v not in ("anonymous", "匿名")]


POLICY_TITLE = "第2期 地域福祉計画 施策の体系"
POLICY = [   # (基本目標, 施策の方向, 主な取組)
    ("基本目標1 みんなで支え合う地域づくり", "(1) 地域の担い手の育成", "① 地域活動の担い手の発掘と育成"),
    ("基本目標1 みんなで支え合う地域づくり", "(1) 地域の担い手の育成", "② 民生委員・児童委員の活動支援"),
    ("基本目標1 みんなで支え合う地域づくり", "(2) 見守りと交流の場", "① 高齢者の見守り活動の推進"),
    ("基本目標1 みんなで支え合う地域づくり", "(2) 見守りと交流の場", "② 誰もが集える居場所づくり"),
    ("基本目標2 安心して暮らせる仕組みづくり", "(1) 相談体制の充実", "① 総合相談窓口の設置"),
    ("基本目標2 安心して暮らせる仕組みづくり", "(1) 相談体制の充実", "② ひきこもり・生活困窮の相談支援"),
    ("基本目標2 安心して暮らせる仕組みづくり", "(2) 災害への備え", "① 避難行動要支援者の個別避難計画づくり"),
    ("基本目標3 自分らしく活躍できるまちづくり", "(1) 働く場の確保", "① 障害のある人の就労支援"),
    ("基本目標3 自分らしく活躍できるまちづくり", "(1) 働く場の確保", "② 高齢者の就労と社会参加の促進"),
]
POLICY_IDS = ["1-1-1", "1-1-2", "1-2-1", "1-2-2", "2-1-1", "2-1-2", "2-2-1", "3-1-1", "3-1-2"]


def policy_xlsx(path: Path) -> Path:
    """The city's 体系表 as kept: a title row, the three level headers, merged cells down the first two columns, the
    numbering inside the text, no ids, a 担当課 column."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "施策体系"
    ws.append([POLICY_TITLE, None, None, None])
    ws.append(["基本目標", "施策の方向", "主な取組", "担当課"])
    previous = (None, None)
    start = {0: 3, 1: 3}
    for i, (goal, direction, action) in enumerate(POLICY):
        row = i + 3
        ws.append([goal if goal != previous[0] else None, direction if (goal, direction) != previous else None,
                   action, "福祉政策課"])
        for col, same in ((0, goal == previous[0]), (1, (goal, direction) == previous)):
            if not same and row > start[col] + 1:
                ws.merge_cells(start_row=start[col], start_column=col + 1, end_row=row - 1, end_column=col + 1)
            if not same:
                start[col] = row
        previous = (goal, direction)
    last = len(POLICY) + 2
    for col in (0, 1):
        if last > start[col]:
            ws.merge_cells(start_row=start[col], start_column=col + 1, end_row=last, end_column=col + 1)
    wb.save(path)
    return path


def policy_csv(path: Path) -> Path:
    """The same table saved as CP932 CSV with the levels repeated on every row."""
    lines = ["基本目標,施策の方向,主な取組"] + [",".join(r) for r in POLICY]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp932"))
    return path


TWO_LEVEL = [("1 地域で支え合う", "1-(1) 見守りネットワークの充実"), ("", "1-(2) 地域活動の担い手づくり"),
             ("2 相談できる安心", "2-(1) 包括的な相談支援体制"), ("", "2-(2) 災害時の助け合い")]


def two_level_csv(path: Path) -> Path:
    """A two-level table numbered 1-(1): 基本方針 | 施策, the first column written once per group (UTF-8)."""
    lines = ["基本方針,施策,内容"] + [f"{a},{b},{b.split(' ')[1]}に取り組む。" for a, b in TWO_LEVEL]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GROUP_SHEETS = {
    "Aグループ": [("地域の見守り活動", "民生委員と町会が協力して一人暮らし高齢者を訪問している。", "柱1 (2) 見守りと交流の場"),
                 ("担い手講座", "地域活動を始めたい人向けの講座を開いている。", "1-(1)-① 地域活動の担い手の発掘と育成")],
    "Bグループ": [("総合相談の窓口", "どこに相談してよいか分からない人を受け止める窓口。", "総合相談窓口の設置"),
                 ("防災訓練", "要支援者と一緒に避難する訓練を行っている。", "柱2 (2) 災害への備え"),
                 ("ふれあい会食", "月に一度、地域の食堂で会食をしている。", "居場所")],
    "Cグループ": [("就労体験", "障害のある人が商店街で働く体験をしている。", "3-(1)"),
                 ("健康づくり", "公園で体操教室を開いている。", "柱3"),
                 ("子ども食堂", "地域の寺で月二回開いている。", "")],
}
GROUP_LINKS = ["1-2-1|1-2-2", "1-1-1", "2-1-1", "2-2-1", "1-2-2", "3-1-1|3-1-2", "", ""]
"""What each card links to: 「柱1 (2) 見守りと交流の場」 and 「3-(1)」 name a direction (its measures), 「居場所」 one measure
by a word of its name; 「柱3」 names a whole pillar: too broad, left unlinked and listed for the analyst."""


def group_sheets(path: Path) -> Path:
    """One sheet per group: カード番号 from 1 on each sheet, タイトル, 内容, 紐づけた施策 as text."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, cards in GROUP_SHEETS.items():
        ws = wb.create_sheet(name)
        ws.append(["カード番号", "タイトル", "内容", "紐づけた施策"])
        for n, (title, body, measure) in enumerate(cards, start=1):
            ws.append([n, title, body, measure or None])
    wb.save(path)
    return path


FLIP_CHART = [
    ("A", "・買い物に行く足がない\n・病院への送迎がほしい\n・バス停が遠い"),
    ("B", "民生委員の負担が大きい。\n若い人が地域活動に参加しない。"),
    ("C", "近所に相談できる人がいなくて、\n困ったときにどうすればよいか分からない。"),
    ("D", "1. 避難所の場所を知らない\n2. 要支援者の名簿が\n   活用されていない"),
]
FLIP_ITEMS = [["買い物に行く足がない", "病院への送迎がほしい", "バス停が遠い"],
              ["民生委員の負担が大きい。", "若い人が地域活動に参加しない。"],
              ["近所に相談できる人がいなくて、\n困ったときにどうすればよいか分からない。"],
              ["避難所の場所を知らない", "要支援者の名簿が活用されていない"]]


def flip_chart(path: Path) -> Path:
    """A flip chart typed up: one cell per group holding several comments (bullets, one sentence per line, a
    sentence broken over two lines, numbered items with a wrapped line)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["班", "模造紙の意見"])
    for row in FLIP_CHART:
        ws.append(list(row))
    wb.save(path)
    return path
