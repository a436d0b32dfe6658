"""Tasks: the collection, one task (or subtask, `3.2`), its status, subtasks and dependencies,
and the task to work on next. Bodies use the stored task shape (camelCase, like the file)."""

from __future__ import annotations

from typing import Any

import falcon

from taskmaster import commands
from taskmaster.api import inputs
from taskmaster.api.problems import invalid
from taskmaster.api.state import ApiState, etag, send_json
from taskmaster.model import Task, TaskId

PREFIX = "/api/v1"
NEW_TASK_FIELDS = frozenset(
    {
        "title",
        "prompt",
        "description",
        "details",
        "testStrategy",
        "dependencies",
        "priority",
        "status",
        "tag",
    }
)
UPDATE_FIELDS = frozenset(
    {"title", "description", "details", "testStrategy", "priority", "status", "metadata"}
)
NEW_SUBTASK_FIELDS = frozenset({"title", "description", "details", "dependencies", "status"})


def task_location(task_id: object) -> str:
    return f"{PREFIX}/tasks/{task_id}"


def _without_subtasks(task: Task) -> Task:
    return {key: value for key, value in task.items() if key != "subtasks"}


class TaskCollection:
    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """`?status=a,b&tag=x&ready=true&with_subtasks=false`."""
        core = self.state.core
        tag = self.state.tag_or_current(inputs.query_tag(req))
        statuses = inputs.query_statuses(req)
        ready = inputs.query_bool(req, "ready", False)
        with_subtasks = inputs.query_bool(req, "with_subtasks", True)

        def build() -> tuple[Any, int]:
            read = core.list_tasks(tag, status=statuses, ready=ready)
            result = read.value
            tasks = result.tasks if with_subtasks else [_without_subtasks(t) for t in result.tasks]
            return {"tag": result.tag, "revision": read.revision, "tasks": tasks}, read.revision

        params = {
            "tag": tag,
            "status": ",".join(statuses) if statuses else None,
            "ready": ready,
            "with_subtasks": with_subtasks,
        }
        self.state.respond_read(req, resp, req.path, params, build)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = inputs.read_object(req, self.state.config.max_body_bytes, allowed=NEW_TASK_FIELDS)
        title = inputs.text(body, "title")
        prompt = inputs.text(body, "prompt")
        if not (title and title.strip()) and not (prompt and prompt.strip()):
            raise invalid("title", "a task needs a non-empty 'title' (or a 'prompt')")
        description = inputs.text(body, "description")
        if not (title and title.strip()):
            # No AI model here: the prompt is the task, as the CLI (and the reference) does.
            title = " ".join(str(prompt).split())
            description = description if description is not None else prompt
        tag = _one_tag(req, body)
        dependencies = inputs.id_list(body, "dependencies")
        priority = inputs.priority(body) or "medium"
        status = inputs.status(body) or "pending"
        details = inputs.text(body, "details") or ""
        test_strategy = inputs.text(body, "testStrategy") or ""
        task, revision = self.state.write(
            req,
            commands.AddTask(
                values={
                    "title": title,
                    "description": description or "",
                    "details": details,
                    "testStrategy": test_strategy,
                    "dependencies": tuple(dependencies),
                    "priority": priority,
                    "status": status,
                },
                tag=tag,
            ),
        )
        resp.location = task_location(task["id"])
        send_json(resp, task, revision=revision, status=201)


def _one_tag(req: falcon.Request, body: dict[str, Any]) -> str | None:
    """`tag` may come in the query or the body; both are fine only if they agree."""
    query = inputs.query_tag(req)
    given = body.get("tag")
    from_body = inputs.tag_name(given, "tag") if given is not None else None
    if query and from_body and query != from_body:
        raise invalid("tag", f"the query says tag {query!r} but the body says {from_body!r}")
    return from_body or query


class TaskItem:
    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        target = inputs.path_id(task_id)
        tag = self.state.tag_or_current(inputs.query_tag(req))
        core = self.state.core

        def build() -> tuple[Any, int]:
            read = core.show([target], tag)
            return read.value[0], read.revision

        path = task_location(target)
        self.state.respond_read(req, resp, path, {"tag": tag}, build)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        target = inputs.path_id(task_id)
        tag = inputs.query_tag(req)
        body = inputs.read_object(req, self.state.config.max_body_bytes, allowed=UPDATE_FIELDS)
        if not body:
            names = ", ".join(sorted(UPDATE_FIELDS))
            raise invalid("body", f"nothing to update: give at least one of {names}")
        fields = _update_fields(body)
        item, revision = self.state.write(
            req, commands.UpdateTask(id=target, fields=fields, tag=tag)
        )
        send_json(resp, item, revision=revision)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        target = inputs.path_id(task_id)
        tag = inputs.query_tag(req)
        _, revision = self.state.write(req, commands.RemoveTask(ids=(target,), tag=tag))
        resp.status = falcon.HTTP_204
        resp.etag = etag(revision)


def _update_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("title", "description", "details", "testStrategy"):
        if name in body:
            value = inputs.text(body, name, non_empty=name == "title")
            if value is None:
                raise invalid(name, f"{name!r} cannot be null")
            fields[name] = value
    for name, parse in (("priority", inputs.priority), ("status", inputs.status)):
        if name in body:
            value = parse(body, name)
            if value is None:
                raise invalid(name, f"{name!r} cannot be null")
            fields[name] = value
    if "metadata" in body:
        if not isinstance(body["metadata"], dict):
            raise invalid("metadata", "'metadata' must be an object (it replaces the old one)")
        fields["metadata"] = body["metadata"]
    return fields


class TaskStatus:
    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_put(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        target = inputs.path_id(task_id)
        tag = inputs.query_tag(req)
        body = inputs.read_object(
            req, self.state.config.max_body_bytes, allowed={"status"}, required=("status",)
        )
        status = inputs.status(body)
        if status is None:
            raise invalid("status", "'status' cannot be null")
        items, revision = self.state.write(
            req, commands.SetStatus(ids=(target,), status=status, tag=tag)
        )
        send_json(resp, items[0], revision=revision)


class Subtasks:
    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        parent = inputs.path_id(task_id)
        if parent.is_subtask:
            raise invalid("id", f"subtasks do not nest: {parent} is already a subtask")
        tag = inputs.query_tag(req)
        body = inputs.read_object(
            req,
            self.state.config.max_body_bytes,
            allowed=NEW_SUBTASK_FIELDS,
            required=("title",),
        )
        title = inputs.text(body, "title", non_empty=True)
        if title is None:  # present (read_object checked) but null
            raise invalid("title", "'title' cannot be null")
        description = inputs.text(body, "description") or ""
        details = inputs.text(body, "details") or ""
        dependencies = inputs.id_list(body, "dependencies")
        status = inputs.status(body) or "pending"
        sub, revision = self.state.write(
            req,
            commands.AddSubtask(
                parent=parent.task,
                values={
                    "title": title,
                    "description": description,
                    "details": details,
                    "dependencies": tuple(dependencies),
                    "status": status,
                },
                tag=tag,
            ),
        )
        resp.location = task_location(sub["id"])
        send_json(resp, sub, revision=revision, status=201)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        """Remove every subtask of the task (and the dependencies on them), like
        `tm clear-subtasks --id N`; a task without subtasks is left as it is."""
        parent = inputs.path_id(task_id)
        if parent.is_subtask:
            raise invalid("id", f"{parent} is a subtask: only tasks have subtasks")
        tag = inputs.query_tag(req)
        _, revision = self.state.write(req, commands.ClearSubtasks(ids=(parent.task,), tag=tag))
        resp.status = falcon.HTTP_204
        resp.etag = etag(revision)


class Dependencies:
    """`POST /tasks/{id}/dependencies {"dependsOn": "2"}`: returns the task with the new entry."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        target = inputs.path_id(task_id)
        tag = inputs.query_tag(req)
        body = inputs.read_object(
            req, self.state.config.max_body_bytes, allowed={"dependsOn"}, required=("dependsOn",)
        )
        depends_on = inputs.task_id(body["dependsOn"], "dependsOn")
        item, revision = self.state.write(
            req, commands.AddDependency(id=target, depends_on=depends_on, tag=tag)
        )
        send_json(resp, item, revision=revision)


class Dependency:
    """`DELETE /tasks/{id}/dependencies/{dep}`: the dependency is named in the path (no body,
    which some clients and proxies drop from DELETE); returns the task without it."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_delete(
        self, req: falcon.Request, resp: falcon.Response, task_id: str, dep_id: str
    ) -> None:
        target = inputs.path_id(task_id)
        depends_on: TaskId = inputs.path_id(dep_id, "dep")
        tag = inputs.query_tag(req)
        item, revision = self.state.write(
            req, commands.RemoveDependency(id=target, depends_on=depends_on, tag=tag)
        )
        send_json(resp, item, revision=revision)


class NextTask:
    """`GET /next`: the task to work on next, or `null` (200) when nothing is ready, like
    `tm next --json`: "nothing to do" is an answer, not a missing resource."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        tag = self.state.tag_or_current(inputs.query_tag(req))
        core = self.state.core

        def build() -> tuple[Any, int]:
            read = core.next_task(tag)
            return read.value, read.revision

        self.state.respond_read(req, resp, req.path, {"tag": tag}, build)
