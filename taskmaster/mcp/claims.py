"""Claim tools: claim_task, renew_claim, release_claim, list_claims.

An agent claims a task before working on it: in one transaction the task (the one named, or
the one next_task would pick among those no live claim holds) is set in progress and gets a
claim with a fencing token. The agent passes that token as `claimToken` to its writes, renews
the lease while it works, and releases the claim (with the outcome as the task's status) when
done. Answers have the shapes of `tm claim ... --json`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from taskmaster.commands import ClaimTask, ReleaseClaim, RenewClaim
from taskmaster.mcp.projects import Projects
from taskmaster.mcp.toolkit import (
    IDS,
    ProjectRoot,
    Tag,
    TasksFile,
    ToolServer,
    about,
    command,
    execute,
    reply,
    tool,
)

# The tools' parameters, described by the commands they fill.
Agent = Annotated[str, about(ClaimTask, "agent")]
ClaimedId = Annotated[str | None, IDS, about(ClaimTask, "id")]
# Seconds as a number, or text such as "5m".
Lease = Annotated[float | str | None, about(ClaimTask, "lease")]
RenewedToken = Annotated[int, about(RenewClaim, "token")]
RenewedLease = Annotated[float | str | None, about(RenewClaim, "lease")]
ReleasedToken = Annotated[int, about(ReleaseClaim, "token")]
Outcome = Annotated[str | None, about(ReleaseClaim, "status")]


def register(server: ToolServer, projects: Projects) -> None:
    @tool(server, title="Claim Task")
    def claim_task(
        projectRoot: ProjectRoot,
        agent: Agent,
        id: ClaimedId = None,
        lease: Lease = None,
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Claim a task for an agent before working on it: the one given, or (without id) the
        task next_task would return among those no live claim holds. In one transaction it is
        set in-progress and gets a claim, so of agents claiming at once exactly one gets it.

        Returns {"task", "claim": {"token", "agent", "expiresAt", ...}, "expired": [...]};
        task and claim are null when nothing is left to claim. Pass claim.token as claimToken
        to your writes on the task, renew_claim before expiresAt, and release_claim when done.
        A task another agent holds is refused (claim-held, naming the holder and the expiry).
        """
        core = projects.open(projectRoot, file)
        args = {"agent": agent, "id": id, "lease": lease, "tag": projects.tag(tag)}
        return reply(execute(core, command(ClaimTask, args), None))

    @tool(server, title="Renew Claim")
    def renew_claim(
        projectRoot: ProjectRoot,
        token: RenewedToken,
        lease: RenewedLease = None,
        file: TasksFile = None,
    ) -> str:
        """Extend a live claim's lease: it runs again from now. Returns the claim.

        Refused (claim-lost) once the lease ran out or the claim ended: stop working on the
        task then, another agent may hold it.
        """
        core = projects.open(projectRoot, file)
        return reply(execute(core, command(RenewClaim, {"token": token, "lease": lease}), None))

    @tool(server, title="Release Claim")
    def release_claim(
        projectRoot: ProjectRoot,
        token: ReleasedToken,
        status: Outcome = None,
        file: TasksFile = None,
    ) -> str:
        """End a live claim, optionally setting the task's status (its outcome, such as done)
        in the same transaction. Returns the ended claim; refused (claim-lost) when the token
        is no live claim.
        """
        core = projects.open(projectRoot, file)
        args = {"token": token, "status": status}
        return reply(execute(core, command(ReleaseClaim, args), None))

    @tool(server, title="List Claims", read_only=True)
    def list_claims(
        projectRoot: ProjectRoot,
        ended: Annotated[
            bool,
            Field(
                validation_alias="all",
                description="Also the ended claims (released, expired, superseded).",
            ),
        ] = False,
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """The tag's claims: live ones, and those whose lease ran out, each with its state
        ("live", "expired"...), agent, token and expiresAt (by the storage's clock).

        Returns {"tag", "claims": [...]}.
        """
        core = projects.open(projectRoot, file)
        name = projects.tag(tag) or core.current_tag()
        return reply({"tag": name, "claims": core.claims(name, ended=ended).value})
