"""The OpenAPI 3.1 description of the API, as a plain dict (served at /api/v1/openapi.json).

The routes are written here, next to what they promise (answers, problem responses, headers);
what a write takes and what a task holds are derived: request bodies from the commands the
routes build (`bodies.py`), the task schemas from the field table (`openapi_schemas.py`), the
shared parameters, headers and problems from `openapi_parts.py`. Tests validate the document
and fuzz the live server against it.
"""

from __future__ import annotations

from typing import Any

from taskmaster import __version__
from taskmaster.api import bodies
from taskmaster.api.openapi_parts import (
    JSON,
    NO_CONTENT,
    READ_ERRORS,
    TASK_ID_PATTERN,
    Schema,
    errors,
    headers,
    location,
    ok,
    param,
    parameters,
    problem_responses,
    read_op,
    ref,
    write_op,
)
from taskmaster.api.openapi_schemas import schemas


def _uncached_read(summary: str, op_id: str, response: Schema, *params: Schema) -> Schema:
    """A read whose answer depends on the time (a lease runs out without a write): built on
    every request, so it has no ETag and never answers 304."""
    return {
        "summary": summary,
        "operationId": op_id,
        "parameters": list(params),
        "responses": {"200": response, **errors(READ_ERRORS)},
    }


def _next_task(op_id: str, tag_q: Schema, task_or_sub: Schema, bool_query: Schema) -> Schema:
    return read_op(
        "The task to work on next",
        op_id,
        ok(
            "The next task or subtask, or `null` when nothing is ready.",
            {"anyOf": [task_or_sub, {"type": "null"}]},
        ),
        tag_q,
        {
            "name": "unclaimed",
            "in": "query",
            "description": "Leave out the tasks live claims hold (what `POST /claims` would "
            "claim). That answer depends on the time, so it has no ETag and is never 304.",
            "schema": bool_query,
        },
    )


def _claim_paths(tag_q: Schema, bool_query: Schema) -> dict[str, Any]:
    token = param("ClaimTokenPath")
    return {
        "/api/v1/claims": {
            "get": _uncached_read(
                "The tag's claims: live ones, and those whose lease ran out",
                "listClaims",
                ok("The claims, by token.", ref("ClaimList"), etag=False),
                tag_q,
                {
                    "name": "all",
                    "in": "query",
                    "description": "Also the ended claims (released, expired, superseded).",
                    "schema": bool_query,
                },
            ),
            "post": write_op(
                "Claim a task for an agent (the one given, or the next unclaimed one) and set "
                "it in progress, in one transaction",
                "claimTask",
                {
                    "201": ok(
                        "Claimed: the task and its claim (`Location` names the claim).",
                        ref("ClaimResult"),
                        **location(),
                    ),
                    "200": ok(
                        "No task is left to claim: `task` and `claim` are null.",
                        ref("ClaimResult"),
                    ),
                },
                tag_q,
                body=bodies.NEW_CLAIM,
            ),
        },
        "/api/v1/claims/{token}": {
            "get": _uncached_read(
                "One claim, live or ended, in whichever tag holds it",
                "getClaim",
                ok("The claim.", ref("Claim"), etag=False),
                token,
            ),
            "delete": write_op(
                "Release a live claim, optionally setting the task's status in the same "
                "transaction",
                "releaseClaim",
                {"200": ok("The ended claim.", ref("Claim"))},
                token,
                {
                    "name": "status",
                    "in": "query",
                    "description": "The task's new status, such as done.",
                    "schema": ref("Status"),
                },
            ),
        },
        "/api/v1/claims/{token}/renew": {
            "post": write_op(
                "Extend a live claim's lease from now",
                "renewClaim",
                {"200": ok("The renewed claim.", ref("Claim"))},
                token,
                body=bodies.CLAIM_RENEWAL,
            ),
        },
    }


def _journal_paths() -> dict[str, Any]:
    def query(name: str, description: str, schema: Schema) -> Schema:
        return {"name": name, "in": "query", "description": description, "schema": schema}

    return {
        "/api/v1/history": {
            "get": _uncached_read(
                "Who changed what: the change journal, oldest first, a page at a time",
                "getHistory",
                ok(
                    "A page of entries and the URL of the next one. Read on every request "
                    "(compacting the journal changes it without a new revision): no ETag.",
                    ref("HistoryPage"),
                    etag=False,
                ),
                query(
                    "id",
                    "Only entries that changed this task (its subtasks included) or subtask.",
                    {"type": "string", "pattern": TASK_ID_PATTERN},
                ),
                query(
                    "since",
                    "Only entries above this revision (default 0: from the oldest kept).",
                    {"type": "integer", "minimum": 0, "maximum": bodies.MAX_REVISION},
                ),
                query(
                    "actor",
                    "Only entries of this actor.",
                    {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
                ),
                query("tag", "Only entries that changed this tag.", ref("TagName")),
                query(
                    "limit",
                    "Entries per page (default 100, at most 1000).",
                    {"type": "integer", "minimum": 1, "maximum": 1000},
                ),
            ),
        },
        "/api/v1/undo": {
            "post": write_op(
                "Take back one revision's change as a new commit",
                "undo",
                {"200": ok("What was restored, and the new revision.", ref("UndoResult"))},
                body=bodies.UNDO,
                conflict=True,
            ),
        },
    }


def _paths() -> dict[str, Any]:
    task_id, tag_q, tag_p = param("TaskIdPath"), param("TagQuery"), param("TagPath")
    task_or_sub = ref("TaskOrSubtask")
    items = {"type": "array", "items": task_or_sub}
    tasks = {"type": "array", "items": ref("Task")}
    bool_query = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"]}
    return {
        "/api/v1/tasks": {
            "get": read_op(
                "List the tasks of a tag",
                "listTasks",
                ok("The tag's tasks and the revision they were read at.", ref("TaskList")),
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
                {
                    "name": "limit",
                    "in": "query",
                    "description": "A page of at most this many tasks; the answer then has "
                    "nextCursor (null on the last page) and changed (the tag changed since the "
                    "first page).",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100_000},
                },
                {
                    "name": "cursor",
                    "in": "query",
                    "description": "The nextCursor of the previous page: continue after its "
                    "last task, wherever that is now (valid while others write).",
                    "schema": {"type": "string"},
                },
                {
                    "name": "fields",
                    "in": "query",
                    "description": "Only these task keys (comma-separated), e.g. "
                    "id,title,status,dependencies; subtasks only if named.",
                    "schema": {"type": "string"},
                },
            ),
            "post": write_op(
                "Add a task with the next free id",
                "addTask",
                {"201": ok("The created task.", ref("Task"), **location())},
                tag_q,
                body=bodies.NEW_TASK,
                conflict=True,
            ),
        },
        "/api/v1/tasks/{id}": {
            "get": read_op(
                "Show a task or subtask", "getTask", ok("The item.", task_or_sub), task_id, tag_q
            ),
            "patch": write_op(
                "Change fields of a task or subtask",
                "updateTask",
                {"200": ok("The changed item.", task_or_sub)},
                task_id,
                tag_q,
                body=bodies.TASK_PATCH,
            ),
            "delete": write_op(
                "Remove a task (with its subtasks) or a subtask, and every dependency on it",
                "removeTask",
                {"204": NO_CONTENT},
                task_id,
                tag_q,
            ),
        },
        "/api/v1/tasks/{id}/status": {
            "put": write_op(
                "Set the status of a task or subtask",
                "setStatus",
                {"200": ok("The changed item.", task_or_sub)},
                task_id,
                tag_q,
                body=bodies.STATUS_CHANGE,
            ),
        },
        "/api/v1/tasks/{id}/subtasks": {
            "post": write_op(
                "Add a subtask",
                "addSubtask",
                {"201": ok("The created subtask.", ref("SubtaskView"), **location())},
                task_id,
                tag_q,
                body=bodies.NEW_SUBTASK,
                conflict=True,
            ),
            "delete": write_op(
                "Remove every subtask of the task (and the dependencies on them)",
                "clearTaskSubtasks",
                {"204": NO_CONTENT},
                task_id,
                tag_q,
            ),
        },
        "/api/v1/tasks/{id}/notes": {
            "post": write_op(
                "Append a timestamped note to a subtask's details (P.S ids only)",
                "appendSubtaskNote",
                {"200": ok("The changed subtask.", ref("SubtaskView"))},
                task_id,
                tag_q,
                body=bodies.SUBTASK_NOTE,
            ),
        },
        "/api/v1/set-status": {
            "post": write_op(
                "Set the status of several tasks or subtasks at once",
                "setStatusMany",
                {"200": ok("The changed items, in the order given.", items)},
                tag_q,
                body=bodies.STATUS_CHANGE_MANY,
            ),
        },
        "/api/v1/move": {
            "post": write_op(
                "Move tasks and subtasks: reorder, renumber, task <-> subtask, to another tag",
                "moveTasks",
                {"200": ok("The moved items under their new ids.", items)},
                tag_q,
                body=bodies.MOVE,
                conflict=True,
            ),
        },
        "/api/v1/clear-subtasks": {
            "post": write_op(
                "Remove all subtasks of some tasks, or of every task",
                "clearSubtasks",
                {"200": ok("The tasks that had subtasks, now without them.", tasks)},
                tag_q,
                body=bodies.CLEAR_SUBTASKS,
            ),
        },
        "/api/v1/dependencies/validation": {
            "get": read_op(
                "Check every dependency of a tag (missing, self, duplicate, cycle)",
                "validateDependencies",
                ok("The issues found; none means valid.", ref("DependencyValidation")),
                tag_q,
            ),
        },
        "/api/v1/dependencies/fix": {
            "post": write_op(
                "Remove every invalid dependency of a tag",
                "fixDependencies",
                {"200": ok("What was removed.", ref("DependencyFix"))},
                tag_q,
            ),
        },
        "/api/v1/generate": {
            "post": write_op(
                "Write one markdown file per task of the tag into .taskmaster/tasks/",
                "generateTaskFiles",
                {"200": ok("The files of the tag.", ref("Generated"))},
                tag_q,
                # It writes the markdown files, no task: there is nothing to fence.
                fenced=False,
            ),
        },
        "/api/v1/tasks/{id}/dependencies": {
            "post": write_op(
                "Make the task depend on another",
                "addDependency",
                {"200": ok("The task with its dependencies.", task_or_sub)},
                task_id,
                tag_q,
                body=bodies.DEPENDENCY_ADD,
                conflict=True,
            ),
        },
        "/api/v1/tasks/{id}/dependencies/{dep}": {
            "delete": write_op(
                "Remove a dependency (400 if the task does not depend on `dep`)",
                "removeDependency",
                {"200": ok("The task without the dependency.", task_or_sub)},
                task_id,
                param("DependencyPath"),
                tag_q,
            ),
        },
        "/api/v1/next": {"get": _next_task("nextTask", tag_q, task_or_sub, bool_query)},
        "/api/v1/tasks/next": {
            "get": _next_task("nextTaskOfTasks", tag_q, task_or_sub, bool_query)
        },
        **_claim_paths(tag_q, bool_query),
        **_journal_paths(),
        "/api/v1/tags": {
            "get": read_op("List the tags", "listTags", ok("Every tag.", ref("TagList"))),
            "post": write_op(
                "Add a tag, empty or as a copy",
                "addTag",
                {"201": ok("The created tag.", ref("TagInfo"), **location())},
                body=bodies.NEW_TAG,
                conflict=True,
            ),
        },
        "/api/v1/tags/{name}": {
            "get": read_op("Show a tag", "getTag", ok("The tag.", ref("TagInfo")), tag_p),
            "patch": write_op(
                "Rename a tag (`master` cannot be renamed)",
                "renameTag",
                {"200": ok("The renamed tag.", ref("TagInfo"))},
                tag_p,
                body=bodies.TAG_RENAME,
                conflict=True,
            ),
            "delete": write_op(
                "Delete a tag and its tasks (`master` cannot be deleted)",
                "deleteTag",
                {"204": NO_CONTENT},
                tag_p,
                conflict=True,
            ),
        },
        "/api/v1/current-tag": {
            "get": read_op(
                "The tag requests without `tag` work on",
                "getCurrentTag",
                ok("The current tag.", ref("TagInfo")),
            ),
            "put": write_op(
                "Switch the current tag, for every client of the project",
                "useTag",
                {"200": ok("The tag now current.", ref("TagInfo"))},
                body=bodies.TAG_CHOICE,
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
                    **errors((429, 500, 503)),
                },
            },
        },
        "/api/v1/export": {
            "get": read_op(
                "The project as a claude-task-master tasks.json",
                "exportTasks",
                ok(
                    "The bytes the file backend writes for the project's tasks (unknown keys "
                    "included), whatever the backend: what `tm storage export` writes.",
                    {"type": "object"},
                ),
            ),
        },
        "/api/v1/health": {
            "get": {
                "summary": "Whether the task file can be served",
                "operationId": "health",
                "responses": {
                    "200": ok(
                        "Serving (`degraded` when Redis is down).", ref("Health"), etag=False
                    ),
                    "503": {
                        "description": "The task file cannot be served: `degraded`, and "
                        "`storage` says why.",
                        "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
                        "content": {JSON: {"schema": ref("Health")}},
                    },
                    **errors((500,)),
                },
            },
        },
        "/api/v1/doctor": {
            "get": {
                "summary": "Check the project (what `tm doctor` prints)",
                "operationId": "doctor",
                "description": "The task file, ids and dependencies, the reference tool's "
                "lock, the sidecars, reversions recorded in the journal, and git. A failing "
                "check is still a 200: `status` (ok, warn, fail) is the verdict.",
                "responses": {
                    "200": ok("The report.", ref("DoctorReport"), etag=False),
                    **errors((429, 500)),
                },
            },
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {
                    "200": ok("The OpenAPI document.", {"type": "object"}, etag=False),
                    **errors((429, 500)),
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
                    **errors((500,)),
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
            'instances. Reads carry `ETag: "<revision>"`; writes accept `If-Match`, and '
            "the writes an agent makes under a claim carry its fencing token in `Claim-Token`. "
            "Errors are RFC 9457 problem documents. Every `GET` also answers `HEAD` "
            "(the same status and headers, no body).",
        },
        "paths": _paths(),
        "components": {
            "schemas": schemas(),
            "parameters": parameters(),
            "headers": headers(),
            "responses": problem_responses(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Required for writes when the server has API tokens "
                    "(TM_API_TOKEN, TM_API_TOKENS); the token's name is the writer the change "
                    "journal records.",
                }
            },
        },
    }
