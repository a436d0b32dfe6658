"""Claims as commands: claim a task for an agent, renew the lease, release it.

Each runs in one transaction like every write, so two agents claiming at once are serialised
by the storage's write exclusion and exactly one of them gets a task (see `taskmaster.ops.claims`
for the record, the fencing token and how leases expire). Lease times are judged by the
storage's clock (`Draft.clock`), never the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from taskmaster.commands.base import Command, TaskCommand, Work, param
from taskmaster.events import CLAIM_CREATED, CLAIM_EXPIRED, CLAIM_RELEASED, CLAIM_RENEWED
from taskmaster.kinds import DURATION, ID, STATUS, TEXT, TOKEN
from taskmaster.model import Document, TaskId
from taskmaster.ops import claims as claim_ops
from taskmaster.ops.claims import DEFAULT_LEASE

LEASE_TEXT = (
    "How long the claim lasts unless renewed: seconds, or 30s, 5m, 1h30m (at most 7 days); "
    "15 minutes when left out."
)


@dataclass(frozen=True, kw_only=True)
class ClaimTask(TaskCommand[dict[str, Any]]):
    name = "claim-task"
    event = CLAIM_CREATED
    summary = (
        "Claim a task for an agent in one transaction: the one given, or the task `next` picks "
        "among those no live claim holds; it is set in progress and gets a fencing token."
    )

    agent: str = param(TEXT, "Who claims: the agent's name, shown to everyone else.")
    id: TaskId | None = param(
        ID, "The task or subtask to claim; the next unclaimed one when left out.", default=None
    )
    lease: float = param(DURATION, LEASE_TEXT, default=DEFAULT_LEASE)

    def run(self, document: Document, tag: str, work: Work) -> dict[str, Any]:
        answer = claim_ops.claim_task(
            document, tag, self.id, self.agent, self.lease, work.draft.clock()
        )
        claim = answer["claim"]
        work.ids = (claim["id"],) if claim is not None else ()
        work.also = [(CLAIM_EXPIRED, (each["id"],)) for each in answer["expired"]]
        return answer


@dataclass(frozen=True, kw_only=True)
class RenewClaim(Command[dict[str, Any]]):
    name = "renew-claim"
    event = CLAIM_RENEWED
    summary = "Extend a live claim's lease from now; refused (claim lost) once it ran out."

    token: int = param(TOKEN, "The claim's fencing token.")
    lease: float = param(DURATION, LEASE_TEXT, default=DEFAULT_LEASE)

    def apply(self, work: Work) -> dict[str, Any]:
        claim = claim_ops.renew_claim(work.document, self.token, self.lease, work.draft.clock())
        work.tag, work.ids = claim["tag"], (claim["id"],)
        return claim


@dataclass(frozen=True, kw_only=True)
class ReleaseClaim(Command[dict[str, Any]]):
    name = "release-claim"
    event = CLAIM_RELEASED
    summary = (
        "End a live claim, optionally setting the task's status (its outcome) in the same "
        "transaction; refused (claim lost) when the token is no live claim."
    )

    token: int = param(TOKEN, "The claim's fencing token.")
    status: str | None = param(STATUS, "The task's new status, such as done.", default=None)

    def apply(self, work: Work) -> dict[str, Any]:
        claim = claim_ops.release_claim(work.document, self.token, work.draft.clock(), self.status)
        work.tag, work.ids = claim["tag"], (claim["id"],)
        return claim
