"""Group commit: writes that arrive together are committed together, each with its own outcome.

A server's threads each write one command. Each in its own transaction, every write pays for the
lock, the durable write and the directory sync alone, and the others queue behind it. Here a
writer leaves its step in a queue and takes the leader's turn; whoever gets the turn applies
everything queued by then in one `Storage.transact_all` (one read-modify-write, one durable
write), hands every writer its own outcome, and the writers whose steps it committed find them
done when their turn comes.

Two cohorts make up the writes of busy clients: those that queued while the last group was
written, and those whose writes the last group committed, who are still carrying the answer back
to their clients and will be back with their next write a moment later. Committing only the
first cohort halves the groups (8 clients made groups of 4). So a new leader lingers
(`Linger`): until as many writes are queued as the last group plus those that queued during
it, but never longer than the last commit took, nor `MAX_LINGER_SECONDS`. A lone writer
expects nobody and never waits; a writer who does not come back costs one wait, after which the
expectation is what did come. README, "Group commit and the kept document", has the figures.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from taskmaster.storage.base import Commit, Outcome, Step, Storage

MAX_GROUP = 64
"""At most this many steps in one write: a bound on what one leader does for others."""

MAX_LINGER_SECONDS = 0.005
"""The longest a leader waits for the writers it expects: a bound on the latency it adds."""

LINGER_FRACTION = 1.0
"""A leader waits at most this share of the last commit's time: waiting a commit's time for a
group twice as large still writes each step in less time than it would alone."""


class Linger:
    """How many writes the next group should hold, and how long its leader may wait for them.

    Not thread-safe: read and changed under `GroupCommit`'s lock."""

    __slots__ = ("commit_seconds", "expected")

    def __init__(self) -> None:
        self.expected = 1
        self.commit_seconds = 0.0

    def observe(self, group_size: int, queued_after: int, commit_seconds: float) -> None:
        """A group of `group_size` was committed in `commit_seconds`, and `queued_after` writes
        queued meanwhile: the next group may hold both, once the committed writers return."""
        self.expected = min(MAX_GROUP, group_size + queued_after)
        self.commit_seconds = commit_seconds

    def budget(self) -> float:
        """Seconds a leader may wait for the group it expects."""
        return min(MAX_LINGER_SECONDS, LINGER_FRACTION * self.commit_seconds)


@dataclasses.dataclass
class GroupStats:
    """What group commit has done in this process (counted under its lock)."""

    groups: int = 0
    """Commits made, each of one or more writes."""
    writes: int = 0
    """Writes those commits held."""
    waited_seconds: float = 0.0
    """Seconds leaders spent waiting for writers they expected."""


class _Request:
    __slots__ = ("done", "finish", "outcome", "step")

    def __init__(self, step: Step[Any], finish: Callable[[Commit[Any]], None]) -> None:
        self.step = step
        self.finish = finish
        self.outcome: Outcome | BaseException | None = None
        self.done = False


class GroupCommit:
    """The queue of one storage's writes in this process."""

    def __init__(self, storage: Callable[[], Storage], *, linger: Linger | None = None) -> None:
        """`storage` gives the storage to write to at each commit (a facade's storage may be
        replaced while it runs)."""
        self._storage = storage
        self._queue: list[_Request] = []
        lock = threading.Lock()
        # Guards the queue, `_leading`, `_lingering`, the linger and the stats; its waiters are
        # writers whose steps are queued.
        self._changed = threading.Condition(lock)
        # On the same lock: the leader, while it waits for the writers it expects.
        self._arrived = threading.Condition(lock)
        self._leading = False
        self._lingering = False
        self._linger = linger if linger is not None else Linger()
        self._stats = GroupStats()

    def stats(self) -> GroupStats:
        """A copy of the counts, consistent with each other."""
        with self._changed:
            return dataclasses.replace(self._stats)

    def submit(self, step: Step[Any], finish: Callable[[Commit[Any]], None]) -> Outcome:
        """Commit `step` with whatever else is queued; its outcome (a commit or the error it
        alone raised). `finish(commit)` runs before any later commit's: in revision order,
        which is how a caller announces its commit in the order commits happened."""
        request = _Request(step, finish)
        with self._changed:
            self._queue.append(request)
            if self._lingering and len(self._queue) >= self._linger.expected:
                self._arrived.notify()
            while self._leading and not request.done:
                self._changed.wait()
            if request.done:
                group = []
            else:  # nobody is committing, and this step is still queued: lead
                self._leading = True
                try:
                    self._wait_for_expected()
                except BaseException:  # interrupted while waiting: leave nothing held
                    self._queue.remove(request)
                    self._leading = False
                    self._changed.notify_all()
                    raise
                group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        if group:
            started = time.perf_counter()
            try:
                self._commit(group)
            finally:
                seconds = time.perf_counter() - started
                # Every writer of the group is woken at once, and so is one whose step is still
                # queued, to lead the next group. Were the turn a lock they took in turn, each
                # done writer would wait for the one before it, each for the interpreter lock,
                # before it could even see that it was done, and so would the next leader.
                with self._changed:
                    self._linger.observe(len(group), len(self._queue), seconds)
                    self._stats.groups += 1
                    self._stats.writes += len(group)
                    self._leading = False
                    self._changed.notify_all()
        outcome = request.outcome
        if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
            raise outcome
        assert outcome is not None
        return outcome

    def _wait_for_expected(self) -> None:
        """As the leader, under the lock: wait until the expected writers are queued, or the
        budget is spent. The lock is released while waiting, so they can queue."""
        budget = self._linger.budget()
        if len(self._queue) >= self._linger.expected or budget <= 0:
            return
        started = time.monotonic()
        deadline = started + budget
        self._lingering = True
        try:
            while len(self._queue) < self._linger.expected:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._arrived.wait(remaining)
        finally:
            self._lingering = False
            self._stats.waited_seconds += time.monotonic() - started

    def _commit(self, group: list[_Request]) -> None:
        # A group of one takes the plain transaction: the same outcome, and whatever wraps
        # `transact` (a test's probe, a failing disk) sees every lone write.
        outcomes: list[Outcome] | None = None
        failure: BaseException | None = None
        try:
            if len(group) == 1:
                step = group[0].step
                try:
                    outcomes = [
                        self._storage().transact(
                            step.operation, expected_revision=step.expected_revision
                        )
                    ]
                except Exception as err:
                    outcomes = [err]
            else:
                outcomes = self._storage().transact_all([request.step for request in group])
        except BaseException as err:  # the storage failed: no step of the group committed
            failure = err
        for index, request in enumerate(group):
            outcome: Outcome | BaseException | None = (
                outcomes[index] if outcomes is not None else failure
            )
            if isinstance(outcome, Commit):
                try:
                    request.finish(outcome)
                except Exception as err:  # its announcement failed: the caller hears of it
                    outcome = err
            request.outcome = outcome
            request.done = True
