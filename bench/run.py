"""Benchmark: for N items, (a) bare fugashi tokenisation of the corpus text (parse + lemma extraction),
(b) the pipeline stages from ingest to the written report outputs without Prefect start-up, (c) the peak
memory of (b) — resident, of its process and of its largest helper process; proportional, of all its processes
together — and the ratio (b)/(a), all measured
in one run: (a) and (b) each in a fresh process, one after the other, on the same generated files ((a) is the
median of three parses: on this shared machine one parse of 100,000 comments has measured anywhere from 11 to
18 s).

    python -m bench.run 1000 10000 100000      # each N in its own subprocess (clean peak memory)
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bare_tokenise(texts: list[str], tagger: object | None = None) -> float:
    """Seconds to parse every text with fugashi + unidic-lite and pull out each token's lemma."""
    import fugashi
    import unidic_lite

    tagger = tagger if tagger is not None else fugashi.Tagger(f'-d "{unidic_lite.DICDIR}"')
    t0 = time.perf_counter()
    lemmas = 0
    for text in texts:
        for line in tagger.parse(text).split("\n"):  # type: ignore[attr-defined]
            fields = line.split("\t")
            if len(fields) > 3:
                lemmas += bool(fields[3])
    return time.perf_counter() - t0


def _texts(meeting: Path) -> list[str]:
    """The corpus's texts as the pipeline reads them: every comment, every card's title and body."""
    import csv

    with (meeting / "feedback.csv").open(encoding="utf-8") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    with (meeting / "cards.csv").open(encoding="utf-8") as f:
        texts += [r["title"] + "。" + r["body"] for r in csv.DictReader(f)]
    return texts


def parse_only(meeting: Path) -> dict[str, object]:
    """(a): the median of three bare parses of the meeting's texts with one tagger (a process of its own: fugashi
    never unmaps a tagger's dictionary, so its pages would stay in the pipeline's resident memory)."""
    import fugashi
    import unidic_lite

    texts = _texts(meeting)
    tagger = fugashi.Tagger(f'-d "{unidic_lite.DICDIR}"')
    a = sorted(bare_tokenise(texts, tagger) for _ in range(3))[1]
    return {"tokenise_s": round(a, 2), "distinct": round(100 * len(set(texts)) / len(texts), 1)}


def pipeline_only(meeting: Path, out_root: Path) -> dict[str, object]:
    """(b) and (c): the pipeline from reading the files to the written outputs, in a fresh process as ``kyosei run``
    would run it (without Prefect); peak resident memory of this process and of the largest helper process (the
    item pass's second worker, the side process, the writer's process)."""
    from flows.meeting import StageClock, load, resolve, write
    from pipeline.run.analysis import analyse
    from pipeline.run.manifest import RunInfo
    from pipeline.run.outputs import MANIFEST
    from pipeline.run.parallel import auto_map, side_process
    from pipeline.run.settings import Settings

    config = resolve(meeting, Settings(measures=ROOT / "data" / "measures.csv", out_root=out_root, decisions=None,
                                       codebook_layers=(ROOT / "data" / "codebook.local.yaml",), local_codebook=False))
    helper = _HelperPeak()
    t0 = time.perf_counter()
    clock = StageClock(publish=False)
    inputs, models, history = load(config)
    clock.done("ingest")
    n = sum(len(f) for f in (inputs.cards, inputs.feedback) if f is not None)  # as kyosei run counts
    with side_process(n) as side:
        result = analyse(inputs, models, history=history, on_stage=clock.done, map=auto_map(n), side=side)
    del inputs, models, history  # as the flow does before writing
    out, _ = write(result, RunInfo(config, "", clock.timings))
    b = time.perf_counter() - t0
    timings = MANIFEST.load(out)["timings_seconds"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    helper_peak, together = helper.stop()
    return {"pipeline_s": round(b, 2), "peak_mib": round(peak), "helper_peak_mib": helper_peak,
            "all_processes_mib": together, "all_processes_at": helper.when, "stages": timings}


class _HelperPeak:
    """The largest resident memory seen of one child process, sampled every 0.1 s (``RUSAGE_CHILDREN`` cannot say:
    a child forked from this process reports this process's size at the fork as its own peak), and the largest sum
    over this process and all its children of their proportional set size (PSS: a page shared by n processes — the
    dictionary's file pages, the libraries' code — counts 1/n in each, so the sum is what the run takes of the
    machine), sampled every 0.5 s (Linux; elsewhere the sum of resident sizes)."""

    def __init__(self) -> None:
        import threading

        import psutil

        self.peak = 0
        self.together = 0
        self.when: tuple[float, list[int]] = (0.0, [])  # seconds in, and each process's share then (MiB)
        self._t0 = time.perf_counter()
        self._stop = threading.Event()
        self._me = psutil.Process()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        import contextlib

        import psutil

        tick = 0
        while not self._stop.wait(0.1):
            tick += 1
            shares = []
            for proc in [self._me, *self._me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # ended between the listing and the reading
                    if proc.pid != self._me.pid:
                        self.peak = max(self.peak, proc.memory_info().rss)
                    if tick % 5 == 0:
                        info = proc.memory_full_info()
                        shares.append(getattr(info, "pss", info.rss))
            if sum(shares) > self.together:
                self.together = sum(shares)
                self.when = (round(time.perf_counter() - self._t0, 1), [round(m / 2**20) for m in shares])

    def stop(self) -> tuple[int, int]:
        """Peaks in MiB: (largest child, all processes together)."""
        self._stop.set()
        self._thread.join()
        return round(self.peak / 2**20), round(self.together / 2**20)


def _child(*args: str) -> dict[str, object]:
    res = subprocess.run([sys.executable, "-m", "bench.run", *args], cwd=ROOT, capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip().splitlines()[-1] if res.stderr.strip() else str(res.returncode))
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def one(n: int) -> dict[str, object]:
    """(a), then (b) and (c), for a generated meeting of ``n`` items, each in a fresh process, one after the other."""
    from bench.corpus import generate

    with tempfile.TemporaryDirectory() as tmp:
        meeting = generate(n, Path(tmp) / "meeting")
        a = _child("--parse", str(meeting))
        b = _child("--pipeline", str(meeting), str(Path(tmp) / "out"))
    return {"n": n, **a, **b, "ratio": round(float(b["pipeline_s"]) / float(a["tokenise_s"]), 2)}


EMPTY_FLOW = ("from prefect import flow, task\n"
              "@task\ndef one():\n    return 1\n"
              "@flow\ndef empty():\n    return one()\n"
              "empty()\n")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """``prefect server start`` on a free local port (its own PREFECT_HOME); returns the process and its API URL."""
    import urllib.request

    port = _free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api"
    for _ in range(240):
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("the Prefect server did not start")


def _start_warm(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``kyosei warm`` on the socket named in ``env``; returns once it waits."""
    import socket

    proc = subprocess.Popen([str(Path(sys.executable).parent / "kyosei"), "warm"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = env["KYOSEI_WARM_SOCKET"]
    for _ in range(600):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
                return proc
            except OSError:
                time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("kyosei warm did not get ready")


def overhead(repeats: int = 3, *, server: bool = False, warm: bool = False) -> dict[str, float]:
    """Seconds of ``kyosei run`` on the 22 May sample meeting and of an empty one-task Prefect flow, each a fresh
    process (median of ``repeats``); kyosei's overhead is the difference.  Without ``server`` each process starts its
    own temporary Prefect server (ephemeral mode); with it both talk to one running ``prefect server start``.  With
    ``warm`` a ``kyosei warm`` waits too and each ``kyosei run`` is handed to it (the empty flow is unchanged: a
    fresh Python process)."""
    import os
    import signal
    import statistics

    def timed(cmd: list[str], env: dict[str, str]) -> float:
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        return time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PREFECT_HOME": str(Path(tmp) / "ph"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_LOGGING_LEVEL": "WARNING", "KYOSEI_WARM_SOCKET": str(Path(tmp) / "w" / "warm.sock")}
        env.pop("PREFECT_API_URL", None)
        env.pop("KYOSEI_NO_WARM", None)
        if not warm:
            env["KYOSEI_NO_WARM"] = "1"
        proc = warm_proc = None
        if server:
            proc, env["PREFECT_API_URL"] = _start_server(env)
        try:
            if warm:
                warm_proc = _start_warm(env)
            kyosei = [str(Path(sys.executable).parent / "kyosei"), "run", "data/meetings/2024-05-22", "--quiet",
                      "--out-root", str(Path(tmp) / "out")]
            timed([sys.executable, "-c", EMPTY_FLOW], env)                 # first start creates the database
            timed(kyosei, env)                                             # and the first run warms the disk cache
            empty = statistics.median(timed([sys.executable, "-c", EMPTY_FLOW], env) for _ in range(repeats))
            meeting = statistics.median(timed(kyosei, env) for _ in range(repeats))
        finally:
            for p in (warm_proc, proc):
                if p is not None:
                    p.send_signal(signal.SIGINT if p is warm_proc else signal.SIGTERM)
                    p.wait(timeout=60)
    return {"empty_flow_s": round(empty, 2), "meeting_s": round(meeting, 2), "overhead_s": round(meeting - empty, 2)}


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--overhead":
        for server, warm, mode in ((True, True, "with a running Prefect server and kyosei warm"),
                                   (True, False, "with a running Prefect server"),
                                   (False, False, "ephemeral (a temporary server per run)")):
            r = overhead(server=server, warm=warm)
            print(f"{mode}: empty one-task flow {r['empty_flow_s']} s, sample meeting (kyosei run) {r['meeting_s']} s: "
                  f"meeting overhead over an empty flow {r['overhead_s']} s")
        return 0
    if argv and argv[0] == "--one":
        print(json.dumps(one(int(argv[1]))))
        return 0
    if argv and argv[0] == "--parse":
        print(json.dumps(parse_only(Path(argv[1]))))
        return 0
    if argv and argv[0] == "--pipeline":
        print(json.dumps(pipeline_only(Path(argv[1]), Path(argv[2]))))
        return 0
    sizes = [int(a) for a in argv] or [1000, 10000, 100000]
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}")
    print(f"{'N':>8} {'(a) tokenise s':>15} {'(b) pipeline s':>15} {'(b)/(a)':>8} {'peak MiB':>9} "
          f"{'helper peak MiB':>16} {'all processes MiB':>18} {'distinct texts %':>17}")
    for n in sizes:
        res = subprocess.run([sys.executable, "-m", "bench.run", "--one", str(n)], cwd=ROOT, capture_output=True,
                             text=True, check=False)
        if res.returncode != 0:
            print(f"{n:>8} failed: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}")
            continue
        r = json.loads(res.stdout.strip().splitlines()[-1])
        print(f"{n:>8} {r['tokenise_s']:>15} {r['pipeline_s']:>15} {r['ratio']:>8} {r['peak_mib']:>9} "
              f"{r['helper_peak_mib']:>16} {r['all_processes_mib']:>18} {r['distinct']:>17}")
        print(f"{'':>8} stages: {r['stages']}")
        print(f"{'':>8} all processes' peak at {r['all_processes_at'][0]} s: {r['all_processes_at'][1]} MiB each")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
