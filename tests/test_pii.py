"""Personal data: what is masked, what must stay, and that no output of a run carries it."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from pipeline.text.normalise import normalise_text
from pipeline.text.pii import mask_analysed, mask_text
from pipeline.text.tokenise import Tokeniser
from tests.conftest import sample_settings


@pytest.mark.parametrize(("text", "expected", "counts"), [
    ("山田太郎さん（090-1234-5678）から電話があった", "[氏名]さん([電話番号])から電話があった", {"name": 1, "phone": 1}),
    ("連絡先: ０４－７１６７－１１１１", "連絡先: [電話番号]", {"phone": 1}),
    ("04(7167)1111 か 0471671111 へ", "[電話番号] か [電話番号] へ", {"phone": 2}),
    ("+81-4-7167-1111", "[電話番号]", {"phone": 1}),
    ("メールは taro.yamada@example.jp まで", "メールは [メール] まで", {"email": 1}),
    ("〒277-8505 千葉県柏市柏5-10-1", "[郵便番号] [住所]", {"postal_code": 1, "address": 1}),
    ("柏市柏５丁目１０番１号の鈴木花子様", "[住所]の[氏名]様", {"address": 1, "name": 1}),
    ("福祉政策課の虻川課長より挨拶", "福祉政策課の[氏名]課長より挨拶", {"name": 1}),
    ("社協の高橋氏と田中委員", "社協の[氏名]氏と[氏名]委員", {"name": 2}),
    ("大津さんに相談", "[氏名]さんに相談", {"name": 1}),
    ("マイケルさんと話した", "[氏名]さんと話した", {"name": 1}),
])
def test_masked(tokeniser: Tokeniser, text: str, expected: str, counts: dict[str, int]) -> None:
    c: Counter[str] = Counter()
    assert normalise_text(mask_text(text, tokeniser, c)) == normalise_text(expected)
    assert dict(c) == counts
    # the item pass masks a comment with the parse it analyses (names from the tokens of the normalised text)
    one: Counter[str] = Counter()
    written, norm, tokens = mask_analysed(text, tokeniser, one)
    assert normalise_text(written) == normalise_text(expected) and norm == normalise_text(written)
    assert [t.surface for t in tokens] == [t.surface for t in tokeniser.tokens(norm)]
    assert one == c


@pytest.mark.parametrize("text", [
    "柏市、福祉政策課、社協、K-Net、いきいきセンター、あいネット",
    "地域包括支援センターと民生委員さんが訪問する",
    "2024-05-22 の会議で16~18歳の支援を考えた",
    "柏市の5つの圏域で1,000人が参加",
    "高齢者・障害者・子どもが住みやすい街",
    "第2回 地域共生社会連携会議",
    "大津ヶ丘地区のサロン",
])
def test_not_masked(tokeniser: Tokeniser, text: str) -> None:
    c: Counter[str] = Counter()
    assert mask_text(text, tokeniser, c) == text
    assert mask_analysed(text, tokeniser, c)[0] == text
    assert not c


def test_one_parse_masks_the_text_as_written(tokeniser: Tokeniser, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name found in the normalised text is replaced in the text as written (full-width letters, digits and
    spaces stay as typed); a text is parsed once, twice only when a name was replaced."""
    parsed: list[str] = []
    tokens = tokeniser.tokens
    monkeypatch.setattr(tokeniser, "tokens", lambda text: parsed.append(text) or tokens(text))
    c: Counter[str] = Counter()
    written, norm, _ = mask_analysed("ＮＰＯの　山田　太郎さん（０９０－１２３４－５６７８）に聞いた", tokeniser, c)
    assert written == "ＮＰＯの　[氏名]さん（[電話番号]）に聞いた"
    assert norm == "NPOの[氏名]さん([電話番号])に聞いた"
    assert parsed == ["NPOの山田太郎さん([電話番号])に聞いた", norm]
    assert c == {"name": 1, "phone": 1}
    parsed.clear()
    assert mask_analysed("ｻﾛﾝの運営を　手伝いたい", tokeniser, c)[:2] == ("ｻﾛﾝの運営を　手伝いたい", "サロンの運営を手伝いたい")
    assert parsed == ["サロンの運営を手伝いたい"]


SECRET = ["山田太郎", "090-1234-5678", "taro.yamada@example.jp", "柏市柏5-10-1"]


def meeting_with_pii(tmp_path: Path) -> Path:
    m = tmp_path / "m"
    m.mkdir()
    (m / "meeting.yaml").write_text('id: "2024-06-05"\ndate: "2024-06-05"\n', encoding="utf-8")
    (m / "feedback.csv").write_text(
        "comment_id,text,kind\n"
        "F1,山田太郎さん（090-1234-5678）に相談窓口を案内した。,感想\n"
        "F2,就労支援の相談は taro.yamada@example.jp まで。,追加すべき視点\n"
        "F3,柏市柏5-10-1 の集会所で交流サロンを開きたい。,重要な理由\n"
        ",山田太郎さんのIDのない行,感想\n", encoding="utf-8")
    return m


def every_output_text(folder: Path) -> str:
    """The text of every file of an output folder: text files as they are, the Word document's and the workbook's
    XML parts (their cells, paragraphs, properties); a file of any other kind fails the test (it would go unscanned)."""
    parts = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        if p.suffix in (".csv", ".md", ".html", ".json", ".txt", ".tsv"):
            parts.append(p.read_text(encoding="utf-8-sig"))
        elif p.suffix in (".xlsx", ".docx"):
            with zipfile.ZipFile(p) as z:
                parts += [z.read(n).decode("utf-8") for n in z.namelist() if n.endswith((".xml", ".rels"))]
        else:
            assert p.suffix == ".png", f"{p.name}: an output no test scans for personal data"
    return "\n".join(parts)


def artifact_text(meeting_id: str) -> str:
    """Everything the run published as Prefect artifacts for ``meeting_id`` (markdown, tables, links)."""
    from prefect.client.orchestration import get_client

    from flows.meeting import artifact_key

    key = f"kyosei-{artifact_key(meeting_id)}-"
    with get_client(sync_client=True) as client:
        found = [a for a in client.read_artifacts(limit=200) if (a.key or "").startswith(key)]
    assert found, "no artifact found"
    def text(data: object) -> str:               # a table artifact's data is JSON text with \u escapes
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                return data
        return json.dumps(data, ensure_ascii=False)

    return "\n".join(f"{a.key}\n{a.description or ''}\n{text(a.data)}" for a in found)


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_harness")
def test_no_output_carries_personal_data(tmp_path: Path) -> None:
    from flows.meeting import meeting_flow

    out = Path(meeting_flow(meeting_dir=meeting_with_pii(tmp_path), settings=sample_settings(tmp_path / "out")))
    text = every_output_text(out)
    published = artifact_text(out.name)
    for secret in SECRET:
        assert secret not in text, secret
        assert secret not in published, secret
    assert "[氏名]" in text and "[電話番号]" in text and "[メール]" in text and "[住所]" in text
    with zipfile.ZipFile(out / "report.docx") as z:                  # the Word report quotes the masked comments
        assert "[氏名]" in z.read("word/document.xml").decode("utf-8")
    assert any(mask in published for mask in ("[氏名]", "[電話番号]", "[メール]", "[住所]"))  # masked text was read
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["pii_masks"] == {"name": 2, "phone": 1, "email": 1, "postal_code": 0, "address": 1}

    raw = Path(meeting_flow(meeting_dir=tmp_path / "m", settings=sample_settings(tmp_path / "internal", mask_pii=False)))
    assert "山田太郎" in every_output_text(raw)
    assert json.loads((raw / "manifest.json").read_text(encoding="utf-8"))["pii_masks"].startswith("off")


def test_the_cheap_name_check_never_skips_a_name(tokeniser) -> None:
    """Masking names through the parse-string check gives exactly what building every text's tokens gives."""
    import csv
    from collections import Counter

    from pipeline.text import pii
    from tests.conftest import MEETING_1, MEETING_2

    texts = [r["text"] for m in (MEETING_1, MEETING_2)
             for r in csv.DictReader((m / "feedback.csv").open(encoding="utf-8"))]
    texts += ["田中さんが相談に来た。", "鈴木一郎さんから電話", "林さんと行った", "あいネットさんに電話した",
              "民生委員の佐藤委員が見守っている", "柏市の高橋様より"]
    fast, full = Counter(), Counter()
    quick = [pii.mask_names(t, tokeniser, fast) for t in texts]
    always = pii._may_hold_name
    try:
        pii._may_hold_name = lambda text, tok: True
        slow = [pii.mask_names(t, tokeniser, full) for t in texts]
    finally:
        pii._may_hold_name = always
    assert quick == slow and fast == full and full["name"] >= 5
    # and the item pass's one parse of the normalised text masks the same names in these texts
    one = Counter()
    assert [mask_analysed(t, tokeniser, one)[1] for t in texts] == [normalise_text(t) for t in quick]
    assert one == full
