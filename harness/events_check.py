"""`events-exactly-once`: every event-stream client saw every commit once, in revision order.

The `resume-events` runner records one `observe` op per client on channel ``sse``: the
revisions the journal committed during the run (``committed``) and the client's deliveries,
``[revision, connection]`` in the order it got them (the events of one commit on one
connection are one delivery). Anomalies:

    event-lost          a committed revision the client never got
    event-duplicated    a revision the client got twice (on two connections, or twice on one)
    event-out-of-order  a revision delivered after a higher one
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.history import OBSERVE, Op
from harness.violations import Violation

SSE_CHANNEL = "sse"
ANOMALIES = ("event-lost", "event-duplicated", "event-out-of-order")


def _shown(revisions: list[int]) -> str:
    head = ", ".join(str(r) for r in revisions[:3])
    return head + (f" (and {len(revisions) - 3} more)" if len(revisions) > 3 else "")


def check_events(ops: list[Op], config: dict[str, Any]) -> list[Violation]:
    records = [op for op in ops if op.kind == OBSERVE and op.channel == SSE_CHANNEL]
    if not records:
        return [Violation("event-lost", "the run recorded no event-stream client", ())]
    found: list[Violation] = []
    for record in records:
        value = record.value or {}
        committed = [int(r) for r in value.get("committed") or ()]
        delivered = [int(r) for r, _ in value.get("deliveries") or ()]
        if not committed:
            found.append(Violation("event-lost", "no commit to deliver: nothing tested", (record,)))
            continue
        got = set(delivered)
        lost = [r for r in committed if r not in got]
        if lost:
            found.append(
                Violation(
                    "event-lost",
                    f"{record.actor} never got {len(lost)} of {len(committed)} commits "
                    f"(revisions {_shown(lost)}) over {value.get('connections')} connections",
                    (record,),
                    count=len(lost),
                )
            )
        twice = sorted(r for r, n in Counter(delivered).items() if n > 1)
        if twice:
            found.append(
                Violation(
                    "event-duplicated",
                    f"{record.actor} got {len(twice)} commits more than once "
                    f"(revisions {_shown(twice)})",
                    (record,),
                    count=len(twice),
                )
            )
        backwards = [r for i, r in enumerate(delivered) if i and r < max(delivered[:i])]
        if backwards:
            found.append(
                Violation(
                    "event-out-of-order",
                    f"{record.actor} got {len(backwards)} commits after a later one "
                    f"(revisions {_shown(backwards)})",
                    (record,),
                    count=len(backwards),
                )
            )
    return found
