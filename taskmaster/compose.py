"""The composition root: a location and settings in, a wired project out.

Every front end (the CLI, `tm serve`, `tm mcp`), the harness and the benchmarks open projects
here, and only here is a storage backend chosen (by the scheme of a storage URL, from
`BACKENDS`), a bus picked (in-process, or Redis when a Redis URL is set) and a shared response
cache attached. Adding a backend means adding its module and one entry in `BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlsplit

from taskmaster.bus import EventBus, LocalBus
from taskmaster.core import TaskMaster, utc_now
from taskmaster.errors import InvalidInput
from taskmaster.model import DEFAULT_TAG, Document
from taskmaster.project import PROJECT_DIR, ProjectPaths, ignore_sidecars, locate
from taskmaster.storage.base import DEFAULT_LOCK_TIMEOUT, ProjectState, Storage

if TYPE_CHECKING:
    from taskmaster.cache import RevisionCache
    from taskmaster.events import Event

__all__ = [
    "BACKENDS",
    "DEFAULT_LOCK_TIMEOUT",
    "Project",
    "Settings",
    "file_url",
    "init_project",
    "open_project",
    "open_storage",
    "project_at",
]


@dataclass(frozen=True, slots=True)
class Settings:
    """How a project is opened, whatever its backend."""

    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    redis_url: str | None = None
    """When set, changes are announced on this Redis and answers can be shared through it."""
    pool_size: int | None = None
    """Database connections a long-lived process may hold (a server: its thread count); None:
    the backend's default."""


class SharedLink(Protocol):
    """What a server reports of its connection to the shared Redis."""

    @property
    def up(self) -> bool: ...

    def describe(self) -> dict[str, Any]: ...

    def on_reconnect(self, listener: Callable[[], None]) -> None: ...


class SharedCacheStats(Protocol):
    hits: int
    misses: int
    errors: int


class SharedCache(Protocol):
    """The second-level (Redis) response cache, as a server reports it."""

    @property
    def stats(self) -> SharedCacheStats: ...


class Backend(Protocol):
    def __call__(self, url: str, paths: ProjectPaths | None, settings: Settings) -> Storage: ...


def _file_backend(url: str, paths: ProjectPaths | None, settings: Settings) -> Storage:
    from taskmaster.storage.file import FileStorage

    if paths is None:
        paths = locate(tasks_file=_path_of(url))
    return FileStorage(
        paths.tasks_file,
        state_file=paths.state_file,
        config_file=paths.config_file,
        lock_timeout=settings.lock_timeout,
    )


def _memory_backend(url: str, paths: ProjectPaths | None, settings: Settings) -> Storage:
    """`memory:` — a project held in this process only (tests, trying things out)."""
    from taskmaster.storage.memory import MemoryStorage

    store = MemoryStorage()
    store.create(Document.empty(), ProjectState(None))
    return store


def _postgres_backend(url: str, paths: ProjectPaths | None, settings: Settings) -> Storage:
    """`postgresql://user@host:port/db?project=KEY` — a project in a PostgreSQL database."""
    from taskmaster.storage.postgres import PostgresStorage

    return PostgresStorage(url, lock_timeout=settings.lock_timeout, pool_size=settings.pool_size)


BACKENDS: dict[str, Backend] = {
    "file": _file_backend,
    "memory": _memory_backend,
    "postgresql": _postgres_backend,
    "postgres": _postgres_backend,
}
"""Storage backends by URL scheme."""


def file_url(path: Path) -> str:
    return Path(path).absolute().as_uri()


def _path_of(url: str) -> Path:
    return Path(unquote(urlsplit(url).path))


def open_storage(url: str, settings: Settings, paths: ProjectPaths | None = None) -> Storage:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    backend = BACKENDS.get(scheme)
    if backend is None:
        raise InvalidInput(
            f"unknown storage {url!r}: expected a URL starting with "
            + " or ".join(f"{name}:" for name in sorted(BACKENDS))
        )
    return backend(url, paths, settings)


@dataclass
class Project:
    """A wired project: its facade and where it lives."""

    core: TaskMaster
    root: Path
    """The project directory (the one that holds `.taskmaster/`)."""
    paths: ProjectPaths | None = None
    """The files of a project stored in files; None for other backends."""
    redis: SharedLink | None = None
    """The Redis connection when a Redis URL is set."""

    @property
    def default_output_dir(self) -> Path:
        """Where `generate` writes when told nothing: `.taskmaster/tasks/`."""
        return self.root / PROJECT_DIR / "tasks"

    def share_cache(
        self,
        cache: RevisionCache[bytes],
        *,
        ttl_seconds: int,
        on_remote: Callable[[Event, float], None],
    ) -> SharedCache | None:
        """Give `cache` a second level in this project's Redis (keyed by the storage key), and
        clear it on every reconnect (events sent meanwhile were lost). None without Redis;
        else the second-level cache, whose statistics a server reports."""
        if self.redis is None:
            return None
        from taskmaster.redis import RedisBus, RedisL2Cache, RedisLink

        assert isinstance(self.redis, RedisLink)
        second_level = RedisL2Cache(self.redis, self.core.key, ttl_seconds=ttl_seconds)
        cache.second_level = second_level

        def forget_everything() -> None:
            cache.clear()

        self.redis.on_reconnect(forget_everything)
        if isinstance(self.core.bus, RedisBus):
            self.core.bus.on_remote = on_remote
        return second_level

    def close(self) -> None:
        self.core.close()


def project_at(
    paths: ProjectPaths, settings: Settings | None = None, *, bus: EventBus | None = None
) -> Project:
    """The project stored in the files `paths` names."""
    settings = settings or Settings()
    storage = open_storage(file_url(paths.tasks_file), settings, paths)
    return _wire(storage, paths.root, paths, settings, bus)


def open_project(
    start: Path | str | None = None,
    *,
    tasks_file: Path | str | None = None,
    settings: Settings | None = None,
    bus: EventBus | None = None,
) -> Project:
    """The project at or above `start` (the current directory by default), or around
    `tasks_file` (ProjectNotFound when there is none)."""
    return project_at(locate(start, tasks_file=tasks_file), settings, bus=bus)


def _wire(
    storage: Storage,
    root: Path,
    paths: ProjectPaths | None,
    settings: Settings,
    bus: EventBus | None,
) -> Project:
    redis = None
    if bus is None and settings.redis_url:
        from taskmaster.redis import redis_bus

        redis_events = redis_bus(settings.redis_url, storage.key)
        bus, redis = redis_events, redis_events.link
    return Project(TaskMaster(storage, bus if bus is not None else LocalBus()), root, paths, redis)


def init_project(
    directory: Path | str, settings: Settings | None = None
) -> tuple[Project, list[Path]]:
    """Create `.taskmaster/` with an empty task file; an existing project is left alone.

    Whatever is missing is added: the task file, `state.json`, and the `.gitignore` lines
    for the revision files. Returns the project and the paths created or changed (empty when
    nothing was).
    """
    root = Path(directory).absolute()
    config_dir = root / PROJECT_DIR
    changed: list[Path] = [] if config_dir.is_dir() else [config_dir]
    config_dir.mkdir(parents=True, exist_ok=True)
    project = project_at(locate(root), settings)
    now = utc_now()
    document = Document({DEFAULT_TAG: {"tasks": [], "metadata": {"created": now, "updated": now}}})
    changed += [
        Path(created)
        for created in project.core.storage.create(document, ProjectState(DEFAULT_TAG))
    ]
    assert project.paths is not None
    gitignore = ignore_sidecars(project.paths)
    if gitignore is not None:
        changed.append(gitignore)
    return project, changed
