"""The kinds of value a command parameter or a task field takes: how each is described and
checked.

One kind per shape of argument (text, a list of ids, a status...). A kind turns a JSON value
(as a REST body or an MCP call carries it) into the Python value a command holds, refusing a
bad one with `BadArgument` naming the argument; it turns the value back into JSON (so a
command can be recorded and replayed); and it describes itself as JSON Schema, which the MCP
tool schemas and the OpenAPI document are built from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from taskmaster.errors import BadArgument, InvalidInput
from taskmaster.model import (
    PRIORITIES,
    STATUSES,
    TAG_NAME,
    TaskId,
    json_type_name,
)

Schema = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    schema: Schema
    parse: Callable[[Any, str], Any]
    """(JSON value, argument name) -> the command's value; BadArgument if it is not one."""
    dump: Callable[[Any], Any] = field(default=lambda value: value)
    """The command's value -> JSON."""


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise BadArgument(f"{name!r} must be a string, not {json_type_name(value)}", argument=name)
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise BadArgument(
            f"{name!r} must be true or false, not {json_type_name(value)}", argument=name
        )
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def parse(value: Any, name: str) -> str:
        text = _text(value, name)
        if text not in choices:
            raise BadArgument(
                f"invalid {name} {text!r}: expected one of {', '.join(choices)}", argument=name
            )
        return text

    return parse


def task_id(value: Any, name: str) -> TaskId:
    """An id given as a number (3) or a string ("3", "3.2"), by the model's rule."""
    if isinstance(value, TaskId):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadArgument(f'{name!r} must be a task id such as 3 or "3.2"', argument=name)
    try:
        return TaskId.parse(value)
    except InvalidInput as err:
        raise BadArgument(str(err), argument=name) from None


def _task_number(value: Any, name: str) -> int:
    parsed = task_id(value, name)
    if parsed.is_subtask:
        raise BadArgument(f"{name!r} must be a task id, not the subtask id {parsed}", argument=name)
    return parsed.task


def _ids(value: Any, name: str) -> tuple[TaskId, ...]:
    """A list of ids, or one string of comma-separated ids ("1,2.3") as the CLI takes them."""
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, int | TaskId) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple):
        raise BadArgument(
            f"{name!r} must be a list of task ids, not {json_type_name(value)}", argument=name
        )
    return tuple(task_id(item, name) for item in value)


def _some_ids(value: Any, name: str) -> tuple[TaskId, ...]:
    ids = tuple(dict.fromkeys(_ids(value, name)))
    if not ids:
        raise BadArgument(f"{name!r} must list at least one task id", argument=name)
    return ids


def _task_numbers(value: Any, name: str) -> tuple[int, ...]:
    return tuple(_task_number(item, name) for item in _some_ids(value, name))


def _tag(value: Any, name: str) -> str:
    if not isinstance(value, str) or not TAG_NAME.fullmatch(value):
        raise BadArgument(
            f"invalid tag name {value!r}: use letters, digits, '-' and '_'", argument=name
        )
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadArgument(f"{name!r} must be an object, not {json_type_name(value)}", argument=name)
    return value


def _token(value: Any, name: str) -> int:
    """A fencing token: a positive integer (or its digits, as a header or the CLI carry it)."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if type(value) is not int or value < 1:
        raise BadArgument(
            f"{name!r} must be a claim token (a positive integer), not {value!r}", argument=name
        )
    return value


_DURATION = re.compile(
    r"(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?"
)


def parse_duration(value: Any, name: str) -> float:
    """A length of time in seconds, more than zero: a number, or text such as ``90``, ``30s``,
    ``5m``, ``1h30m``, ``2d``. What a kind of argument allows beyond that (a lease: at most
    seven days) is its operation's rule."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            match = _DURATION.fullmatch(text)
            if match and text and any(match.groups()):
                days, hours, minutes, secs = (float(part or 0) for part in match.groups())
                seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    if seconds is None or seconds != seconds:  # NaN is no length
        raise BadArgument(
            f"{name!r} must be a duration such as 90, 30s, 5m or 1h30m, not {value!r}",
            argument=name,
        )
    if not seconds > 0:
        raise BadArgument(f"{name!r} must be more than 0 seconds, not {value!r}", argument=name)
    return seconds


def _dump_ids(ids: tuple[TaskId, ...]) -> list[str]:
    return [str(item) for item in ids]


ID_SCHEMA: Schema = {
    "anyOf": [
        {"type": "integer", "minimum": 1},
        {"type": "string", "pattern": r"^[1-9][0-9]*(\.[1-9][0-9]*)?$"},
    ]
}

TEXT = Kind("text", {"type": "string"}, _text)
FLAG = Kind("flag", {"type": "boolean"}, _flag)
STATUS = Kind("status", {"type": "string", "enum": list(STATUSES)}, _choice(STATUSES))
PRIORITY = Kind("priority", {"type": "string", "enum": list(PRIORITIES)}, _choice(PRIORITIES))
# JSON Schema patterns match anywhere in the string: anchored, as `fullmatch` checks it.
TAG = Kind("tag", {"type": "string", "pattern": f"^{TAG_NAME.pattern}$"}, _tag)
ID = Kind("id", ID_SCHEMA, task_id, str)
TASK_NUMBER = Kind("task-number", {"type": "integer", "minimum": 1}, _task_number)
IDS = Kind("ids", {"type": "array", "items": ID_SCHEMA}, _ids, _dump_ids)
SOME_IDS = Kind("ids", {"type": "array", "items": ID_SCHEMA, "minItems": 1}, _some_ids, _dump_ids)
TASK_NUMBERS = Kind(
    "task-numbers",
    {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
    _task_numbers,
    list,
)
OBJECT = Kind("object", {"type": "object"}, _object)
TOKEN = Kind("token", {"type": "integer", "minimum": 1}, _token)
DURATION = Kind(
    "duration",
    {
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0},
            {
                "type": "string",
                "pattern": r"^([0-9]+(\.[0-9]+)?|([0-9.]+d)?([0-9.]+h)?([0-9.]+m)?([0-9.]+s)?)$",
            },
        ]
    },
    parse_duration,
)
"""A length of time: seconds, or text such as 30s, 5m, 1h30m."""


def schema_of(kind: Kind, description: str, *, nullable: bool = False) -> Schema:
    """The kind's JSON Schema with a description (and `null` allowed when optional)."""
    schema: Mapping[str, Any] = kind.schema
    if nullable:
        return {"anyOf": [dict(schema), {"type": "null"}], "description": description}
    return {**schema, "description": description}
