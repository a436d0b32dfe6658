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
from urllib.parse import parse_qs, unquote, urlsplit

from taskmaster.bus import EventBus, LocalBus
from taskmaster.core import TaskMaster, utc_now
from taskmaster.errors import InvalidInput, ProjectNotFound, TaskFileMissing
from taskmaster.journal.entry import DEFAULT_KEEP, Origin
from taskmaster.model import DEFAULT_TAG, Document
from taskmaster.project import (
    PROJECT_DIR,
    ProjectPaths,
    default_tasks_file,
    find_root,
    ignore_sidecars,
    locate,
    read_storage_url,
    storage_file,
    write_storage_url,
)
from taskmaster.storage.base import DEFAULT_LOCK_TIMEOUT, ProjectState, Storage

if TYPE_CHECKING:
    from taskmaster.cache import RevisionCache
    from taskmaster.events import Event

__all__ = [
    "BACKENDS",
    "DEFAULT_LOCK_TIMEOUT",
    "STORAGE_URL_ENV",
    "Project",
    "Settings",
    "check_storage_url",
    "file_path",
    "file_url",
    "init_project",
    "init_storage_project",
    "open_project",
    "open_storage",
    "open_url",
    "project_at",
    "project_root",
    "scheme_of",
]

STORAGE_URL_ENV = "TM_STORAGE_URL"
"""The variable every entry point reads for a storage URL (`tm --storage` wins over it)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How a project is opened, whatever its backend."""

    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    redis_url: str | None = None
    """When set, changes are announced on this Redis and answers can be shared through it."""
    pool_size: int | None = None
    """Database connections a long-lived process may hold (a server: its thread count); None:
    the backend's default."""
    origin: Origin | None = None
    """Who writes and through which front end, as the journal records it (None: the user at
    this host, through the library)."""
    journal_keep: int = DEFAULT_KEEP
    """Journal entries kept; older ones are dropped once it holds twice as many."""
    journal_max_age_s: float | None = None
    """When set, `tm history --compact` also drops entries older than this."""
    keep_document: bool = False
    """A long-lived process (a server) keeps the document of its last write in memory and
    writes from it while the task file stays as it left it (see `FileStorage`)."""
    reference_lock: bool = True
    """A write of a task file also holds task-master-ai's `tasks.json.lock`
    (`taskmaster/storage/reference_lock.py`); off (TM_REFERENCE_LOCK=0) only for projects the
    reference tool never writes."""


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
        journal_keep=settings.journal_keep,
        journal_max_age_s=settings.journal_max_age_s,
        keep_document=settings.keep_document,
        reference_lock=settings.reference_lock,
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

    return PostgresStorage(
        url,
        lock_timeout=settings.lock_timeout,
        pool_size=settings.pool_size,
        journal_keep=settings.journal_keep,
        journal_max_age_s=settings.journal_max_age_s,
    )


BACKENDS: dict[str, Backend] = {
    "file": _file_backend,
    "memory": _memory_backend,
    "postgresql": _postgres_backend,
    "postgres": _postgres_backend,
}
"""Storage backends by URL scheme."""


def file_url(path: Path) -> str:
    return Path(path).absolute().as_uri()


def file_path(url: str) -> Path:
    """The path a `file:` URL names."""
    return Path(unquote(urlsplit(url).path))


_path_of = file_path


def scheme_of(url: str) -> str:
    return url.split(":", 1)[0].lower() if ":" in url else ""


def open_storage(url: str, settings: Settings, paths: ProjectPaths | None = None) -> Storage:
    backend = BACKENDS.get(scheme_of(url))
    if backend is None:
        raise InvalidInput(_unknown_scheme(url))
    return backend(url, paths, settings)


def _unknown_scheme(url: str) -> str:
    return f"unknown storage {url!r}: expected a URL starting with " + ", ".join(
        f"{name}:" for name in sorted(BACKENDS)
    )


def check_storage_url(url: str) -> str:
    """`url` without surrounding blanks, if a backend can be opened with it; else InvalidInput
    saying what is wrong (an unknown scheme, a port that is no number, an empty project key).

    Only the form is checked: whether the server answers is the backend's business, on use.
    """
    text = url.strip()
    if not text:
        raise InvalidInput("empty storage URL: expected e.g. postgresql://user@host/db")
    scheme = scheme_of(text)
    if scheme not in BACKENDS:
        raise InvalidInput(_unknown_scheme(text))
    parts = urlsplit(text)
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not unquote(parts.path).strip("/"):
            raise InvalidInput(
                f"malformed storage URL {text!r}: expected file:///absolute/path/tasks.json"
            )
    elif scheme in ("postgresql", "postgres"):
        if not text.lower().startswith(f"{scheme}://"):
            raise InvalidInput(
                f"malformed storage URL {text!r}: expected {scheme}://user@host:port/db"
            )
        try:
            parts.port  # noqa: B018  # raises ValueError for a port that is not a number
        except ValueError as err:
            raise InvalidInput(f"malformed storage URL {_shown(text)}: {err}") from None
        keys = parse_qs(parts.query, keep_blank_values=True).get("project", [])
        if len(keys) > 1 or (keys and not keys[0].strip()):
            raise InvalidInput(
                f"malformed storage URL {_shown(text)}: ?project= must name one project key"
            )
    return text


def _shown(url: str) -> str:
    """A URL as an error may show it: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return repr(url)
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return repr(parts._replace(netloc=f"{user}:***@{netloc[1]}").geturl())


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
    named_by: Path | None = None
    """The project file (`.taskmaster/storage.toml`) that chose the backend, if one did."""

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
    storage_url: str | None = None,
) -> Project:
    """The project at or above `start` (the current directory by default), or around
    `tasks_file` (ProjectNotFound when there is none).

    Where its tasks are: in `storage_url` when one is given (the project then needs no
    directory of its own: its root is the project directory at or above `start` if there is
    one, else `start`); else in the backend its `.taskmaster/storage.toml` names; else in its
    task file. `tasks_file` (`tm --file`) names a task file, so it excludes a storage URL.
    """
    settings = settings or Settings()
    if storage_url is not None:
        if tasks_file is not None:
            raise InvalidInput(
                "a task file (--file) and a storage URL (--storage, TM_STORAGE_URL) both name "
                "where the tasks are: give only one"
            )
        return open_url(storage_url, project_root(start), settings, bus=bus)
    if tasks_file is None:
        root = find_root(start)
        named = read_storage_url(root)
        if named is not None:
            path = storage_file(root)
            try:
                project = open_url(named, root, settings, bus=bus)
            except InvalidInput as err:
                raise InvalidInput(f"{path}: {err}") from None
            project.named_by = path
            return project
        return project_at(ProjectPaths(root, default_tasks_file(root)), settings, bus=bus)
    return project_at(locate(start, tasks_file=tasks_file), settings, bus=bus)


def project_root(start: Path | str | None = None) -> Path:
    """The project directory at or above `start` (the current directory by default), else
    `start` itself: where a project kept in a database keeps its generated files."""
    try:
        return find_root(start)
    except ProjectNotFound:
        return Path(start if start is not None else Path.cwd()).absolute()


def open_url(
    url: str, root: Path, settings: Settings | None = None, *, bus: EventBus | None = None
) -> Project:
    """The project stored at `url` (checked first: InvalidInput), with `root` as its
    directory. A `file:` URL is a task file, with the project around it as `--file` finds
    it."""
    settings = settings or Settings()
    url = check_storage_url(url)
    if scheme_of(url) == "file":
        return project_at(locate(tasks_file=_path_of(url)), settings, bus=bus)
    return _wire(open_storage(url, settings), Path(root).absolute(), None, settings, bus)


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
    core = TaskMaster(storage, bus if bus is not None else LocalBus(), settings.origin)
    return Project(core, root, paths, redis)


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


def init_storage_project(
    directory: Path | str, url: str, settings: Settings | None = None
) -> tuple[Project, list[str]]:
    """Create the project `url` names (and the backend's schema, when it has one) and make
    `directory` name it in `.taskmaster/storage.toml`, so that commands run there find it.

    Idempotent: what exists is left alone, and the list of what was created or written is
    empty the second time. Refused (InvalidInput, nothing changed): a file or memory URL (a
    task file needs no URL: `init_project`), a project file naming another URL, and a
    directory whose task file holds tasks while the URL's project does not exist yet (moving
    them is `tm storage migrate`'s job; this would hide them).
    """
    settings = settings or Settings()
    url = check_storage_url(url)
    scheme = scheme_of(url)
    if scheme in ("file", "memory"):
        raise InvalidInput(
            f"{scheme}: storage needs no `init --storage`: `tm init DIR` creates a project "
            "kept in its task file"
        )
    root = Path(directory).absolute()
    named = read_storage_url(root)
    if named is not None and named != url:
        raise InvalidInput(
            f"{storage_file(root)} already names {_shown(named)}; edit or remove that file to "
            "point this directory at another store"
        )
    storage = open_storage(url, settings)
    try:
        try:
            storage.read()
            exists = True
        except TaskFileMissing:
            exists = False
        tasks_file = default_tasks_file(root)
        if named is None and not exists and _holds_tasks(tasks_file):
            raise InvalidInput(
                f"{root} keeps its tasks in {tasks_file}; `tm storage migrate --to URL` "
                "copies them to the database first, then `tm init --storage URL` points this "
                "directory at it"
            )
        now = utc_now()
        document = Document(
            {DEFAULT_TAG: {"tasks": [], "metadata": {"created": now, "updated": now}}}
        )
        changed = list(storage.create(document, ProjectState(DEFAULT_TAG)))
    except BaseException:
        storage.close()
        raise
    if named is None:
        (root / PROJECT_DIR).mkdir(parents=True, exist_ok=True)
        path = write_storage_url(root, url)
        if urlsplit(url).password is not None:
            path.chmod(0o600)  # it holds a secret now
        changed.append(str(path))
    project = _wire(storage, root, None, settings, None)
    project.named_by = storage_file(root)
    return project, changed


def _holds_tasks(tasks_file: Path) -> bool:
    """Whether a task file exists with at least one task in some tag (an unreadable one
    counts: it is not ours to hide)."""
    if not tasks_file.exists():
        return False
    try:
        document = Document.from_json(tasks_file.read_bytes(), tasks_file)
    except (OSError, ValueError):
        return True
    return any(document.tasks(name) for name in document.tag_names())
