"""Tasks: the collection, one task (or subtask, `3.2`), its status, subtasks and dependencies,
and the task to work on next. Bodies use the stored task shape (camelCase, like the file)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import falcon

from taskmaster import paging
from taskmaster.api import bodies, inputs
from taskmaster.api.problems import invalid
from taskmaster.api.state import ApiState, etag, send_json
from taskmaster.commands import (
    AddDependency,
    AddSubtask,
    AddTask,
    ClearSubtasks,
    RemoveDependency,
    RemoveTask,
    SetStatus,
    UpdateTask,
)
from taskmaster.model import Task

PREFIX = "/api/v1"


def task_location(task_id: object) -> str:
    return f"{PREFIX}/tasks/{task_id}"


def _without_subtasks(task: Task) -> Task:
    return {key: value for key, value in task.items() if key != "subtasks"}


@dataclass(frozen=True)
class ListQuery:
    """What `GET /api/v1/tasks` was asked, validated (a 400 naming the parameter otherwise)."""

    tag: str | None = None
    statuses: tuple[str, ...] | None = None
    ready: bool = False
    with_subtasks: bool = True
    limit: int = 0
    cursor: str | None = None
    fields: tuple[str, ...] | None = None

    @classmethod
    def of(cls, req: falcon.Request) -> ListQuery:
        if not req.query_string:  # a board's or an agent's plain poll: nothing to parse
            return _PLAIN_LIST
        # In the order a request with several bad parameters has always been told about them.
        tag = inputs.query_tag(req)
        statuses = inputs.query_statuses(req)
        ready = inputs.query_bool(req, "ready", False)
        with_subtasks = inputs.query_bool(req, "with_subtasks", True)
        limit = inputs.query_int(req, "limit", 0, minimum=1, maximum=100_000)
        cursor = req.get_param("cursor") or None
        fields_text = req.get_param("fields")
        try:
            fields = paging.parse_fields(fields_text) if fields_text is not None else None
        except ValueError as err:
            raise invalid("fields", str(err)) from None
        return cls(
            tag, tuple(statuses) if statuses else None, ready, with_subtasks, limit, cursor, fields
        )

    @functools.cached_property
    def cache_params(self) -> dict[str, object]:
        """The cache key's parameters besides the tag (which may be the current one)."""
        return {
            "status": ",".join(self.statuses) if self.statuses else None,
            "ready": self.ready,
            "with_subtasks": self.with_subtasks,
            "limit": self.limit,
            "cursor": self.cursor,
            "fields": ",".join(self.fields) if self.fields is not None else None,
        }


_PLAIN_LIST = ListQuery()


class TaskCollection:
    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """`?status=a,b&tag=x&ready=true&with_subtasks=false&limit=N&cursor=C&fields=a,b`.

        With `limit` or `cursor` the answer is a page: `nextCursor` (null on the last page)
        continues after its last task, and `changed` says the tag changed since the first
        page (see `taskmaster.paging`)."""
        core = self.state.core
        query = ListQuery.of(req)
        tag = self.state.tag_or_current(query.tag)
        statuses, ready, with_subtasks = query.statuses, query.ready, query.with_subtasks
        limit, cursor, fields = query.limit, query.cursor, query.fields
        if cursor is not None:
            try:
                paging.decode_cursor(cursor, tag)
            except paging.CursorError as err:
                raise invalid("cursor", str(err)) from None
        paged = bool(limit) or cursor is not None

        def build() -> tuple[Any, int]:
            read = core.list_tasks(tag, status=list(statuses) if statuses else None, ready=ready)
            result = read.value
            tasks = result.tasks
            body: dict[str, Any] = {"tag": result.tag, "revision": read.revision}
            if paged:
                page = paging.page(tasks, result.tag, limit=limit or None, cursor=cursor)
                tasks = [dict(task) for task in page.tasks]
                body |= {"nextCursor": page.next_cursor, "changed": page.changed}
            if not with_subtasks:
                tasks = [_without_subtasks(t) for t in tasks]
            if fields is not None:
                tasks = [paging.project(task, fields) for task in tasks]
            return {**body, "tasks": tasks}, read.revision

        params = {"tag": tag, **query.cache_params}
        self.state.respond_read(req, resp, req.path, params, build)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = bodies.NEW_TASK.read(req, self.state.config.max_body_bytes)
        title, prompt = body.get("title"), body.get("prompt")
        if title is None and prompt is None:
            raise invalid("title", "a task needs a non-empty 'title' (or a 'prompt')")
        args = bodies.NEW_TASK.args(body)
        if title is None:
            # No AI model here: the prompt is the task, as the CLI (and the reference) does.
            args["title"] = " ".join(str(prompt).split())
            args.setdefault("description", prompt)
        args["tag"] = _one_tag(req, body)
        task, revision = self.state.write(req, bodies.to_command(AddTask, args))
        resp.location = task_location(task["id"])
        send_json(resp, task, revision=revision, status=201)


def _one_tag(req: falcon.Request, body: dict[str, Any]) -> str | None:
    """`tag` may come in the query or the body; both are fine only if they agree."""
    query = inputs.query_tag(req)
    from_body = body.get("tag")
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
        body = bodies.TASK_PATCH.read(req, self.state.config.max_body_bytes)
        if not body:
            fields = ", ".join(sorted(bodies.TASK_PATCH.members))
            raise invalid("body", f"nothing to update: give at least one of {fields}")
        command = bodies.to_command(UpdateTask, {"id": str(target), "fields": body, "tag": tag})
        item, revision = self.state.write(req, command)
        send_json(resp, item, revision=revision)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        target = inputs.path_id(task_id)
        tag = inputs.query_tag(req)
        command = bodies.to_command(RemoveTask, {"ids": [str(target)], "tag": tag}, {"ids": "id"})
        _, revision = self.state.write(req, command)
        resp.status = falcon.HTTP_204
        resp.etag = etag(revision)


class TaskStatus:
    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_put(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        target = inputs.path_id(task_id)
        tag = inputs.query_tag(req)
        body = bodies.STATUS_CHANGE.read(req, self.state.config.max_body_bytes)
        args = {**bodies.STATUS_CHANGE.args(body), "ids": [str(target)], "tag": tag}
        items, revision = self.state.write(req, bodies.to_command(SetStatus, args, {"ids": "id"}))
        send_json(resp, items[0], revision=revision)


class Subtasks:
    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        parent = inputs.path_id(task_id)
        if parent.is_subtask:
            raise invalid("id", f"subtasks do not nest: {parent} is already a subtask")
        tag = inputs.query_tag(req)
        body = bodies.NEW_SUBTASK.read(req, self.state.config.max_body_bytes)
        args = {**bodies.NEW_SUBTASK.args(body), "parent": parent.task, "tag": tag}
        sub, revision = self.state.write(req, bodies.to_command(AddSubtask, args, {"parent": "id"}))
        resp.location = task_location(sub["id"])
        send_json(resp, sub, revision=revision, status=201)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        """Remove every subtask of the task (and the dependencies on them), like
        `tm clear-subtasks --id N`; a task without subtasks is left as it is."""
        parent = inputs.path_id(task_id)
        if parent.is_subtask:
            raise invalid("id", f"{parent} is a subtask: only tasks have subtasks")
        tag = inputs.query_tag(req)
        command = bodies.to_command(
            ClearSubtasks, {"ids": [parent.task], "tag": tag}, {"ids": "id"}
        )
        _, revision = self.state.write(req, command)
        resp.status = falcon.HTTP_204
        resp.etag = etag(revision)


class Dependencies:
    """`POST /tasks/{id}/dependencies {"dependsOn": "2"}`: returns the task with the new entry."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        target = inputs.path_id(task_id)
        tag = inputs.query_tag(req)
        body = bodies.DEPENDENCY_ADD.read(req, self.state.config.max_body_bytes)
        args = {**bodies.DEPENDENCY_ADD.args(body), "id": str(target), "tag": tag}
        item, revision = self.state.write(req, bodies.to_command(AddDependency, args))
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
        depends_on = inputs.path_id(dep_id, "dep")
        tag = inputs.query_tag(req)
        args = {"id": str(target), "dependsOn": str(depends_on), "tag": tag}
        item, revision = self.state.write(
            req, bodies.to_command(RemoveDependency, args, {"dependsOn": "dep"})
        )
        send_json(resp, item, revision=revision)


class NextTask:
    """`GET /next` (also `/tasks/next`): the task to work on next, or `null` (200) when
    nothing is ready, like `tm next --json`: "nothing to do" is an answer, not a missing
    resource. `?unclaimed=true` leaves out the tasks live claims hold; a lease runs out
    without a write, so that answer is built on every request, never cached."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        tag = self.state.tag_or_current(inputs.query_tag(req))
        core = self.state.core
        if inputs.query_bool(req, "unclaimed", False):
            resp.cache_control = ["no-store"]
            send_json(resp, core.next_task(tag, unclaimed=True).value)
            return

        def build() -> tuple[Any, int]:
            read = core.next_task(tag)
            return read.value, read.revision

        self.state.respond_read(req, resp, req.path, {"tag": tag}, build)
