"""Operations on several tasks at once, or on the project rather than one resource: set the
status of several items, move, clear subtasks, check and repair dependencies, generate the
task files. Named after the `tm` commands (and MCP tools) that do the same; each write is one
transaction under the request's `If-Match`, and answers with the revision it produced."""

from __future__ import annotations

from typing import Any

import falcon

from taskmaster import commands, documents
from taskmaster.api import inputs
from taskmaster.api.problems import invalid
from taskmaster.api.state import ApiState, send_json
from taskmaster.model import TaskId

MOVE_FIELDS = frozenset(
    {"from", "to", "before", "fromTag", "toTag", "withDependencies", "ignoreDependencies"}
)


class SetStatus:
    """`POST /set-status {"ids": ["1", "2.3"], "status": "done"}`: the changed items, in order.
    All ids must exist, or nothing changes."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        tag = inputs.query_tag(req)
        body = inputs.read_object(
            req,
            self.state.config.max_body_bytes,
            allowed={"ids", "status"},
            required=("ids", "status"),
        )
        ids = inputs.required_id_list(body, "ids")
        status = inputs.status(body)
        if status is None:
            raise invalid("status", "'status' cannot be null")
        items, revision = self.state.write(
            req, commands.SetStatus(ids=tuple(ids), status=status, tag=tag)
        )
        send_json(resp, items, revision=revision)


class SubtaskNotes:
    """`POST /tasks/{P.S}/notes {"text": "..."}`: append a timestamped note to a subtask's
    details, as `tm update-subtask --prompt` and claude-task-master do; answers the subtask."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        target = inputs.path_id(task_id)
        if not target.is_subtask:
            raise invalid("id", f"notes are appended to subtasks (P.S), and {target} is a task")
        tag = inputs.query_tag(req)
        body = inputs.read_object(
            req, self.state.config.max_body_bytes, allowed={"text"}, required=("text",)
        )
        text = inputs.text(body, "text", non_empty=True)
        if text is None:
            raise invalid("text", "'text' cannot be null")
        sub, revision = self.state.write(
            req, commands.AppendSubtaskNotes(id=target, text=text, tag=tag)
        )
        send_json(resp, sub, revision=revision)


class Move:
    """`POST /move`: within a tag `{"from": [...], "to": [...]}` (an unused id renumbers, an
    existing task id is refused, `P.S` makes it a subtask of P); a reorder
    `{"from": [5], "before": 2}` (no id changes); to another tag `{"from": [...], "toTag":
    "x"}`. Answers with the moved items under their new ids."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        tag = inputs.query_tag(req)
        body = inputs.read_object(
            req, self.state.config.max_body_bytes, allowed=MOVE_FIELDS, required=("from",)
        )
        sources = inputs.required_id_list(body, "from")
        with_dependencies = inputs.flag(body, "withDependencies")
        ignore_dependencies = inputs.flag(body, "ignoreDependencies")
        if body.get("before") is not None:
            for name in ("to", "toTag", "fromTag"):
                if body.get(name) is not None:
                    raise invalid(name, f"'before' reorders within a tag: leave out {name!r}")
            if len(sources) != 1:
                raise invalid("from", "'before' places one task: give one 'from' id")
            anchor = inputs.task_id(body["before"], "before")
            placed, revision = self.state.write(
                req, commands.PlaceBefore(id=sources[0], before=anchor, tag=tag)
            )
            send_json(resp, placed, revision=revision)
            return
        if body.get("toTag") is None:
            if body.get("fromTag") is not None:
                raise invalid("fromTag", "'fromTag' needs 'toTag' (within one tag, use ?tag=)")
            for name in ("withDependencies", "ignoreDependencies"):
                if inputs.flag(body, name):
                    raise invalid(name, f"{name!r} applies to moves between tags ('toTag')")
            if body.get("to") is None:
                raise invalid("to", "'to' is required: where should the items go? (or 'toTag')")
            targets = inputs.required_id_list(body, "to")
            moved, revision = self.state.write(
                req, commands.Move(sources=tuple(sources), targets=tuple(targets), tag=tag)
            )
            send_json(resp, moved, revision=revision)
            return
        to_tag = inputs.tag_name(body["toTag"], "toTag")
        if body.get("to") is not None:
            raise invalid("to", "'to' is for moves within a tag; with 'toTag' leave it out")
        if with_dependencies and ignore_dependencies:
            raise invalid(
                "ignoreDependencies", "give 'withDependencies' or 'ignoreDependencies', not both"
            )
        from_tag = body.get("fromTag")
        source_tag = inputs.tag_name(from_tag, "fromTag") if from_tag is not None else tag
        source_tag = self.state.tag_or_current(source_tag)
        if source_tag == to_tag:
            raise invalid("toTag", f"the tasks are already in tag '{to_tag}'")
        moved, revision = self.state.write(
            req,
            commands.MoveToTag(
                ids=tuple(_task_numbers(sources)),
                tag=source_tag,
                to_tag=to_tag,
                with_dependencies=with_dependencies,
                ignore_dependencies=ignore_dependencies,
            ),
        )
        send_json(resp, moved, revision=revision)


class ClearSubtasks:
    """`POST /clear-subtasks {"ids": [1, 2]}` or `{"all": true}`: the tasks that had subtasks,
    now without them (references to the removed subtasks go too)."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        tag = inputs.query_tag(req)
        body = inputs.read_object(req, self.state.config.max_body_bytes, allowed={"ids", "all"})
        every = inputs.flag(body, "all")
        if every == (body.get("ids") is not None):
            raise invalid(
                "ids", "give either 'ids' (task ids) or \"all\": true, not both or neither"
            )
        ids = None if every else inputs.required_id_list(body, "ids")
        numbers = None if ids is None else tuple(_task_numbers(ids, "ids"))
        changed, revision = self.state.write(req, commands.ClearSubtasks(ids=numbers, tag=tag))
        send_json(resp, changed, revision=revision)


class DependencyValidation:
    """`GET /dependencies/validation`: `{"tag", "valid", "issues"}`; issues are an answer
    (200), not an error, as in `tm validate-dependencies --json`."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        tag = self.state.tag_or_current(inputs.query_tag(req))
        core = self.state.core

        def build() -> tuple[Any, int]:
            issues = core.validate_dependencies(tag)
            return documents.validation_document(tag, issues.value), issues.revision

        self.state.respond_read(req, resp, req.path, {"tag": tag}, build)


class DependencyFix:
    """`POST /dependencies/fix`: remove every invalid dependency; `{"tag", "fixed"}`."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        tag = self.state.tag_or_current(inputs.query_tag(req))
        fixed, revision = self.state.write(req, commands.FixDependencies(tag=tag))
        send_json(resp, documents.fixed_document(tag, fixed), revision=revision)


class Generate:
    """`POST /generate`: one markdown file per task of the tag in `.taskmaster/tasks/` (the
    project's own directory: a remote client does not choose where the server writes)."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        tag = inputs.query_tag(req)
        commit = self.state.core.generate(
            self.state.project.default_output_dir,
            tag,
            expected_revision=self.state.expected_revision(req),
        )
        send_json(resp, commit.result.to_dict(), revision=commit.revision)


def _task_numbers(ids: list[TaskId], field: str = "from") -> list[int]:
    """Task ids where subtasks make no sense (a 400 naming the field for a subtask id)."""
    for item in ids:
        if item.is_subtask:
            raise invalid(field, f"the task must be a task id, not the subtask id {item}")
    return [item.task for item in ids]
