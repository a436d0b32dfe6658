"""Starting and always reaping real processes, free ports, barrier files, the run folder.

Every long-lived child gets its own process group (so a kill reaches whatever it started too)
and PR_SET_PDEATHSIG, so even a harness killed with SIGKILL takes its children with it. Every
child is registered; `reap_all` runs on normal exit, on exceptions, on Ctrl-C and on SIGTERM.
Spawn long-lived children from the main thread only: the death signal follows the thread that
forked them.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1
STOP_GRACE = 3.0

_libc: Any = None
with contextlib.suppress(OSError, TypeError):
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child: ours without any TM_* setting of the user's (a scenario
    sets what it means to), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TM_")}
    env.update(extra or {})
    return env


def die_with_parent() -> None:
    """In a child before exec: SIGKILL when the parent goes away (Linux only, best effort)."""
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class Proc:
    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log: Path | None = None
    started: int = field(default_factory=time.monotonic_ns)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def kill(self) -> int | None:
        """SIGKILL the whole group and wait for the process; its exit status."""
        self.signal_group(signal.SIGKILL)
        try:
            return self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace: float = STOP_GRACE) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds; always reaps the group."""
        if self.alive():
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        # Whatever the leader did, nothing of its group may outlive it.
        self.signal_group(signal.SIGKILL)
        try:
            return self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return None


class Supervisor:
    """Owns every child process of one harness run."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self.log_dir = log_dir
        self.procs: list[Proc] = []
        self._lock = threading.Lock()
        self.started = 0
        _SUPERVISORS.append(self)

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | str | None = None,
        log: bool = True,
        user: str | None = None,
    ) -> Proc:
        log_path = None
        if log and self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}.log"
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env(env),
                cwd=cwd,
                start_new_session=True,
                preexec_fn=die_with_parent,
                user=user,
            )
        finally:
            if log_path:
                out.close()
        proc = Proc(name, list(argv), popen, log_path)
        with self._lock:
            self.procs.append(proc)
            self.started += 1
        return proc

    def live(self) -> list[Proc]:
        return [proc for proc in self.procs if proc.alive()]

    def reap_all(self) -> None:
        with self._lock:
            procs, self.procs = list(self.procs), []
        for proc in procs:
            if proc.alive():
                proc.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        for proc in procs:
            proc.signal_group(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=10)

    def close(self) -> None:
        self.reap_all()
        with contextlib.suppress(ValueError):
            _SUPERVISORS.remove(self)


_SUPERVISORS: list[Supervisor] = []
_RUN_FOLDERS: list[RunFolder] = []


def reap_everything() -> None:
    for supervisor in list(_SUPERVISORS):
        supervisor.reap_all()
    for folder in list(_RUN_FOLDERS):
        folder.cleanup()


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, turned into an exception so every `finally` runs."""


def install_signal_handlers() -> None:
    """Ctrl-C already raises KeyboardInterrupt; make SIGTERM and SIGHUP do the same, and reap
    at interpreter exit whatever path we leave by."""

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, interrupt)
    atexit.register(reap_everything)


class RunFolder:
    """The folder of one run (histories, projects, logs); removed at the end unless kept."""

    def __init__(self, path: Path | str | None = None, *, keep: bool = False) -> None:
        if path is None:
            self.path = Path(tempfile.mkdtemp(prefix="harness-run-"))
        else:
            self.path = Path(path).absolute()
            self.path.mkdir(parents=True, exist_ok=True)
            keep = True  # a folder the user named is theirs
        self.keep = keep
        _RUN_FOLDERS.append(self)

    def cleanup(self) -> None:
        with contextlib.suppress(ValueError):
            _RUN_FOLDERS.remove(self)
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


# ports and HTTP readiness -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(port: int, path: str, proc: Proc, timeout: float = 20.0) -> float:
    """Poll until GET `path` answers 200; seconds it took. Fails fast if the process died."""
    start = time.monotonic()
    deadline = start + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}: {tail(proc)}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return time.monotonic() - start
            last = f"HTTP {response.status}"
        except OSError as err:
            last = str(err)
        finally:
            conn.close()
        time.sleep(0.02)
    raise TimeoutError(f"{proc.name} not ready on port {port} after {timeout:g} s ({last})")


def tail(proc: Proc, lines: int = 5) -> str:
    if proc.log is None or not proc.log.exists():
        return ""
    text = proc.log.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])


# barriers made of files ---------------------------------------------------------------------


class Barriers:
    """Named one-shot flags in a folder, visible to every process: `mark` then `wait`."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.folder / name.replace("/", "_").replace(":", "@")

    def mark(self, name: str, text: str = "") -> None:
        target = self.path(name)
        temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temp.write_text(text)
        os.replace(temp, target)  # appears whole, or not at all

    def is_set(self, name: str) -> bool:
        return self.path(name).exists()

    def read(self, name: str) -> str:
        return self.path(name).read_text()

    def wait(self, names: str | Sequence[str], timeout: float, poll: float = 0.0005) -> bool:
        """True once every flag in `names` is set; False after `timeout` seconds."""
        wanted = [names] if isinstance(names, str) else list(names)
        deadline = time.monotonic() + timeout
        while True:
            if all(self.is_set(name) for name in wanted):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)


def stat_fields(pid: int) -> list[str] | None:
    """The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
    parentheses): [0] the state letter, [1] the parent's pid, [11] and [12] the user and system
    CPU time in clock ticks. None where there is no such process (or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    _, name_end, rest = text.rpartition(")")
    fields = rest.split()
    return fields if name_end and len(fields) > 12 else None


def pids_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (a /proc scan; Linux)."""
    found = []
    needle = text.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat_fields(int(entry.name))
        if needle in cmdline and fields is not None and fields[0] != "Z":
            found.append(int(entry.name))
    return found


@contextlib.contextmanager
def supervised(log_dir: Path | None = None) -> Iterator[Supervisor]:
    supervisor = Supervisor(log_dir)
    try:
        yield supervisor
    finally:
        supervisor.close()
