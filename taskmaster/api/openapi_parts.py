"""The reusable parts of the OpenAPI document: parameters, headers, problem responses, and
the two shapes of operation (a cached read, a write under `If-Match`).

Every write documents the problems it can answer with (400 invalid input, 401, 404, 412,
413, 415, 429, 503...): the fuzz test holds the server to that list.
"""

from __future__ import annotations

from typing import Any

from taskmaster.api.bodies import Body
from taskmaster.kinds import ID_SCHEMA, TAG

JSON = "application/json"
PROBLEM = "application/problem+json"
# The patterns the commands check ids and tag names by (see commands/kinds.py).
TASK_ID_PATTERN: str = ID_SCHEMA["anyOf"][1]["pattern"]
TAG_PATTERN: str = TAG.schema["pattern"]

Schema = dict[str, Any]

PROBLEM_TEXT = {
    400: "Invalid input: malformed JSON, or a missing or invalid field (`field` names it).",
    401: "A write without a valid bearer token (only when the server has a token).",
    404: "No such task, subtask or tag, or no such route; `entry-not-found`: no journal entry "
    "of the revision an undo names (never committed, or compacted away).",
    409: "Conflict with the current state: a dependency cycle (`cycle` lists it), an existing "
    "tag, or the protected `master` tag; `claim-held`: another agent's live claim holds the "
    "task (`agent`, `token`, `expiresAt`, `taskId`); `claim-lost`: the `Claim-Token` (or the "
    "claim renewed or released) is no live claim of what the request writes (`token`, "
    "`taskId`), and nothing was written; `undo-refused`: a later change touched what the undo "
    "would restore (`later` names those revisions), or the entry records nothing to restore.",
    412: "`If-Match` does not name the current revision.",
    413: "The request body is larger than the server's limit.",
    415: "The request body is not `application/json`.",
    429: "Rate limit exceeded; `Retry-After` says when to retry.",
    500: "An unexpected error; details are in the server log, never in the response.",
    503: "The task file is busy (lock timeout), corrupt, missing or cannot be read or written "
    "(`storage-error`: a directory in its place, permission denied, a full disk); "
    "`Retry-After` is set.",
}

READ_ERRORS = (400, 404, 429, 500, 503)
WRITE_ERRORS = (400, 401, 404, 412, 413, 415, 429, 500, 503)


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def headers() -> dict[str, Any]:
    def integer(description: str) -> dict[str, Any]:
        return {"description": description, "schema": {"type": "integer"}}

    return {
        "ETag": {
            "description": 'The revision the body reflects, quoted: `"<revision>"`.',
            "schema": {"type": "string"},
        },
        "Location": {
            "description": "The URL of the created resource.",
            "required": True,
            "schema": {"type": "string"},
        },
        "RateLimit-Limit": integer("Requests allowed per window (when rate limiting is on)."),
        "RateLimit-Remaining": integer("Requests left in the current window."),
        "RateLimit-Reset": integer("Seconds until the window has room again."),
        "Retry-After": integer("Seconds to wait before retrying."),
        "WWW-Authenticate": {"description": "`Bearer`.", "schema": {"type": "string"}},
    }


def rate_headers() -> dict[str, Any]:
    return {
        name: {"$ref": f"#/components/headers/{name}"}
        for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
    }


def problem_responses() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, text in PROBLEM_TEXT.items():
        headers = rate_headers()
        if status in (429, 503):
            headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
        if status == 401:
            headers["WWW-Authenticate"] = {"$ref": "#/components/headers/WWW-Authenticate"}
        responses[f"Problem{status}"] = {
            "description": text,
            "headers": headers,
            "content": {PROBLEM: {"schema": ref("Problem")}},
        }
    return responses


def errors(statuses: tuple[int, ...]) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/Problem{s}"} for s in statuses}


def ok(description: str, schema: Schema | None, *, etag: bool = True, **headers: Any) -> Schema:
    response: Schema = {"description": description}
    all_headers = rate_headers()
    if etag:
        all_headers["ETag"] = {"$ref": "#/components/headers/ETag"}
    all_headers.update(headers)
    response["headers"] = all_headers
    if schema is not None:
        response["content"] = {JSON: {"schema": schema}}
    return response


def location() -> dict[str, Any]:
    return {"Location": {"$ref": "#/components/headers/Location"}}


def request_body(schema_name: str, *, required: bool = True) -> Schema:
    return {"required": required, "content": {JSON: {"schema": ref(schema_name)}}}


def param(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


def parameters() -> dict[str, Any]:
    return {
        "TaskIdPath": {
            "name": "id",
            "in": "path",
            "required": True,
            "description": "A task id (`3`) or subtask id (`3.2`).",
            "schema": {"type": "string", "pattern": TASK_ID_PATTERN},
        },
        "DependencyPath": {
            "name": "dep",
            "in": "path",
            "required": True,
            "description": "The id of the task or subtask depended on.",
            "schema": {"type": "string", "pattern": TASK_ID_PATTERN},
        },
        "TagPath": {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": ref("TagName"),
        },
        "TagQuery": {
            "name": "tag",
            "in": "query",
            "required": False,
            "description": "The tag to work on (default: the project's current tag).",
            "schema": ref("TagName"),
        },
        "IfMatch": {
            "name": "If-Match",
            "in": "header",
            "required": False,
            "description": 'Only write if the task file is still at this revision (`"<rev>"`).',
            "schema": {"type": "string"},
        },
        "ClaimToken": {
            "name": "Claim-Token",
            "in": "header",
            "required": False,
            "description": "A claim's fencing token: the write is refused (409 `claim-lost`) "
            "unless it is still the live claim of the task it writes (of any task of the tag, "
            "for a write that names none), checked in the write's own transaction.",
            "schema": {"type": "integer", "minimum": 1},
        },
        "Actor": {
            "name": "Tm-Actor",
            "in": "header",
            "required": False,
            "description": "Who writes, as the change journal records it, on a server without "
            "API tokens (default `anonymous`). With tokens the token's name is the actor and "
            "this header is ignored.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"},
        },
        "ClaimTokenPath": {
            "name": "token",
            "in": "path",
            "required": True,
            "description": "The claim's fencing token.",
            "schema": {"type": "string", "pattern": "^[1-9][0-9]*$"},
        },
        "IfNoneMatch": {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": "304 Not Modified when it names the current revision.",
            "schema": {"type": "string"},
        },
    }


NOT_MODIFIED = {
    "description": "Not modified: `If-None-Match` names the current revision.",
    "headers": {"ETag": {"$ref": "#/components/headers/ETag"}},
}
NO_CONTENT = {
    "description": "Done; `ETag` is the revision the change produced.",
    "headers": {"ETag": {"$ref": "#/components/headers/ETag"}},
}
WRITE_SECURITY: list[dict[str, list[str]]] = [{}, {"bearerAuth": []}]


def read_op(summary: str, op_id: str, response: Schema, *params: Schema) -> Schema:
    return {
        "summary": summary,
        "operationId": op_id,
        "parameters": [*params, param("IfNoneMatch")],
        "responses": {"200": response, "304": NOT_MODIFIED, **errors(READ_ERRORS)},
    }


def write_op(
    summary: str,
    op_id: str,
    responses: dict[str, Any],
    *params: Schema,
    body: Body | None = None,
    conflict: bool = False,
    fenced: bool = True,
) -> Schema:
    """A write; `body` is what it takes (its schema is derived from the route's command).
    A `fenced` one (every write of task data) takes `Claim-Token`, and so may answer 409."""
    statuses = WRITE_ERRORS + ((409,) if conflict or fenced else ())
    fence = [param("ClaimToken")] if fenced else []
    operation: Schema = {
        "summary": summary,
        "operationId": op_id,
        "parameters": [*params, param("IfMatch"), *fence, param("Actor")],
        "security": WRITE_SECURITY,
        "responses": {**responses, **errors(tuple(sorted(statuses)))},
    }
    if body is not None:
        operation["requestBody"] = request_body(body.name, required=not body.optional)
    return operation
