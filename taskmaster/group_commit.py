"""Group commit: writes that arrive together are committed together, each with its own outcome.

A server's threads each write one command. Each in its own transaction, every write pays for the
lock, the durable write and the directory sync alone, and the others queue behind it. Here a
writer leaves its step in a queue and takes the leader's turn; whoever gets the turn applies
everything queued by then in one `Storage.transact_all` (one read-modify-write, one durable
write), hands every writer its own outcome, and the writers whose steps it committed find them
done when their turn comes. Nobody waits for a timer: a lone write is a group of one, and the
group grows exactly as much as writes queue up while the previous group is being written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from taskmaster.storage.base import Commit, Outcome, Step, Storage

MAX_GROUP = 64
"""At most this many steps in one write: a bound on what one leader does for others."""


class _Request:
    __slots__ = ("done", "finish", "outcome", "step")

    def __init__(self, step: Step[Any], finish: Callable[[Commit[Any]], None]) -> None:
        self.step = step
        self.finish = finish
        self.outcome: Outcome | BaseException | None = None
        self.done = False


class GroupCommit:
    """The queue of one storage's writes in this process."""

    def __init__(self, storage: Callable[[], Storage]) -> None:
        """`storage` gives the storage to write to at each commit (a facade's storage may be
        replaced while it runs)."""
        self._storage = storage
        self._queue: list[_Request] = []
        # Guards the queue and `_leading`; its waiters are writers whose steps are queued.
        self._changed = threading.Condition(threading.Lock())
        self._leading = False

    def submit(self, step: Step[Any], finish: Callable[[Commit[Any]], None]) -> Outcome:
        """Commit `step` with whatever else is queued; its outcome (a commit or the error it
        alone raised). `finish(commit)` runs before any later commit's: in revision order,
        which is how a caller announces its commit in the order commits happened."""
        request = _Request(step, finish)
        with self._changed:
            self._queue.append(request)
            while self._leading and not request.done:
                self._changed.wait()
            if request.done:
                group = []
            else:  # nobody is committing, and this step is still queued: lead
                self._leading = True
                group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        if group:
            try:
                self._commit(group)
            finally:
                # Every writer of the group is woken at once, and so is one whose step is still
                # queued, to lead the next group. Were the turn a lock they took in turn, each
                # done writer would wait for the one before it, each for the interpreter lock,
                # before it could even see that it was done, and so would the next leader.
                with self._changed:
                    self._leading = False
                    self._changed.notify_all()
        outcome = request.outcome
        if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
            raise outcome
        assert outcome is not None
        return outcome

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
