"""Files shaped the way cities keep them (written for these tests; every sentence is our own): a public-comment
result table with a title row, a merged title cell and a total row; the same table as CP932 CSV; another city's
headers; survey exports with one and two free-text questions; a staff-typed workshop workbook with merged 班
cells and a wide vote sheet."""

from __future__ import annotations

from pathlib import Path

import openpyxl

TITLE = "第4次地域福祉計画（素案）に対する意見募集の結果"
PUBLIC_COMMENTS = [
    ("1", "P.12", "移動手段のない高齢者が通院や買い物に困っている。地域の支え合いの項目に移動支援の取組を加えてほしい。",
     "移動の支援は施策3-4に位置付けています。いただいたご意見は事業の実施にあたり参考にします。"),
    ("2", "P.20", "成年後見制度の利用がなかなか進まない。中核機関が何をするのか、もっと分かりやすく示すべきではないか。",
     "中核機関の役割について、本文に説明を追記します。"),
    ("3", "P.25", "災害のときに避難所まで自力で行けない障害者のために、個別避難計画づくりを急いでほしい。",
     "個別避難計画の作成を優先度の高い方から順次進めてまいります。"),
    ("4", "全体", "計画の文章が難しく、市民が読んでも分かりにくい。専門用語には説明を付けてほしい。",
     "巻末に用語解説を設けます。"),
    ("5", "P.31", "ひきこもりの家族がどこに相談すればよいのか分からない。相談できる窓口を明記してほしい。",
     "福祉の総合相談窓口で受け止め、関係機関につなぎます。窓口の一覧を掲載します。"),
    ("6", "P.8", "外国人住民への情報提供が足りていない。やさしい日本語での発信も進めてほしい。",
     "多言語ややさしい日本語での情報発信に努めます。"),
]
REPLY_WORDS = [r[3] for r in PUBLIC_COMMENTS]


def public_comment_xlsx(path: Path) -> Path:
    """Title row merged across the columns, a blank row, the header, six comments, a total row and a note."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "意見と市の考え方"
    ws.append([TITLE, None, None, None])
    ws.merge_cells("A1:D1")
    ws.append([None, None, None, None])
    ws.append(["No.", "該当箇所", "ご意見の概要", "市の考え方"])
    for row in PUBLIC_COMMENTS:
        ws.append([int(row[0]), *row[1:]])
    ws.append(["合計", "6件", None, None])
    ws.append(["備考：いただいたご意見は趣旨を損なわない範囲で要約しています。", None, None, None])
    wb.save(path)
    return path


def public_comment_csv(path: Path, *, encoding: str = "cp932") -> Path:
    """The same table saved from Excel as CSV (title row kept, merged cell gone)."""
    lines = [f"{TITLE},,,", ",,,", "No.,該当箇所,ご意見の概要,市の考え方"]
    lines += [",".join(r) for r in PUBLIC_COMMENTS]
    lines += ["合計,6件,,", "備考：いただいたご意見は趣旨を損なわない範囲で要約しています。,,,"]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def other_city_csv(path: Path) -> Path:
    """Another city's headers: 番号 | ページ | 意見の要旨 | 回答 (UTF-8 with BOM)."""
    lines = ["番号,ページ,意見の要旨,回答"] + [",".join(r) for r in PUBLIC_COMMENTS[:4]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


SURVEY = [
    ("2024/06/01 10:12:03", "70代", "北部", "近くに買い物できる店がなく、バスの本数も少ないので外出が大変です。",
     "地域で集まれるサロンを増やしてほしい。"),
    ("2024/06/01 11:40:55", "40代", "中央", "親の介護と仕事の両立に悩んでいるが、誰に相談すればいいか分からない。", ""),
    ("2024/06/02 09:05:20", "30代", "南部", "子育ての悩みを話せる場所が身近にあると助かる。",
     "子ども食堂のような居場所を地域に作ってほしい。"),
    ("2024/06/02 20:31:47", "80代", "北部", "一人暮らしで、災害のときに誰が助けてくれるのか不安です。", "特になし"),
    ("2024/06/03 14:22:10", "50代", "中央", "", ""),
]


def survey_csv(path: Path, *, questions: int = 1) -> Path:
    """A form export: timestamp, two categories, one or two free-text answers (row 6 answers nothing)."""
    header = ["タイムスタンプ", "年代", "お住まいの地区", "地域で困っていること（自由記述）"]
    if questions == 2:
        header.append("市に望むこと（自由記述）")
    lines = [",".join(header)] + [",".join(r[: len(header)]) for r in SURVEY]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def workshop_workbook(path: Path) -> Path:
    """Sheet 付箋: title row, header 班 / 付箋の内容 / 記入者の所属, each 班 merged over its rows.
    Sheet 投票: a title row, then カードID / 事業名 / 1回目 / 2回目 (blocks counted on paper)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "付箋"
    ws.append(["第3回 地域共生社会連携会議 付箋の記録", None, None])
    ws.merge_cells("A1:C1")
    ws.append(["班", "付箋の内容", "記入者の所属"])
    notes = [
        ("A", "民生委員のなり手が見つからず、一人の委員の負担が大きくなっている。", "福祉政策課"),
        (None, "ひきこもりの若者が相談できる場所がもっと身近にあるとよい。", "障害福祉課"),
        (None, "企業やNPOと一緒に地域の見守りを進めたい。", "社会福祉協議会"),
        ("B", "災害時に支援が必要な人の名簿を地域で共有する仕組みが必要。", "防災安全課"),
        (None, "障害のある人が働ける場を増やす就労支援を計画に入れてほしい。", "生活支援課"),
    ]
    for n in notes:
        ws.append(list(n))
    ws.merge_cells("A3:A5")
    ws.merge_cells("A6:A7")
    votes = wb.create_sheet("投票")
    votes.append(["投票結果（レゴブロックの数）", None, None, None])
    votes.append(["カードID", "事業名", "1回目", "2回目"])
    votes.append(["C01", "心配ごと相談", 3, 1])
    votes.append(["C02", "あいネット", 5, 4])
    votes.append(["C03", "避難行動要支援者名簿", 2, None])
    wb.save(path)
    return path


def wide_votes_csv(path: Path) -> Path:
    """Votes counted on paper: one column per round."""
    path.write_text("カードID,第1回,第2回\nC01,3,1\nC02,5,\nC03,0,2\n", encoding="utf-8")
    return path
