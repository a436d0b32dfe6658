"""Checks of what must (or must not) happen in given phases of a scenario.

The phases come from the history's meta record (`refuse_phases`, `expect_ok_phases`,
`limit_phases`, `rate_limit`, `available_phases`, `outage`, `recovery`), so a replay checks
exactly what the run checked.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from harness.history import FAIL, OBSERVE, OK, READ, WRITE, Op
from harness.violations import Violation


def phases_of(config: dict[str, Any], name: str) -> set[str]:
    return set(config.get(name) or ())


def check_writes_refused(ops: list[Op], config: dict[str, Any]) -> list[Violation]:
    phases = phases_of(config, "refuse_phases")
    return [
        Violation(
            "write-not-refused",
            f"{op.channel or op.actor} write was acknowledged while the file was {op.phase}",
            (op,),
        )
        for op in ops
        if op.kind == WRITE and op.phase in phases and op.outcome == OK
    ]


def check_bytes_unchanged(ops: list[Op], config: dict[str, Any]) -> list[Violation]:
    found = []
    for op in ops:
        expected = op.info.get("expect_sha") if op.kind == OBSERVE else None
        if expected and (op.value or {}).get("sha") != expected:
            found.append(
                Violation(
                    "bytes-changed",
                    f"the file's bytes changed while it had to stay as it was ({op.phase})",
                    (op,),
                )
            )
    return found


def check_clear_503(ops: list[Op], config: dict[str, Any]) -> list[Violation]:
    found = []
    phases = phases_of(config, "refuse_phases")
    for op in ops:
        if op.kind not in (READ, WRITE) or op.channel != "api" or op.phase not in phases:
            continue
        status = op.info.get("status")
        if op.kind == READ and op.outcome == OK:
            found.append(
                Violation(
                    "corrupt-served",
                    f"instance {op.instance} answered {status} with data while the file was "
                    f"{op.phase}",
                    (op,),
                )
            )
        elif op.outcome == FAIL and (
            status != 503 or "problem+json" not in str(op.info.get("content_type", ""))
        ):
            found.append(
                Violation(
                    "unclear-error",
                    f"instance {op.instance} answered {status} "
                    f"({op.info.get('content_type')}), not a 503 problem",
                    (op,),
                )
            )
    return found


def check_writes_succeed(ops: list[Op], config: dict[str, Any]) -> list[Violation]:
    phases = phases_of(config, "expect_ok_phases")
    return [
        Violation(
            "write-failed",
            f"{op.channel or op.actor} write in phase {op.phase} did not succeed: "
            f"{op.outcome} {op.error or ''}".rstrip(),
            (op,),
        )
        for op in ops
        if op.kind == WRITE and op.phase in phases and op.outcome != OK
    ]


def check_rate_limit(ops: list[Op], config: dict[str, Any]) -> list[Violation]:
    limit = config.get("rate_limit") or {}
    budget, window = limit.get("budget"), limit.get("window_s")
    if not budget or not window:
        return []
    phases = phases_of(config, "limit_phases") or {"burst"}
    shared = bool(limit.get("shared"))
    accepted: dict[Any, list[Op]] = defaultdict(list)
    for op in ops:
        if op.kind in (READ, WRITE) and op.phase in phases and op.outcome == OK:
            accepted["all" if shared else op.instance].append(op)
    found = []
    span = window * 1e9
    for instance, oks in accepted.items():
        oks.sort(key=lambda o: o.start)
        low = 0
        for high, op in enumerate(oks):
            while oks[low].start <= op.start - span:
                low += 1
            if high - low + 1 > budget:
                where = "all instances" if shared else f"instance {instance}"
                found.append(
                    Violation(
                        "rate-limit-exceeded",
                        f"{where} accepted {high - low + 1} requests within {window:g} s; the "
                        f"budget is {budget}",
                        (oks[low], op),
                    )
                )
                break
    return found


def _during(op: Op, windows: list[list[int]]) -> bool:
    end = op.end if op.end is not None else op.start
    return any(op.start <= high and end >= low for low, high in windows)


def check_available(ops: list[Op], config: dict[str, Any]) -> list[Violation]:
    """Every read and write of the `available_phases` succeeded: an outage of a helper
    service (Redis) must not fail a single request. Says which failures overlapped one."""
    phases = phases_of(config, "available_phases")
    windows = [list(w) for w in (config.get("outage") or {}).get("windows", [])]
    found = []
    for op in ops:
        if op.kind not in (READ, WRITE) or op.phase not in phases or op.outcome == OK:
            continue
        where = f"instance {op.instance}" if op.instance is not None else op.channel or op.actor
        when = " while Redis was down" if _during(op, windows) else ""
        found.append(
            Violation(
                "request-failed",
                f"{op.kind} {op.key} through {where} failed{when}: "
                f"{op.outcome} {op.error or ''}".rstrip(),
                (op,),
            )
        )
    return found


def check_recovers(ops: list[Op], config: dict[str, Any]) -> list[Violation]:
    """After the helper (Redis) or the database (PostgreSQL) came back, every instance's
    /api/v1/health said so within `within_s`, and every writer process had a write
    acknowledged again within it: they reconnect on their own, no restart."""
    recovery = config.get("recovery") or {}
    within = recovery.get("within_s")
    what = recovery.get("what", "redis up")
    server = recovery.get("server", "Redis")
    limit = f"{within:g} s" if within is not None else "the run"
    found = []
    for index, state in sorted((recovery.get("instances") or {}).items()):
        seconds = state.get("seconds")
        if seconds is None or (within is not None and seconds > within):
            found.append(
                Violation(
                    "not-recovered",
                    f"instance {index}: /api/v1/health did not report {what} within "
                    f"{limit} after {server} came back (last: {state.get('last')})",
                )
            )
    for actor, state in sorted((recovery.get("writers") or {}).items()):
        seconds = state.get("seconds")
        if seconds is None or (within is not None and seconds > within):
            found.append(
                Violation(
                    "not-recovered",
                    f"writer {actor}: no write acknowledged within {limit} after {server} "
                    f"came back ({state.get('writes_after', 0)} attempted after it)",
                )
            )
    return found
