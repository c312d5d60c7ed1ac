"""What every command shares: the consoles, exit codes, progress lines, Prefect's environment, the Japanese
argument parser and the run settings' options (derived from :class:`pipeline.run.settings.Settings`)."""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from pipeline.errors import KyoseiError
from pipeline.run.settings import Settings, options, shipped

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 3


console = Console(highlight=False)


err_console = Console(stderr=True, highlight=False)


def default_measures(meeting_dir: Path) -> Path:
    """The policy table used when ``--measures`` is not given (see :func:`pipeline.ingest.meeting.policy_for`)."""
    from pipeline.ingest.meeting import policy_for

    return policy_for(meeting_dir)


def _optional(path: Path | None, what: str) -> Path | None:
    if path is None:
        return None
    if not path.is_file():
        err_console.print(f"[yellow]注意: {what} {path} がないため使いません / {what} {path} not found, not used[/]")
        return None
    return path


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"1 以上の整数にしてください / must be a whole number ≥ 1: {text!r}")
    return value


class _NoTraceback(logging.Filter):
    """Prefect logs a failed task with its traceback; the terminal gets one line (the CLI prints the
    error itself, and KYOSEI_DEBUG=1 restores tracebacks).  A failure caused by bad input or configuration
    (a :class:`KyoseiError`) is not logged at all: the CLI prints its message once, in Japanese and English."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], KyoseiError):
            return False
        message = record.getMessage() if record.args else str(record.msg)
        if any(f"{name}:" in message or f"{name}(" in message for name in _our_errors()):
            return False
        record.exc_info = None
        record.exc_text = None
        if isinstance(record.msg, str) and "Traceback (most recent call last)" in record.msg:
            record.msg = record.msg.split("Traceback (most recent call last)", 1)[0].rstrip() or "error"
        return True


@functools.cache
def _our_errors() -> frozenset[str]:
    """Names of the input/configuration errors (their messages are printed by the CLI itself)."""
    seen, todo = set(), [KyoseiError]
    while todo:
        cls = todo.pop()
        seen.add(cls.__name__)
        todo += cls.__subclasses__()
    return frozenset(seen)


def _quiet_tracebacks() -> None:
    if os.environ.get("KYOSEI_DEBUG"):
        return
    for logger in [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                          if isinstance(lg, logging.Logger))]:
        for h in logger.handlers:
            is_terminal = type(h) is logging.StreamHandler or type(h).__name__ == "PrefectConsoleHandler"
            if is_terminal and not any(isinstance(f, _NoTraceback) for f in h.filters):
                h.addFilter(_NoTraceback())


class _StageLines(logging.Handler):
    """Prints the stage messages of ``kyosei.progress`` as one line each (「2/7 個人情報のマスク・正規化・形態素解析・ルール照合
    76 件 … 1.2 秒」), then the run's summary lines."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        summary = getattr(record, "kyosei_summary", None)
        if summary is not None:
            console.print("")
            for line in summary:
                console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
            return
        step, total = getattr(record, "kyosei_step", None), getattr(record, "kyosei_total", None)
        if step is None:
            return
        label = getattr(record, "kyosei_label", "")
        detail = getattr(record, "kyosei_detail", "")
        seconds = float(getattr(record, "kyosei_seconds", 0.0) or 0.0)
        console.print(f"{step}/{total} {label}　{detail}　{seconds:.1f} 秒", markup=False, highlight=False,
                      soft_wrap=True)


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    handler = _StageLines()
    logger = logging.getLogger("kyosei.progress")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False                    # the lines are printed once, here, not again by the root logger
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def _prefect_env(verbose: bool) -> None:
    """Prefect's own INFO lines (task and flow states, the temporary server) only with ``--verbose``."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        logging.getLogger("distributed").setLevel(logging.WARNING)


def _measure_ids(path: Path | None) -> tuple[list[str] | None, list[str] | None]:
    from pipeline.ingest import load_measures

    if not path or not path.is_file():
        return None, None
    measures = load_measures(path)
    return list(measures["measure_id"]), list(measures["pillar_id"])


def _print_problems(problems: Sequence[tuple[Path, object]]) -> None:
    for file, p in sorted(problems, key=lambda fp: (str(fp[0]), fp[1].where, fp[1].line)):  # type: ignore[attr-defined]
        console.print(f"{file}: {p}", markup=False, soft_wrap=True)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write a whole file or nothing (a temporary file beside it, then renamed over it)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        from pipeline.safety import current_umask

        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Formatter(argparse.HelpFormatter):
    def add_usage(self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, prefix="使い方 (usage): " if prefix is None else prefix)


_ERRORS = (
    (re.compile(r"the following arguments are required: (.*)"), r"必要な引数がありません (the following arguments are required): \1"),
    (re.compile(r"unrecognized arguments: (.*)"), r"知らない引数です (unrecognized arguments): \1"),
    (re.compile(r"argument (\S+): invalid choice: (.*)"), r"引数 \1: 選べない値です (invalid choice): \2"),
    (re.compile(r"argument (\S+): expected one argument"), r"引数 \1 に値が1つ必要です (expected one argument)"),
    (re.compile(r"argument (\S+): invalid (\w+) value: (.*)"), r"引数 \1: 値が正しくありません (invalid \2 value): \3"),
)
"""argparse's own error lines, in Japanese with the English in parentheses."""


class Parser(argparse.ArgumentParser):
    """argparse in Japanese (English in parentheses): usage, section titles, ``-h`` and the error line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["add_help"] = False
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        self._positionals.title = "引数 (arguments)"
        self._optionals.title = "オプション (options)"
        self.add_argument("-h", "--help", action="help", help="この説明を表示して終わります (show this help and exit)")

    def error(self, message: str) -> Any:
        for pattern, japanese in _ERRORS:
            message = pattern.sub(japanese, message)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: エラー (error): {message}\n説明 (help): {self.prog} -h\n")


SHIPPED = {"codebook": "codebook.yaml", "lexicon": "lexicon.yaml", "stopwords": "stopwords.txt",
           "theme_labels": "theme_labels.csv"}
"""The settings whose default is a model shipped with kyosei."""


def add_setting(parser: argparse.ArgumentParser, name: str, *, dest: str | None = None, help: str = "") -> None:
    """One run setting as an option of a command other than ``run`` (``kwic``, ``review``, ``eval`` …): its flag
    and help from :mod:`pipeline.run.settings` (``help`` put before it), a shipped model as the default."""
    _, default, opt = next(o for o in options() if o[0] == name)
    text = f"{help}。{opt.help}" if help else opt.help
    if isinstance(default, bool):
        parser.add_argument(opt.flag, dest=dest or name, action="store_false" if default else "store_true", help=text)
    elif isinstance(default, tuple):
        parser.add_argument(opt.flag, dest=dest or name, type=Path, action="append", default=[], metavar=opt.metavar,
                            help=text)
    else:
        parser.add_argument(opt.flag, dest=dest or name, type=Path, metavar=opt.metavar, help=text,
                            default=shipped(SHIPPED[name]) if name in SHIPPED else default)


def add_settings(parser: argparse.ArgumentParser) -> None:
    """Every run setting as an option of ``parser`` (flag, help and default from :mod:`pipeline.run.settings`)."""
    for name, default, opt in options():
        if isinstance(default, bool):
            parser.add_argument(opt.flag, dest=name, action="store_false" if default else "store_true",
                                help=opt.help)
        elif isinstance(default, tuple):
            parser.add_argument(opt.flag, dest=name, type=Path, action="append", default=[], metavar=opt.metavar,
                                help=opt.help)
        elif isinstance(default, int):
            parser.add_argument(opt.flag, dest=name, type=_whole if name == "seed" else _positive, default=default,
                                metavar=opt.metavar, help=opt.help)
        else:
            parser.add_argument(opt.flag, dest=name, type=Path if name != "task_runner" else str, default=default,
                                metavar=opt.metavar, help=opt.help)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The :class:`Settings` the options of :func:`add_settings` give (a model file named but missing is not used,
    with a warning)."""
    values = {name: getattr(args, name) for name, _, _ in options()}
    values["codebook_layers"] = tuple(values["codebook_layers"])
    for name, what in (("lexicon", "ユーザー辞書 / lexicon"), ("stopwords", "ストップワード / stop words"),
                       ("theme_labels", "学習層の教師データ / theme labels")):
        values[name] = _optional(values[name], what)
    return Settings(**values)


def absolute(settings: Settings) -> dict[str, object]:
    """``settings`` as a deployment's parameter: every path made absolute (a scheduled run starts elsewhere)."""
    def full(value: object) -> object:
        if isinstance(value, Path):
            return str(value.resolve())
        if isinstance(value, tuple):
            return [full(v) for v in value]
        return value
    return {name: full(getattr(settings, name)) for name, _, _ in options()}


def _whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"0 以上の整数にしてください / must be a whole number ≥ 0: {text!r}")
    return value
