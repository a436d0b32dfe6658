"""Moving a project's tasks between backends: export, import, migrate, and what a store is.

The interchange format is claude-task-master's `tasks.json`, written exactly as the file
backend writes it (`Document.to_json()`), so an export of a project kept in PostgreSQL is the
file that project would be in the file backend, byte for byte, unknown keys included. An
import or a migration replaces the target's document in one transaction of the target: it
lands whole or not at all, and a file that does not parse changes nothing.

The state (the current tag) travels beside the document: `migrate` copies it, `export` writes
it into a `state.json` beside the export only when asked, `import` reads one only when asked.
The state keeps the current tag alone; the reference tool's other `state.json` keys are not
carried between backends.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from taskmaster.compose import (
    Project,
    Settings,
    check_storage_url,
    file_path,
    open_url,
    scheme_of,
)
from taskmaster.core import TaskMaster
from taskmaster.errors import CorruptStateFile, CorruptTaskFile, InvalidInput, TaskFileMissing
from taskmaster.events import FILE_CHANGED, Event
from taskmaster.journal.entry import new_entry, utc_stamp
from taskmaster.model import Document
from taskmaster.storage.atomic import replace_file
from taskmaster.storage.base import Commit, Draft, ProjectState, Snapshot, Storage

STATE_FILE = "state.json"


def export_bytes(storage: Storage) -> tuple[bytes, Snapshot]:
    """The project's document as the file backend writes it, and the snapshot it came from."""
    snapshot = storage.read()
    return snapshot.document.to_json(), snapshot


def state_bytes(state: ProjectState) -> bytes:
    """`state.json` for `state`, as the file backend writes a new one."""
    data = {} if state.current_tag is None else {"currentTag": state.current_tag}
    return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"


def export_to(storage: Storage, target: Path, *, with_state: bool = False) -> dict[str, Any]:
    """Write the export to `target` atomically (and `state.json` beside it if asked)."""
    raw, snapshot = export_bytes(storage)
    target = target.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    written = []
    if with_state:
        state_path = target.parent / STATE_FILE
        if state_path == target:
            raise InvalidInput(f"{target} is where the state goes: export the tasks elsewhere")
        replace_file(state_path, state_bytes(snapshot.state))
        written.append(str(state_path))
    replace_file(target, raw)
    written.insert(0, str(target))
    return {
        "to": str(target),
        "written": written,
        "revision": snapshot.revision,
        "bytes": len(raw),
        "tasks": count_tasks(snapshot.document),
    }


def count_tasks(document: Document) -> int:
    return sum(len(document.tasks(name)) for name in document.tag_names())


def load_document(path: Path) -> Document:
    """A task file to import, parsed and checked; CorruptTaskFile (naming its place) when it
    is not one, before anything is written anywhere."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"no file {path} to import") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not a task file") from None
    try:
        return Document.from_json(raw, path)
    except CorruptTaskFile as err:
        raise type(err)(f"{err.message}; nothing was imported", **err.details) from None


def load_state(path: Path) -> ProjectState:
    """The current tag a `state.json` names (CorruptStateFile when it does not parse)."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise InvalidInput(f"no state file {path} beside the file to import") from None
    except orjson.JSONDecodeError as err:
        raise CorruptStateFile.at(path, str(err)) from None
    tag = data.get("currentTag") if isinstance(data, dict) else None
    if not isinstance(data, dict) or (tag is not None and not isinstance(tag, str)):
        raise CorruptStateFile.at(path, "expected an object with a string currentTag")
    return ProjectState(tag or None)


def replacing(document: Document, state: ProjectState | None) -> Callable[[Draft], int]:
    """The operation that makes a draft hold `document` (and `state`, when given).

    The draft's document is changed in place, through the mutating methods of its top-level
    object, as any command changes it: a backend that tracks what a command changed sees every
    tag replaced. What already holds the same tasks (or state) is left untouched, so that a
    backend that tracks changes sees none and the import commits nothing. Returns the number
    of tasks now held.
    """
    wanted = document.to_json()

    def apply(draft: Draft) -> int:
        target = draft.document
        if target.to_json() != wanted:
            if target.flat != document.flat:
                target.data, target.flat = dict(document.data), document.flat
            else:
                for key in list(target.data):
                    del target.data[key]
                for key, value in document.data.items():
                    target.data[key] = value
        if state is not None and draft.state != state:
            draft.state = state
        return count_tasks(document)

    return apply


def import_into(
    core: TaskMaster, document: Document, state: ProjectState | None = None
) -> Commit[int]:
    """Replace the project's document (and state, when given) in one transaction, and
    announce the change as one of the whole project."""
    replace = replacing(document, state)

    def journaled(draft: Draft) -> int:
        count = replace(draft)
        draft.journal = lambda changes: new_entry(
            origin=core.origin,
            time=utc_stamp(),
            changes=changes,
            command="import",
            events=[(FILE_CHANGED, ())],
        )
        return count

    commit = core.storage.transact(journaled)
    if commit.changed:
        core.bus.publish(
            Event(FILE_CHANGED, commit.revision, core.instance_id, actor=core.origin.actor)
        )
    return commit


def is_empty(storage: Storage) -> bool:
    """No project at all, or one without a single task in any tag."""
    try:
        snapshot = storage.read()
    except TaskFileMissing:
        return True
    return count_tasks(snapshot.document) == 0


def migrate(
    source: Project, target_url: str, settings: Settings, *, force: bool = False
) -> dict[str, Any]:
    """Copy `source`'s document and state to the store `target_url` names.

    The target is created when missing (a task file, or the database's schema and project).
    A target that holds tasks is refused unless `force`; so is the source itself. Afterwards
    the target is read back and compared with what was sent (`verified`).
    """
    target_url = check_storage_url(target_url)
    if scheme_of(target_url) == "memory":
        raise InvalidInput("memory: holds a project only inside one process: migrate elsewhere")
    snapshot = source.core.storage.read()
    if scheme_of(target_url) == "file":
        # Before opening: the project around a task file is found from its folder.
        file_path(target_url).parent.mkdir(parents=True, exist_ok=True)
    target = open_url(target_url, source.root, settings)
    try:
        storage = target.core.storage
        if storage.key == source.core.storage.key:
            raise InvalidInput(f"{target_url} is the project itself: nothing to migrate")
        if not force and not is_empty(storage):
            raise InvalidInput(
                f"{storage.describe().get('location', target_url)} already holds tasks; "
                "--force replaces them"
            )
        if target.paths is not None:  # a task file outside a project: its state's folder
            target.paths.state_file.parent.mkdir(parents=True, exist_ok=True)
        created = storage.create(snapshot.document, snapshot.state)
        commit = import_into(target.core, snapshot.document, snapshot.state)
        copied = storage.read()
        verified = copied.document.to_json() == snapshot.document.to_json()
        return {
            "from": dict(source.core.storage.describe()),
            "to": dict(storage.describe()),
            "created": created,
            "tasks": count_tasks(snapshot.document),
            "revision": commit.revision,
            "verified": verified and copied.state == snapshot.state,
        }
    finally:
        target.close()


def storage_info(project: Project) -> dict[str, Any]:
    """What `tm storage info` and health show of the store: backend, location, revision."""
    storage = project.core.storage
    info: dict[str, Any] = dict(storage.describe())
    info["key"] = storage.key
    version = getattr(storage, "schema_version", None)
    if callable(version):
        info["schemaVersion"] = version()
    info["revision"] = storage.revision()
    if project.named_by is not None:
        info["projectFile"] = str(project.named_by)
    if project.paths is not None:
        info["tasksFile"] = str(project.paths.tasks_file)
    return info


__all__ = [
    "count_tasks",
    "export_bytes",
    "export_to",
    "import_into",
    "is_empty",
    "load_document",
    "load_state",
    "migrate",
    "state_bytes",
    "storage_info",
]
