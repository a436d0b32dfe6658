"""Reading what a client sent: the JSON body, query parameters and path ids, each checked here
(the members of a write's body by the kinds of its command's parameters, see `bodies`).

Every rejection is a 400 problem that names the field and says why, so a client can fix its
request without reading the server's code. The core checks again (it is the authority), but
its errors do not know which request field a value came from.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import falcon
import orjson

from taskmaster.api.problems import Problem, invalid
from taskmaster.errors import InvalidInput
from taskmaster.model import (
    MAX_JSON_DEPTH,
    STATUSES,
    TAG_NAME,
    TaskId,
    depth_of_item_field,
    json_depth,
    json_type_name,
)

MAX_MEMBER_DEPTH = MAX_JSON_DEPTH - depth_of_item_field(TaskId(1, 1))
"""How deep a request member may nest: once stored it sits inside the document, a tag, the
task list, a task, its subtask list and a subtask (a subtask's `metadata` is the deepest place
a request writes to), and the whole file can be written at most `MAX_JSON_DEPTH` deep."""

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def is_json_media_type(content_type: str | None) -> bool:
    """`application/json` or a structured `+json` type (such as `application/merge-patch+json`)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        f"the request body is larger than the limit of {limit} bytes",
        kind="body-too-large",
        title="Request body too large",
        limit=limit,
    )


def unsupported_media_type(content_type: str | None) -> Problem:
    return Problem(
        415,
        f"the body must be application/json, not {content_type or 'untyped'}",
        kind="unsupported-media-type",
    )


def read_json(req: falcon.Request, max_bytes: int, *, optional: bool = False) -> Any:
    """The parsed JSON body. The middleware already refused a declared oversize body; reading
    at most one byte past the limit also bounds a body whose length was not declared. With
    `optional`, no body at all reads as an empty object (every member left out)."""
    if req.content_length is not None and req.content_length > max_bytes:
        raise too_large(max_bytes)
    raw = req.bounded_stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise too_large(max_bytes)
    if not raw.strip():
        if optional:
            return {}
        raise invalid("body", "this request needs a JSON body")
    if not is_json_media_type(req.content_type):
        raise unsupported_media_type(req.content_type)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise invalid("body", f"the body is not valid JSON: {err}") from None


def read_object(
    req: falcon.Request,
    max_bytes: int,
    *,
    allowed: Collection[str],
    required: Iterable[str] = (),
    optional: bool = False,
) -> dict[str, Any]:
    """A JSON object body with only `allowed` members and all `required` ones (with
    `optional`, no body is an empty object)."""
    body = read_json(req, max_bytes, optional=optional)
    if not isinstance(body, dict):
        raise invalid("body", f"the body must be a JSON object, not {json_type_name(body)}")
    for key in body:
        if key not in allowed:
            raise invalid(key, f"unknown field {key!r}; accepted: {', '.join(sorted(allowed))}")
    for key in required:
        if key not in body:
            raise invalid(key, f"the field {key!r} is required")
    for key, value in body.items():
        if json_depth(value) > MAX_MEMBER_DEPTH:
            raise invalid(
                key,
                f"{key!r} is nested more than {MAX_MEMBER_DEPTH} levels deep, "
                "deeper than the task file can store",
            )
    return body


# ids and names (path values and query parameters) ------------------------------------------


def task_id(value: object, field: str) -> TaskId:
    """An id given as a number (3) or a string ("3", "3.2"); the model's rule (ASCII digits,
    1 to 2^53 - 1, the digit count bounded before conversion) makes any other a 400 naming
    the field."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid(field, f'{field!r} must be a task id such as 3 or "3.2"')
    try:
        return TaskId.parse(value)
    except InvalidInput as err:
        raise invalid(field, str(err)) from None


def tag_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not TAG_NAME.fullmatch(value):
        raise invalid(field, f"invalid tag name {value!r}: use letters, digits, '-' and '_'")
    return value


# query parameters ------------------------------------------------------------------------------


def query_tag(req: falcon.Request) -> str | None:
    value = req.get_param("tag")
    if value is None or value == "":
        return None
    return tag_name(value, "tag")


def query_bool(req: falcon.Request, name: str, default: bool) -> bool:
    value = req.get_param(name)
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise invalid(name, f"{name!r} must be a boolean (true or false), not {value!r}")


def query_statuses(req: falcon.Request) -> list[str] | None:
    """`status=pending,done` or repeated `status=` parameters; None when not given."""
    values = req.get_param_as_list("status") or []
    wanted: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if part not in STATUSES:
                raise invalid(
                    "status", f"invalid status {part!r}: expected one of {', '.join(STATUSES)}"
                )
            if part not in wanted:
                wanted.append(part)
    return sorted(wanted) or None


def path_id(raw: str, field: str = "id") -> TaskId:
    return task_id(raw, field)


def query_int(req: falcon.Request, name: str, default: int, *, minimum: int, maximum: int) -> int:
    """An integer query parameter in [minimum, maximum]; `default` when absent or empty."""
    value = req.get_param(name)
    if value is None or value == "":
        return default
    text = value.strip()
    # Digits only (no sign, no "1_000", no other scripts' digits), bounded before conversion.
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        raise invalid(
            name, f"{name!r} must be an integer from {minimum} to {maximum}, not {value!r}"
        )
    number = int(text)
    if not minimum <= number <= maximum:
        raise invalid(
            name, f"{name!r} must be an integer from {minimum} to {maximum}, not {number}"
        )
    return number


def query_text(req: falcon.Request, name: str, *, max_length: int) -> str | None:
    """A free text query parameter (stripped); None when absent or empty."""
    value = req.get_param(name)
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > max_length:
        raise invalid(name, f"{name!r} is longer than {max_length} characters")
    return text
