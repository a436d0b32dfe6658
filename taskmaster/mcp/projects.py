"""The `TaskMaster` facades an MCP server works through: one per project and task file.

A facade is kept for the life of the server (opening one per call would re-read the current
tag and revision files for nothing), but it holds no copy of the tasks: every read asks the
file for its revision and every write re-reads under the lock, so a change made by any other
process shows on the next call. That is the stale-data bug of the reference MCP server,
which served a task list it had loaded earlier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from taskmaster.compose import DEFAULT_LOCK_TIMEOUT, Project, Settings, open_url, project_at
from taskmaster.core import TaskMaster
from taskmaster.errors import InvalidInput
from taskmaster.journal.entry import DEFAULT_KEEP
from taskmaster.mcp.roots import ProjectRootRefused, RootPolicy, resolve_inside
from taskmaster.project import ProjectPaths, default_tasks_file, read_storage_url, storage_file


class Projects:
    """Checks each `projectRoot` against the policy and hands out the project's facade."""

    def __init__(
        self,
        policy: RootPolicy,
        *,
        tasks_file: Path | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        default_tag: str | None = None,
        redis_url: str | None = None,
        storage_url: str | None = None,
        journal_keep: int = DEFAULT_KEEP,
        journal_max_age_s: float | None = None,
        reference_lock: bool = True,
    ) -> None:
        self.policy = policy
        self.redis_url = redis_url
        self.storage_url = storage_url
        """`tm --storage` / TM_STORAGE_URL: where the server's own project keeps its tasks."""
        """When set, writes announce their change on this Redis, as `tm` and `tm serve` do."""
        self.tasks_file = tasks_file
        """`tm --file`: the server's own project uses this task file unless a call names one."""
        self.lock_timeout = lock_timeout
        self.default_tag = default_tag
        self.journal_keep = journal_keep
        self.journal_max_age_s = journal_max_age_s
        """The journal's retention (TM_JOURNAL_KEEP, TM_JOURNAL_MAX_AGE), as `tm` keeps it."""
        self.reference_lock = reference_lock
        """TM_REFERENCE_LOCK, as `tm` reads it."""
        self._projects: dict[tuple[Path, str], Project] = {}
        # Tools run on worker threads; two first calls must not open two facades.
        self._lock = threading.Lock()

    def open(self, project_root: str, file: str | None = None) -> TaskMaster:
        """The facade for a client's `projectRoot` (and optional `file`), after the checks."""
        root = self.policy.check(project_root)
        url, named_by = self._storage_of(root)
        if url is not None:
            if file is not None and file.strip():
                raise InvalidInput(
                    f"'file' does not apply to {root}: its tasks are kept at a storage URL "
                    "(leave 'file' out)"
                )
            return self._opened((root, url), lambda: self._open_url(url, root, named_by)).core
        if file is not None and file.strip():
            tasks_file = check_task_file_name(resolve_inside(root, file, "file"))
        elif root == self.policy.project and self.tasks_file is not None:
            # The user named this file when starting the server: it is served wherever it is.
            tasks_file = self.tasks_file
        else:
            # Looked up on every call, as `tm` does: a reference-layout file that appears
            # later is found without restarting the server.
            tasks_file = self.policy.confine(default_tasks_file(root), "task file")
        # On every call, not once per facade: a link can be replaced while the server runs.
        paths = ProjectPaths(root, tasks_file)
        self.policy.confine(paths.state_file, "state file")
        self.policy.confine(paths.config_file, "config file")
        return self._opened((root, str(tasks_file)), lambda: project_at(paths, self._settings)).core

    @property
    def _settings(self) -> Settings:
        return Settings(
            lock_timeout=self.lock_timeout,
            redis_url=self.redis_url,
            journal_keep=self.journal_keep,
            journal_max_age_s=self.journal_max_age_s,
            reference_lock=self.reference_lock,
            keep_document=True,  # a server: many writes, one process
        )

    def _storage_of(self, root: Path) -> tuple[str | None, Path | None]:
        """The storage URL a project's tasks are at (None: its task file), and the project
        file that names it. Read on every call, as the task file's location is."""
        if root == self.policy.project and self.storage_url is not None:
            return self.storage_url, None
        named = storage_file(root)
        if not named.exists():
            return None, None
        self.policy.confine(named, "storage file")
        return read_storage_url(root), named

    def _open_url(self, url: str, root: Path, named_by: Path | None) -> Project:
        try:
            project = open_url(url, root, self._settings)
        except InvalidInput as err:
            raise InvalidInput(f"{named_by}: {err}" if named_by else str(err)) from None
        project.named_by = named_by
        return project

    def _opened(self, key: tuple[Path, str], opener: Callable[[], Project]) -> Project:
        """The project kept under `key`, opened (once) if it is not yet."""
        with self._lock:
            project = self._projects.get(key)
            if project is None:
                project = opener()
                self._projects[key] = project
        return project

    def output_dir(self, core: TaskMaster, output: str | None) -> Path:
        """Where `generate` may write (and delete stale files): resolved, inside the project
        for a directory the agent names, inside a served root for the default one."""
        project = self._project_of(core)
        if output:
            return resolve_inside(project.root, output, "output")
        return self.policy.confine(project.default_output_dir, "output directory")

    def project_of(self, core: TaskMaster) -> Project:
        """The wired project `open` gave `core` of."""
        return self._project_of(core)

    def _project_of(self, core: TaskMaster) -> Project:
        with self._lock:
            return next(each for each in self._projects.values() if each.core is core)

    def tag(self, tag: str | None) -> str | None:
        """A call's own `tag` wins over `tm --tag`; None means the project's current tag."""
        return tag or self.default_tag

    def close(self) -> None:
        with self._lock:
            projects, self._projects = list(self._projects.values()), {}
        for project in projects:
            project.close()


def check_task_file_name(path: Path) -> Path:
    """A `file` an agent names must at least be called like a task file.

    Its content is checked by the storage on every read and write (a JSON object that is not a
    task document is refused there, for every front end); the name rule keeps an agent from
    pointing the server at any other file of the project in the first place.
    """
    if path.suffix != ".json":
        raise ProjectRootRefused(
            f"'file' {str(path)!r} is not a task file: its name must end in .json "
            "(usually leave 'file' out: the project's .taskmaster/tasks.json is the default)"
        )
    return path
