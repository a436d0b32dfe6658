"""`events-exactly-once` on crafted client records: each anomaly reported, a clean one passes."""

from __future__ import annotations

import itertools
from typing import Any

from harness.checker import check
from harness.events_check import SSE_CHANNEL
from harness.history import OBSERVE, Op

_ids = itertools.count()
COMMITTED = [10, 20, 30, 40]


def _client(deliveries: list[list[int]], committed: list[int] = COMMITTED) -> Op:
    value = {"committed": committed, "deliveries": deliveries, "connections": 2}
    return Op(
        id=f"op{next(_ids)}",
        actor="client-0",
        kind=OBSERVE,
        start=next(_ids),
        end=None,
        channel=SSE_CHANNEL,
        value=value,
    )


def _counts(*ops: Op) -> dict[str, Any]:
    return check(list(ops), ["events-exactly-once"], {}).counts


def test_every_commit_once_in_order_over_several_connections_passes() -> None:
    assert _counts(_client([[10, 1], [20, 1], [30, 2], [40, 2]])) == {}


def test_a_commit_a_client_never_got_is_lost() -> None:
    result = check([_client([[10, 1], [40, 2]])], ["events-exactly-once"], {})
    assert result.counts == {"event-lost": 2}
    assert "revisions 20, 30" in result.violations[0].message


def test_a_commit_got_twice_is_duplicated() -> None:
    assert _counts(_client([[10, 1], [20, 1], [20, 2], [30, 2], [40, 2]])) == {
        "event-duplicated": 1
    }


def test_a_commit_got_after_a_later_one_is_out_of_order() -> None:
    counts = _counts(_client([[10, 1], [30, 1], [40, 1], [20, 2]]))
    assert counts == {"event-out-of-order": 1}


def test_each_client_is_checked_on_its_own() -> None:
    good = _client([[10, 1], [20, 1], [30, 1], [40, 1]])
    bad = _client([[10, 1], [20, 1], [30, 1]])
    assert _counts(good, bad) == {"event-lost": 1}


def test_no_client_record_or_no_commit_is_a_failure_not_a_pass() -> None:
    assert _counts() == {"event-lost": 1}
    assert _counts(_client([], committed=[])) == {"event-lost": 1}
