"""`tm doctor`: check a project and say what is wrong, without changing anything of the user's.

Each check answers one question and gives a status:

    ok     nothing to do
    warn   worth a look, nothing is lost (a stale lock, a reversion, a sidecar git would commit)
    fail   the project needs a hand before it works (a task file that does not parse, ids
           that several tasks share)
    skip   does not apply (no git repository, a project stored in PostgreSQL)

Checks: the task file, ids and dependencies, the reference tool's lock and what it leaves
behind, our sidecars (revision, journal, the copy of the last commit, unfinished writes),
reversions the journal recorded, and git (sidecars ignored, the merge driver installed).

The one thing it may write is the journal: an outside change not journaled yet is journaled
first (as `tm history` does), so that its reversions are counted. It reads everything else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from taskmaster import ops
from taskmaster.errors import TaskMasterError
from taskmaster.journal.file import JOURNAL_SUFFIX, LAST_SUFFIX, FileJournal
from taskmaster.journal.reversions import reversion_line
from taskmaster.project import SIDECAR_PATTERNS, ProjectPaths
from taskmaster.storage.reference_lock import inspect as inspect_reference_lock
from taskmaster.storage.revision import REVISION_SUFFIX

Status = Literal["ok", "warn", "fail", "skip"]
ORDER: dict[Status, int] = {"ok": 0, "skip": 0, "warn": 1, "fail": 2}
SHOWN_REVERSIONS = 10
"""The most recent reversions a report lists (it counts them all)."""


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    summary: str
    details: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Report:
    checks: list[Check]

    @property
    def status(self) -> Status:
        """The worst of the checks' (a skip counts as ok)."""
        statuses: list[Status] = [check.status for check in self.checks]
        worst: Status = max(statuses, key=ORDER.__getitem__, default="ok")
        return "ok" if worst == "skip" else worst

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "ok": self.status != "fail",
            "checks": [check.to_dict() for check in self.checks],
        }


def diagnose(core: Any, paths: ProjectPaths | None) -> Report:
    """Every check of the project `core` opens (`paths`: its files, None when it is not
    stored in files). A check that cannot read what it looks at fails with the reason; the
    others still run."""
    try:
        task_file, document = _task_file(core, paths)
    except (TaskMasterError, OSError) as err:
        task_file, document = _failure("task-file", err), None
    checks = [task_file]
    if document is not None:
        checks.append(_checked("ids", lambda: _ids_and_dependencies(document)))
    file_checks: list[tuple[str, Callable[[Path], Check]]] = [
        ("ref-lock", _reference_lock),
        ("sidecars", _sidecars),
    ]
    for name, check in file_checks:
        checks.append(_on_files(name, check, paths))
    checks.append(_checked("reversions", lambda: _reversions(core)))
    checks.append(_on_files("git", _git, paths))
    return Report(checks)


def _on_files(name: str, check: Callable[[Path], Check], paths: ProjectPaths | None) -> Check:
    if paths is None:
        return Check(name, "skip", "the project is not stored in files")
    return _checked(name, lambda: check(paths.tasks_file))


def _checked(name: str, run: Callable[[], Check]) -> Check:
    try:
        return run()
    except (TaskMasterError, OSError) as err:
        return _failure(name, err)


def _failure(name: str, err: TaskMasterError | OSError) -> Check:
    if isinstance(err, TaskMasterError):
        return Check(name, "fail", str(err))
    where = f"{err.filename}: " if err.filename else ""
    return Check(name, "fail", f"cannot be read: {where}{err.strerror or err}")


# the task file and its content ------------------------------------------------------------------
def _task_file(core: Any, paths: ProjectPaths | None) -> tuple[Check, Any]:
    """The task-file check, and the document for the checks of its content."""
    snapshot = core.snapshot()
    document = snapshot.document
    tags = document.tag_names()
    count = sum(len(document.tasks(tag)) for tag in tags)
    where = str(paths.tasks_file) if paths is not None else core.storage.describe()["location"]
    if paths is not None:
        links = os.stat(paths.tasks_file).st_nlink
        if links > 1:
            summary = f"{where} has {links} hard links: it is read, but no write replaces it"
            hint = ["give it one name (copy it, then remove the other names)"]
            return Check("task-file", "fail", summary, hint), document
    details = [f"{count} task(s) in {len(tags)} tag(s), revision {snapshot.revision}"]
    return Check("task-file", "ok", f"{where} parses", details), document


def _ids_and_dependencies(document: Any) -> Check:
    issues: list[str] = []
    failing = False
    for tag in document.tag_names():
        for issue in ops.validate_dependencies(document, tag):
            failing = failing or issue.kind in ("duplicate-id", "bad-id")
            issues.append(f"[{tag}] {issue.message}")
    if not issues:
        return Check("ids", "ok", "every id is unique and every dependency resolves")
    status: Status = "fail" if failing else "warn"
    summary = f"{len(issues)} problem(s) with ids or dependencies"
    hint = "tm fix-dependencies repairs dependencies; ids several tasks share need an edit"
    return Check("ids", status, summary, [*issues, hint])


# the reference tool's lock -----------------------------------------------------------------------
def _reference_lock(tasks_file: Path) -> Check:
    real = Path(os.path.realpath(tasks_file))
    lock = inspect_reference_lock(real)
    details: list[str] = []
    status: Status = "ok"
    if lock.kind is None:
        summary = f"{lock.path.name} is free"
    else:
        holder = (
            "tm"
            if lock.by_tm
            else "task-master"
            if lock.kind == "file"
            else ("task-master (its core's directory form)")
        )
        pid = (
            f" (pid {lock.pid}, {'running' if lock.pid_alive else 'not running'})"
            if (lock.pid is not None)
            else ""
        )
        summary = f"{lock.path.name} held by {holder}{pid} for {lock.age or 0:.1f} s"
        if lock.by_tm and lock.pid_alive is False:
            status = "warn"
            details.append(
                "left by a tm that was killed while writing: the next tm write takes it over "
                "at once; until then task-master's writes wait for it, and its core (set-status"
                " and others) fails, since it cannot remove a file"
            )
        elif lock.stale:
            status = "warn"
            details.append("stale (older than 10 s): the next write of either tool takes it over")
        else:
            details.append("a write in progress: both tools wait for it")
    litter = sorted(real.parent.glob(f"{real.name}.lock.stale.*")) + sorted(
        real.parent.glob(f"{real.name}.tmp.*")
    )
    if litter:
        status = "warn"
        details.append(
            "left by task-master's writers (safe to delete when no task-master runs): "
            + ", ".join(p.name for p in litter[:5])
            + (f" and {len(litter) - 5} more" if len(litter) > 5 else "")
        )
    return Check("ref-lock", status, summary, details)


# sidecars -----------------------------------------------------------------------------------------
def _sidecars(tasks_file: Path) -> Check:
    details: list[str] = []
    status: Status = "ok"
    journal = FileJournal(tasks_file).check()
    if not journal["exists"]:
        details.append("no journal yet (written by the first tm write)")
    else:
        details.append(f"journal: {journal['entries']} committed entries")
        if journal["bad_lines"]:
            status = "warn"
            details.append(
                f"journal: {journal['bad_lines']} line(s) that are no journal records "
                "(a torn last line is cut by the next write)"
            )
        if journal["unresolved"]:
            details.append(
                "journal: the last entry is unresolved (a write in progress, or "
                "a killed writer's: the next write resolves it)"
            )
        if journal.get("last_copy_matches") is False:
            details.append(
                f"{tasks_file.name}{LAST_SUFFIX} does not match the last commit: an outside "
                "change made now is journaled without its differences"
            )
    revision_file = tasks_file.with_name(tasks_file.name + REVISION_SUFFIX)
    if not revision_file.exists():
        details.append(f"no {revision_file.name} yet: revisions are derived from the file")
    orphans = sorted(tasks_file.parent.glob(f".{tasks_file.name}.*.tmp"))
    if orphans:
        status = "warn"
        details.append(
            f"{len(orphans)} unfinished write(s) of a killed writer: "
            + ", ".join(p.name for p in orphans[:5])
            + " (removed by the next write)"
        )
    legacy = sorted(tasks_file.parent.glob("*.tm-lock"))
    if legacy:
        details.append(
            "left by an earlier version, safe to delete: " + ", ".join(p.name for p in legacy)
        )
    summary = "sidecars are consistent" if status == "ok" else "sidecars need a look"
    return Check("sidecars", status, summary, details)


# reversions ---------------------------------------------------------------------------------------
def _reversions(core: Any) -> Check:
    core.settle_outside_change()
    entries = core.history().value
    found = [(entry, r) for entry in entries for r in entry.get("reverts") or ()]
    if not found:
        return Check("reversions", "ok", "no outside change reverted a commit")
    lines = [
        f"revision {entry['revision']} ({entry.get('time', '?')}): {reversion_line(r)}"
        for entry, r in found[-SHOWN_REVERSIONS:]
    ]
    summary = (
        f"{len(found)} place(s) where another program put back what a commit had set "
        "(the reference tool writes back a copy it read earlier): see tm history"
    )
    return Check("reversions", "warn", summary, lines)


# git ----------------------------------------------------------------------------------------------
def _git(tasks_file: Path) -> Check:
    git = shutil.which("git")
    if git is None:
        return Check("git", "skip", "git is not installed")
    directory = tasks_file.parent
    top = _git_out(git, directory, "rev-parse", "--show-toplevel")
    if top is None:
        return Check("git", "skip", "the project is not in a git repository")
    sidecars = [
        tasks_file.with_name(tasks_file.name + suffix)
        for suffix in (JOURNAL_SUFFIX, LAST_SUFFIX, REVISION_SUFFIX)
    ]
    ignored = _ignored(git, directory, sidecars)
    details: list[str] = []
    status: Status = "ok"
    not_ignored = [p.name for p in sidecars if p not in ignored]
    if not_ignored:
        status = "warn"
        details.append(
            "git would commit: "
            + ", ".join(not_ignored)
            + f" (tm init or tm git install ignores {', '.join(SIDECAR_PATTERNS)})"
        )
    driver = _git_out(git, directory, "check-attr", "merge", "--", str(tasks_file))
    if driver is None or not driver.endswith(": taskmaster"):
        status = "warn"
        details.append(
            "no merge driver for the task file: a merge of two branches that each added a "
            "task conflicts (tm git install)"
        )
    elif _git_out(git, directory, "config", "merge.taskmaster.driver") is None:
        status = "warn"
        details.append(
            ".gitattributes names the merge driver but this clone lacks its "
            "configuration (tm git install)"
        )
    summary = (
        "git ignores the sidecars and merges the task file"
        if status == "ok"
        else ("git needs set-up")
    )
    return Check("git", status, summary, details)


def _git_out(git: str, directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            [git, *args], cwd=directory, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    output = done.stdout.strip()
    return output if done.returncode == 0 and output else None


def _ignored(git: str, directory: Path, paths: Iterable[Path]) -> set[Path]:
    listed = list(paths)
    try:
        done = subprocess.run(
            [git, "check-ignore", "--no-index", "--", *map(str, listed)],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return set()
    shown = {line.strip() for line in done.stdout.splitlines()}
    return {p for p in listed if str(p) in shown}
