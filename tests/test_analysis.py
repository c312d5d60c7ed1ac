"""The analysis function on its own (no Prefect): batches through ``map``, decisions returned, every table once."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.ingest import load_meeting
from pipeline.review import LOG_COLUMNS
from pipeline.run import outputs
from pipeline.run.analysis import analyse
from pipeline.run.models import Models
from pipeline.run.result import History, MeetingResult
from pipeline.run.settings import Settings
from tests.conftest import MEASURES, MEETING_2
from tests.factories import shipped_models


@pytest.fixture(scope="module")
def models() -> Models:
    return shipped_models()


@pytest.fixture(scope="module")
def result(models: Models) -> MeetingResult:
    return analyse(load_meeting(MEETING_2, MEASURES), models)


def test_every_table_of_the_output_list_comes_from_the_result(result: MeetingResult) -> None:
    got = {spec.file: frame for spec, frame in outputs.tables(result)}
    # the sample meeting has every input but replies and comment attributes; its policy table has ids (no copy)
    assert set(got) == {spec.file for spec in outputs.TABLES} - {outputs.REPLIES.file, outputs.THEMES_BY_ATTRIBUTE.file,
                                                                 outputs.POLICY_TABLE.file}
    assert len(got[outputs.TAGGED.file]) == 40 + 28
    assert set(outputs.images(result)) == {spec.key for spec in outputs.IMAGES}


def test_batches_go_through_map_and_their_size_changes_nothing(models: Models, result: MeetingResult) -> None:
    seen: list[int] = []

    def recording_map(fn, batches):
        for b in batches:
            seen.append(len(b))
            yield fn(b)

    small = analyse(load_meeting(MEETING_2, MEASURES), models, batch_size=(25), map=recording_map)
    assert seen == [25, 25, 18]
    for spec, frame in outputs.tables(result):
        pd.testing.assert_frame_equal(frame, spec.get(small), obj=spec.file)


def test_stages_are_reported_in_order(models: Models) -> None:
    stages: list[tuple[str, str]] = []
    analyse(load_meeting(MEETING_2, MEASURES), models, on_stage=lambda stage, detail: stages.append((stage, detail)))
    assert [s for s, _ in stages] == ["items", "tally", "themes", "match", "perspectives"]
    detail = dict(stages)
    assert detail["items"] == "68 件（カード 40、コメント 28）、個人情報 0 箇所を伏せました"
    assert detail["tally"] == "1回目 54 票、2回目 18 票"               # blocks per round in votes.csv


def test_decisions_are_returned_as_changes_and_inputs_are_not_touched(models: Models) -> None:
    inputs = load_meeting(MEETING_2, MEASURES)
    before = inputs.feedback.copy()
    log = pd.DataFrame([
        ("2024-05-22", "F13", "theme", "防災", "不採用", "", "", "", "t"),
        ("2024-05-22", "C09", "measure", "P2-3", "採用", "", "", "", "t"),
    ], columns=LOG_COLUMNS)
    got = analyse(inputs, models, history=History(decisions=log))
    assert got.changes["item_id"].tolist() == ["F13", "C09"]
    assert got.changes["kind"].tolist() == ["テーマ", "施策の紐づけ"]
    assert "防災" not in got.themes.get("F13", "").split("|")
    assert "C09" in got.matches.coverage.set_index("measure_id").loc["P2-3", "card_ids"].split("|")
    pd.testing.assert_frame_equal(inputs.feedback, before)
    assert got.decisions_in_log == 2


def test_masking_is_an_option(models: Models) -> None:
    inputs = load_meeting(MEETING_2, MEASURES)
    assert analyse(inputs, models, settings=Settings(mask_pii=False)).masks is None
    assert set(analyse(inputs, models).masks or {}) == {"name", "phone", "email", "postal_code", "address"}


def test_the_item_pass_gives_the_terms_of_a_comment_without_the_measure_names_it_quotes(models: Models) -> None:
    """The perspectives stage matches a comment without the measure names it quotes, and a request sentence by
    sentence: the item pass computes those texts' terms too (in the workers), the same as computed later."""
    import functools

    from pipeline.measures.matching import content_terms
    from pipeline.perspectives import REQUEST_KIND, request_sentences
    from pipeline.perspectives.coverage import citable_names, own_words
    from pipeline.run import items
    from pipeline.text.normalise import raw_items

    inputs = load_meeting(MEETING_2, MEASURES)
    raw = raw_items(None, inputs.feedback).iloc[:3].reset_index(drop=True)
    raw = raw.assign(**{"raw_text": ["「地域の見守り・支え合い活動の推進」は賛成です。", "夜間に相談できる窓口がほしい。",
                                     "「誰もが集える居場所・交流の場づくり」に加えて、移動販売の車を回してほしい。"
                                     "通院の足もない。"],
                        "kind": ["意見", REQUEST_KIND, REQUEST_KIND]})
    own = functools.partial(own_words, measures=inputs.measures, names=tuple(citable_names(inputs.measures)))
    got = items.item_batch(raw, models=models, own=own)
    texts = got.items["text"].tolist()
    mine = [own(t) for t in texts]
    assert mine[0] == "は賛成です。" and mine[1] == texts[1]
    assert mine[2] == "に加えて、移動販売の車を回してほしい。通院の足もない。"
    assert request_sentences(mine[2]) == ["に加えて、移動販売の車を回してほしい", "通院の足もない", ""]
    for text in [*mine, *request_sentences(mine[2])]:
        assert got.content[text] == content_terms(models.tokeniser, text, models.stopwords), text
    without = items.item_batch(raw, models=models)
    assert mine[0] not in without.content and mine[2] not in without.content
    assert all(got.content[text] == without.content[text] for text in texts)


def test_the_analysis_runs_native_code_on_one_thread(models: Models, monkeypatch) -> None:
    """Clusters do not depend on the machine's cores (a sum's order would), and the threads are as before after."""
    from threadpoolctl import threadpool_info

    from pipeline.run import analysis

    seen: list[set[int]] = []
    real = analysis.cluster_meeting

    def spy(*args, **kwargs):
        seen.append({pool["num_threads"] for pool in threadpool_info()})
        return real(*args, **kwargs)

    before = {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()}
    monkeypatch.setattr(analysis, "cluster_meeting", spy)
    analyse(load_meeting(MEETING_2, MEASURES), models)
    assert seen == [{1}]
    after = {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()}
    assert {path: after[path] for path in before} == before


@pytest.mark.integration
def test_process_pool_gives_the_serial_result(models: Models, result: MeetingResult) -> None:
    """The item pass on two processes and the KWIC index in a third: every table as in one process."""
    from pipeline.run import outputs
    from pipeline.run.parallel import PARALLEL_FROM, process_map, side_process

    with side_process(PARALLEL_FROM, cpus=2) as side:
        pooled = analyse(load_meeting(MEETING_2, MEASURES), models, batch_size=(20), map=process_map(2),
                         side=side)
    for spec, frame in outputs.tables(result):
        pd.testing.assert_frame_equal(frame, spec.get(pooled), obj=spec.file)
    assert len(result.kwic) > 100
    pd.testing.assert_frame_equal(pooled.kwic, result.kwic)


def test_the_kwic_index_from_the_coded_columns_is_the_same(result: MeetingResult) -> None:
    from pipeline.run.items import kwic_inputs
    from pipeline.themes.kwic import kwic_index

    items, terms, evidence = kwic_inputs(result.items, result.terms, result.evidence)
    assert isinstance(terms["item_id"].dtype, pd.CategoricalDtype) and terms["start"].dtype == "int32"
    assert list(evidence.columns) == ["item_id", "theme", "terms", "spans"]
    pd.testing.assert_frame_equal(kwic_index(items, terms, evidence), result.kwic)


@pytest.mark.integration
def test_a_workbook_built_in_a_second_process_is_the_same_file(result: MeetingResult, tmp_path, monkeypatch) -> None:
    """Large meetings write the long tables (kwic.csv) and build the workbook in another process while the charts,
    the other CSV files and the reports are made here: every output file is the same, byte for byte."""
    from datetime import UTC, datetime

    from pipeline.run import writers

    monkeypatch.setattr(writers, "report_summary", lambda manifest: [])
    folders = {flag: tmp_path / str(flag) for flag in (True, False)}
    for flag, folder in folders.items():
        folder.mkdir()
        writers.write_outputs(result, folder, {}, workbook_process=flag, now=lambda: datetime(2024, 5, 22, tzinfo=UTC))
    files = sorted(p.name for p in folders[True].iterdir())
    assert files == sorted(p.name for p in folders[False].iterdir()) and "report.xlsx" in files
    for name in files:
        assert (folders[True] / name).read_bytes() == (folders[False] / name).read_bytes(), name


def test_the_writer_uses_a_second_process_only_between_the_two_sizes(result: MeetingResult, tmp_path,
                                                                     monkeypatch) -> None:
    """From WORKBOOK_PROCESS_FROM items to SIDE_PROCESS_UNTIL the writer sends work to a second process; above, the
    largest meetings are written by this process alone (a second one would hold a copy of the long tables)."""
    from contextlib import contextmanager

    from pipeline.run import writers
    from pipeline.run.parallel import inline

    used: list[int] = []

    @contextmanager
    def spy(**kwargs):
        used.append(len(result.items))
        yield inline

    n = len(result.items)
    for lowest, highest, want in ((n, n, True), (1, n - 1, False), (n + 1, 10 * n, False)):
        monkeypatch.setattr(writers, "WORKBOOK_PROCESS_FROM", lowest)
        monkeypatch.setattr(writers, "SIDE_PROCESS_UNTIL", highest)
        assert writers.uses_second_process(n) is want
    # and the writer follows it (here: between the sizes)
    monkeypatch.setattr(writers, "helper_process", spy)
    monkeypatch.setattr(writers, "report_summary", lambda manifest: [])
    monkeypatch.setattr(writers, "WORKBOOK_PROCESS_FROM", n)
    monkeypatch.setattr(writers, "SIDE_PROCESS_UNTIL", n)
    writers.write_outputs(result, tmp_path, {})
    assert used == [n] and (tmp_path / "report.xlsx").exists()


def test_workbook_sheets_are_cut_but_the_review_sheet_is_whole(result: MeetingResult, tmp_path, monkeypatch) -> None:
    import openpyxl

    from pipeline.run import outputs, writers

    monkeypatch.setattr(writers, "WORKBOOK_ROWS", 10)
    monkeypatch.setattr(writers, "report_summary", lambda manifest: [])            # no run information here
    writers.write_outputs(result, tmp_path, {})
    wb = openpyxl.load_workbook(tmp_path / outputs.WORKBOOK.file, read_only=True)
    assert wb[outputs.TAGGED.sheet].max_row == 11                                 # header + 10
    assert wb["レビュー"].max_row == len(result.review) + 1
    summary = [tuple(r) for r in wb["概要"].iter_rows(values_only=True)]
    assert (f"{outputs.TAGGED.sheet} シート", f"10 行を表示しています（全 68 行は {outputs.TAGGED.file}）") in summary
    assert len(pd.read_csv(tmp_path / outputs.TAGGED.file)) == 68                 # the CSV keeps every row


def test_keyword_rows_are_kept_as_codes_with_the_same_values() -> None:
    from pipeline.run.items import _concat, coded_terms

    columns = ["item_id", "term", "surface", "pos", "start", "end", "stopword"]
    first = pd.DataFrame([("F01", "相談窓口", "相談窓口", "名詞-複合", 0, 4, False),
                          ("F01", "ほしい", "ほしい", "形容詞-一般", 5, 8, True),
                          ("F02", "居場所", "居場所", "名詞-普通名詞-一般", 3, 6, False)], columns=columns)
    second = pd.DataFrame([("C01", "相談窓口", "相談窓口", "名詞-複合", 2, 6, False),
                           ("C01", "見守る", "見守り", "動詞-一般", 7, 10, False)], columns=columns)
    ids = pd.Series(["F01", "F02", "C01"])
    parts = [first, second]
    got = coded_terms(parts, ids)
    assert parts == []                                              # read and let go
    assert got["item_id"].cat.categories.tolist() == ["F01", "F02", "C01"]
    assert got["item_id"].cat.codes.tolist() == [0, 0, 1, 2, 2]
    assert got["term"].cat.categories.tolist() == ["ほしい", "居場所", "相談窓口", "見守る"]  # sorted
    assert got["start"].dtype == "int32" and got["end"].dtype == "int32"
    assert list(got.columns) == columns
    plain = _concat([first, second]).astype({"start": "int32", "end": "int32"})
    pd.testing.assert_frame_equal(got.astype({c: str for c in ("item_id", "term", "surface", "pos")}),
                                  plain.astype({c: str for c in ("item_id", "term", "surface", "pos")}))
    # a row of an item not in the table (never from the item pass): kept as written, nothing lost
    odd = coded_terms([first, second.assign(item_id="X99")], ids)
    assert odd["item_id"].tolist() == ["F01", "F01", "F02", "X99", "X99"]
    twice = coded_terms([first.copy(), second.copy()], pd.Series(["F01", "F02", "F01"]))
    assert twice["item_id"].tolist() == ["F01", "F01", "F02", "C01", "C01"]


def test_texts_equal_to_ones_already_held_are_those_objects() -> None:
    """A comment the masking left unchanged is the input's own string; a normalised text equal to the written one is
    that string; the values never change."""
    from pipeline.run.items import share_texts
    from tests.factories import items as factory_items

    given = ["".join(["見守りが", "必要です"]), "".join(["山田太郎さんに", "相談した"]), "".join(["ＡＴＭが", "遠い"])]
    from_worker = ["".join(["見守りが", "必要です"]), "〈氏名〉さんに相談した", "".join(["ＡＴＭが", "遠い"])]
    items = factory_items([("C01", "card", "カードの本文"), *[(f"F0{n}", "要望", t) for n, t in enumerate(from_worker, 1)]])
    items = items.assign(raw_text=pd.array(["カードの本文", *from_worker], dtype="str"),
                         text=pd.array(["".join(["カードの", "本文"]), "".join(["見守りが", "必要です"]),
                                        "〈氏名〉さんに相談した", "ATMが遠い"], dtype="str"))
    feedback = pd.DataFrame({"text": pd.array(given, dtype="str")})
    out = share_texts(items, feedback)
    pd.testing.assert_frame_equal(out, items)
    raw, norm = out["raw_text"].tolist(), out["text"].tolist()
    assert raw[1] is given[0] and raw[3] is given[2]        # unchanged by masking: the input's string
    assert raw[2] is from_worker[1] and raw[2] != given[1]  # masked: the new text
    assert norm[0] is raw[0] and norm[1] is given[0] and norm[2] is raw[2]  # written as normalised: one object
    assert norm[3] == "ATMが遠い" and norm[3] is not raw[3]
    # without comments (or rows that do not line up) only the normalised texts are shared
    alone = share_texts(items, None)
    pd.testing.assert_frame_equal(alone, items)
    assert alone["text"].tolist()[1] is alone["raw_text"].tolist()[1]
