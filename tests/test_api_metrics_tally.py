"""`RequestTally`: the request counter and duration histogram, counted per thread, must expose
exactly what prometheus_client's own Counter and Histogram would for the same responses."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from taskmaster.api.metrics import DURATION_BUCKETS, RequestTally

ROUTES = ("/api/v1/tasks", "/api/v1/tasks/{task_id}")
Response = tuple[str, str, int, float | None]
responses = st.tuples(
    st.sampled_from(ROUTES),
    st.sampled_from(("GET", "PUT")),
    st.sampled_from((200, 404)),
    st.one_of(
        st.none(),
        st.sampled_from(DURATION_BUCKETS),  # exactly on a bound: that bucket, as Histogram has it
        st.floats(min_value=0, max_value=10, allow_nan=False),
    ),
)


def _exposition(registry: CollectorRegistry) -> list[str]:
    """The exposition's lines, sorted; sums to 9 digits (threads add them in another order)."""
    lines = []
    for line in generate_latest(registry).decode().splitlines():
        if "_created" in line:
            continue
        name, _, value = line.rpartition(" ")
        if "_sum{" in name:
            line = f"{name} {float(value):.9g}"
        lines.append(line)
    return sorted(lines)


def _reference(observed: list[Response]) -> list[str]:
    registry = CollectorRegistry()
    requests = Counter(*RequestTally.REQUESTS, ["route", "method", "status"], registry=registry)
    duration = Histogram(
        *RequestTally.DURATION, ["route", "method"], buckets=DURATION_BUCKETS, registry=registry
    )
    for route, method, status, seconds in observed:
        requests.labels(route, method, str(status)).inc()
        if seconds is not None:
            duration.labels(route, method).observe(seconds)
        else:  # a timed family with no observation still shows, as the tally's row does
            duration.labels(route, method)
    return _exposition(registry)


def _tallied(observed: list[Response], threads: int) -> list[str]:
    tally = RequestTally()
    shares = [observed[number::threads] for number in range(threads)]

    def count(share: list[Response]) -> None:
        for response in share:
            tally.observe(*response)

    workers = [threading.Thread(target=count, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    registry = CollectorRegistry()
    registry.register(tally)
    return _exposition(registry)


@settings(max_examples=60, deadline=None)
@given(st.lists(responses, max_size=40), st.integers(min_value=1, max_value=4))
def test_the_tally_exposes_what_prometheus_clients_metrics_would(
    observed: list[Response], threads: int
) -> None:
    assert _tallied(observed, threads) == _reference(observed)
