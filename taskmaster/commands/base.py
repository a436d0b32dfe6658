"""A write is a command: a named value with typed parameters and the pure operation it runs.

A command is data. It can be built by any front end (the CLI from its options, REST from a
body, MCP from a tool call, the harness from a scenario), checked the same way
(`from_args`), serialised (`to_args`) and executed by the facade in one storage transaction.
Its parameters are dataclass fields whose metadata (`param(...)`) says their kind and what
they mean: the MCP tool schemas and the OpenAPI request bodies are built from that.
"""

from __future__ import annotations

import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar, cast

import orjson

from taskmaster.errors import BadArgument, ClaimLost
from taskmaster.events import TASK_UPDATED
from taskmaster.fields import REQUIRED as REQUIRED_FIELD
from taskmaster.fields import TaskField
from taskmaster.kinds import TAG, Kind, Schema, schema_of
from taskmaster.model import DEFAULT_TAG, Document, TaskId
from taskmaster.ops.claims import check_fence
from taskmaster.storage.base import Draft, ProjectState

T = TypeVar("T")
C = TypeVar("C", bound="Command[Any]")
log = logging.getLogger(__name__)

REQUIRED = dataclasses.MISSING

COMMANDS: dict[str, type[Command[Any]]] = {}
"""Every command by name (filled as the command modules are imported)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Param:
    """A parameter: its kind, what it means, and its name in JSON (camelCase, like the file)."""

    kind: Kind
    description: str
    arg: str | None = None
    """The name in JSON when it is not the camelCase of the field name."""
    subject: bool = False
    """The ids it holds are what the command writes: a write carrying a claim token must hold
    their claims (`Command.claim_subjects`)."""


def param(
    kind: Kind,
    description: str,
    *,
    default: Any = REQUIRED,
    arg: str | None = None,
    subject: bool = False,
) -> Any:
    """A command parameter (a dataclass field that carries its `Param`)."""
    metadata = {"param": Param(kind, description, arg, subject)}
    if default is REQUIRED:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter as front ends see it."""

    field: str
    arg: str
    kind: Kind
    description: str
    required: bool
    default: Any
    in_values: bool = False
    """The argument is a key of the command's `values` mapping (a task field), not a field of
    its own."""

    def schema(self) -> Schema:
        return schema_of(self.kind, self.description, nullable=not self.required)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class Work:
    """What a command runs on: the transaction's draft, the time of the write, and what the
    change announcement should say (set by the command)."""

    __slots__ = ("also", "draft", "ids", "missing_tag", "now", "tag")

    def __init__(self, draft: Draft, now: str) -> None:
        self.draft = draft
        self.now = now
        self.tag: str | None = None
        """The tag the change is announced under."""
        self.ids: tuple[str, ...] | None = None
        """The ids the change is announced for, when the result does not name them."""
        self.also: list[tuple[str, tuple[str, ...]]] = []
        """Further changes to announce with the commit: (event kind, ids)."""
        self.missing_tag: str | None = None
        """The current tag the project names when it no longer exists (master was used)."""

    @property
    def document(self) -> Document:
        return self.draft.document

    @property
    def state(self) -> ProjectState:
        return self.draft.state

    def resolve(self, tag: str | None) -> str:
        """The tag a command means: its own, or the project's current one (master when the
        project names none, or names one that no longer exists)."""
        if tag:
            return tag
        name = current_tag_of(self.document, self.state)
        named = self.state.current_tag
        if named and named != name:
            self.missing_tag = named
        return name


def current_tag_of(document: Document, state: ProjectState) -> str:
    name = state.current_tag
    if not name or name == DEFAULT_TAG or not document.has_tag(name):
        return DEFAULT_TAG
    return name


_PARAMS_OF: dict[type, tuple[ParamSpec, ...]] = {}
"""Each command class's parameters (`Command.params`)."""


class Command(ABC, Generic[T]):
    """Base of every command. Subclasses are frozen dataclasses that set `name`, `event`
    (the kind of change announced) and `summary`, and implement `apply`."""

    name: ClassVar[str]
    event: ClassVar[str] = TASK_UPDATED
    summary: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            if cls.name in COMMANDS:
                raise TypeError(f"two commands are called {cls.name!r}")
            COMMANDS[cls.name] = cls

    @abstractmethod
    def apply(self, work: Work) -> T:
        """Change `work.draft` and return the result (raise to change nothing)."""

    # fencing --------------------------------------------------------------------------------
    def claim_subjects(self) -> list[TaskId]:
        """The tasks and subtasks the command writes (its `subject` parameters)."""
        subjects: list[TaskId] = []
        for item in dataclasses.fields(cast(Any, self)):
            info = item.metadata.get("param")
            if info is None or not info.subject:
                continue
            value = getattr(self, item.name)
            for each in value if isinstance(value, tuple | list) else (value,):
                if each is not None:
                    subjects.append(each if isinstance(each, TaskId) else TaskId(int(each)))
        return subjects

    def fence(self, work: Work, token: int) -> None:
        """Refuse the write (`ClaimLost`) unless `token` is the live claim of what it writes,
        judged under the transaction's exclusion by the storage's clock."""
        tag = self.fence_tag(work)
        if not work.document.has_tag(tag):
            raise ClaimLost.because(token, f"tag '{tag}' does not exist", tag=tag)
        check_fence(work.document, tag, self.claim_subjects(), token, work.draft.clock())

    def fence_tag(self, work: Work) -> str:
        """The tag whose claims a carried token is checked against: the current one."""
        return work.resolve(None)

    # describing -----------------------------------------------------------------------------
    @classmethod
    def params(cls) -> tuple[ParamSpec, ...]:
        # Built once per class: every write records its arguments (`to_args`), and walking
        # the dataclass fields each time was a measurable share of a server's write.
        found = _PARAMS_OF.get(cls)
        if found is None:
            found = _PARAMS_OF[cls] = (*cls.value_params(), *cls._field_params())
        return found

    @classmethod
    def value_params(cls) -> tuple[ParamSpec, ...]:
        """Parameters kept in `values` (a command that takes task fields lists them here)."""
        return ()

    @classmethod
    def _field_params(cls) -> tuple[ParamSpec, ...]:
        specs = []
        for item in dataclasses.fields(cast(Any, cls)):
            info = item.metadata.get("param")
            if info is None:
                continue
            required = item.default is REQUIRED and item.default_factory is REQUIRED
            specs.append(
                ParamSpec(
                    item.name,
                    info.arg or camel(item.name),
                    info.kind,
                    info.description,
                    required,
                    None if required else item.default,
                )
            )
        return tuple(specs)

    @classmethod
    def input_schema(cls) -> Schema:
        """JSON Schema of the command's arguments (an object keyed by `arg` names)."""
        specs = cls.params()
        return {
            "type": "object",
            "properties": {spec.arg: spec.schema() for spec in specs},
            "required": [spec.arg for spec in specs if spec.required],
            "additionalProperties": False,
        }

    # building and recording ---------------------------------------------------------------
    @classmethod
    def from_args(cls: type[C], args: Mapping[str, Any]) -> C:
        """The command for JSON arguments, each checked by its kind (BadArgument naming the
        first bad or unknown one). A null is the same as leaving the argument out."""
        specs = cls.params()
        known = {spec.arg for spec in specs}
        for key in args:
            if key not in known:
                raise BadArgument(
                    f"unknown argument {key!r} for {cls.name}: expected "
                    + ", ".join(sorted(known)),
                    argument=key,
                )
        values: dict[str, Any] = {}
        for spec in specs:
            value = args.get(spec.arg)
            if value is None:
                if spec.required:
                    raise BadArgument(f"the argument {spec.arg!r} is required", argument=spec.arg)
                continue
            parsed = spec.kind.parse(value, spec.arg)
            if spec.in_values:
                values.setdefault("values", {})[spec.arg] = parsed
            else:
                values[spec.field] = parsed
        return cls(**values)

    def to_args(self) -> dict[str, Any]:
        """The arguments as JSON values (what `from_args` takes back), defaults left out."""
        args: dict[str, Any] = {}
        values: Mapping[str, Any] = getattr(self, "values", {})
        for spec in self.params():
            value = values.get(spec.arg) if spec.in_values else getattr(self, spec.field)
            if value is None or (not spec.required and value == spec.default):
                continue
            args[spec.arg] = spec.kind.dump(value)
        return args

    def to_json(self) -> bytes:
        return orjson.dumps({"command": self.name, "args": self.to_args()})


def command_from_json(data: bytes | str) -> Command[Any]:
    """A recorded command, back (`Command.to_json`'s inverse)."""
    value = orjson.loads(data)
    if not isinstance(value, dict) or value.get("command") not in COMMANDS:
        raise BadArgument("not a recorded command", argument="command")
    return COMMANDS[value["command"]].from_args(value.get("args") or {})


TAG_PARAM_TEXT = "The tag to work on; the project's current tag when left out."


def tag_param() -> Any:
    return param(TAG, TAG_PARAM_TEXT, default=None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskCommand(Command[T]):
    """A command on the tasks of one tag (`tag`, or the current one).

    Every tag whose tasks it changed gets `metadata.updated` set to the time of the write,
    where the reference tool keeps it. Master is made when a project has no tags at all yet.
    """

    tag: str | None = tag_param()

    def fence_tag(self, work: Work) -> str:
        return work.resolve(self.tag)

    def apply(self, work: Work) -> T:
        name = work.resolve(self.tag)
        work.tag = name
        document = work.document
        if name == DEFAULT_TAG and not document.has_tag(name):
            document.put_tag(name, {"tasks": [], "metadata": {}})
        document.tag(name)  # TagNotFound before anything else
        also = self.also_changes()
        touched = (name,) if also is None or also == name else (name, also)
        checks = [work.draft.watch_tasks(each) for each in touched]
        result = self.run(document, name, work)
        for each, changed in zip(touched, checks, strict=True):
            if changed():
                stamp_updated(document, each, work.now)
        return result

    @abstractmethod
    def run(self, document: Document, tag: str, work: Work) -> T:
        """Change `document`'s tag `tag` and return the result (raise to change nothing)."""

    def also_changes(self) -> str | None:
        """A second tag the command may change (a move to another tag)."""
        return None


def stamp_updated(document: Document, tag: str, now: str) -> None:
    value = document.tag(tag)
    metadata = value.get("metadata")
    if metadata is None and document.flat:
        return  # an old flat file without metadata keeps its shape
    if not isinstance(metadata, dict):
        metadata = value["metadata"] = {}
    metadata["updated"] = now


def task_field_params(fields: Iterable[TaskField]) -> tuple[ParamSpec, ...]:
    """Parameters for task fields (kept in a command's `values`, by their stored names)."""
    return tuple(
        ParamSpec(
            "values",
            field.name,
            field.kind,
            field.description,
            field.default is REQUIRED_FIELD,
            None if field.default is REQUIRED_FIELD else field.default,
            in_values=True,
        )
        for field in fields
    )
