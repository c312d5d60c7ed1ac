"""A warm kyosei process for analysts who rerun a meeting again and again.

``kyosei warm`` loads the libraries a run needs once (Prefect, pandas, scikit-learn, matplotlib, python-docx,
fontTools, the dictionary) and analyses the first sample meeting once without Prefect, so that every lazy import
and cache is filled; then it waits on a Unix socket in a folder only this user can open.  A ``kyosei run`` (or
``kyosei demo``) started while it waits hands over its command line, folder, environment and its terminal (the
descriptors 0, 1 and 2, passed over the socket) and the run happens in a copy of the warm process (``fork``): the
same code on the same inputs, so the same outputs, about two seconds sooner.  Ctrl-C in the terminal of the run
reaches the run (its process group) as it would without the warm process; the run's exit code is the command's.

A run is handed over only when it would run exactly as it would in a fresh process: the same kyosei code (every
source file's size and time), the same Python and libraries, the same Prefect settings (every ``PREFECT_*``
variable, the Prefect profile, a ``.env``, ``prefect.toml`` or ``pyproject.toml`` in the folder) and no
``--verbose``.  Otherwise, or with ``KYOSEI_NO_WARM=1``, or when nothing is waiting, the command runs as usual.

The client side (:func:`hand_over`) is imported before anything else by :mod:`flows.entry`: standard library
only, a few milliseconds.  POSIX only (``fork`` and descriptor passing); elsewhere it does nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

COMMANDS = ("run", "demo")
"""The commands a warm process runs (the analysis loop an analyst repeats)."""
NO_WARM = "KYOSEI_NO_WARM"
SOCKET_ENV = "KYOSEI_WARM_SOCKET"
_HEADER = struct.Struct("!I")
_PACKAGES = ("flows", "pipeline")
_PREFECT_FILES = (".env", "prefect.toml", "pyproject.toml")
_MAX_REQUEST = 4 << 20


def supported() -> bool:
    return hasattr(os, "fork") and hasattr(socket, "AF_UNIX") and hasattr(socket, "send_fds")


def socket_path(env: Mapping[str, str] | None = None) -> Path:
    """``$KYOSEI_WARM_SOCKET``, else ``<temp>/kyosei-<uid>/warm.sock``."""
    env = os.environ if env is None else env
    if env.get(SOCKET_ENV):
        return Path(env[SOCKET_ENV])
    return Path(tempfile.gettempdir()) / f"kyosei-{os.getuid()}" / "warm.sock"


def _private(folder: Path) -> bool:
    """The folder is this user's and nobody else can enter it (a socket elsewhere could be someone else's)."""
    try:
        st = folder.stat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o077


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def code_stamp(root: Path | None = None) -> str:
    """Every kyosei source and resource file (path, size, time), the interpreter and the installed libraries."""
    import sysconfig

    root = Path(__file__).resolve().parents[1] if root is None else root
    h = hashlib.sha256(f"{root}\0{sys.executable}\0{sys.version}\0".encode())
    for lib in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        h.update(f"{lib}\0{_stat(Path(lib))}\0".encode())
    for package in _PACKAGES:
        for folder, dirs, files in os.walk(root / package):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                path = Path(folder) / name
                h.update(f"{path.relative_to(root)}\0{_stat(path)}\0".encode())
    return h.hexdigest()


def prefect_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables Prefect reads, with the defaults ``kyosei run`` sets for a run without ``--verbose``."""
    out = {k: v for k, v in env.items() if k.startswith("PREFECT_") or k == "DO_NOT_TRACK"}
    out.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    out.setdefault("DO_NOT_TRACK", "1")
    out.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    return dict(sorted(out.items()))


def settings_stamp(env: Mapping[str, str], cwd: Path) -> str:
    """What Prefect's settings are made of: its variables, its profile file and the settings files of the
    folder the command runs in."""
    home = Path(env.get("PREFECT_HOME") or Path(env.get("HOME") or Path.home()) / ".prefect").expanduser()
    files = {name: _stat(cwd / name) for name in _PREFECT_FILES}
    files["profiles"] = _stat(Path(env.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser())
    return json.dumps([prefect_env(env), files], sort_keys=True)


def wanted(argv: Sequence[str]) -> bool:
    """A command the warm process runs: ``run``/``demo`` without ``--verbose`` (Prefect's INFO lines need
    logging set up as the run starts)."""
    if not argv or argv[0] not in COMMANDS:
        return False
    return not any(a in ("-v", "--verbose") or a.startswith("--verb") for a in argv[1:])


# --- the client: kyosei run/demo ---------------------------------------------------------------------------

def _send(sock: socket.socket, message: Mapping[str, object], fds: Sequence[int] = ()) -> None:
    data = json.dumps(message, ensure_ascii=False).encode("utf-8")
    if fds:
        socket.send_fds(sock, [_HEADER.pack(len(data)) + data], list(fds))
    else:
        sock.sendall(_HEADER.pack(len(data)) + data)


def _receive(sock: socket.socket, nfds: int = 0) -> tuple[dict[str, object] | None, list[int]]:
    """One message (and the descriptors sent with it); ``None`` when the other side closed."""
    fds: list[int] = []
    if nfds:
        data, fds, _, _ = socket.recv_fds(sock, _HEADER.size + 65536, nfds)
    else:
        data = sock.recv(_HEADER.size)
    try:
        return _message(sock, data), fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def _message(sock: socket.socket, data: bytes) -> dict[str, object] | None:
    buf = bytearray(data)
    while len(buf) < _HEADER.size:
        more = sock.recv(_HEADER.size - len(buf))
        if not more:
            return None
        buf += more
    (size,) = _HEADER.unpack(buf[:_HEADER.size])
    if size > _MAX_REQUEST:
        raise ValueError("message too large")
    body = buf[_HEADER.size:]
    while len(body) < size:
        more = sock.recv(size - len(body))
        if not more:
            return None
        body += more
    message = json.loads(bytes(body).decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError("not a message")
    return message


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def hand_over(argv: Sequence[str]) -> int | None:
    """Run ``kyosei <argv>`` in the waiting warm process and return its exit code; ``None`` when there is no
    usable warm process (the caller then runs the command itself)."""
    if os.environ.get(NO_WARM) or not supported() or not wanted(argv):
        return None
    if any(s is None for s in (sys.stdin, sys.stdout, sys.stderr)):
        return None                                       # no terminal to hand over (a detached process)
    path = socket_path()
    if not _private(path.parent) or not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(5)
        sock.connect(str(path))
        cwd = Path.cwd()
        env = dict(os.environ)
        _send(sock, {"argv": list(argv), "cwd": str(cwd), "env": env, "umask": _umask(),
                     "code": code_stamp(),
                     "streams": [[s.encoding, s.errors] for s in (sys.stdin, sys.stdout, sys.stderr)]},
              fds=[0, 1, 2])
        reply, _ = _receive(sock)
    except (OSError, ValueError):
        sock.close()
        return None
    if not reply or "pid" not in reply:
        sock.close()
        return None                                       # refused: not the same code or settings
    group = int(reply["pid"])                             # type: ignore[call-overload]

    def forward(signum: int, frame: object) -> None:
        # the terminal signals its foreground group (this process); the run is the leader of its own group
        with contextlib.suppress(OSError):
            os.killpg(group, signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    sock.settimeout(None)
    try:
        done, _ = _receive(sock)
    except (OSError, ValueError):
        done = None
    finally:
        sock.close()
    if not done or "rc" not in done:
        sys.stderr.write("kyosei warm が応答しなくなりました。もう一度実行してください / the warm kyosei process "
                         "stopped answering; run the command again\n")
        return 3
    return int(done["rc"])                                # type: ignore[call-overload]


# --- the warm process: kyosei warm ------------------------------------------------------------------------

def _streams(encodings: Sequence[Sequence[str]]) -> None:
    """Python's standard streams on the client's descriptors, as the client's Python had them."""
    import io

    for fd, name, (encoding, errors) in zip((0, 1, 2), ("stdin", "stdout", "stderr"), encodings, strict=True):
        mode = "r" if fd == 0 else "w"
        raw = open(fd, mode + "b", buffering=-1, closefd=False)  # noqa: SIM115 (lives as sys.<name>)
        stream = io.TextIOWrapper(raw, encoding=encoding or "utf-8", errors=errors or "strict",
                                  line_buffering=fd != 0 and os.isatty(fd), write_through=fd == 2)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


_DAEMON_STREAMS: list[object] = []


def repoint_logging() -> None:
    """Logging handlers made in the warm process write to its streams (Prefect sets its handlers up as it is
    imported); in a run they write to the run's ``sys.stdout``/``sys.stderr`` instead, as in a fresh process."""
    import logging

    old_out, old_err = _DAEMON_STREAMS[:2], _DAEMON_STREAMS[2:]
    loggers = [logging.getLogger(), *(v for v in logging.Logger.manager.loggerDict.values()
                                      if isinstance(v, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler):
                if any(handler.stream is s for s in old_err):
                    handler.setStream(sys.stderr)
                elif any(handler.stream is s for s in old_out):
                    handler.setStream(sys.stdout)


def _child(request: Mapping[str, object], fds: Sequence[int], run: Callable[[list[str]], int]) -> int:
    """In the forked copy: become the client's command (its terminal, folder, environment, umask) and run it."""
    _DAEMON_STREAMS[:] = [sys.stdout, sys.__stdout__, sys.stderr, sys.__stderr__]
    os.setpgid(0, 0)
    for fd, target in zip(fds, (0, 1, 2), strict=True):
        os.dup2(fd, target)
        os.close(fd)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    os.chdir(str(request["cwd"]))
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})  # type: ignore[call-overload]
    os.umask(int(request["umask"]))                                                # type: ignore[call-overload]
    _streams(request["streams"])                                                   # type: ignore[arg-type]
    argv = [str(a) for a in request["argv"]]                                        # type: ignore[attr-defined]
    sys.argv = ["kyosei", *argv]
    return run(argv)


class WarmServer:
    """The waiting side: one listening socket, one forked child per command, its exit code sent back."""

    def __init__(self, path: Path, run: Callable[[list[str]], int], *,
                 log: Callable[[str], None] = lambda s: None) -> None:
        self.path = path
        self.run = run
        self.log = log
        self.code = code_stamp()
        self.settings = settings_stamp(os.environ, Path.cwd())
        self.children: dict[int, socket.socket] = {}
        self.sock: socket.socket | None = None
        self._wakeup: tuple[int, int] | None = None

    def check_free(self) -> None:
        """Refuse early (before the slow warm-up) when another warm process already waits on this socket, or the
        socket's folder is not this user's own."""
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(folder):
            raise PermissionError(f"{folder}: not this user's private folder (mode 700)")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.path))
        except OSError:
            return
        finally:
            probe.close()
        raise FileExistsError(f"{self.path}: a warm kyosei process is already waiting")

    def bind(self) -> None:
        self.check_free()
        self.path.unlink(missing_ok=True)                 # a socket left by a process that was killed
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(self.path))
        self.path.chmod(0o600)
        self.sock.listen(16)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            self.path.unlink(missing_ok=True)

    def _forget_wakeup(self) -> None:
        """In a run: the waiting process's SIGCHLD pipe is not the run's."""
        if self._wakeup is not None:
            signal.set_wakeup_fd(-1)
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            rc = os.waitstatus_to_exitcode(status)
            rc = 128 - rc if rc < 0 else rc               # killed by a signal: the shell's 128 + n
            with contextlib.suppress(OSError):
                _send(conn, {"rc": rc})
            conn.close()
            self.log(f"run {pid} finished: exit code {rc}")

    def _wake_on_child_exit(self) -> int:
        """A pipe that becomes readable when a run ends (SIGCHLD through ``signal.set_wakeup_fd``), so that its
        exit code goes back at once instead of at the next poll."""
        if self._wakeup is None:
            r, w = os.pipe()
            os.set_blocking(r, False)
            os.set_blocking(w, False)
            signal.set_wakeup_fd(w, warn_on_full_buffer=False)
            signal.signal(signal.SIGCHLD, lambda signum, frame: None)
            self._wakeup = (r, w)
        return self._wakeup[0]

    def serve_one(self, timeout: float = 1.0) -> None:
        """Accept one command (if one comes within ``timeout``) and reap finished ones."""
        import select

        assert self.sock is not None
        wakeup = self._wake_on_child_exit()
        self._reap()
        ready, _, _ = select.select([self.sock, wakeup], [], [], timeout)
        if wakeup in ready:
            with contextlib.suppress(OSError):
                os.read(wakeup, 4096)
            self._reap()
        if self.sock not in ready:
            return
        conn, _ = self.sock.accept()
        try:
            conn.settimeout(5)
            request, fds = _receive(conn, 3)
            conn.settimeout(None)
        except (OSError, ValueError) as err:
            self.log(f"bad request: {err}")
            conn.close()
            return
        reason = self._refusal(request, fds)
        if reason:
            self.log(f"not handed over ({reason}): the command runs on its own")
            with contextlib.suppress(OSError):
                _send(conn, {"refused": reason})
            conn.close()
            return
        assert request is not None
        pid = os.fork()
        if pid == 0:                                      # the run
            code = 3
            try:
                assert self.sock is not None
                self.sock.close()
                conn.close()
                for other in self.children.values():
                    other.close()
                self._forget_wakeup()
                code = _child(request, fds, self.run)
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            except BaseException as err:
                with contextlib.suppress(BaseException):
                    sys.stderr.write(f"kyosei: {type(err).__name__}: {err}\n")
            finally:
                _exit_child(code)
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        with contextlib.suppress(OSError):                # a client gone already: the run's code goes nowhere
            _send(conn, {"pid": pid})
        self.log(f"run {pid}: kyosei {' '.join(request['argv'])}  ({request['cwd']})")  # type: ignore[arg-type]

    def _refusal(self, request: Mapping[str, object] | None, fds: Sequence[int]) -> str:
        if request is None or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            return "incomplete request"
        argv = request.get("argv")
        reason = ""
        if not isinstance(argv, list) or not wanted([str(a) for a in argv]):
            reason = "not a command the warm process runs"
        elif request.get("code") != self.code:
            reason = "kyosei or its libraries changed since the warm process started; restart kyosei warm"
        elif settings_stamp(dict(request.get("env") or {}), Path(str(request.get("cwd")))) != self.settings:
            reason = "other Prefect settings (variables, profile or settings files in the folder)"
        if reason:
            for fd in fds:
                os.close(fd)
        return reason

    def wait_children(self) -> None:
        while self.children:
            self._reap()
            if self.children:
                import time

                time.sleep(0.1)


def _exit_child(code: int) -> None:
    """Leave the forked run as a finished interpreter would (Prefect drains its log and event queues in its
    exit handlers), never through the waiting process's stack."""
    import atexit

    try:
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    finally:
        os._exit(code)
