"""What earlier runs left: the analysts' decision log and earlier meetings' outputs, read back through the output
catalogue (:mod:`pipeline.run.outputs`) — for the next run, and for ``kyosei revise`` (the next draft of the measures)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pipeline.errors import KyoseiError
from pipeline.measures.revision import accepted_card_links, revise_measures, shared_keywords
from pipeline.perspectives import EarlierMeeting
from pipeline.review import LOG_COLUMNS, load_decisions
from pipeline.run import outputs
from pipeline.run.result import History

EARLIER_COLUMNS = ("item_id", "source", "kind", "text", "themes")
"""Columns an earlier meeting's tagged table must have to be used."""


def _earlier(folder: Path) -> tuple[EarlierMeeting | None, str, str]:
    """(the meeting, its series, "") or (None, "", why it cannot be used) for one folder of the out-root."""
    man_path, tagged_path = folder / outputs.MANIFEST.file, folder / outputs.TAGGED.file
    if not man_path.is_file() or not tagged_path.is_file():
        return None, "", f"kyosei の出力ではありません（{outputs.MANIFEST.file} か {outputs.TAGGED.file} がない）"
    try:
        man = outputs.MANIFEST.load(folder)
        tagged = outputs.TAGGED.load(folder)
        persp = outputs.PERSPECTIVES.load(folder) if (folder / outputs.PERSPECTIVES.file).is_file() else pd.DataFrame()
    except pd.errors.EmptyDataError:
        return None, "", "壊れているか古い形式です（空のファイルがある）"
    except (ValueError, OSError, UnicodeDecodeError) as err:
        return None, "", f"読めません（{type(err).__name__}）"
    missing = [c for c in EARLIER_COLUMNS if c not in tagged.columns]
    if not isinstance(man, dict) or missing:
        return None, "", f"壊れているか古い形式です（{outputs.TAGGED.file} に {', '.join(missing) or '必要な列'} がない）"
    if len(persp) and not {"main_theme", "label"} <= set(persp.columns):
        persp = pd.DataFrame()
    mid = str(man.get("meeting_id") or folder.name)
    when = str((man.get("meeting") or {}).get("date") or mid)
    return EarlierMeeting(mid, when, tagged, persp), str(man.get("series") or ""), ""


def earlier_meetings(out_root: Path, meeting_id: str, date: str,
                     series: str | None = None) -> tuple[list[EarlierMeeting], list[str]]:
    """Outputs of meetings of the same ``series`` held before this one (by meeting date, else by id) under
    ``out_root`` (``series=None``: every series), and a note for each folder that could not be used (empty,
    broken, not kyosei's) — such a folder is skipped, never an error."""
    found: list[EarlierMeeting] = []
    notes: list[str] = []
    if not out_root.is_dir():
        return found, notes
    me = (date or meeting_id, meeting_id)
    for folder in sorted(p for p in out_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name == meeting_id:
            continue
        meeting, its_series, why = _earlier(folder)
        if meeting is None:
            notes.append(f"{folder}: 以前の会議として使いませんでした — {why}")
            continue
        if meeting.meeting_id == meeting_id or (meeting.date, meeting.meeting_id) >= me:
            continue
        if series is not None and its_series != series:
            continue
        found.append(meeting)
    return found, notes


def load_history(out_root: Path, meeting_id: str, date: str, decisions: Path | None,
                 series: str | None = None) -> History:
    """The decision log (empty without one) and the earlier meetings of the series under ``out_root``."""
    log = load_decisions(decisions) if decisions else pd.DataFrame(columns=LOG_COLUMNS)
    earlier, notes = earlier_meetings(out_root, meeting_id, date, series)
    return History(decisions=log, earlier=tuple(earlier), notes=tuple(notes))


def unsupported_in_series(out_root: Path, series: str, meeting_id: str) -> list[str]:
    """Measures whose status is 裏付けなし in the coverage of every meeting of ``series`` under ``out_root`` that
    lists them (this meeting included)."""
    seen: dict[str, bool] = {}
    for folder in sorted(p for p in out_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            man = outputs.MANIFEST.load(folder)
            cov = outputs.COVERAGE.load(folder)
        except (OSError, ValueError):
            continue
        if folder.name != meeting_id and str(man.get("series") or "") != series:
            continue
        if not {"measure_id", "status"} <= set(cov.columns):
            continue
        for mid, status in zip(cov["measure_id"], cov["status"], strict=True):
            seen[mid] = seen.get(mid, True) and status == "裏付けなし"
    return sorted(m for m, bare in seen.items() if bare)


def revise_outputs(out_dir: Path, decisions: pd.DataFrame, measures: pd.DataFrame, *,
                   terms: Callable[[str], list[str]]) -> pd.DataFrame:
    """:func:`revise_measures` for a meeting's output folder (its suggestions, texts, accepted card links and the
    coverage of its series so far)."""
    man = outputs.MANIFEST.load(out_dir)
    meeting_id = str(man["meeting_id"])
    tagged = outputs.TAGGED.load(out_dir)
    texts = dict(zip(tagged["item_id"], tagged["text"], strict=True))
    cards = tagged.loc[tagged["source"] == "card", "item_id"]
    return revise_measures(measures, outputs.PERSPECTIVES.load(out_dir), decisions, meeting_id, texts=texts,
                           keywords_for=lambda ts: shared_keywords(terms, ts),
                           unsupported=unsupported_in_series(out_dir.parent, str(man.get("series") or ""), meeting_id),
                           card_links=accepted_card_links(decisions, meeting_id, cards))


def layers_of_run(out_dir: Path) -> list[Path]:
    """The codebook layers a run merged (its manifest's ``codebook_layer_<n>``), those still on disk: a theme a
    city's layer adds is a theme its analysts may name in the review sheet."""
    try:
        params = outputs.MANIFEST.load(out_dir).get("parameters", {})
    except (OSError, ValueError):
        return []
    keys = sorted((k for k in params if k.startswith("codebook_layer_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    return [Path(params[k]) for k in keys if params[k] and Path(params[k]).is_file()]


def measures_of_run(out_dir: Path) -> Path:
    """The policy table a run read (its manifest's ``measures``)."""
    return Path(outputs.MANIFEST.load(out_dir)["parameters"]["measures"])


def revise_meeting(out_dir: Path, decisions: Path, *, measures: Path | None = None, lexicon: Path | None = None,
                   stopwords: Path | None = None) -> pd.DataFrame:
    """The next draft of the measures from a meeting's output folder (:func:`revise_outputs`), its words read as
    the run read them: the run's policy table unless ``measures`` is given, and the words its codebook (and
    layers) kept whole added to ``lexicon``.  A model file that does not exist is not used."""
    from pipeline.ingest import load_measures
    from pipeline.measures.matching import content_terms
    from pipeline.text.tokenise import Lexicon, Tokeniser, extend_lexicon, load_lexicon, load_stopwords
    from pipeline.themes.load import load_codebook

    if not (out_dir / outputs.MANIFEST.file).is_file():
        raise KyoseiError(f"{out_dir}: 会議の出力フォルダではありません（{outputs.MANIFEST.file} がない）/ not a meeting's "
                          "output folder; give outputs/<meeting id>")
    params = outputs.MANIFEST.load(out_dir)["parameters"]
    lex = load_lexicon(lexicon) if lexicon is not None and lexicon.is_file() else Lexicon()
    codebook = Path(params.get("codebook") or "")
    if codebook.is_file():  # the words the run's codebook (and its layers) kept whole, as the run read them
        book = load_codebook(codebook, layers=layers_of_run(out_dir))
        lex = extend_lexicon(lex, book.terms, book.synonyms, file=str(codebook))
    tokeniser = Tokeniser(lexicon=lex)
    stop = load_stopwords(stopwords) if stopwords is not None and stopwords.is_file() else frozenset()
    return revise_outputs(out_dir, load_decisions(decisions), load_measures(measures or Path(params["measures"])),
                          terms=lambda text: content_terms(tokeniser, text, stop))
