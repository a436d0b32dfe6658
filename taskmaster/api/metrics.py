"""Prometheus metrics of one API instance (prometheus_client, in a registry of its own).

A registry per app rather than the library's global one: tests and the harness create many
apps in one process, and each must count only its own requests.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.utils import floatToGoString

from taskmaster.cache import RevisionCache
from taskmaster.errors import TaskMasterError
from taskmaster.events import CHANGE_REVERTED, Event
from taskmaster.group_commit import GroupStats
from taskmaster.storage.base import Storage

if TYPE_CHECKING:
    from taskmaster.compose import SharedCache, SharedLink

log = logging.getLogger(__name__)

# Invalidation is meant to take well under 10 ms (DESIGN §1), so the buckets are fine there.
LAG_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _CacheCollector:
    """Reads the cache's own counters at scrape time: no second set of numbers to keep."""

    def __init__(self, cache: RevisionCache[bytes]) -> None:
        self._cache = cache

    def collect(self) -> Iterator[Metric]:
        stats = self._cache.stats
        yield CounterMetricFamily("tm_cache_hits", "Response cache hits.", value=stats.hits)
        yield CounterMetricFamily("tm_cache_misses", "Response cache misses.", value=stats.misses)
        yield CounterMetricFamily(
            "tm_cache_invalidations",
            "Response cache entries dropped by change events.",
            value=stats.invalidations,
        )
        yield CounterMetricFamily(
            "tm_cache_refused",
            "Builds not cached because a newer revision had been seen.",
            value=stats.refused,
        )
        yield GaugeMetricFamily("tm_cache_entries", "Entries in the cache.", value=len(self._cache))

    def describe(self) -> Iterator[Metric]:
        return self.collect()


class _RedisCollector:
    """Redis's state and the shared cache's counters, read at scrape time."""

    def __init__(self, link: SharedLink, l2: SharedCache) -> None:
        self._link = link
        self._l2 = l2

    def collect(self) -> Iterator[Metric]:
        stats = self._l2.stats
        yield GaugeMetricFamily(
            "tm_redis_up",
            "1 while Redis answers, 0 while it is unreachable.",
            value=int(self._link.up),
        )
        yield CounterMetricFamily(
            "tm_l2_cache_hits", "Shared (Redis) cache hits.", value=stats.hits
        )
        yield CounterMetricFamily(
            "tm_l2_cache_misses", "Shared (Redis) cache misses.", value=stats.misses
        )
        yield CounterMetricFamily(
            "tm_l2_cache_errors",
            "Shared cache lookups or stores skipped because Redis was unavailable.",
            value=stats.errors,
        )

    def describe(self) -> Iterator[Metric]:
        return self.collect()


JOURNAL_ENTRIES = ("tm_journal_entries", "Entries the change journal holds.")
JOURNAL_BYTES = ("tm_journal_bytes", "Bytes the change journal takes in its storage.")


class _JournalCollector:
    """The journal's size, read from the storage at scrape time (`journal_stats()`). While
    the storage cannot answer, the gauges are left out rather than failing the scrape: the
    request metrics say most about an outage, and they must still be served."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def collect(self) -> Iterator[Metric]:
        try:
            stats = self._storage.journal_stats()
        except (TaskMasterError, OSError) as err:
            log.debug("journal stats unavailable for a scrape: %s", err)
            return
        yield GaugeMetricFamily(
            "tm_journal_entries", "Entries the change journal holds.", value=stats["entries"]
        )
        yield GaugeMetricFamily(
            "tm_journal_bytes",
            "Bytes the change journal takes in its storage.",
            value=stats["bytes"],
        )

    def describe(self) -> Iterator[Metric]:
        # Registering must not touch the storage (it may be down when the server starts).
        yield GaugeMetricFamily("tm_journal_entries", "Entries the change journal holds.")
        yield GaugeMetricFamily("tm_journal_bytes", "Bytes the change journal takes.")


class _WriteGroupCollector:
    """How this process's writes were grouped into commits (`taskmaster.group_commit`): writes
    per group is `tm_write_group_writes_total / tm_write_groups_total`."""

    GROUPS = ("tm_write_groups", "Commits made by group commit, each of one or more writes.")
    WRITES = ("tm_write_group_writes", "Writes those commits held.")
    WAITED = (
        "tm_write_group_wait_seconds",
        "Seconds group leaders waited for the writers they expected.",
    )

    def __init__(self, stats: Callable[[], GroupStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        yield CounterMetricFamily(*self.GROUPS, value=stats.groups)
        yield CounterMetricFamily(*self.WRITES, value=stats.writes)
        yield CounterMetricFamily(*self.WAITED, value=stats.waited_seconds)

    def describe(self) -> Iterator[Metric]:
        for name, documentation in (self.GROUPS, self.WRITES, self.WAITED):
            yield CounterMetricFamily(name, documentation)


class RequestTally:
    """`tm_http_requests` and `tm_http_request_duration_seconds`: counted by each server thread
    in a table of its own, summed when scraped.

    prometheus_client's Counter and Histogram take a lock for every value they change, four on
    every request here; a thread's own table needs none (README, "Freshness and the cached
    read", has the figures). Scrapes read the other threads' tables while they count: a scrape
    may miss a request still being counted (the next one has it), and a histogram's count is
    the sum of its buckets, so the two never disagree.
    """

    REQUESTS = ("tm_http_requests", "HTTP requests by route template, method and status.")
    DURATION = (
        "tm_http_request_duration_seconds",
        "Time to produce a response (for event streams: until streaming starts).",
    )

    def __init__(self, buckets: tuple[float, ...] = DURATION_BUCKETS) -> None:
        self._bounds = buckets
        self._local = threading.local()
        self._tables: list[dict[tuple[str, str, int], list[Any]]] = []
        self._tables_lock = threading.Lock()  # only for adding a thread's table

    def observe(self, route: str, method: str, status: int, seconds: float | None) -> None:
        """Count one response and its duration (None: no start time was recorded)."""
        try:
            table = self._local.table
        except AttributeError:
            table = self._local.table = {}
            with self._tables_lock:
                self._tables.append(table)
        key = (route, method, status)
        row = table.get(key)
        if row is None:  # [responses, seconds in total, responses per bucket (the last: +Inf)]
            row = table[key] = [0, 0.0, [0] * (len(self._bounds) + 1)]
        row[0] += 1
        if seconds is not None:
            row[1] += seconds
            # A bucket holds what is at most its bound: the first bound not below `seconds`.
            row[2][bisect.bisect_left(self._bounds, seconds)] += 1

    def collect(self) -> Iterator[Metric]:
        counts: dict[tuple[str, str, int], int] = {}
        timed: dict[tuple[str, str], tuple[list[int], float]] = {}
        with self._tables_lock:
            tables = list(self._tables)
        for table in tables:
            for (route, method, status), row in list(table.items()):
                counts[route, method, status] = counts.get((route, method, status), 0) + row[0]
                buckets, total = timed.get((route, method), ([0] * len(row[2]), 0.0))
                timed[route, method] = (
                    [mine + theirs for mine, theirs in zip(buckets, row[2], strict=True)],
                    total + row[1],
                )
        requests = CounterMetricFamily(*self.REQUESTS, labels=["route", "method", "status"])
        for (route, method, status), count in sorted(counts.items()):
            requests.add_metric([route, method, str(status)], count)
        yield requests
        duration = HistogramMetricFamily(*self.DURATION, labels=["route", "method"])
        bounds = [*map(floatToGoString, self._bounds), "+Inf"]
        for (route, method), (buckets, total) in sorted(timed.items()):
            cumulative, running = [], 0
            for bound, count in zip(bounds, buckets, strict=True):
                running += count
                cumulative.append((bound, running))
            duration.add_metric([route, method], cumulative, sum_value=total)
        yield duration

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(*self.REQUESTS, labels=["route", "method", "status"])
        yield HistogramMetricFamily(*self.DURATION, labels=["route", "method"])


class Metrics:
    def __init__(self, cache: RevisionCache[bytes]) -> None:
        self.registry = CollectorRegistry()
        self.requests = RequestTally()
        self.registry.register(self.requests)
        self.invalidation_lag = Histogram(
            "tm_cache_invalidation_lag_seconds",
            "Seconds from a change event's time to its handling by the response cache.",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.events = Counter(
            "tm_events", "Change events seen on the bus.", ["kind"], registry=self.registry
        )
        self.event_streams = Gauge(
            "tm_event_streams", "Open /api/v1/events streams.", registry=self.registry
        )
        self.events_dropped = Counter(
            "tm_event_stream_overflows",
            "Event streams closed because the client fell too far behind.",
            registry=self.registry,
        )
        self.reversions = Counter(
            "tm_reversions",
            "Places where another program's change put back a value a commit had replaced "
            "(the reference tool writing back a stale copy): see GET /api/v1/history.",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "tm_rate_limited_requests", "Requests refused with 429.", registry=self.registry
        )
        self.registry.register(_CacheCollector(cache))

    def observe_request(self, route: str, method: str, status: int, seconds: float | None) -> None:
        """Count one response and its duration (None: no start time was recorded)."""
        self.requests.observe(route, method, status, seconds)

    def watch_journal(self, storage: Storage) -> None:
        """Export the journal's entries and bytes (`tm_journal_entries`, `tm_journal_bytes`)."""
        self.registry.register(_JournalCollector(storage))

    def watch_write_groups(self, stats: Callable[[], GroupStats]) -> None:
        """Export how writes were grouped (`tm_write_groups_total`, `tm_write_group_writes_total`,
        `tm_write_group_wait_seconds_total`), read from `stats()` at scrape time."""
        self.registry.register(_WriteGroupCollector(stats))

    def watch_redis(self, link: SharedLink, l2: SharedCache) -> None:
        """Export Redis's state, the shared cache and pub/sub delivery (with `observe_remote`)."""
        self.registry.register(_RedisCollector(link, l2))
        self.pubsub_messages = Counter(
            "tm_pubsub_messages",
            "Change events received from other processes over Redis pub/sub.",
            registry=self.registry,
        )
        self.pubsub_lag = Histogram(
            "tm_pubsub_lag_seconds",
            "Seconds from an event's time in the publishing process to its arrival here.",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )

    def observe_remote(self, event: Event, lag_seconds: float) -> None:
        self.pubsub_messages.inc()
        self.pubsub_lag.observe(lag_seconds)

    def observe_event(self, event: Event) -> None:
        """Called right after the cache handled `event` (both in the publisher's thread)."""
        self.invalidation_lag.observe(max(0.0, time.time() - event.time))
        self.events.labels(event.kind).inc()
        if event.kind == CHANGE_REVERTED:
            self.reversions.inc(len(event.changes))

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition in the format the scraper asked for (text or OpenMetrics)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
