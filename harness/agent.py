"""The agent: an AI agent's session on the MCP front end, played by a worker process.

    safe       the SDK's own stdio client starts the real `tm --project ROOT mcp` and every
               operation is a tool call over the protocol: set_task_status, update_task and
               add_task for writes, get_task for reads. Answers are the JSON text `tm --json`
               prints (no revision in them: like a CLI op, an MCP op records none).
    baseline   `harness.baseline.NaiveAgent` in this process: the reference tool's MCP server
               as it behaves, with the tasks loaded once when the session begins, every answer
               served from that copy and the whole copy written back after each change. It
               does not speak MCP: what the reference server gets wrong is the copy it keeps,
               not the protocol, which would only add start-up time.

Every call is recorded as an op of channel `mcp` (writes: the key and value of the write spec,
as for the CLI and the API; reads: `task/<id>` with the fields the answer holds). Outcomes: `ok`
answered, `fail` a tool error (the call was refused), `info` no answer (timeout, server gone:
a write may have happened or not).

The worker (role `agent`):

    open the session (safe: start `tm mcp` and initialize), mark `<actor>:ready`, wait for
    `start`; make the planned calls (`{"write": spec}` or `{"read": id}`), `pause_ms` apart,
    until the plan ends or `stop` is set; mark `<actor>:done`, wait for `final` and read
    every task in `tasks` once more (phase `final`).
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.actors import OUTCOME_UNKNOWN_TEXT, mcp_call, project, task_of, write_key
from harness.history import EVENT, FAIL, INFO, OK, READ, WRITE, HistoryWriter, Op, now_ns
from harness.processes import Barriers, child_env
from harness.targets import Target, tm_executable

CALL_TIMEOUT = 30.0
CHANNEL = "mcp"


@dataclass
class Answer:
    is_error: bool
    text: str


class McpSession:
    """A real `tm mcp` process and the SDK client connected to it; `call` is synchronous (the
    client runs on an event loop in a background thread, as in tests/test_mcp.py)."""

    def __init__(self, target: Target, env: dict[str, str], log: Path) -> None:
        from anyio.from_thread import start_blocking_portal
        from mcp import Client
        from mcp.client.stdio import StdioServerParameters, stdio_client

        self.root = str(target.root)
        params = StdioServerParameters(
            command=tm_executable(),
            args=target.mcp_args(),
            # The SDK passes only a few "safe" variables on; give the server ours (TM_* of
            # the user's dropped, the scenario's own kept), as every other child gets.
            env=child_env(env),
            cwd=self.root,
        )
        self._stack = ExitStack()
        try:
            errlog = self._stack.enter_context(log.open("a"))
            self.portal = self._stack.enter_context(start_blocking_portal())
            self.client = self._stack.enter_context(
                self.portal.wrap_async_context_manager(
                    Client(stdio_client(params, errlog=errlog), read_timeout_seconds=CALL_TIMEOUT)
                )
            )
        except BaseException:
            self._stack.close()
            raise

    def call(self, tool: str, arguments: dict[str, Any]) -> Answer:
        result = self.portal.call(
            self.client.call_tool, tool, {"projectRoot": self.root, **arguments}
        )
        text = "".join(getattr(part, "text", "") for part in result.content)
        return Answer(bool(result.is_error), text)

    def close(self) -> None:
        # Closes the server's stdin; the SDK waits for it to exit, then kills what is left.
        self._stack.close()


class NaiveSession:
    """The naive agent server, called in this process."""

    def __init__(self, target: Target) -> None:
        from harness.baseline import NaiveAgent

        self.server = NaiveAgent(target.naive_location())
        self.loaded_at = self.server.loaded_at

    def call(self, tool: str, arguments: dict[str, Any]) -> Answer:
        from harness.baseline import NaiveError, TornRead

        try:
            return Answer(False, self.server.call(tool, arguments))
        except (NaiveError, TornRead, OSError, KeyError) as err:
            return Answer(True, f"{type(err).__name__}: {err}")

    def close(self) -> None:
        pass


Session = McpSession | NaiveSession


def open_session(target: Target, env: dict[str, str], log: Path) -> Session:
    return McpSession(target, env, log) if target.safe else NaiveSession(target)


class AgentActor:
    """Performs MCP calls through a session and records each as an Op."""

    def __init__(self, history: HistoryWriter, session: Session) -> None:
        self.history = history
        self.session = session

    def write(self, spec: dict[str, Any], *, phase: str | None = None) -> Op:
        tool, arguments = mcp_call(spec)
        op = self.history.op(
            WRITE,
            channel=CHANNEL,
            key=write_key(spec),
            value=dict(spec["value"]),
            phase=phase,
            info={"op": spec["op"], "tool": tool},
        )
        op.start = now_ns()
        try:
            answer = self.session.call(tool, arguments)
        except Exception as err:  # no answer: it may have been written or not
            return self.history.complete(op, INFO, error=f"{type(err).__name__}: {err}")
        if answer.is_error:
            # A write whose database connection broke while it committed may have been applied.
            outcome = INFO if OUTCOME_UNKNOWN_TEXT in answer.text else FAIL
            return self.history.complete(op, outcome, error=answer.text[:300])
        return self.history.complete(op, OK)

    def read(self, task_id: int, *, phase: str | None = None) -> Op:
        op = self.history.op(
            READ, channel=CHANNEL, key=f"task/{task_id}", phase=phase, info={"tool": "get_task"}
        )
        op.start = now_ns()
        try:
            answer = self.session.call("get_task", {"id": str(task_id)})
        except Exception as err:
            return self.history.complete(op, FAIL, error=f"{type(err).__name__}: {err}")
        if answer.is_error:
            return self.history.complete(op, FAIL, error=answer.text[:300])
        try:
            task = task_of(json.loads(answer.text))
        except ValueError as err:
            return self.history.complete(op, FAIL, error=f"not JSON: {err}")
        return self.history.complete(op, OK, value=project(task))


def agent(spec: dict[str, Any]) -> None:
    history = HistoryWriter(spec["history"], spec["actor"])
    target = Target.from_dict(spec["target"])
    barriers = Barriers(spec["barriers"])
    name = spec["actor"]
    pause = float(spec.get("pause_ms", 0)) / 1000
    phase = spec.get("phase")

    started = now_ns()
    session = open_session(target, spec.get("env") or {}, Path(spec["log"]))
    info: dict[str, Any] = {"server": "tm mcp" if target.safe else "naive agent, in process"}
    if isinstance(session, NaiveSession):
        info["loaded_at"] = session.loaded_at
    history.record(
        EVENT, start=started, end=now_ns(), value={"event": f"{name}: session open"}, info=info
    )
    actor = AgentActor(history, session)
    done = 0
    try:
        barriers.mark(f"{name}:ready")
        barriers.wait(spec["start"], timeout=60)
        for step in spec["plan"]:
            if barriers.is_set(spec["stop"]):
                break
            if "read" in step:
                actor.read(step["read"], phase=phase)
            else:
                actor.write(step["write"], phase=phase)
            done += 1
            if pause:
                time.sleep(pause)
        history.record(
            EVENT,
            value={"event": f"{name}: {done} of {len(spec['plan'])} planned calls made"},
            info={"calls": done, "planned": len(spec["plan"])},
        )
        barriers.mark(f"{name}:done")
        if barriers.wait(spec["final"], timeout=120):
            for task_id in spec["tasks"]:
                actor.read(task_id, phase="final")
    finally:
        with contextlib.suppress(Exception):
            session.close()
        history.close()


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM from the harness: unwind, so that the session closes `tm mcp` (it runs in a
    # session of its own, out of reach of a signal to our process group).
    raise SystemExit(128 + signum)


def install() -> None:
    signal.signal(signal.SIGTERM, _terminate)
