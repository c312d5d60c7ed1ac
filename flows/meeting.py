"""Prefect flow for one meeting: ingest → normalise+tokenise → tally → report.

Thin by design: each task calls one pure stage of :mod:`pipeline` over the whole meeting.  Only
this module resolves paths and writes files.  Outputs are written into a temporary folder beside
the final one and swapped in at the end, so a failed run leaves the previous outputs intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NONE as NO_CACHE

from pipeline import analysis
from pipeline.codebook import Codebook, load_codebook
from pipeline.errors import KyoseiError
from pipeline.ingest import MeetingInputs, find_input_files, load_meeting
from pipeline.matching import MatchResult, MeasureMatcher, TermCache
from pipeline.normalise import normalised_items
from pipeline.perspectives import EarlierMeeting, PerspectiveResult, theme_trend
from pipeline.pii import mask_inputs
from pipeline.report import Section, render_html, render_markdown, tagged_table
from pipeline.review import (
    LOG_COLUMNS,
    Changes,
    apply_perspective_decisions,
    apply_theme_decisions,
    latest,
    load_decisions,
    review_rows,
    training_labels,
)
from pipeline.safety import safe_frame
from pipeline.schemas import Items
from pipeline.tagging import Tagger, themes_by_item
from pipeline.tokenise import Lexicon, Tokeniser, item_terms, load_lexicon, load_stopwords
from pipeline.workbook import build_workbook

SEED = 0
"""Fixed seed recorded in the manifest (later stages that sample use it)."""

PACKAGES = ("kyosei", "fugashi", "unidic-lite", "neologdn", "pandas", "pandera", "scikit-learn",
            "prefect", "openpyxl", "pyyaml", "jinja2")


@dataclass(frozen=True)
class RunConfig:
    """Resolved configuration of one run (the flow's parameters, as paths)."""

    meeting_dir: Path
    measures: Path
    out_root: Path
    lexicon: Path | None
    stopwords: Path | None
    codebook: Path
    theme_labels: Path | None
    decisions: Path | None
    mask_pii: bool = True


def _only_io_errors(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a task only when it failed on the file system, never on bad input."""
    try:
        state.result()
    except KyoseiError:
        return False
    except OSError:
        return True
    except Exception:
        return False
    return False


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(meeting_dir: Path, measures: Path, *, lexicon: Path | None, stopwords: Path | None,
                codebook: Path, theme_labels: Path | None, decisions: Path | None, mask_pii: bool) -> str:
    """SHA-256 over the content hashes of everything that determines a meeting's outputs (its input
    files, the policy table, the models, the masking option, the kyosei version).  ``run-pending``
    reruns a meeting when this differs from the one in its last manifest."""
    files = find_input_files(meeting_dir)
    if (meeting_dir / "meeting.yaml").is_file():
        files = {**files, "meeting": meeting_dir / "meeting.yaml"}
    shared = {"measures": measures, "lexicon": lexicon, "stopwords": stopwords, "codebook": codebook,
              "theme_labels": theme_labels, "decisions": decisions}
    parts = [(role, Path(path).name, sha256(Path(path))) for role, path in sorted({**files, **shared}.items())
             if path is not None and Path(path).is_file()]
    try:
        version = metadata.version("kyosei")
    except metadata.PackageNotFoundError:
        version = "unknown"
    blob = json.dumps({"files": parts, "mask_pii": mask_pii, "kyosei": version}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """UTF-8 with BOM (Excel opens Japanese correctly), LF line ends, formula-safe cells."""
    safe_frame(frame).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")


STAGE_LABELS = {
    "ingest": "入力の読み込み", "mask_pii": "個人情報のマスク", "normalise_tokenise": "正規化・形態素解析・ルール照合",
    "tally": "投票の集計", "tag": "テーマの確定（判定の反映）", "match": "施策案との照合",
    "cluster_perspectives": "クラスタと新たな視点", "report": "レポートの書き出し",
}
progress_log = logging.getLogger("kyosei.progress")


class StageClock:
    """Times the stages; reports progress on the ``kyosei.progress`` logger (the CLI turns it into a
    progress bar) and, inside a flow run, as a Prefect progress artifact."""

    def __init__(self, *, publish: bool):
        self.timings: dict[str, float] = {}
        self.publish = publish
        self.artifact: Any = None
        self.t0 = time.perf_counter()

    def done(self, stage: str) -> None:
        self.timings[stage] = round(time.perf_counter() - self.t0, 3)
        n, total = list(STAGE_LABELS).index(stage) + 1, len(STAGE_LABELS)
        progress_log.info("%d/%d %s", n, total, STAGE_LABELS[stage],
                          extra={"kyosei_step": n, "kyosei_total": total, "kyosei_label": STAGE_LABELS[stage]})
        if self.publish:
            pct = round(100 * n / total, 1)
            if self.artifact is None:
                self.artifact = create_progress_artifact(pct, description="kyosei: 分析の進み具合 / progress")
            else:
                update_progress_artifact(self.artifact, pct)
        self.t0 = time.perf_counter()


class RunLockedError(KyoseiError):
    """Another run of the same meeting holds the lock."""


@contextlib.contextmanager
def run_lock(out_root: Path, meeting_id: str) -> Iterator[None]:
    """Hold ``OUT_ROOT/.<meeting_id>.lock`` for the whole run; a second run of the same meeting fails at
    once with a clear message.  The OS releases the lock if the process dies, so it never goes stale."""
    out_root.mkdir(parents=True, exist_ok=True)
    path = out_root / f".{meeting_id}.lock"
    fh = path.open("a+")
    try:
        try:
            if os.name == "nt":  # pragma: no cover - Windows analysts' machines
                import msvcrt

                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunLockedError(
                f"{path}: 会議 {meeting_id} は別の実行が処理中です。終わってからもう一度実行してください。\n"
                f"{path}: another run of meeting {meeting_id} is in progress; run again when it has finished."
            ) from None
        yield
    finally:
        fh.close()


def remove_stale_temporaries(out_root: Path, meeting_id: str) -> None:
    """Temporary folders left by a run that was killed (the lock guarantees none is in use)."""
    for tmp in out_root.glob(f".{meeting_id}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def swap_in(tmp: Path, final: Path) -> None:
    """Replace ``final`` by ``tmp`` with renames, keeping the old folder until the new one is in."""
    old = final.with_name(f".{final.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)


@task(name="ingest", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1, retry_condition_fn=_only_io_errors)
def ingest_task(meeting_dir: Path, measures: Path) -> MeetingInputs:
    return load_meeting(meeting_dir, measures)


@task(name="mask-personal-data", cache_policy=NO_CACHE)
def mask_task(inputs: MeetingInputs, tokeniser: Tokeniser) -> tuple[MeetingInputs, dict[str, int]]:
    return mask_inputs(inputs, tokeniser)


@task(name="normalise-tokenise", cache_policy=NO_CACHE)
def text_task(inputs: MeetingInputs, tokeniser: Tokeniser, stopwords: frozenset[str],
              tagger: Tagger | None = None) -> analysis.TextStage:
    return analysis.prepare_text(inputs, tokeniser=tokeniser, stopwords=stopwords, tagger=tagger)


@task(name="normalise-chunk", cache_policy=NO_CACHE)
def normalise_chunk_task(cards: pd.DataFrame | None, feedback: pd.DataFrame | None) -> pd.DataFrame:
    return normalised_items(cards, feedback)


@task(name="terms-chunk", cache_policy=NO_CACHE)
def terms_chunk_task(items: pd.DataFrame, lexicon: Lexicon, stopwords: frozenset[str]) -> pd.DataFrame:
    return item_terms(items, tokeniser=Tokeniser(lexicon=lexicon), stopwords=stopwords)


@task(name="tag-chunk", cache_policy=NO_CACHE)
def tag_chunk_task(items: pd.DataFrame, tagger: Tagger) -> pd.DataFrame:
    return tagger.tag(items)


@task(name="score-chunk", cache_policy=NO_CACHE)
def score_chunk_task(texts: list[str], themes: list[list[str]], matcher: MeasureMatcher,
                     codebook: Codebook) -> np.ndarray:
    return matcher.score(texts, themes, codebook)


def _chunks(frame: pd.DataFrame | None, size: int) -> list[pd.DataFrame | None]:
    if frame is None or not len(frame):
        return [frame]
    return [frame.iloc[i:i + size].reset_index(drop=True) for i in range(0, len(frame), size)]


def chunked_text(inputs: MeetingInputs, lex: Lexicon, stop: frozenset[str], size: int) -> analysis.TextStage:
    """Normalise and tokenise in chunks submitted to the flow's task runner (Dask), results in order."""
    futures = [normalise_chunk_task.submit(c, None) for c in _chunks(inputs.cards, size) if c is not None]
    futures += [normalise_chunk_task.submit(None, f) for f in _chunks(inputs.feedback, size) if f is not None]
    parts = [f.result() for f in futures]
    items = pd.concat(parts, ignore_index=True) if parts else normalised_items(None, None)
    items = Items.validate(items.astype(str))
    term_futures = [terms_chunk_task.submit(c, lex, stop) for c in _chunks(items, size)]
    terms = pd.concat([f.result() for f in term_futures], ignore_index=True)
    return analysis.TextStage(items=items, terms=terms)


def chunked_themes(text: analysis.TextStage, tagger: Tagger, decisions: pd.DataFrame, changes: Changes,
                   size: int) -> analysis.ThemeStage:
    futures = [tag_chunk_task.submit(c, tagger) for c in _chunks(text.items, size)]
    evidence = pd.concat([f.result() for f in futures], ignore_index=True)
    if len(decisions):
        evidence = apply_theme_decisions(evidence, decisions, changes, tagger.codebook.theme_ids)
    return analysis.ThemeStage(evidence=evidence, themes=themes_by_item(evidence, tagger.codebook))


def chunked_scores(text: analysis.TextStage, themes: analysis.ThemeStage, inputs: MeetingInputs, tokeniser: Tokeniser,
                   stop: frozenset[str], codebook: Codebook, size: int) -> np.ndarray:
    matcher = MeasureMatcher(tokeniser=tokeniser, stopwords=stop, threshold=analysis.MATCH_THRESHOLD).fit(
        inputs.measures)
    ids, texts = list(text.items[Items.item_id]), list(text.items[Items.text])
    theme_lists = [[t for t in themes.themes.get(i, "").split("|") if t] for i in ids]
    futures = [score_chunk_task.submit(texts[i:i + size], theme_lists[i:i + size], matcher, codebook)
               for i in range(0, len(ids), size)]
    parts = [f.result() for f in futures]
    return np.vstack(parts) if parts else np.zeros((0, len(matcher.measure_ids_)))


@task(name="tally", cache_policy=NO_CACHE)
def tally_task(inputs: MeetingInputs) -> analysis.Tallies:
    return analysis.tally_meeting(inputs)


@task(name="tag", cache_policy=NO_CACHE)
def tag_task(text: analysis.TextStage, tagger: Tagger, decisions: pd.DataFrame, changes: Changes) -> analysis.ThemeStage:
    return analysis.tag_meeting(text, tagger=tagger, decisions=decisions, changes=changes)


@task(name="match", cache_policy=NO_CACHE)
def match_task(inputs: MeetingInputs, text: analysis.TextStage, themes: analysis.ThemeStage,
               tallies: analysis.Tallies, tokeniser: Tokeniser, stopwords: frozenset[str],
               codebook: Codebook, decisions: pd.DataFrame, changes: Changes,
               scores: np.ndarray | None = None, terms: TermCache | None = None) -> MatchResult:
    return analysis.match_meeting(inputs, text, themes, tallies, tokeniser=tokeniser, stopwords=stopwords,
                                  codebook=codebook, decisions=decisions, changes=changes, scores=scores,
                                  terms=terms)


@task(name="cluster-perspectives", cache_policy=NO_CACHE)
def perspective_task(inputs: MeetingInputs, text: analysis.TextStage, themes: analysis.ThemeStage,
                     matches: MatchResult, tallies: analysis.Tallies, tokeniser: Tokeniser,
                     stopwords: frozenset[str], codebook: Codebook, earlier: list[EarlierMeeting],
                     decisions: pd.DataFrame, changes: Changes,
                     terms: TermCache | None = None) -> tuple[analysis.ClusterStage, PerspectiveResult]:
    clusters = analysis.cluster_meeting(text, themes, matches, tokeniser=tokeniser, stopwords=stopwords,
                                        random_state=SEED, terms=terms)
    result = analysis.perspectives_meeting(inputs, text, themes, tallies, clusters, tokeniser=tokeniser,
                                           stopwords=stopwords, codebook=codebook, earlier=earlier, terms=terms)
    if len(decisions):
        result = PerspectiveResult(apply_perspective_decisions(result.suggestions, decisions, changes),
                                   result.covered, result.coverage)
    return clusters, result


def earlier_meetings(out_root: Path, meeting_id: str, date: str) -> list[EarlierMeeting]:
    """Outputs of meetings held before this one (by meeting date, else by id) found under ``out_root``."""
    out = []
    if not out_root.is_dir():
        return out
    me = (date or meeting_id, meeting_id)
    for folder in sorted(p for p in out_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        man_path, tagged_path = folder / "manifest.json", folder / "tagged.csv"
        if folder.name == meeting_id or not man_path.is_file() or not tagged_path.is_file():
            continue
        try:
            man = json.loads(man_path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        mid = str(man.get("meeting_id") or folder.name)
        when = str((man.get("meeting") or {}).get("date") or mid)
        if mid == meeting_id or (when, mid) >= me:
            continue
        tagged = pd.read_csv(tagged_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        persp_path = folder / "perspectives.csv"
        persp = (pd.read_csv(persp_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
                 if persp_path.is_file() else pd.DataFrame())
        out.append(EarlierMeeting(mid, when, tagged, persp))
    return out


@dataclass(frozen=True)
class StageResults:
    """Everything the stages produced, handed to the writer in one piece."""

    inputs: MeetingInputs
    text: analysis.TextStage
    tallies: analysis.Tallies
    themes: analysis.ThemeStage
    matches: MatchResult
    clusters: analysis.ClusterStage
    perspectives: PerspectiveResult
    earlier: list[EarlierMeeting]
    tagger: Tagger
    changes: Changes
    log: pd.DataFrame
    masks: dict[str, int] | None


def write_outputs(r: StageResults, config: RunConfig, timings: dict[str, float], started: str) -> tuple[Path, str]:
    """Write every output file into a temporary folder, then swap it in (plain function: the benchmark
    calls it without Prefect).  Returns the folder and the report's markdown."""
    inputs, text, tallies, themes, matches = r.inputs, r.text, r.tallies, r.themes, r.matches
    clusters, perspectives, earlier, tagger = r.clusters, r.perspectives, r.earlier, r.tagger
    changes, log, masks = r.changes, r.log, r.masks
    keywords = analysis.keyword_table(text)
    supporting = {i for ids in perspectives.suggestions["item_ids"] for i in ids.split("|")}
    tagged = tagged_table(text.items, themes=themes.themes, measures=matches.measures_by_item,
                          clusters=clusters.cluster_of, new_perspective={i: 1 for i in supporting})
    codebook = tagger.codebook
    trend = theme_trend(inputs.meeting_id, themes.themes, earlier, codebook.theme_ids)
    title = str(inputs.meta.get("title") or inputs.meeting_id)
    nodes, edges, network_png = analysis.network_meeting(text, title=f"共起ネットワーク {title}")
    totals = {
        "rows_in": sum(int(c["rows_in"]) for c in inputs.counts),  # type: ignore[call-overload]
        "rows_ok": sum(int(c["rows_ok"]) for c in inputs.counts),  # type: ignore[call-overload]
        "rows_rejected": sum(int(c["rows_rejected"]) for c in inputs.counts),  # type: ignore[call-overload]
    }
    manifest: dict[str, Any] = {
        "meeting_id": inputs.meeting_id,
        "meeting": inputs.meta,
        "started_at": started,
        "finished_at": None,
        "versions": _versions(),
        "platform": platform.platform(),
        "seed": SEED,
        "fingerprint": fingerprint(config.meeting_dir, config.measures, lexicon=config.lexicon,
                                   stopwords=config.stopwords, codebook=config.codebook,
                                   theme_labels=config.theme_labels, decisions=config.decisions,
                                   mask_pii=config.mask_pii),
        "parameters": {
            "meeting_dir": str(config.meeting_dir),
            "measures": str(config.measures),
            "out_root": str(config.out_root),
            "lexicon": str(config.lexicon) if config.lexicon else None,
            "stopwords": str(config.stopwords) if config.stopwords else None,
            "codebook": str(config.codebook),
            "theme_labels": str(config.theme_labels) if config.theme_labels else None,
            "decisions": str(config.decisions) if config.decisions else None,
        },
        "review": {"decisions_in_log": len(log), "changes_applied": len(changes.rows)},
        "pii_masks": masks if masks is not None else "off (--no-mask)",
        "clusters": {"method": clusters.method, "k": clusters.k,
                     "silhouette_by_k": {str(k): v for k, v in clusters.silhouette.items()},
                     "unexplained_clusters": len(clusters.unexplained)},
        "perspectives": {"suggestions": len(perspectives.suggestions),
                         "earlier_meetings": [e.meeting_id for e in earlier]},
        "tagging": {
            "themes": codebook.theme_ids,
            "learned_layer": tagger.model.themes_ if tagger.model is not None else "off (too few labels)",
            "measure_threshold": analysis.MATCH_THRESHOLD,
        },
        "inputs": {
            kind: {"file": path.name, "sha256": sha256(path)} for kind, path in sorted(inputs.files.items())
        } | {
            name: {"file": p.name, "sha256": sha256(p)}
            for name, p in (("lexicon", config.lexicon), ("stopwords", config.stopwords),
                            ("codebook", config.codebook), ("theme_labels", config.theme_labels),
                            ("decisions", config.decisions))
            if p and p.is_file()
        },
        "rows": {"files": inputs.counts, **totals},
        "outputs": {"items": len(tagged), "cards": int((tagged["source"] == "card").sum()),
                    "comments": int((tagged["source"] == "feedback").sum())},
        "timings_seconds": timings,
    }
    # No run time here: the report stays byte-identical for the same inputs (manifest.json keeps it).
    summary = [
        ("実行記録", "manifest.json（実行日時・入力ファイルのハッシュ・処理時間）"),
        ("入力行 / 取込 / 除外", f"{totals['rows_in']} / {totals['rows_ok']} / {totals['rows_rejected']}"),
        ("乱数シード", str(SEED)),
        ("バージョン", ", ".join(f"{k} {v}" for k, v in manifest["versions"].items())),
    ]
    cluster_sections = [
        Section("カードとコメントのクラスタ", clusters.table.drop(columns=["scope"]),
                note=(f"{clusters.method} 法、クラスタ数 {clusters.k}（シルエット係数が最大の数。最大 √(件数/2)）。"
                      "label は各クラスタに特徴的な語（c-TF-IDF）、representative はクラスタの中心に最も近い原文。")),
        Section("テーマにも施策案にも当てはまらないもののクラスタ", clusters.unexplained.drop(columns=["scope"]),
                empty="なし（3件未満）"),
    ]
    keyword_sections = [
        Section("共起ネットワーク", edges, image=network_png, image_file="network.png",
                image_alt=f"共起ネットワーク {title}",
                note=("出現件数の多い語（2件以上）どうしの Jaccard 係数が高い上位の組を線で結んでいます。"
                      "円の大きさは出現件数、色はまとまり（コミュニティ）。"),
                empty="共起する語がありません"),
    ]
    decision_sections = []
    if len(changes.rows):
        decision_sections.append(Section(
            "前回までの判定で変わったこと", changes.frame(),
            note=("models/review_decisions.csv に記録された分析者の判定（kyosei review apply）を反映しました。"
                  "不採用の提案は再び提案しません。テーマの判定は学習層の教師データにもなります。")))
    learned = tagger.model.themes_ if tagger.model is not None else []
    if learned:
        decision_sections.append(Section(
            "学習層", pd.DataFrame({"theme": learned}),
            note="分析者が確認したテーマから学習し、ルールが見落としたテーマを補っています（根拠は evidence.csv の source=model）。"))
    ctx = analysis.build_report(
        inputs, text, tallies, keywords, themes=themes, matches=matches, codebook=codebook,
        perspective_sections=analysis.perspective_sections(perspectives, text.items, trend),
        cluster_sections=cluster_sections, keyword_sections=keyword_sections, decision_sections=decision_sections,
        manifest_summary=summary)
    review = review_rows(inputs.meeting_id, text.items, themes.evidence, matches.measures_by_item,
                         matches.suggestions, perspectives.suggestions, previous=log)
    workbook = build_workbook(inputs.meeting_id, title, summary, [
        ("投票_カード", tallies.card_votes), ("投票_施策案", tallies.measure_votes), ("投票_柱", tallies.pillar_votes),
        ("投票_部署", tallies.department_votes), ("施策カバレッジ", matches.coverage),
        ("紐づけ候補", matches.suggestions), ("施策に合わない", matches.unmatched),
        ("テーマ×種別", analysis.theme_by_kind(text.items, themes.themes, codebook)),
        ("テーマ×柱", analysis.theme_by_pillar(text.items, themes.themes, matches.measures_by_item, inputs.measures,
                                           codebook)),
        ("新たな視点", perspectives.suggestions), ("テーマ推移", trend), ("クラスタ", clusters.table),
        ("キーワード", keywords), ("カード・コメント", tagged), ("根拠", themes.evidence), ("除外行", inputs.rejects),
    ], review, date=str(inputs.meta.get("date") or ""))

    config.out_root.mkdir(parents=True, exist_ok=True)
    final = config.out_root / inputs.meeting_id
    tmp = Path(tempfile.mkdtemp(prefix=f".{inputs.meeting_id}.tmp-", dir=config.out_root))
    try:
        write_csv(tagged, tmp / "tagged.csv")
        write_csv(inputs.rejects, tmp / "rejects.csv")
        write_csv(keywords, tmp / "keywords.csv")
        write_csv(themes.evidence, tmp / "evidence.csv")
        write_csv(matches.coverage, tmp / "coverage.csv")
        write_csv(matches.suggestions, tmp / "suggested_links.csv")
        write_csv(matches.unmatched, tmp / "unmatched.csv")
        write_csv(perspectives.suggestions, tmp / "perspectives.csv")
        write_csv(perspectives.covered, tmp / "perspectives_covered.csv")
        write_csv(pd.concat([clusters.table, clusters.unexplained], ignore_index=True), tmp / "clusters.csv")
        write_csv(trend, tmp / "themes_trend.csv")
        write_csv(nodes, tmp / "network_nodes.csv")
        write_csv(edges, tmp / "network_edges.csv")
        for section in (s for group in (ctx.vote_sections, ctx.theme_sections, ctx.keyword_sections) for s in group):
            if section.image and section.image_file:
                (tmp / section.image_file).write_bytes(section.image)
        (tmp / "report.xlsx").write_bytes(workbook)
        write_csv(review, tmp / "review.csv")
        write_csv(analysis.theme_by_kind(text.items, themes.themes, codebook), tmp / "themes_by_kind.csv")
        write_csv(analysis.theme_by_pillar(text.items, themes.themes, matches.measures_by_item, inputs.measures,
                                           codebook), tmp / "themes_by_pillar.csv")
        for stem, frame in tallies.tables().items():
            write_csv(frame, tmp / f"{stem}.csv")
        (tmp / "report.md").write_text(render_markdown(ctx), encoding="utf-8")
        (tmp / "report.html").write_text(render_html(ctx), encoding="utf-8")
        manifest["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8")
        swap_in(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    return final, render_markdown(ctx)


@task(name="report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1, retry_condition_fn=_only_io_errors)
def report_task(r: StageResults, config: RunConfig, timings: dict[str, float], started: str) -> Path:
    """Write the outputs, then publish the Prefect artifacts (summary, tables, link to the report)."""
    final, markdown = write_outputs(r, config, timings, started)
    inputs, tallies, matches, perspectives = r.inputs, r.tallies, r.matches, r.perspectives
    key = "".join(c if c.isalnum() else "-" for c in inputs.meeting_id.lower()).strip("-") or "meeting"
    create_markdown_artifact(key=f"kyosei-{key}-summary", markdown=markdown[:50000],
                             description=f"kyosei report for meeting {inputs.meeting_id}")
    create_link_artifact(key=f"kyosei-{key}-report", link=(final / "report.html").resolve().as_uri(),
                         link_text=f"kyosei report {inputs.meeting_id}", description="self-contained HTML report")
    create_table_artifact(key=f"kyosei-{key}-coverage",
                          table=json.loads(matches.coverage.to_json(orient="records", force_ascii=False)),
                          description=f"coverage per measure, meeting {inputs.meeting_id}")
    if len(perspectives.suggestions):
        create_table_artifact(key=f"kyosei-{key}-perspectives",
                              table=json.loads(perspectives.suggestions.drop(columns=["quotes"]).to_json(
                                  orient="records", force_ascii=False)),
                              description=f"suggested new perspectives, meeting {inputs.meeting_id}")
    if len(tallies.card_votes):
        create_table_artifact(key=f"kyosei-{key}-votes",
                              table=json.loads(tallies.card_votes.to_json(orient="records", force_ascii=False)),
                              description=f"votes per card, meeting {inputs.meeting_id}")
    return final


def run_stages(config: RunConfig, call: Callable[..., Any] = lambda task, *a: task(*a),
               *, publish: bool = True, chunk_size: int = 0) -> Path:
    """The meeting's stages in order.  ``call(task, *args)`` runs one task: through Prefect in the flow,
    or as a plain function (``task.fn``) in the benchmark; ``publish`` adds the Prefect artifacts."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    clock = StageClock(publish=publish)
    lex = load_lexicon(config.lexicon) if config.lexicon else Lexicon()
    stop = load_stopwords(config.stopwords) if config.stopwords else frozenset()
    inputs = call(ingest_task, config.meeting_dir, config.measures)
    book = load_codebook(config.codebook)
    tokeniser = Tokeniser(lexicon=lex)
    log = load_decisions(config.decisions) if config.decisions else pd.DataFrame(columns=LOG_COLUMNS)
    mine = latest(log, inputs.meeting_id)
    changes = Changes()
    tagger = Tagger.build(book, tokeniser, config.theme_labels, extra_labels=training_labels(log) if len(log) else None)
    clock.done("ingest")
    masks: dict[str, int] | None = None
    if config.mask_pii:
        inputs, masks = call(mask_task, inputs, tokeniser)
    clock.done("mask_pii")
    text = chunked_text(inputs, lex, stop, chunk_size) if chunk_size else call(text_task, inputs, tokeniser, stop, tagger)
    clock.done("normalise_tokenise")
    tallies = call(tally_task, inputs)
    clock.done("tally")
    themes = (chunked_themes(text, tagger, mine, changes, chunk_size) if chunk_size
              else call(tag_task, text, tagger, mine, changes))
    clock.done("tag")
    scores = chunked_scores(text, themes, inputs, tokeniser, stop, book, chunk_size) if chunk_size else None
    terms = TermCache(tokeniser, stop).seed(text.content)  # content terms, shared by the later stages
    matches = call(match_task, inputs, text, themes, tallies, tokeniser, stop, book, mine, changes, scores, terms)
    clock.done("match")
    earlier = earlier_meetings(config.out_root, inputs.meeting_id, str(inputs.meta.get("date", "")))
    clusters, perspectives = call(perspective_task, inputs, text, themes, matches, tallies, tokeniser, stop, book,
                                  earlier, mine, changes, terms)
    clock.done("cluster_perspectives")
    results = StageResults(inputs, text, tallies, themes, matches, clusters, perspectives, earlier, tagger, changes,
                           log, masks)
    timings = clock.timings
    if publish:
        out = call(report_task, results, config, timings, started)
    else:
        out = write_outputs(results, config, timings, started)[0]
    clock.done("report")
    return out


@flow(name="kyosei-meeting", log_prints=False)
def meeting_flow(
    meeting_dir: Path,
    measures: Path,
    out_root: Path = Path("outputs"),
    lexicon: Path | None = Path("models/lexicon.yaml"),
    stopwords: Path | None = Path("models/stopwords.txt"),
    codebook: Path = Path("models/codebook.yaml"),
    theme_labels: Path | None = Path("models/theme_labels.csv"),
    decisions: Path | None = Path("models/review_decisions.csv"),
    mask_pii: bool = True,
    chunk_size: int = 0,
) -> str:
    """Analyse one meeting folder and write ``out_root/<meeting_id>/``; returns that folder.

    ``chunk_size`` > 0 splits normalise, tokenise, tag and match into chunks of that many items submitted
    to the flow's task runner (``meeting_flow.with_options(task_runner=DaskTaskRunner(...))``); the
    outputs are byte-identical to the serial run."""
    config = RunConfig(Path(meeting_dir), Path(measures), Path(out_root),
                       Path(lexicon) if lexicon else None, Path(stopwords) if stopwords else None,
                       Path(codebook), Path(theme_labels) if theme_labels else None,
                       Path(decisions) if decisions else None, mask_pii)
    return str(run_stages(config, chunk_size=chunk_size))
