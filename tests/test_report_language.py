"""The report speaks plain Japanese: no English words in its own text (titles, notes, headers, the values it
generates), only ids, file names, command options and a short list of names."""

from __future__ import annotations

import re
from dataclasses import replace

import pandas as pd
import pytest

from pipeline.report.layout import build_report
from pipeline.report.render import ReportContext, label_for
from pipeline.run import outputs
from pipeline.run.result import MeetingResult

ALLOWED = {"ID", "kyosei", "Word", "Excel", "CSV", "KWIC"}  # KWIC: the name KH Coder users know (KWICコンコーダンス)
"""Names a Japanese reader of a 報告書 knows as they are."""
ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z_]*")
HARMLESS = re.compile(
    r"[\w./-]+\.(?:csv|xlsx|png|yaml|json|html|md|docx)"   # file names and paths
    r"|--[a-z-]+"                                           # command options
    r"|kyosei(?: [a-z-]+)*"                                 # commands (kyosei review apply)
    r"|\b[A-Z]{1,3}\d[\d-]*\b"                              # ids: P2-1, C02, F01, V01, K1
    r"|utf-8(?:-sig)?|cp932|shift_jis")                    # encodings in the input-file table
USER_TEXT = {
    "text", "title", "label", "representative_text", "department", "term", "term_1", "term_2", "top_terms",
    "value", "measure_name", "pillar_name", "definition", "theme", "themes", "theme_label", "quotes",
    "evidence", "section", "question", "reply", "file", "kind", "card_ids", "item_ids", "comment_ids",
    "measure_ids", "measures", "declared", "suggested", "best_measure", "best_measure_id", "measure_id",
    "pillar_id", "card_id", "item_id", "perspective_id", "representative_id", "cluster", "recurring_in",
    "suggested_card_ids", "suggested_name", "group", "main_theme",
}
"""Columns that hold what people wrote or named (comments, card titles, the policy table, the codebook)."""


def english_words(text: str) -> list[str]:
    return [w for w in ASCII_WORD.findall(HARMLESS.sub(" ", text)) if w not in ALLOWED]


def report_text(ctx: ReportContext) -> list[tuple[str, str]]:
    """(where, text) for everything the report itself says."""
    out = [("title", f"{ctx.title}")]
    for g in ctx.groups:
        out += [(g.heading, g.heading), (g.heading, g.note)]
        for s in g.sections:
            where = f"{g.heading} / {s.title}"
            out += [(where, s.title), (where, s.note), (where, s.empty if not len(s.frame) else ""),
                    (where, s.image_alt)]
            out += [(where, k) for k, _ in s.pairs]
            if s.title != "実行情報":
                out += [(where, v) for _, v in s.pairs]
            table = s.table
            out += [(where, label_for(c)) for c in table.columns]
            for c in table.columns:
                if c not in USER_TEXT and table[c].dtype == object:
                    out += [(f"{where} [{c}]", str(v)) for v in table[c]]
    return out


@pytest.fixture(scope="module")
def ctx(meeting2_result: MeetingResult) -> ReportContext:
    """The sample meeting's report, with the parts only later runs have: analysts' decisions applied, a learned
    layer, accepted and recurring suggestions."""
    from dataclasses import replace

    from pipeline.review import change, changes_frame

    r = meeting2_result
    p = r.perspectives.suggestions.copy()
    p.loc[0, "status"], p.loc[1, "status"] = "accepted", "recurring"
    r = replace(r, changes=changes_frame([change("perspective", "V01", "「就労」を採用済みとしました"),
                                          change("theme", "F01", "テーマ 相談窓口 を外しました")]),
                learned_themes=("相談窓口",), perspectives=replace(r.perspectives, suggestions=p))
    return build_report(r, outputs.images(r), [("ソフトウェア", "kyosei 0.1.0、fugashi 1.3")])


def test_harmless_patterns() -> None:
    assert english_words("結果は report.xlsx と models/codebook.yaml、P2-1 と V01、--network-mst で") == []
    assert english_words("support は支持、c-TF-IDF は特徴度") == ["support", "c", "TF", "IDF"]


def test_no_english_in_the_reports_own_text(ctx: ReportContext) -> None:
    found = [(where, w) for where, text in report_text(ctx) for w in english_words(text)]
    assert found == []


MACHINERY = re.compile(
    r"[\w./-]+\.(?:csv|xlsx|png|yaml|json|html|md|docx|tsv)"   # file names and paths
    r"|--[a-z][a-z-]+|kyosei [a-z]+|models/|outputs/")         # options, commands, folders
BODY_ALLOWED = {"ID", "Word", "Excel", "KWIC", "NPO"}
"""Names a reader of a 報告書 knows as they are (NPO comes from the codebook's theme names)."""


def body_text(ctx: ReportContext) -> list[tuple[str, str]]:
    """Everything the report says outside the 付録 and the 注意 (the warnings tell the analyst how to fix the
    input before the report is final)."""
    body = replace(ctx, groups=[g for g in ctx.groups if g.heading != "付録"])
    return [(where, text) for where, text in report_text(body) if "注意" not in where]


def test_no_machinery_in_the_body(ctx: ReportContext) -> None:
    """No file name, option, command, path or English word outside ids in the report's body; they are in the
    付録's 分析の方法."""
    found = [(where, m) for where, text in body_text(ctx) for m in MACHINERY.findall(text)]
    assert found == []
    ids = re.compile(r"\b[A-Z]{1,3}\d[\d-]*\b")
    words = [(where, w) for where, text in body_text(ctx) for w in ASCII_WORD.findall(ids.sub(" ", text))
             if w not in BODY_ALLOWED]
    assert words == []
    method = next(s for g in ctx.groups for s in g.sections if s.title == "分析の方法")
    said = " ".join(v for _, v in method.pairs)
    for name in ("theme_links.csv", "perspectives.csv", "perspective_decisions.csv", "--network-words",
                 "kyosei review apply", "kyosei revise", "kwic.csv"):
        assert name in said


def test_no_machinery_in_the_body_of_the_rendered_reports(ctx: ReportContext) -> None:
    """The same, on what the renderers write (Markdown, the HTML's text, the Word document's text), up to the 付録;
    the 注意 lines may name a file or a command (they tell how to fix the input)."""
    import html as html_lib

    from pipeline.report.render import render_html, render_markdown
    from pipeline.report.word import docx_text, render_docx

    page = render_html(ctx, embed_font=False)
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    # a Markdown picture shows its picture, not its file name: ![alt](votes.png) reads as alt
    texts = {"md": re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", render_markdown(ctx)), "html": html_lib.unescape(re.sub(r"<[^>]+>", "\n", page)),
             "docx": docx_text(render_docx(ctx))}
    for name, text in texts.items():
        body = text.split("付録")[0] if name != "md" else text.split("## 付録")[0]
        lines = [ln for ln in body.splitlines() if "meeting.yaml" not in ln and "注意" not in ln]
        found = [m for ln in lines for m in MACHINERY.findall(ln) if not m.startswith("data:")]
        assert found == [], (name, found)


def test_the_glossary_explains_every_measure_it_lists_and_only_those(ctx: ReportContext) -> None:
    from pipeline.report.layout import GLOSSARY

    glossary = next(s for g in ctx.groups for s in g.sections if s.title == "用語の説明").frame
    listed = dict(zip(glossary["用語"], glossary["説明"], strict=True))
    elsewhere = "\n".join(text for where, text in report_text(ctx) if "用語の説明" not in where)
    assert all(term in elsewhere for term in listed)                         # only terms the report uses
    assert all(term in listed for term, _ in GLOSSARY if term in elsewhere)   # and every one it uses
    # every measure shown as a number in this report is explained
    for measure in ("一致度", "まとまり", "支持", "ポイント", "共起の強さ", "シルエット係数", "確からしさ"):
        assert measure in listed, measure
    assert all(text.endswith("。") and len(text) <= 80 for text in listed.values())   # one plain sentence


def test_terminal_summary_names_themes_suggestions_and_refused_rows(meeting2_result: MeetingResult) -> None:
    from dataclasses import replace

    from pipeline.report.notices import input_notices
    from pipeline.report.summary import run_summary

    r = meeting2_result
    lines = run_summary(r)
    assert lines[0].startswith("多いテーマ: 相談窓口 ")
    assert lines[1].startswith(f"新たな視点(案): {len(r.perspectives.suggestions)}件 — V01「")
    assert lines[2] == "裏付けのない施策案: 2件 — P2-3、P3-4"
    assert lines[3] == "取り込めなかった行: なし"
    rejects = pd.DataFrame({"file": ["feedback.csv"] * 3, "row": [2, 3, 4], "column": ["text"] * 3,
                            "reason": ["本文が空です / empty text", "本文が空です / empty text", "種別が不明です"],
                            "value": ["", "", "x"]})
    inputs = replace(r.inputs, rejects=rejects,
                     counts=[{**c, "rows_ok": int(c["rows_ok"]) - (3 if c["file"] == "feedback.csv" else 0),
                              "rows_rejected": 3 if c["file"] == "feedback.csv" else 0} for c in r.inputs.counts])
    bad = replace(r, inputs=inputs, notices=tuple(input_notices(inputs)))
    lines = run_summary(bad)
    assert lines[0] == ("注意: 取り込めなかった行が 3 行あります（全 152 行中。主な理由: 本文が空です（2件）、"
                        "種別が不明です（1件））。一覧は rejects.csv。")
    assert not any(line.startswith("取り込めなかった行") for line in lines)
