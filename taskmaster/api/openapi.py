"""The OpenAPI 3.1 description of the API, as a plain dict (served at /api/v1/openapi.json).

Written by hand next to the resources rather than generated, so that it says what the API
promises (error documents, headers, which fields are required) and not only what the code
happens to do; tests validate it and fuzz the live server against it. It is the one long
module of the API because it is data: schemas, then reusable parts, then the paths.
"""

from __future__ import annotations

from typing import Any

from taskmaster import __version__
from taskmaster.model import PRIORITIES, STATUSES

JSON = "application/json"
PROBLEM = "application/problem+json"
TASK_ID_PATTERN = r"^[1-9][0-9]*(\.[1-9][0-9]*)?$"
TAG_PATTERN = r"^[A-Za-z0-9_-]+$"

Schema = dict[str, Any]

_PROBLEM_TEXT = {
    400: "Invalid input: malformed JSON, or a missing or invalid field (`field` names it).",
    401: "A write without a valid bearer token (only when the server has a token).",
    404: "No such task, subtask or tag, or no such route.",
    409: "Conflict with the current state: a dependency cycle (`cycle` lists it), an existing "
    "tag, or the protected `master` tag.",
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


def _text(description: str) -> Schema:
    return {"type": "string", "description": description}


def _schemas() -> dict[str, Schema]:
    dependency = {
        "description": "A stored dependency: a task number, or `N.M` for a subtask (in a "
        "subtask, a bare number names a sibling).",
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }
    common_item = {
        "title": {"type": "string"},
        "description": {"type": "string"},
        "details": {"type": "string"},
        "status": {"type": "string", "description": f"One of {', '.join(STATUSES)}."},
        "dependencies": {"type": "array", "items": ref("StoredDependency")},
    }
    return {
        "TaskIdInput": {
            "description": 'A task id (3) or subtask id ("3.2").',
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "pattern": TASK_ID_PATTERN},
            ],
        },
        "StoredDependency": dependency,
        "Status": {"type": "string", "enum": list(STATUSES)},
        "Priority": {"type": "string", "enum": list(PRIORITIES)},
        "TagName": {"type": "string", "pattern": TAG_PATTERN},
        "Revision": {
            "type": "integer",
            "description": "Grows with every change of the task file; the ETag of reads.",
        },
        "Subtask": {
            "type": "object",
            "description": "A subtask as stored inside its task (unknown keys are kept).",
            "required": ["id"],
            "properties": {"id": {"type": "integer"}, **common_item},
            "additionalProperties": True,
        },
        "Task": {
            "type": "object",
            "description": "A task as stored in tasks.json (camelCase; unknown keys are kept).",
            "required": ["id"],
            "properties": {
                "id": {"type": "integer"},
                **common_item,
                "testStrategy": {"type": "string"},
                "priority": {"type": "string"},
                "subtasks": {"type": "array", "items": ref("Subtask")},
            },
            "additionalProperties": True,
        },
        "SubtaskView": {
            "type": "object",
            "description": "A subtask addressed on its own: `id` is `N.M`, `parentId` is N.",
            "required": ["id", "parentId"],
            "properties": {
                "id": {"type": "string", "pattern": r"^[0-9]+\.[0-9]+$"},
                "parentId": {"type": "integer"},
                **common_item,
            },
            "additionalProperties": True,
        },
        "TaskOrSubtask": {"oneOf": [ref("Task"), ref("SubtaskView")]},
        "TaskList": {
            "type": "object",
            "required": ["tag", "revision", "tasks"],
            "properties": {
                "tag": {"type": "string"},
                "revision": ref("Revision"),
                "tasks": {"type": "array", "items": ref("Task")},
            },
        },
        "NewTask": {
            "type": "object",
            "description": "Give `title`, or `prompt` (then it becomes the title and, unless "
            "given, the description).",
            "anyOf": [{"required": ["title"]}, {"required": ["prompt"]}],
            "properties": {
                "title": {"type": "string", "pattern": r"\S"},
                "prompt": {"type": "string", "pattern": r"\S"},
                "description": {"type": "string"},
                "details": {"type": "string"},
                "testStrategy": {"type": "string"},
                "dependencies": {"type": "array", "items": ref("TaskIdInput")},
                "priority": ref("Priority"),
                "status": ref("Status"),
                "tag": ref("TagName"),
            },
            "additionalProperties": False,
        },
        "TaskPatch": {
            "type": "object",
            "description": "The fields to replace; the others stay as they are.",
            "minProperties": 1,
            "properties": {
                "title": {"type": "string", "pattern": r"\S"},
                "description": {"type": "string"},
                "details": {"type": "string"},
                "testStrategy": {"type": "string"},
                "priority": ref("Priority"),
                "status": ref("Status"),
                "metadata": {"type": "object", "description": "Replaces the old metadata."},
            },
            "additionalProperties": False,
        },
        "StatusChange": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": ref("Status")},
            "additionalProperties": False,
        },
        "SubtaskNote": {
            "type": "object",
            "required": ["text"],
            "properties": {"text": {"type": "string", "pattern": r"\S"}},
            "additionalProperties": False,
        },
        "NewSubtask": {
            "type": "object",
            "required": ["title"],
            "properties": {
                "title": {"type": "string", "pattern": r"\S"},
                "description": {"type": "string"},
                "details": {"type": "string"},
                "dependencies": {
                    "type": "array",
                    "description": "Other subtasks (`N.M`); a subtask cannot depend on a task.",
                    "items": ref("TaskIdInput"),
                },
                "status": ref("Status"),
            },
            "additionalProperties": False,
        },
        "TaskIdList": {
            "type": "array",
            "minItems": 1,
            "items": ref("TaskIdInput"),
        },
        "StatusChangeMany": {
            "type": "object",
            "description": "Several items in one transaction: all ids must exist, or nothing "
            "changes.",
            "required": ["ids", "status"],
            "properties": {"ids": ref("TaskIdList"), "status": ref("Status")},
            "additionalProperties": False,
        },
        "Move": {
            "type": "object",
            "description": "Within a tag give `from` and `to` (one target per id: an unused id "
            "renumbers, an existing task id is refused, `P.S` makes it a subtask of P). To "
            "reorder give one `from` task and `before` (no id changes). To another tag give "
            "`from` and `toTag` (whole tasks, appended; renumbered if their ids are taken "
            "there), and optionally `fromTag`.",
            "required": ["from"],
            "properties": {
                "from": ref("TaskIdList"),
                "to": ref("TaskIdList"),
                "before": ref("TaskIdInput"),
                "fromTag": ref("TagName"),
                "toTag": ref("TagName"),
                "withDependencies": {
                    "type": "boolean",
                    "description": "To another tag: bring the tasks they depend on along.",
                },
                "ignoreDependencies": {
                    "type": "boolean",
                    "description": "To another tag: drop dependencies on tasks left behind.",
                },
            },
            "additionalProperties": False,
        },
        "ClearSubtasks": {
            "type": "object",
            "description": "Give `ids` (tasks) or `all: true`, not both.",
            "properties": {
                "ids": ref("TaskIdList"),
                "all": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        "DependencyIssue": {
            "type": "object",
            "required": ["kind", "item", "dependency", "message"],
            "properties": {
                "kind": {"type": "string", "description": "self, missing, duplicate, cycle..."},
                "item": {"type": "string", "description": "The task or subtask listing it."},
                "dependency": {"type": "string"},
                "message": {"type": "string"},
            },
        },
        "DependencyValidation": {
            "type": "object",
            "required": ["tag", "valid", "issues"],
            "properties": {
                "tag": {"type": "string"},
                "valid": {"type": "boolean"},
                "issues": {"type": "array", "items": ref("DependencyIssue")},
            },
        },
        "DependencyFix": {
            "type": "object",
            "required": ["tag", "fixed"],
            "properties": {
                "tag": {"type": "string"},
                "fixed": {
                    "type": "array",
                    "description": "The issues removed.",
                    "items": ref("DependencyIssue"),
                },
            },
        },
        "Generated": {
            "type": "object",
            "required": ["tag", "outputDir", "files", "written", "removed"],
            "properties": {
                "tag": {"type": "string"},
                "outputDir": {"type": "string"},
                "files": {"type": "array", "items": {"type": "string"}},
                "written": {
                    "type": "array",
                    "description": "Created or changed (unchanged files are not rewritten).",
                    "items": {"type": "string"},
                },
                "removed": {
                    "type": "array",
                    "description": "Files of tasks that no longer exist.",
                    "items": {"type": "string"},
                },
            },
        },
        "DependencyAdd": {
            "type": "object",
            "required": ["dependsOn"],
            "properties": {"dependsOn": ref("TaskIdInput")},
            "additionalProperties": False,
        },
        "TagInfo": {
            "type": "object",
            "required": ["name", "taskCount", "metadata"],
            "properties": {
                "name": {"type": "string"},
                "taskCount": {"type": "integer", "minimum": 0},
                "completed": {"type": "integer", "minimum": 0},
                "metadata": {"type": "object"},
                "current": {"type": "boolean"},
            },
            "additionalProperties": True,
        },
        "TagList": {
            "type": "object",
            "required": ["revision", "tags"],
            "properties": {
                "revision": ref("Revision"),
                "tags": {"type": "array", "items": ref("TagInfo")},
            },
        },
        "NewTag": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": ref("TagName"),
                "description": {"type": "string"},
                "copyFrom": ref("TagName"),
            },
            "additionalProperties": False,
        },
        "TagRename": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": ref("TagName")},
            "additionalProperties": False,
        },
        "Health": {
            "type": "object",
            "required": ["status", "revision", "tasksFile", "watcher", "storage"],
            "properties": {
                "status": {
                    "enum": ["ok", "degraded"],
                    "description": "`degraded` with a 503 when the task file cannot be served "
                    "(see `storage`), with a 200 when Redis is down (answers stay right).",
                },
                "revision": {"anyOf": [ref("Revision"), {"type": "null"}]},
                "tasksFile": {"type": "string"},
                "watcher": {
                    "type": "boolean",
                    "description": "Whether changes by other processes are being watched.",
                },
                "storage": {
                    "type": "object",
                    "required": ["state", "error"],
                    "properties": {
                        "state": {"enum": ["ok", "error"]},
                        "kind": _text(
                            "The problem type a request would get (storage-error, "
                            "corrupt-task-file, task-file-missing, lock-timeout)."
                        ),
                        "error": {"type": ["string", "null"]},
                    },
                },
                "redis": {"type": "object"},
            },
        },
        "Event": {
            "type": "object",
            "description": "One change, as the `data` line of a server-sent event.",
            "required": ["kind", "revision", "origin", "ids", "time"],
            "properties": {
                "kind": {
                    "type": "string",
                    "enum": [
                        "task.created",
                        "task.updated",
                        "task.deleted",
                        "tag.changed",
                        "file.changed",
                    ],
                },
                "revision": ref("Revision"),
                "origin": {"type": "string"},
                "tag": {"type": ["string", "null"]},
                "ids": {"type": "array", "items": {"type": "string"}},
                "time": {"type": "number", "description": "Unix time of the change."},
            },
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details; extra members depend on the problem.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "field": _text("The request field, parameter or header that was refused."),
                "cycle": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The ids around a dependency cycle, first = last.",
                },
                "current": ref("Revision"),
                "expected": ref("Revision"),
                "path": _text("The task file (503)."),
                "reason": _text("Why the task file cannot be read (503)."),
                "tag": {"type": "string"},
                "taskId": {"type": "string"},
                "limit": {"type": "integer"},
                "errno": {
                    "type": "integer",
                    "description": "The file-system error number (storage-error).",
                },
            },
            "additionalProperties": True,
        },
    }


def _headers() -> dict[str, Any]:
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


def _rate_headers() -> dict[str, Any]:
    return {
        name: {"$ref": f"#/components/headers/{name}"}
        for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
    }


def _problem_responses() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, text in _PROBLEM_TEXT.items():
        headers = _rate_headers()
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


def _errors(statuses: tuple[int, ...]) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/Problem{s}"} for s in statuses}


def _ok(description: str, schema: Schema | None, *, etag: bool = True, **headers: Any) -> Schema:
    response: Schema = {"description": description}
    all_headers = _rate_headers()
    if etag:
        all_headers["ETag"] = {"$ref": "#/components/headers/ETag"}
    all_headers.update(headers)
    response["headers"] = all_headers
    if schema is not None:
        response["content"] = {JSON: {"schema": schema}}
    return response


def _location() -> dict[str, Any]:
    return {"Location": {"$ref": "#/components/headers/Location"}}


def _body(schema_name: str) -> Schema:
    return {"required": True, "content": {JSON: {"schema": ref(schema_name)}}}


def _param(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


def _parameters() -> dict[str, Any]:
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


def _read(summary: str, op_id: str, response: Schema, *params: Schema) -> Schema:
    return {
        "summary": summary,
        "operationId": op_id,
        "parameters": [*params, _param("IfNoneMatch")],
        "responses": {"200": response, "304": NOT_MODIFIED, **_errors(READ_ERRORS)},
    }


def _write(
    summary: str,
    op_id: str,
    responses: dict[str, Any],
    *params: Schema,
    body: str | None = None,
    conflict: bool = False,
) -> Schema:
    errors = WRITE_ERRORS + ((409,) if conflict else ())
    operation: Schema = {
        "summary": summary,
        "operationId": op_id,
        "parameters": [*params, _param("IfMatch")],
        "security": WRITE_SECURITY,
        "responses": {**responses, **_errors(tuple(sorted(errors)))},
    }
    if body is not None:
        operation["requestBody"] = _body(body)
    return operation


def _paths() -> dict[str, Any]:
    task_id, tag_q, tag_p = _param("TaskIdPath"), _param("TagQuery"), _param("TagPath")
    task_or_sub = ref("TaskOrSubtask")
    items = {"type": "array", "items": task_or_sub}
    tasks = {"type": "array", "items": ref("Task")}
    bool_query = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"]}
    return {
        "/api/v1/tasks": {
            "get": _read(
                "List the tasks of a tag",
                "listTasks",
                _ok("The tag's tasks and the revision they were read at.", ref("TaskList")),
                tag_q,
                {
                    "name": "status",
                    "in": "query",
                    "description": "Only these statuses (comma-separated).",
                    "schema": {"type": "string", "pattern": "^[a-z-]+(,[a-z-]+)*$"},
                },
                {
                    "name": "ready",
                    "in": "query",
                    "description": "Only tasks whose dependencies are all done.",
                    "schema": bool_query,
                },
                {
                    "name": "with_subtasks",
                    "in": "query",
                    "description": "Include each task's subtasks (default true).",
                    "schema": bool_query,
                },
            ),
            "post": _write(
                "Add a task with the next free id",
                "addTask",
                {"201": _ok("The created task.", ref("Task"), **_location())},
                tag_q,
                body="NewTask",
                conflict=True,
            ),
        },
        "/api/v1/tasks/{id}": {
            "get": _read(
                "Show a task or subtask", "getTask", _ok("The item.", task_or_sub), task_id, tag_q
            ),
            "patch": _write(
                "Change fields of a task or subtask",
                "updateTask",
                {"200": _ok("The changed item.", task_or_sub)},
                task_id,
                tag_q,
                body="TaskPatch",
            ),
            "delete": _write(
                "Remove a task (with its subtasks) or a subtask, and every dependency on it",
                "removeTask",
                {"204": NO_CONTENT},
                task_id,
                tag_q,
            ),
        },
        "/api/v1/tasks/{id}/status": {
            "put": _write(
                "Set the status of a task or subtask",
                "setStatus",
                {"200": _ok("The changed item.", task_or_sub)},
                task_id,
                tag_q,
                body="StatusChange",
            ),
        },
        "/api/v1/tasks/{id}/subtasks": {
            "post": _write(
                "Add a subtask",
                "addSubtask",
                {"201": _ok("The created subtask.", ref("SubtaskView"), **_location())},
                task_id,
                tag_q,
                body="NewSubtask",
                conflict=True,
            ),
            "delete": _write(
                "Remove every subtask of the task (and the dependencies on them)",
                "clearTaskSubtasks",
                {"204": NO_CONTENT},
                task_id,
                tag_q,
            ),
        },
        "/api/v1/tasks/{id}/notes": {
            "post": _write(
                "Append a timestamped note to a subtask's details (P.S ids only)",
                "appendSubtaskNote",
                {"200": _ok("The changed subtask.", ref("SubtaskView"))},
                task_id,
                tag_q,
                body="SubtaskNote",
            ),
        },
        "/api/v1/set-status": {
            "post": _write(
                "Set the status of several tasks or subtasks at once",
                "setStatusMany",
                {"200": _ok("The changed items, in the order given.", items)},
                tag_q,
                body="StatusChangeMany",
            ),
        },
        "/api/v1/move": {
            "post": _write(
                "Move tasks and subtasks: reorder, renumber, task <-> subtask, to another tag",
                "moveTasks",
                {"200": _ok("The moved items under their new ids.", items)},
                tag_q,
                body="Move",
                conflict=True,
            ),
        },
        "/api/v1/clear-subtasks": {
            "post": _write(
                "Remove all subtasks of some tasks, or of every task",
                "clearSubtasks",
                {"200": _ok("The tasks that had subtasks, now without them.", tasks)},
                tag_q,
                body="ClearSubtasks",
            ),
        },
        "/api/v1/dependencies/validation": {
            "get": _read(
                "Check every dependency of a tag (missing, self, duplicate, cycle)",
                "validateDependencies",
                _ok("The issues found; none means valid.", ref("DependencyValidation")),
                tag_q,
            ),
        },
        "/api/v1/dependencies/fix": {
            "post": _write(
                "Remove every invalid dependency of a tag",
                "fixDependencies",
                {"200": _ok("What was removed.", ref("DependencyFix"))},
                tag_q,
            ),
        },
        "/api/v1/generate": {
            "post": _write(
                "Write one markdown file per task of the tag into .taskmaster/tasks/",
                "generateTaskFiles",
                {"200": _ok("The files of the tag.", ref("Generated"))},
                tag_q,
            ),
        },
        "/api/v1/tasks/{id}/dependencies": {
            "post": _write(
                "Make the task depend on another",
                "addDependency",
                {"200": _ok("The task with its dependencies.", task_or_sub)},
                task_id,
                tag_q,
                body="DependencyAdd",
                conflict=True,
            ),
        },
        "/api/v1/tasks/{id}/dependencies/{dep}": {
            "delete": _write(
                "Remove a dependency (400 if the task does not depend on `dep`)",
                "removeDependency",
                {"200": _ok("The task without the dependency.", task_or_sub)},
                task_id,
                _param("DependencyPath"),
                tag_q,
            ),
        },
        "/api/v1/next": {
            "get": _read(
                "The task to work on next",
                "nextTask",
                _ok(
                    "The next task or subtask, or `null` when nothing is ready.",
                    {"anyOf": [task_or_sub, {"type": "null"}]},
                ),
                tag_q,
            ),
        },
        "/api/v1/tags": {
            "get": _read("List the tags", "listTags", _ok("Every tag.", ref("TagList"))),
            "post": _write(
                "Add a tag, empty or as a copy",
                "addTag",
                {"201": _ok("The created tag.", ref("TagInfo"), **_location())},
                body="NewTag",
                conflict=True,
            ),
        },
        "/api/v1/tags/{name}": {
            "get": _read("Show a tag", "getTag", _ok("The tag.", ref("TagInfo")), tag_p),
            "patch": _write(
                "Rename a tag (`master` cannot be renamed)",
                "renameTag",
                {"200": _ok("The renamed tag.", ref("TagInfo"))},
                tag_p,
                body="TagRename",
                conflict=True,
            ),
            "delete": _write(
                "Delete a tag and its tasks (`master` cannot be deleted)",
                "deleteTag",
                {"204": NO_CONTENT},
                tag_p,
                conflict=True,
            ),
        },
        "/api/v1/current-tag": {
            "get": _read(
                "The tag requests without `tag` work on",
                "getCurrentTag",
                _ok("The current tag.", ref("TagInfo")),
            ),
            "put": _write(
                "Switch the current tag, for every client of the project",
                "useTag",
                {"200": _ok("The tag now current.", ref("TagInfo"))},
                body="TagRename",
            ),
        },
        "/api/v1/events": {
            "get": {
                "summary": "Every change, live (server-sent events)",
                "operationId": "events",
                "description": "Frames `id: <revision>`, `event: <kind>`, `data: <Event JSON>`; "
                "a `: heartbeat` comment every ~15 s; an `overflow` event ends the stream "
                "when the client falls behind (reconnect and re-read).",
                "responses": {
                    "200": {
                        "description": "An endless event stream.",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **_errors((429, 500, 503)),
                },
            },
        },
        "/api/v1/health": {
            "get": {
                "summary": "Whether the task file can be served",
                "operationId": "health",
                "responses": {
                    "200": _ok(
                        "Serving (`degraded` when Redis is down).", ref("Health"), etag=False
                    ),
                    "503": {
                        "description": "The task file cannot be served: `degraded`, and "
                        "`storage` says why.",
                        "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
                        "content": {JSON: {"schema": ref("Health")}},
                    },
                    **_errors((500,)),
                },
            },
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {
                    "200": _ok("The OpenAPI document.", {"type": "object"}, etag=False),
                    **_errors((429, 500)),
                },
            },
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "operationId": "metrics",
                "responses": {
                    "200": {
                        "description": "Requests by route, method and status; cache hits, "
                        "misses and invalidations; invalidation lag.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_errors((500,)),
                },
            },
        },
    }


def build_spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Task Master Pro API",
            "version": __version__,
            "description": "Tasks in one tasks.json, shared safely with the CLI and other "
            'instances. Reads carry `ETag: "<revision>"`; writes accept `If-Match`. '
            "Errors are RFC 9457 problem documents. Every `GET` also answers `HEAD` "
            "(the same status and headers, no body).",
        },
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "parameters": _parameters(),
            "headers": _headers(),
            "responses": _problem_responses(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Required for writes when the server has an API token.",
                }
            },
        },
    }
