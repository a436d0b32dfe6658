"""The history checker: pure functions from recorded ops to violations, Jepsen style.

Every field of every task is a register. A write is a candidate source of the values it wrote;
it "definitely precedes" another operation when it was acknowledged before that one started
(``a.end < b.start``; an indeterminate write never definitely precedes anything). Values carry
unique tokens wherever the scenarios can arrange it, and where they cannot (statuses repeat)
the checker gives every read the benefit of the doubt: a read is only called stale when *every*
write that could have produced its value is definitely older than a write acknowledged before
the read began.

Invariants (the names scenario files use) and the anomaly each reports:

    acknowledged-writes-present   lost-update       an acknowledged write is missing at the end
    no-stale-read                 stale-read        a read after a write's ack saw an older value
                                                    or an older revision
                                  unknown-value     a read returned a value nobody ever wrote
    monotonic-reads               non-monotonic-read  a client saw a newer state, then an older
    file-parses                   torn-file         the file did not parse when looked at
    converged                     not-converged     an instance still disagrees with the file
                                                    after everything settled
    writes-refused                write-not-refused a write was acknowledged while it should have
                                                    been refused (corrupt or half-written file)
    bytes-unchanged               bytes-changed     the refused file's bytes changed anyway
    clear-503                     corrupt-served    the API served data while the file was corrupt
                                  unclear-error     ...or failed, but not with a 503 problem
    writes-succeed                write-failed      a write that had to succeed did not
    rate-limit                    rate-limit-exceeded  more requests accepted than the budget
    available                     request-failed    a request failed in a phase where every one
                                                    must succeed (a Redis outage included)
    recovers                      not-recovered     an instance did not report Redis (or its
                                                    storage) up again, or a writer did not get
                                                    a write through, soon after Redis (or
                                                    PostgreSQL) came back
    journal-agrees                journal-mismatch  the change journal and the final document
                                                    disagree: an acknowledged write without its
                                                    entry, an entry for a commit that never
                                                    was, a last change the document does not
                                                    hold (`harness.journal_check`; taskmaster
                                                    only)
    events-exactly-once           event-lost        an event-stream client never got a commit
                                  event-duplicated  ...or got one twice
                                  event-out-of-order  ...or got one after a later one
                                                    (`harness.events_check`)
    reference-interop             silent-loss       a write the real task-master-ai
                                                    acknowledged is missing at the end, or a tm
                                                    write it reverted that no journal entry
                                                    names (`harness.reference_check`)

and the claim invariants of `harness.claims_check` (one-claim-holder, worked-once,
releases-recorded, tokens-increase, fenced-writes), over the ops of the agents' claim protocol.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from harness.claims_check import CLAIM_ANOMALIES, CLAIM_CHECKS
from harness.events_check import ANOMALIES as EVENT_ANOMALIES
from harness.events_check import check_events
from harness.history import FINAL, META, OBSERVE, OK, READ, WRITE, Op
from harness.journal_check import check_journal
from harness.phase_checks import (
    check_available,
    check_bytes_unchanged,
    check_clear_503,
    check_rate_limit,
    check_recovers,
    check_writes_refused,
    check_writes_succeed,
)
from harness.reference_check import ANOMALIES as REFERENCE_ANOMALIES
from harness.reference_check import check_reference_interop
from harness.registers import (
    Registers,
    Source,
    end_of,
    fields_of,
    final_value,
    ops_of,
    snapshots,
)
from harness.violations import CheckResult, Violation, describe

INVARIANT_ANOMALIES: dict[str, tuple[str, ...]] = {
    "acknowledged-writes-present": ("lost-update",),
    "no-stale-read": ("stale-read", "unknown-value"),
    "monotonic-reads": ("non-monotonic-read",),
    "file-parses": ("torn-file",),
    "converged": ("not-converged",),
    "writes-refused": ("write-not-refused",),
    "bytes-unchanged": ("bytes-changed",),
    "clear-503": ("corrupt-served", "unclear-error"),
    "writes-succeed": ("write-failed",),
    "rate-limit": ("rate-limit-exceeded",),
    "available": ("request-failed",),
    "recovers": ("not-recovered",),
    "journal-agrees": ("journal-mismatch",),
    "events-exactly-once": EVENT_ANOMALIES,
    "reference-interop": REFERENCE_ANOMALIES,
    **CLAIM_ANOMALIES,
}
INVARIANTS = tuple(INVARIANT_ANOMALIES)
ANOMALIES = tuple(a for names in INVARIANT_ANOMALIES.values() for a in names)


# invariants ------------------------------------------------------------------------------------


def check_writes_present(ops: list[Op], registers: Registers) -> list[Violation]:
    """Every write acknowledged before a snapshot of the file (`final` records, taken when no
    write is in flight) is in it, unless a write acknowledged later replaced it."""
    found: list[Violation] = []
    counted: set[str] = set()  # a write lost at one snapshot stays lost at the next: count once

    def report(violation: Violation, lost: list[Op]) -> None:
        fresh = [op for op in lost if op.id not in counted]
        counted.update(op.id for op in fresh)
        if fresh:
            found.append(replace(violation, count=len(fresh)))

    for snap in snapshots(ops):
        at = snap.start
        state = snap.value or {}
        where = "the final file" if snap.phase in (None, "final") else f"the file {snap.phase}"

        def before(source: Source, at: float = at) -> bool:
            return source.op is not None and source.ack < at

        adds = [
            op
            for ops_of_key in registers.adds.values()
            for op in ops_of_key
            if op.outcome == OK and op.end is not None and op.end < at
        ]
        if not state.get("parses", False):
            acked = [s.op for srcs in registers.acked.values() for s in srcs if before(s)]
            acked += adds
            if acked:
                report(
                    Violation(
                        "lost-update",
                        f"{where} does not parse: {len(acked)} acknowledged writes are gone "
                        "with it",
                        (snap, *acked[:3]),
                    ),
                    acked,
                )
            continue
        titles = set(state.get("titles") or ())
        for op in adds:
            token = (op.key or "").removeprefix("add/")
            if token not in titles:
                report(
                    Violation(
                        "lost-update",
                        f"acknowledged add-task {token!r} is not in {where}",
                        (op, snap),
                    ),
                    [op],
                )
        for register, acked in registers.acked.items():
            relevant = [s for s in acked if before(s)]
            if not relevant:
                continue
            key, name = register
            present, value = final_value(state, key, name)
            latest = max(relevant, key=lambda s: s.ack)
            if not present and latest.op is not None:
                report(
                    Violation(
                        "lost-update", f"{key} has no {name!r} in {where}", (latest.op, snap)
                    ),
                    [latest.op],
                )
                continue
            sources = registers.candidates(register, value, at)
            if not sources:
                found.append(
                    Violation(
                        "unknown-value",
                        f"{key} {name}={value!r} in {where} was never written",
                        (latest.op, snap),
                    )
                )
                continue
            newer = [registers.superseded(register, s, at) for s in sources]
            if all(n is not None for n in newer):
                lost_op = max((n for n in newer if n is not None), key=lambda s: s.ack).op
                assert lost_op is not None  # only writes supersede
                report(
                    Violation(
                        "lost-update",
                        f"{key} {name}={value!r} in {where}, but the acknowledged write of "
                        f"{fields_of(lost_op).get(name)!r} (made after that value was written) "
                        "is lost",
                        (lost_op, *ops_of(sources[:1]), snap),
                    ),
                    [lost_op],
                )
    return found


def _reads(ops: list[Op]) -> list[Op]:
    return [op for op in ops if op.kind == READ and op.outcome == OK and op.key]


def check_stale_reads(ops: list[Op], registers: Registers) -> list[Violation]:
    found: list[Violation] = []
    revisioned = sorted(
        (op for op in ops if op.kind == WRITE and op.outcome == OK and op.revision is not None),
        key=lambda op: op.end or 0,
    )
    ends = [op.end or 0 for op in revisioned]
    best: list[Op] = []
    for op in revisioned:
        best.append(op if not best or op.revision > best[-1].revision else best[-1])
    for read in _reads(ops):
        reported = False
        for name, value in fields_of(read).items():
            register = (read.key, name)
            if register not in registers.sources:
                continue
            sources = registers.candidates(register, value, end_of(read))
            if not sources:
                found.append(
                    Violation(
                        "unknown-value",
                        f"{read.actor} read {read.key} {name}={value!r}, a value not written "
                        "before the read ended",
                        (read,),
                    )
                )
                reported = True
                break
            newer = [registers.superseded(register, s, read.start) for s in sources]
            if all(n is not None for n in newer):
                winner = max((n for n in newer if n is not None), key=lambda s: s.ack)
                lag = (read.start - winner.ack) / 1e6
                found.append(
                    Violation(
                        "stale-read",
                        f"{read.actor} read {read.key} {name}={value!r} {lag:.1f} ms after "
                        f"the write of {winner.value!r} was acknowledged",
                        (read, *ops_of([winner])),
                    )
                )
                reported = True
                break
        if reported or read.revision is None:
            continue
        index = bisect.bisect_left(ends, read.start) - 1
        if index >= 0 and best[index].revision > read.revision:
            write = best[index]
            found.append(
                Violation(
                    "stale-read",
                    f"{read.actor} read revision {read.revision} of {read.key} "
                    f"{(read.start - (write.end or 0)) / 1e6:.1f} ms after revision "
                    f"{write.revision} was acknowledged",
                    (read, write),
                )
            )
    return found


def check_monotonic_reads(ops: list[Op], registers: Registers) -> list[Violation]:
    found: list[Violation] = []
    by_client: dict[str, list[Op]] = defaultdict(list)
    for read in _reads(ops):
        by_client[read.actor].append(read)
    for client, reads in by_client.items():
        by_end = sorted(reads, key=lambda r: r.end or 0)
        floor_rev: Op | None = None
        # per register: the read whose value's earliest possible source is latest so far
        floors: dict[tuple[str, str], tuple[float, Op]] = {}
        pointer = 0
        for read in sorted(reads, key=lambda r: r.start):
            while pointer < len(by_end) and (by_end[pointer].end or 0) <= read.start:
                earlier = by_end[pointer]
                pointer += 1
                if earlier.revision is not None and (
                    floor_rev is None or earlier.revision > (floor_rev.revision or 0)
                ):
                    floor_rev = earlier
                for name, value in fields_of(earlier).items():
                    sources = registers.candidates((earlier.key, name), value, end_of(earlier))
                    if sources:
                        low = min(s.inv for s in sources)
                        current = floors.get((earlier.key, name))
                        if current is None or low > current[0]:
                            floors[(earlier.key, name)] = (low, earlier)
            if (
                floor_rev is not None
                and read.revision is not None
                and read.revision < (floor_rev.revision or 0)
            ):
                found.append(
                    Violation(
                        "non-monotonic-read",
                        f"{client} saw revision {floor_rev.revision}, then the older "
                        f"revision {read.revision}",
                        (floor_rev, read),
                    )
                )
                continue
            for name, value in fields_of(read).items():
                floor = floors.get((read.key, name))
                sources = registers.candidates((read.key, name), value, end_of(read))
                if floor is None or not sources:
                    continue
                if max(s.ack for s in sources) < floor[0]:
                    found.append(
                        Violation(
                            "non-monotonic-read",
                            f"{client} read {read.key} {name}={value!r} after it had already "
                            f"seen {fields_of(floor[1]).get(name)!r}, a later write",
                            (floor[1], read),
                        )
                    )
                    break
    return found


def check_file_parses(ops: list[Op], registers: Registers) -> list[Violation]:
    found = []
    for op in ops:
        looked = op.kind in (OBSERVE, FINAL) and isinstance(op.value, dict)
        if looked and op.value.get("parses") is False:
            what = "final file" if op.kind == FINAL else "file"
            reason = op.value.get("error") or "invalid JSON"
            found.append(Violation("torn-file", f"the {what} did not parse: {reason}", (op,)))
    return found


def check_converged(ops: list[Op], registers: Registers) -> list[Violation]:
    found: list[Violation] = []
    finals = snapshots(ops)
    if not finals or not (finals[-1].value or {}).get("parses"):
        return found  # a torn final file is file-parses' to report
    state = finals[-1].value
    for read in _reads(ops):
        if read.phase != "final":
            continue
        for name, value in fields_of(read).items():
            present, expected = final_value(state, read.key, name)
            if present and value != expected:
                where = f"instance {read.instance}" if read.instance is not None else read.actor
                found.append(
                    Violation(
                        "not-converged",
                        f"{where} still serves {read.key} {name}={value!r}; the file has "
                        f"{expected!r}",
                        (read, finals[-1]),
                    )
                )
                break
    return found


_REGISTER_CHECKS: dict[str, Callable[[list[Op], Registers], list[Violation]]] = {
    "acknowledged-writes-present": check_writes_present,
    "no-stale-read": check_stale_reads,
    "monotonic-reads": check_monotonic_reads,
    "file-parses": check_file_parses,
    "converged": check_converged,
}
_CONFIG_CHECKS: dict[str, Callable[[list[Op], dict[str, Any]], list[Violation]]] = {
    "writes-refused": check_writes_refused,
    "bytes-unchanged": check_bytes_unchanged,
    "clear-503": check_clear_503,
    "writes-succeed": check_writes_succeed,
    "rate-limit": check_rate_limit,
    "available": check_available,
    "recovers": check_recovers,
    "journal-agrees": check_journal,
    "events-exactly-once": check_events,
    "reference-interop": check_reference_interop,
}


def meta_of(ops: list[Op]) -> dict[str, Any]:
    for op in ops:
        if op.kind == META and isinstance(op.value, dict):
            return op.value
    return {}


def check(
    ops: list[Op],
    invariants: Iterable[str] | None = None,
    config: dict[str, Any] | None = None,
) -> CheckResult:
    """Check `ops` against `invariants` (default: those the history's meta record names)."""
    config = config if config is not None else meta_of(ops)
    names = list(invariants if invariants is not None else config.get("invariants") or INVARIANTS)
    unknown = [name for name in names if name not in INVARIANT_ANOMALIES]
    if unknown:
        raise ValueError(f"unknown invariant(s): {', '.join(unknown)}")
    ops = sorted(ops, key=lambda op: (op.start, op.id))
    registers = Registers(ops)
    result = CheckResult(checked=names)
    for name in names:
        if name in _REGISTER_CHECKS:
            result.violations.extend(_REGISTER_CHECKS[name](ops, registers))
        elif name in CLAIM_CHECKS:
            result.violations.extend(CLAIM_CHECKS[name](ops))
        else:
            result.violations.extend(_CONFIG_CHECKS[name](ops, config))
    return result


__all__ = [
    "ANOMALIES",
    "INVARIANTS",
    "INVARIANT_ANOMALIES",
    "CheckResult",
    "Registers",
    "Violation",
    "check",
    "describe",
    "final_value",
    "meta_of",
]
