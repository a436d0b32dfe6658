"""The schemas of the OpenAPI document: the task as stored, every answer, every request body.

The task and subtask properties come from the field table (`taskmaster/fields.py`) and the
request bodies from the commands the write routes build (`bodies.py`), so a new field or
command parameter is documented without editing this module. Stored values are described
by their JSON type only: the file may hold what another tool wrote (a status this tool does
not know, a title it would refuse), and an answer shows it as it is.
"""

from __future__ import annotations

from typing import Any

from taskmaster.api.bodies import BODIES
from taskmaster.api.openapi_parts import Schema, ref
from taskmaster.fields import TASK_FIELDS, TaskField
from taskmaster.kinds import ID, PRIORITY, SOME_IDS, STATUS, TAG


def text(description: str) -> Schema:
    return {"type": "string", "description": description}


def _stored(field: TaskField) -> Schema:
    """A field as an answer shows it: its JSON type and what it means."""
    schema: Schema = {"type": field.kind.schema["type"], "description": field.description}
    if schema["type"] == "array":  # the id lists: what the file holds, as it holds it
        schema["items"] = ref("StoredDependency")
    return schema


def _item_properties(*, subtask: bool) -> dict[str, Schema]:
    return {field.name: _stored(field) for field in TASK_FIELDS if field.in_subtask or not subtask}


def item_schemas() -> dict[str, Schema]:
    """The ids and names a request gives, and the task, subtask and subtask view answered."""
    return {
        "TaskIdInput": {"description": 'A task id (3) or subtask id ("3.2").', **ID.schema},
        "TaskIdList": SOME_IDS.schema,
        "StoredDependency": {
            "description": "A stored dependency: a task number, or `N.M` for a subtask (in a "
            "subtask, a bare number names a sibling).",
            "anyOf": [{"type": "integer"}, {"type": "string"}],
        },
        "Status": STATUS.schema,
        "Priority": PRIORITY.schema,
        "TagName": TAG.schema,
        "Revision": {
            "type": "integer",
            "description": "Grows with every change of the task file; the ETag of reads.",
        },
        "Subtask": {
            "type": "object",
            "description": "A subtask as stored inside its task (unknown keys are kept).",
            "required": ["id"],
            "properties": {"id": {"type": "integer"}, **_item_properties(subtask=True)},
            "additionalProperties": True,
        },
        "Task": {
            "type": "object",
            "description": "A task as stored in tasks.json (camelCase; unknown keys are kept).",
            "required": ["id"],
            "properties": {
                "id": {"type": "integer"},
                **_item_properties(subtask=False),
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
                **_item_properties(subtask=True),
            },
            "additionalProperties": True,
        },
        "TaskOrSubtask": {"oneOf": [ref("Task"), ref("SubtaskView")]},
    }


def body_schemas() -> dict[str, Schema]:
    """What each write route takes, derived from its command."""
    return {body.name: body.schema() for body in BODIES}


def answer_schemas() -> dict[str, Schema]:
    """Everything else the API answers with: lists, reports, tags, health, events, problems."""
    return {
        "TaskList": {
            "type": "object",
            "required": ["tag", "revision", "tasks"],
            "properties": {
                "tag": {"type": "string"},
                "revision": ref("Revision"),
                "tasks": {"type": "array", "items": ref("Task")},
            },
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
        "Health": {
            "type": "object",
            "required": ["status", "revision", "store", "watcher", "storage"],
            "properties": {
                "status": {
                    "enum": ["ok", "degraded"],
                    "description": "`degraded` with a 503 when the task file cannot be served "
                    "(see `storage`), with a 200 when Redis is down (answers stay right).",
                },
                "revision": {"anyOf": [ref("Revision"), {"type": "null"}]},
                "store": {
                    "type": "object",
                    "description": "The storage backend and where it keeps the project.",
                    "required": ["backend", "location", "key"],
                    "properties": {
                        "backend": text("`file`, `postgresql` or `memory`."),
                        "location": text("The task file, or host:port/db and project key."),
                        "key": text("The store's name, the same in every process using it."),
                        "projectFile": text("The .taskmaster/storage.toml that named it."),
                    },
                },
                "tasksFile": text("The task file (file backend only)."),
                "watcher": {
                    "type": "boolean",
                    "description": "Whether changes by other processes are being watched.",
                },
                "storage": {
                    "type": "object",
                    "required": ["state", "error"],
                    "properties": {
                        "state": {"enum": ["ok", "error"]},
                        "kind": text(
                            "The problem type a request would get (storage-error, "
                            "storage-unavailable, corrupt-task-file, task-file-missing, "
                            "lock-timeout)."
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
                "field": text("The request field, parameter or header that was refused."),
                "cycle": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The ids around a dependency cycle, first = last.",
                },
                "current": ref("Revision"),
                "expected": ref("Revision"),
                "path": text("The task file (503)."),
                "reason": text("Why the task file cannot be read (503)."),
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


def schemas() -> dict[str, Any]:
    return {**item_schemas(), **body_schemas(), **answer_schemas()}
