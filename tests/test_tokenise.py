"""Tokenise: lemmas with loanword fallback, compounds, the user lexicon, synonyms and stop words."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from pipeline.errors import ConfigError
from pipeline.text.normalise import normalise_text
from pipeline.text.tokenise import COMPOUND_POS, LEXICON_POS, Lexicon, Tokeniser, item_terms, parse_lexicon


def terms(tk: Tokeniser, text: str) -> list[str]:
    return [t.text for t in tk.terms(normalise_text(text))]


@pytest.mark.parametrize(("text", "compound"), [
    ("相談窓口の充実", "相談窓口"),
    ("就労支援という視点", "就労支援"),
    ("個別避難計画を立てる", "個別避難計画"),
    ("災害時に漏れてしまう", "災害時"),
    ("福祉政策課のあいネット", "福祉政策課"),
    ("高齢者・障害者", "高齢者"),
])
def test_compound_nouns_stay_whole(text: str, compound: str) -> None:
    tk = Tokeniser()
    assert compound in terms(tk, text)


def test_lexicon_terms_survive_bad_dictionary_cuts(tokeniser: Tokeniser) -> None:
    # without the lexicon UniDic reads 'やあい' + 'ネット' and 'いきいき' (adverb) + 'センター'
    text = normalise_text("いきいきセンターやあいネット、K - N e t、地域づくりコーディネーター")
    assert [t.text for t in Tokeniser().terms(text)][:2] != ["いきいきセンター", "あいネット"]
    got = tokeniser.terms(text)
    assert [t.text for t in got] == ["いきいきセンター", "あいネット", "K-Net", "地域づくりコーディネーター"]
    assert all(text[t.start:t.end] == t.surface for t in got)


def test_loanword_and_unknown_lemmas_use_the_written_form() -> None:
    toks = {t.surface: t for t in Tokeniser().tokens("フレイルとセンターとプレーヤー、ＸＹＺ")}
    assert toks["フレイル"].lemma == "フレイル"      # UniDic says フレール-flail
    assert toks["センター"].lemma == "センター"
    assert toks["プレーヤー"].lemma == "プレーヤー"


def test_native_lemmas_merge_inflections() -> None:
    toks = Tokeniser().tokens("繋げていきたい。繋がった。楽しく働く")
    lemmas = [t.lemma for t in toks]
    assert "繋げる" in lemmas and "繋がる" in lemmas and "楽しい" in lemmas and "働く" in lemmas


def test_token_spans_point_into_the_text() -> None:
    text = "K-Netは登録制なので、取りこぼしは出る。"
    for t in Tokeniser().tokens(text):
        assert text[t.start:t.end] == t.surface


def test_compounds_join_prefix_and_suffix_but_not_等() -> None:
    tk = Tokeniser()
    got = [(t.surface, t.pos) for t in tk.compounds(tk.tokens("あいネット等相談窓口と各部署"))]
    assert ("相談窓口", COMPOUND_POS) in got
    assert ("各部署", COMPOUND_POS) in got
    assert not any(s.startswith("等") and len(s) > 1 for s, _ in got)


def test_formal_nouns_in_kana_are_not_keywords(tokeniser: Tokeniser) -> None:
    assert terms(tokeniser, "高校中退したかたへの支援のこと") == ["高校中退", "支援"]


@pytest.mark.parametrize(("text", "expected"), [
    ("子供食堂", "子ども食堂"), ("こども", "子ども"), ("障がい者", "障害者"), ("ひきこもり", "引きこもり"),
    ("取組", "取り組み"), ("取り組み", "取り組み"), ("社協", "社会福祉協議会"),
])
def test_synonyms_map_variants_to_canonical(tokeniser: Tokeniser, text: str, expected: str) -> None:
    assert tokeniser.lexicon.canonical(text) == expected


def test_parse_lexicon_normalises_and_validates() -> None:
    lex = parse_lexicon({"terms": ["Ｋ－Ｎｅｔ", "あいネット"], "synonyms": {"子ども": ["子供", "こども"]}})
    assert lex.terms == ("K-Net", "あいネット")       # longest first, then by text
    assert lex.synonyms == {"子供": "子ども", "こども": "子ども"}
    assert parse_lexicon(None) == Lexicon()


@pytest.mark.parametrize("data", [
    ["not", "a", "mapping"],
    {"terms": "あいネット"},
    {"synonyms": ["子ども"]},
    {"synonyms": {"子ども": ["子供"], "児童": ["子供"]}},
])
def test_bad_lexicon_is_a_config_error(data: object) -> None:
    with pytest.raises(ConfigError):
        parse_lexicon(data, file="lexicon.yaml")


def test_tokeniser_pickles_without_its_tagger(tokeniser: Tokeniser) -> None:
    tokeniser.tokens("相談")  # make sure a tagger exists
    clone = pickle.loads(pickle.dumps(tokeniser))
    assert clone._tagger is None
    assert [t.surface for t in clone.tokens("あいネット")] == ["あいネット"]
    assert clone.tokens("あいネット")[0].pos == LEXICON_POS


def test_item_terms_flags_stopwords(tokeniser: Tokeniser, stopwords: frozenset[str]) -> None:
    items = pd.DataFrame({"item_id": ["F1"], "text": [normalise_text("分野にとらわれない相談窓口を行うために，体制を整える必要がある。")]})
    got = item_terms(items, tokeniser=tokeniser, stopwords=stopwords)
    assert list(got.columns) == ["item_id", "term", "surface", "pos", "start", "end", "stopword"]
    kept = list(got.loc[~got["stopword"], "term"])
    assert kept == ["分野", "捕らわれる", "相談窓口", "体制", "整える"]
    assert list(got.loc[got["stopword"], "term"]) == ["行う", "必要"]
