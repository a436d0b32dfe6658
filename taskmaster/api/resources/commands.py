"""Operations on several tasks at once, or on the project rather than one resource: set the
status of several items, move, clear subtasks, check and repair dependencies, generate the
task files. Named after the `tm` commands (and MCP tools) that do the same; each write is one
transaction under the request's `If-Match`, and answers with the revision it produced."""

from __future__ import annotations

from typing import Any

import falcon

from taskmaster import commands as cmd
from taskmaster import documents
from taskmaster.api import bodies, inputs
from taskmaster.api.problems import invalid
from taskmaster.api.state import ApiState, send_json


class SetStatus:
    """`POST /set-status {"ids": ["1", "2.3"], "status": "done"}`: the changed items, in order.
    All ids must exist, or nothing changes."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        tag = inputs.query_tag(req)
        body = bodies.STATUS_CHANGE_MANY.read(req, self.state.config.max_body_bytes)
        args = {**bodies.STATUS_CHANGE_MANY.args(body), "tag": tag}
        items, revision = self.state.write(req, bodies.to_command(cmd.SetStatus, args))
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
        body = bodies.SUBTASK_NOTE.read(req, self.state.config.max_body_bytes)
        args = {**bodies.SUBTASK_NOTE.args(body), "id": str(target), "tag": tag}
        sub, revision = self.state.write(req, bodies.to_command(cmd.AppendSubtaskNotes, args))
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
        body = bodies.MOVE.read(req, self.state.config.max_body_bytes)
        sources = body["from"]
        if "before" in body:
            for name in ("to", "toTag", "fromTag"):
                if name in body:
                    raise invalid(name, f"'before' reorders within a tag: leave out {name!r}")
            if len(sources) != 1:
                raise invalid("from", "'before' places one task: give one 'from' id")
            args = {"from": sources[0], "before": body["before"], "tag": tag}
            placed, revision = self.state.write(req, bodies.to_command(cmd.PlaceBefore, args))
            send_json(resp, placed, revision=revision)
            return
        if "toTag" not in body:
            if "fromTag" in body:
                raise invalid("fromTag", "'fromTag' needs 'toTag' (within one tag, use ?tag=)")
            for name in ("withDependencies", "ignoreDependencies"):
                if body.get(name):
                    raise invalid(name, f"{name!r} applies to moves between tags ('toTag')")
            if "to" not in body:
                raise invalid("to", "'to' is required: where should the items go? (or 'toTag')")
            args = {"from": sources, "to": body["to"], "tag": tag}
            moved, revision = self.state.write(req, bodies.to_command(cmd.Move, args))
            send_json(resp, moved, revision=revision)
            return
        to_tag = body["toTag"]
        if "to" in body:
            raise invalid("to", "'to' is for moves within a tag; with 'toTag' leave it out")
        if body.get("withDependencies") and body.get("ignoreDependencies"):
            raise invalid(
                "ignoreDependencies", "give 'withDependencies' or 'ignoreDependencies', not both"
            )
        source_tag = self.state.tag_or_current(body.get("fromTag", tag))
        if source_tag == to_tag:
            raise invalid("toTag", f"the tasks are already in tag '{to_tag}'")
        args = {
            "ids": sources,
            "tag": source_tag,
            "toTag": to_tag,
            "withDependencies": body.get("withDependencies"),
            "ignoreDependencies": body.get("ignoreDependencies"),
        }
        moved, revision = self.state.write(
            req, bodies.to_command(cmd.MoveToTag, args, {"ids": "from", "tag": "fromTag"})
        )
        send_json(resp, moved, revision=revision)


class ClearSubtasks:
    """`POST /clear-subtasks {"ids": [1, 2]}` or `{"all": true}`: the tasks that had subtasks,
    now without them (references to the removed subtasks go too)."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        tag = inputs.query_tag(req)
        body = bodies.CLEAR_SUBTASKS.read(req, self.state.config.max_body_bytes)
        if bool(body.get("all")) == ("ids" in body):
            raise invalid(
                "ids", "give either 'ids' (task ids) or \"all\": true, not both or neither"
            )
        args = {**bodies.CLEAR_SUBTASKS.args(body), "tag": tag}
        changed, revision = self.state.write(req, bodies.to_command(cmd.ClearSubtasks, args))
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
        fixed, revision = self.state.write(req, cmd.FixDependencies(tag=tag))
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
