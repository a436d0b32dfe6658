"""What each write route takes in its JSON body, derived from the command the route builds.

A `Body` lists the members a request may send. Most are parameters of the route's command:
their kind (how a value is checked), description and whether they are required come from the
command's `params()`, so a parameter added to a command is accepted here and documented in
the OpenAPI document without a second description. A few members exist only over HTTP
(`prompt` of a new task, `all` of clear-subtasks); they carry their own kind and words.

Reading a body checks each member by its kind under the name the client sent, so a refusal
is a 400 naming that member; the resource then builds the command with `from_args`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import falcon

from taskmaster.api import inputs
from taskmaster.api.problems import argument_of, invalid
from taskmaster.commands import (
    AddDependency,
    AddSubtask,
    AddTag,
    AddTask,
    AppendSubtaskNotes,
    ClaimTask,
    ClearSubtasks,
    Command,
    Move,
    MoveToTag,
    PlaceBefore,
    RenameTag,
    RenewClaim,
    SetStatus,
    Undo,
    UseTag,
)
from taskmaster.commands.base import ParamSpec
from taskmaster.errors import BadArgument
from taskmaster.fields import TASK_FIELDS
from taskmaster.kinds import FLAG, TEXT, Kind, Schema, schema_of
from taskmaster.model import json_type_name

C = TypeVar("C", bound=Command[Any])

NON_EMPTY = r"\S"


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a body: how it is checked and described, and the argument it fills."""

    kind: Kind
    description: str
    arg: str | None = None
    """The command argument it becomes (None: only the resource reads it)."""
    required: bool = False
    nullable: bool = True
    """Whether `null` is accepted (it means the same as leaving the member out)."""
    non_empty: bool = False
    """A text that must not be blank (a title, a note): said in the schema, checked here."""
    blank_is_absent: bool = False
    """A blank text counts as left out (the resource decides), not as an error."""

    def schema(self) -> Schema:
        schema = schema_of(self.kind, self.description, nullable=self.nullable)
        if self.non_empty:
            branch = schema["anyOf"][0] if self.nullable else schema
            branch["pattern"] = NON_EMPTY
        return schema

    def check(self, value: Any, name: str) -> None:
        """A 400 naming the member unless `value` (not null) is one of its kind."""
        if self.kind.schema.get("type") == "array" and not isinstance(value, list):
            # The kinds also take "1,2" and a bare id, as the CLI writes them; a JSON body
            # says what it means with an array.
            raise invalid(name, f"{name!r} must be a list of task ids, not {json_type_name(value)}")
        with named({}):
            self.kind.parse(value, name)
        if self.non_empty and not self.blank_is_absent and not value.strip():
            raise invalid(name, f"{name!r} must not be empty")


def member(
    command: type[Command[Any]],
    arg: str,
    *,
    description: str | None = None,
    required: bool | None = None,
    non_empty: bool = False,
    blank_is_absent: bool = False,
) -> Member:
    """A member that is the command's parameter `arg` (its kind and words)."""
    spec = spec_of(command, arg)
    needed = spec.required if required is None else required
    return Member(
        spec.kind,
        description or spec.description,
        arg=spec.arg,
        required=needed,
        nullable=not needed,
        non_empty=non_empty,
        blank_is_absent=blank_is_absent,
    )


def spec_of(command: type[Command[Any]], arg: str) -> ParamSpec:
    for spec in command.params():
        if spec.arg == arg:
            return spec
    raise LookupError(f"{command.name} has no argument {arg!r}")


@dataclass(frozen=True)
class Body:
    """The members a route's body may have; `name` is its schema in the OpenAPI document."""

    name: str
    members: Mapping[str, Member]
    description: str = ""
    constraints: Schema = field(default_factory=dict)
    """Schema keywords about the body as a whole (`anyOf` of required members...)."""
    optional: bool = False
    """The request may come without a body (every member has a default)."""

    def schema(self) -> Schema:
        schema: Schema = {"type": "object"}
        if self.description:
            schema["description"] = self.description
        required = [name for name, each in self.members.items() if each.required]
        if required:
            schema["required"] = required
        schema.update(self.constraints)
        schema["properties"] = {name: each.schema() for name, each in self.members.items()}
        schema["additionalProperties"] = False
        return schema

    def read(self, req: falcon.Request, max_bytes: int) -> dict[str, Any]:
        """The request's body, every member present checked by its kind; null members are
        dropped where null means "left out"."""
        required = [name for name, each in self.members.items() if each.required]
        body = inputs.read_object(
            req, max_bytes, allowed=self.members, required=required, optional=self.optional
        )
        checked: dict[str, Any] = {}
        for name, value in body.items():
            each = self.members[name]
            if value is None:
                if not each.nullable:
                    raise invalid(name, f"{name!r} cannot be null")
                continue
            each.check(value, name)
            if each.blank_is_absent and not value.strip():
                continue
            checked[name] = value
        return checked

    def args(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The command arguments the body's members fill."""
        return {
            each.arg: body[name]
            for name, each in self.members.items()
            if each.arg is not None and name in body
        }


@contextmanager
def named(rename: Mapping[str, str]) -> Iterator[None]:
    """A command argument refused while a request is turned into a command is a 400 naming
    what the client sent: the argument's name over HTTP (`rename`), or its own."""
    try:
        yield
    except BadArgument as err:
        argument = argument_of(err)
        name = rename.get(argument, argument)
        raise invalid(name, err.message) from None


def to_command(
    command: type[C], args: Mapping[str, Any], rename: Mapping[str, str] | None = None
) -> C:
    """`command.from_args(args)`, a refusal naming the request's member: an argument the
    request calls otherwise (`rename`: command argument -> its name here) is checked under
    that name first, so the message speaks of what the client sent."""
    with named(rename or {}):
        for arg, name in (rename or {}).items():
            if args.get(arg) is not None:
                spec_of(command, arg).kind.parse(args[arg], name)
        return command.from_args(args)


def _members(command: type[Command[Any]], *args: str, **overrides: Member) -> dict[str, Member]:
    return {**{arg: member(command, arg) for arg in args}, **overrides}


# The bodies, one per write route that takes one ------------------------------------------------

NEW_TASK = Body(
    "NewTask",
    {
        **_members(
            AddTask,
            *(spec.arg for spec in AddTask.params()),
            title=member(AddTask, "title", required=False, non_empty=True, blank_is_absent=True),
        ),
        "prompt": Member(
            TEXT,
            "What the task is about, when no title is given: there is no AI model here, so "
            "the text becomes the title and, unless given, the description.",
            non_empty=True,
            blank_is_absent=True,
        ),
    },
    description="Give `title`, or `prompt` (then it becomes the title and, unless given, the "
    "description). `tag` may also come in the query; both must then agree.",
    constraints={"anyOf": [{"required": ["title"]}, {"required": ["prompt"]}]},
)

TASK_PATCH = Body(
    "TaskPatch",
    {
        # The body is the command's `fields`: one member per updatable field of the table.
        each.name: Member(
            each.kind,
            each.description,
            arg=each.name,
            nullable=False,
            non_empty=each.name == "title",
        )
        for each in TASK_FIELDS
        if each.on_update
    },
    description="The fields to replace; the others stay as they are (`metadata` replaces the "
    "old object).",
    constraints={"minProperties": 1},
)

STATUS_CHANGE = Body("StatusChange", _members(SetStatus, "status"))

STATUS_CHANGE_MANY = Body(
    "StatusChangeMany",
    _members(SetStatus, "ids", "status"),
    description="Several items in one transaction: all ids must exist, or nothing changes.",
)

NEW_SUBTASK = Body(
    "NewSubtask",
    _members(
        AddSubtask,
        *(spec.arg for spec in AddSubtask.params() if spec.arg not in ("parent", "tag")),
        title=member(AddSubtask, "title", non_empty=True),
    ),
)

SUBTASK_NOTE = Body("SubtaskNote", {"text": member(AppendSubtaskNotes, "text", non_empty=True)})

MOVE = Body(
    "Move",
    {
        # One body, three commands: `move` (from, to), `place-before` (one from, before) and
        # `move-to-tag` (from, toTag; fromTag is that command's `tag`).
        "from": member(Move, "from"),
        "to": member(Move, "to", required=False),
        "before": member(PlaceBefore, "before", required=False),
        "fromTag": member(MoveToTag, "tag", description="To another tag: the tag they leave."),
        **_members(
            MoveToTag,
            "withDependencies",
            "ignoreDependencies",
            toTag=member(MoveToTag, "toTag", required=False),
        ),
    },
    description="Within a tag give `from` and `to` (one target per id: an unused id renumbers, "
    "an existing task id is refused, `P.S` makes it a subtask of P). To reorder give one "
    "`from` task and `before` (no id changes). To another tag give `from` and `toTag` (whole "
    "tasks, appended; renumbered if their ids are taken there), and optionally `fromTag`.",
)

CLEAR_SUBTASKS = Body(
    "ClearSubtasks",
    {
        "ids": member(ClearSubtasks, "ids"),
        "all": Member(FLAG, "Remove the subtasks of every task of the tag."),
    },
    description="Give `ids` (tasks) or `all: true`, not both.",
)

DEPENDENCY_ADD = Body("DependencyAdd", _members(AddDependency, "dependsOn"))

NEW_TAG = Body("NewTag", _members(AddTag, *(spec.arg for spec in AddTag.params())))

TAG_RENAME = Body("TagRename", {"name": member(RenameTag, "new")})

TAG_CHOICE = Body("TagChoice", _members(UseTag, "name"))

NEW_CLAIM = Body(
    "NewClaim",
    {
        "agent": member(ClaimTask, "agent", non_empty=True),
        **_members(ClaimTask, "id", "lease"),
    },
    description="Without `id`, the task `next` would pick among those no live claim holds. "
    "The tag comes in the query (`?tag=`).",
)

CLAIM_RENEWAL = Body(
    "ClaimRenewal",
    _members(RenewClaim, "lease"),
    description="The lease runs from now; the body may be left out (the default lease).",
    optional=True,
)

MAX_REVISION = 2**53 - 1
"""Revisions count commits: a larger one names none, and JSON could not carry it exactly."""


def _revision(value: Any, name: str) -> int:
    if type(value) is not int or not 1 <= value <= MAX_REVISION:
        raise BadArgument(
            f"{name!r} must be a revision (an integer from 1 to {MAX_REVISION}), "
            f"not {json_type_name(value) if type(value) is not int else value}",
            argument=name,
        )
    return value


REVISION = Kind("revision", {"type": "integer", "minimum": 1, "maximum": MAX_REVISION}, _revision)

UNDO = Body(
    "UndoRequest",
    {
        "revision": Member(
            REVISION,
            spec_of(Undo, "revision").description,
            arg="revision",
            required=True,
            nullable=False,
        )
    },
    description="The revision whose change to take back, as the history lists it.",
)

BODIES = (
    NEW_TASK,
    TASK_PATCH,
    STATUS_CHANGE,
    STATUS_CHANGE_MANY,
    NEW_SUBTASK,
    SUBTASK_NOTE,
    MOVE,
    CLEAR_SUBTASKS,
    DEPENDENCY_ADD,
    NEW_TAG,
    TAG_RENAME,
    TAG_CHOICE,
    NEW_CLAIM,
    CLAIM_RENEWAL,
    UNDO,
)
