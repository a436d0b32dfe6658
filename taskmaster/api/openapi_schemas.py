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
from taskmaster.events import KINDS
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
                "tasks": {
                    "type": "array",
                    "items": ref("Task"),
                    "description": "With `fields`, each task holds only the keys named.",
                },
                "nextCursor": {
                    "type": ["string", "null"],
                    "description": "With limit or cursor: the cursor of the next page (null: "
                    "this is the last).",
                },
                "changed": {
                    "type": "boolean",
                    "description": "With limit or cursor: the tag changed since the first page.",
                },
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
                "kind": {"type": "string", "enum": list(KINDS)},
                "revision": ref("Revision"),
                "origin": {"type": "string"},
                "tag": {"type": ["string", "null"]},
                "ids": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The items changed; for a `claim.*` event, the claimed one.",
                },
                "time": {"type": "number", "description": "Unix time of the change."},
                "actor": {"type": ["string", "null"]},
                "changes": {
                    "type": "array",
                    "items": {"type": "array", "items": {"type": ["string", "null"]}},
                    "description": "The places changed, as [tag, id, field].",
                },
                "reverts": {
                    "type": "array",
                    "items": ref("Revision"),
                    "description": (
                        "For `change.reverted`: the revisions whose values another program's "
                        "change put back (the places are in `changes`)."
                    ),
                },
            },
        },
        "DoctorReport": {
            "type": "object",
            "required": ["status", "ok", "checks"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "warn", "fail"]},
                "ok": {"type": "boolean", "description": "false when a check failed."},
                "checks": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "status", "summary", "details"],
                        "properties": {
                            "name": {"type": "string"},
                            "status": {"type": "string", "enum": ["ok", "warn", "fail", "skip"]},
                            "summary": {"type": "string"},
                            "details": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
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
                "agent": text("Who holds the live claim (claim-held)."),
                "token": {
                    "type": "integer",
                    "description": "The holder's token (claim-held), or the token refused "
                    "(claim-lost).",
                },
                "expiresAt": text("When the holder's lease runs out (claim-held)."),
                "holder": text("The agent now holding the task (claim-lost, when one does)."),
                "holderToken": {
                    "type": "integer",
                    "description": "The token of the claim now holding the task (claim-lost).",
                },
                "revision": {
                    "type": "integer",
                    "description": "The revision an undo named (undo-refused, entry-not-found).",
                },
                "later": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "description": "The later revisions that touched the same places "
                    "(undo-refused): undo those first.",
                },
            },
            "additionalProperties": True,
        },
    }


def claim_schemas() -> dict[str, Schema]:
    """A claim as the API shows it, what claiming answers, and the list of claims."""
    return {
        "Claim": {
            "type": "object",
            "description": "An agent's lease on a task or subtask. Times are ISO 8601 UTC, by "
            "the storage's clock (the local clock for the file backend, the database "
            "server's for PostgreSQL).",
            "required": ["id", "tag", "token", "agent", "claimedAt", "expiresAt", "state"],
            "properties": {
                "id": text('The claimed task ("3") or subtask ("3.2").'),
                "tag": {"type": "string"},
                "token": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "The fencing token: strictly increasing, never reused. "
                    "Send it as `Claim-Token` with every write made under the claim.",
                },
                "agent": text("Who claimed."),
                "claimedAt": text("When the claim was made."),
                "expiresAt": text("When the lease runs out unless renewed."),
                "renewedAt": text("When the lease was last renewed."),
                "state": {"enum": ["live", "expired", "released", "superseded"]},
                "outcome": {
                    "enum": ["released", "expired", "superseded"],
                    "description": "How an ended claim ended.",
                },
                "endedAt": text("When an ended claim ended."),
                "status": text("The status a release set."),
            },
            "additionalProperties": True,
        },
        "ClaimResult": {
            "type": "object",
            "description": "`task` and `claim` are null when no task was left to claim.",
            "required": ["task", "claim", "expired"],
            "properties": {
                "task": {"anyOf": [ref("TaskOrSubtask"), {"type": "null"}]},
                "claim": {"anyOf": [ref("Claim"), {"type": "null"}]},
                "expired": {
                    "type": "array",
                    "description": "Claims this transaction found expired and recorded so.",
                    "items": ref("Claim"),
                },
            },
        },
        "ClaimList": {
            "type": "object",
            "required": ["tag", "claims"],
            "properties": {
                "tag": {"type": "string"},
                "claims": {"type": "array", "items": ref("Claim")},
            },
        },
    }


def journal_schemas() -> dict[str, Schema]:
    """A journal entry, a page of the history, and what an undo answers."""
    nullable_text = {"type": ["string", "null"]}
    return {
        "Change": {
            "type": "object",
            "description": "One place and its value before and after: a field of a task "
            '(`id` "5") or subtask ("5.2"); a whole task or subtask added or removed (`field` '
            "null, `index` its position); a key of a tag (`id` null; `#order` is the order of "
            "its task ids); a whole tag (`id` and `field` null); the current tag (`tag` and "
            "`id` null, `field` currentTag). `before` or `after` is absent where the place did "
            "not exist.",
            "required": ["tag", "id", "field"],
            "properties": {
                "tag": nullable_text,
                "id": nullable_text,
                "field": nullable_text,
                "index": {"type": "integer"},
                "before": {},
                "after": {},
            },
            "additionalProperties": True,
        },
        "JournalEntry": {
            "type": "object",
            "description": "One commit: who made it, through which front end, with which "
            "command, and every field it changed.",
            "required": ["revision", "time", "actor", "via", "kind", "changes"],
            "properties": {
                "revision": ref("Revision"),
                "time": text("When it was committed (ISO 8601, UTC)."),
                "actor": text(
                    "Who: the API token's name, the MCP client's name, `tm --actor` (default "
                    "user@host), the agent of the claim the write carried."
                ),
                "via": text("The front end: api, mcp, cli, ...; `outside` for another program."),
                "kind": {
                    "enum": ["command", "undo", "external"],
                    "description": "`external`: a change made by another program (an editor, "
                    "git), found by the difference of the files.",
                },
                "command": text("The command's name (absent on external entries)."),
                "args": {"type": "object", "description": "The command's arguments."},
                "undoes": {
                    "type": "integer",
                    "description": "On an undo: the revision it took back.",
                },
                "tag": nullable_text,
                "ids": {"type": "array", "items": {"type": "string"}},
                "events": {"type": "array", "description": "The change events it announced."},
                "changes": {"type": "array", "items": ref("Change")},
                "claim": {
                    "type": "integer",
                    "description": "The fencing token the write carried.",
                },
                "unknown": text("Why the changes are not known (the earlier content was lost)."),
            },
            "additionalProperties": True,
        },
        "HistoryPage": {
            "type": "object",
            "required": ["revision", "entries", "next"],
            "properties": {
                "revision": ref("Revision"),
                "entries": {
                    "type": "array",
                    "description": "Oldest first.",
                    "items": ref("JournalEntry"),
                },
                "next": {
                    "type": ["string", "null"],
                    "description": "The URL of the next page (the same filters, `since` = this "
                    "page's last revision); null on the last page.",
                },
            },
        },
        "UndoResult": {
            "type": "object",
            "required": ["undone", "command", "changes", "ids", "revision"],
            "properties": {
                "undone": {"type": "integer", "description": "The revision taken back."},
                "command": {
                    "type": ["string", "null"],
                    "description": "The command it had run (null: an outside change).",
                },
                "changes": {"type": "integer", "description": "How many places were restored."},
                "ids": {"type": "array", "items": {"type": "string"}},
                "revision": ref("Revision"),
            },
        },
    }


def schemas() -> dict[str, Any]:
    return {
        **item_schemas(),
        **body_schemas(),
        **answer_schemas(),
        **claim_schemas(),
        **journal_schemas(),
    }
