"""The claiming agent: a worker process (role `claimer`) that takes tasks from the pool, works
them and releases them, through one front end, recording every step (`harness.claims_check`
says how the steps are marked).

Protocols:

    claim   (taskmaster) `claim` (the next task, or the one named) -> think -> the work write
            with the claim's token -> release with status done; one transaction each, and the
            claim is one: two agents never get the same task
    naive   (the way agents work today) `next` -> think -> `set-status ID in-progress` -> the
            work write -> `set-status ID done`: the choice and the start are two transactions
            apart, and `next` offers a task already in progress

The pause (`think_ms`, then `work_ms` before the work write) is the same for both: an agent
reads the task, then works on it. Channels (each the real front end):

    cli      a `tm` process per step: `tm claim --next --agent A --lease 30 --json`,
             `tm update-task ID --details X --claim TOKEN`, `tm claim release TOKEN --status done`
    api      HTTP on one `tm serve` instance: `POST /api/v1/claims`, `PATCH /api/v1/tasks/{id}`
             with the `Claim-Token` header, `DELETE /api/v1/claims/{token}?status=done`
    mcp      a `tm mcp` session (the SDK's stdio client): `claim_task`, `update_task` with
             `claimToken`, `release_claim`
    facade   the `TaskMaster` facade in this process: `execute(ClaimTask(...))`,
             `execute(UpdateTask(...), claim=TOKEN)`, `execute(ReleaseClaim(...))`

The worker: open the channel, mark `<actor>:ready`, wait for `start`; then up to `rounds`
rounds, each on the next task (or on `task`, for every round), until nothing is left to claim
or `stop` is set. After acquiring it marks `<actor>:claimed` (the token as text) and, after
its work write, `<actor>:wrote`; with `hold`, it waits for that flag before releasing; with
`release` false, it never releases. `fenced` false: the work write leaves the token out (a tool
without fencing tokens), though the op still records the claim it was made under.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from harness.actors import OUTCOME_UNKNOWN_TEXT, ApiClient, project, run_cli, task_of
from harness.claims_check import ACQUIRE, NEXT, RELEASE, WORK
from harness.history import FAIL, INFO, OK, READ, WRITE, HistoryWriter, Op, now_ns
from harness.processes import Barriers
from harness.targets import Target

CLAIM = "claim"
NAIVE = "naive"
CHANNELS = ("cli", "api", "mcp", "facade")


@dataclass
class Reply:
    """What a front end answered: `ok`, `fail` (refused) or `info` (no answer: it may have
    happened); the parsed body; the error's text; the revision, where the answer has one."""

    outcome: str
    body: Any = None
    error: str | None = None
    revision: int | None = None
    info: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    def claim(self, agent: str, lease: float, task: str | None) -> Reply: ...
    def next(self) -> Reply: ...
    def set_status(self, task: str, status: str, token: int | None) -> Reply: ...
    def update(self, task: str, fields: dict[str, str], token: int | None) -> Reply: ...
    def release(self, token: int, status: str) -> Reply: ...
    def close(self) -> None: ...


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


class CliChannel:
    name = "cli"

    def __init__(self, target: Target, env: dict[str, str]) -> None:
        self.target = target
        self.env = env

    def _run(self, *args: str) -> Reply:
        result = run_cli(self.target.cli(*args), env=self.env)
        return Reply(result.outcome, _json(result.stdout), result.error, info={"exit": result.code})

    @staticmethod
    def _fence(token: int | None) -> list[str]:
        return ["--claim", str(token)] if token is not None else []

    def claim(self, agent: str, lease: float, task: str | None) -> Reply:
        which = [task] if task is not None else ["--next"]
        return self._run("claim", *which, "--agent", agent, "--lease", f"{lease:g}", "--json")

    def next(self) -> Reply:
        return self._run("next", "--json")

    def set_status(self, task: str, status: str, token: int | None) -> Reply:
        return self._run("set-status", task, status, *self._fence(token))

    def update(self, task: str, fields: dict[str, str], token: int | None) -> Reply:
        options = [part for name, value in fields.items() for part in (f"--{name}", value)]
        return self._run("update-task", task, *options, *self._fence(token))

    def release(self, token: int, status: str) -> Reply:
        return self._run("claim", "release", str(token), "--status", status, "--json")

    def close(self) -> None:
        pass


class ApiChannel:
    name = "api"

    def __init__(self, port: int, instance: int) -> None:
        self.client = ApiClient(port, instance)
        self.instance = instance

    def _send(self, method: str, path: str, body: Any = None, token: int | None = None) -> Reply:
        headers = {"Claim-Token": str(token)} if token is not None else None
        try:
            response = self.client.request(method, path, body, headers=headers)
        except (OSError, http.client.HTTPException) as err:
            return Reply(INFO, error=f"{type(err).__name__}: {err}")
        data = response.json()
        info = {"status": response.status, "instance": self.instance}
        if 200 <= response.status < 300:
            return Reply(OK, data, revision=response.revision, info=info)
        text = f"HTTP {response.status}"
        if isinstance(data, dict):
            text += f" {data.get('type', '')}: {data.get('detail') or data.get('title') or ''}"
            if data.get("outcomeUnknown"):
                return Reply(INFO, data, text, info=info)
        return Reply(FAIL, data, text, info=info)

    def claim(self, agent: str, lease: float, task: str | None) -> Reply:
        body: dict[str, Any] = {"agent": agent, "lease": lease}
        if task is not None:
            body["id"] = task
        return self._send("POST", "/api/v1/claims", body)

    def next(self) -> Reply:
        return self._send("GET", "/api/v1/next")

    def set_status(self, task: str, status: str, token: int | None) -> Reply:
        return self._send("PUT", f"/api/v1/tasks/{task}/status", {"status": status}, token)

    def update(self, task: str, fields: dict[str, str], token: int | None) -> Reply:
        return self._send("PATCH", f"/api/v1/tasks/{task}", fields, token)

    def release(self, token: int, status: str) -> Reply:
        return self._send("DELETE", f"/api/v1/claims/{token}?status={quote(status)}")

    def close(self) -> None:
        self.client.close()


class McpChannel:
    name = "mcp"

    def __init__(self, target: Target, env: dict[str, str], log: Path) -> None:
        from harness.agent import McpSession

        self.session = McpSession(target, env, log)

    def _call(self, tool: str, arguments: dict[str, Any]) -> Reply:
        try:
            answer = self.session.call(tool, arguments)
        except Exception as err:  # no answer: it may have happened or not
            return Reply(INFO, error=f"{type(err).__name__}: {err}")
        if answer.is_error:
            outcome = INFO if OUTCOME_UNKNOWN_TEXT in answer.text else FAIL
            return Reply(outcome, error=answer.text[:300], info={"tool": tool})
        return Reply(OK, _json(answer.text), info={"tool": tool})

    @staticmethod
    def _fence(token: int | None) -> dict[str, Any]:
        return {"claimToken": token} if token is not None else {}

    def claim(self, agent: str, lease: float, task: str | None) -> Reply:
        arguments: dict[str, Any] = {"agent": agent, "lease": f"{lease:g}"}
        if task is not None:
            arguments["id"] = task
        return self._call("claim_task", arguments)

    def next(self) -> Reply:
        return self._call("next_task", {})

    def set_status(self, task: str, status: str, token: int | None) -> Reply:
        return self._call("set_task_status", {"id": task, "status": status, **self._fence(token)})

    def update(self, task: str, fields: dict[str, str], token: int | None) -> Reply:
        return self._call("update_task", {"id": task, **fields, **self._fence(token)})

    def release(self, token: int, status: str) -> Reply:
        return self._call("release_claim", {"token": token, "status": status})

    def close(self) -> None:
        self.session.close()


class FacadeChannel:
    name = "facade"

    def __init__(self, target: Target) -> None:
        self.core: Any = target.open_core()

    def _execute(self, command: Any, token: int | None = None) -> Reply:
        try:
            commit = self.core.execute(command, claim=token)
        except Exception as err:
            details = getattr(err, "details", None)
            unknown = isinstance(details, dict) and bool(details.get("outcome_unknown"))
            return Reply(INFO if unknown else FAIL, error=f"{type(err).__name__}: {err}")
        return Reply(OK, _plain(commit.result), revision=commit.revision)

    def claim(self, agent: str, lease: float, task: str | None) -> Reply:
        from taskmaster.commands import ClaimTask

        args: dict[str, Any] = {"agent": agent, "lease": lease}
        if task is not None:
            args["id"] = task
        return self._execute(ClaimTask.from_args(args))

    def next(self) -> Reply:
        try:
            return Reply(OK, _plain(self.core.next_task().value))
        except Exception as err:
            return Reply(FAIL, error=f"{type(err).__name__}: {err}")

    def set_status(self, task: str, status: str, token: int | None) -> Reply:
        from taskmaster.commands import SetStatus

        return self._execute(SetStatus.from_args({"ids": [task], "status": status}), token)

    def update(self, task: str, fields: dict[str, str], token: int | None) -> Reply:
        from taskmaster.commands import UpdateTask

        return self._execute(UpdateTask.from_args({"id": task, "fields": fields}), token)

    def release(self, token: int, status: str) -> Reply:
        from taskmaster.commands import ReleaseClaim

        return self._execute(ReleaseClaim.from_args({"token": token, "status": status}))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.core.close()


def _plain(value: Any) -> Any:
    """A command's result as the JSON front ends print it (tasks are mappings)."""
    return json.loads(json.dumps(value, default=str))


def open_channel(spec: dict[str, Any], target: Target) -> Channel:
    channel = spec["channel"]
    env = spec.get("env") or {}
    if channel == "cli":
        return CliChannel(target, env)
    if channel == "api":
        instance = int(spec.get("instance", 0))
        return ApiChannel(spec["ports"][instance], instance)
    if channel == "mcp":
        return McpChannel(target, env, Path(spec["log"]))
    if channel == "facade":
        return FacadeChannel(target)
    raise ValueError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")


# recording ----------------------------------------------------------------------------------


def _task_id(body: Any) -> str | None:
    """The id of the task an answer names: a claim result's task, or a task itself."""
    if isinstance(body, dict) and "claim" in body:
        body = body.get("task")
    task = task_of(body)
    if isinstance(task, dict) and task.get("id") is not None:
        return str(task["id"])
    return None


def _token(body: Any) -> int | None:
    claim = body.get("claim") if isinstance(body, dict) else None
    token = claim.get("token") if isinstance(claim, dict) else None
    return token if type(token) is int else None


class ClaimAgent:
    """Runs the protocol through a channel and records each step as an op."""

    def __init__(self, history: HistoryWriter, channel: Channel, spec: dict[str, Any]) -> None:
        self.history = history
        self.channel = channel
        self.name: str = spec["actor"]
        self.protocol: str = spec.get("protocol", CLAIM)
        self.lease = float(spec.get("lease_s", 60))
        self.phase: str | None = spec.get("phase")
        self.fenced = bool(spec.get("fenced", True))
        self.think = float(spec.get("think_ms", 0)) / 1000
        self.work = float(spec.get("work_ms", 0)) / 1000

    def _op(self, kind: str, step: str, **values: Any) -> Op:
        info = {"claim": step, "via": self.channel.name, **values.pop("info", {})}
        op = self.history.op(kind, channel=self.channel.name, phase=self.phase, info=info, **values)
        op.start = now_ns()
        return op

    def _done(self, op: Op, reply: Reply, **values: Any) -> Op:
        info = {**values.pop("info", op.info), **reply.info}
        return self.history.complete(
            op, reply.outcome, error=reply.error, revision=reply.revision, info=info, **values
        )

    # the steps ----------------------------------------------------------------------------
    def acquire(self, task: str | None) -> tuple[Op, int | None] | None:
        """Become the task's holder; (the acquiring op, its token), or None when there is
        nothing left (or the acquisition failed)."""
        if self.protocol == CLAIM:
            op = self._op(
                WRITE,
                ACQUIRE,
                key=f"task/{task}" if task else None,
                value={"status": "in-progress"},
                info={"lease_s": self.lease, "requested": task},
            )
            reply = self.channel.claim(self.name, self.lease, task)
            got = _task_id(reply.body) if reply.outcome == OK else None
            token = _token(reply.body) if reply.outcome == OK else None
            key = f"task/{got}" if got else op.key
            info = {**op.info, "token": token} if token is not None else op.info
            done = self._done(op, reply, key=key, info=info)
            if reply.outcome != OK or got is None:
                return None
            return done, token
        # naive: what `next` offers, a pause, then the start in a transaction of its own
        if task is None:
            look = self._op(READ, NEXT)
            reply = self.channel.next()
            task = _task_id(reply.body) if reply.outcome == OK else None
            value = project(task_of(reply.body)) if task else None
            self._done(look, reply, key=f"task/{task}" if task else None, value=value)
            if task is None:
                return None
        time.sleep(self.think)  # the agent reads the task it was offered
        op = self._op(WRITE, ACQUIRE, key=f"task/{task}", value={"status": "in-progress"})
        reply = self.channel.set_status(task, "in-progress", None)
        done = self._done(op, reply)
        return (done, None) if reply.outcome == OK else None

    def read_task(self) -> None:
        """The pause after a claim: the agent reads the task it got (the naive protocol
        pauses as long between `next` and its start)."""
        if self.protocol == CLAIM:
            time.sleep(self.think)

    def work_on(self, acquired: Op, token: int | None, round_index: int) -> Op:
        time.sleep(self.work)
        task = (acquired.key or "").removeprefix("task/")
        value = {"details": f"{self.name} r{round_index} t{token if token is not None else '-'}"}
        sent = token if self.fenced else None
        op = self._op(
            WRITE,
            WORK,
            key=acquired.key,
            value=value,
            info={"token": token, "fenced": sent is not None, "acquisition": acquired.id},
        )
        return self._done(op, self.channel.update(task, value, sent))

    def release(self, acquired: Op, token: int | None) -> Op:
        task = (acquired.key or "").removeprefix("task/")
        info = {"token": token, "acquisition": acquired.id}
        op = self._op(WRITE, RELEASE, key=acquired.key, value={"status": "done"}, info=info)
        if self.protocol == CLAIM and token is not None:
            reply = self.channel.release(token, "done")
        else:
            reply = self.channel.set_status(task, "done", None)
        return self._done(op, reply)


def claimer(spec: dict[str, Any]) -> None:
    history = HistoryWriter(spec["history"], spec["actor"])
    target = Target.from_dict(spec["target"])
    barriers = Barriers(spec["barriers"])
    name = spec["actor"]
    channel = open_channel(spec, target)
    agent = ClaimAgent(history, channel, spec)
    stop = spec.get("stop")
    try:
        barriers.mark(f"{name}:ready")
        barriers.wait(spec["start"], timeout=120)
        for index in range(int(spec.get("rounds", 1))):
            if stop and barriers.is_set(stop):
                break
            got = agent.acquire(spec.get("task"))
            if got is None:
                break
            acquired, token = got
            barriers.mark(f"{name}:claimed", "" if token is None else str(token))
            agent.read_task()
            agent.work_on(acquired, token, index)
            barriers.mark(f"{name}:wrote")
            if spec.get("hold"):
                barriers.wait(spec["hold"], timeout=120)
            if spec.get("release", True):
                agent.release(acquired, token)
        barriers.mark(f"{name}:done")
    finally:
        channel.close()
        history.close()
