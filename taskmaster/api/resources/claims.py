"""Claims: an agent's lease on a task, with the fencing token its later writes carry.

`POST /claims` claims a task (the one named, or the next unclaimed one) in one transaction;
`POST /claims/{token}/renew` extends the lease, `DELETE /claims/{token}` ends it (optionally
setting the task's status in the same transaction); `GET /claims` lists them and
`GET /claims/{token}` shows one. The token then goes in the `Claim-Token` header of the
agent's writes (see `ApiState.write`).

A claim's state depends on the time as well as on the task file (a lease runs out without
any write), so these reads are built on every request and never cached or answered with 304:
a cached "live" would outlive the lease.
"""

from __future__ import annotations

import falcon

from taskmaster.api import bodies, inputs
from taskmaster.api.state import ApiState, parse_token, send_json
from taskmaster.commands import ClaimTask, ReleaseClaim, RenewClaim

PREFIX = "/api/v1"


def claim_location(token: object) -> str:
    return f"{PREFIX}/claims/{token}"


class ClaimCollection:
    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """`?all=true` adds the ended claims (released, expired, superseded); `?tag=`."""
        tag = self.state.tag_or_current(inputs.query_tag(req))
        ended = inputs.query_bool(req, "all", False)
        read = self.state.core.claims(tag, ended=ended)
        resp.cache_control = ["no-store"]
        send_json(resp, {"tag": tag, "claims": read.value})

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """201 with the task and its claim, `Location` naming the claim; 200 with nulls when
        no task is left to claim (an answer, as `GET /next` answers null)."""
        body = bodies.NEW_CLAIM.read(req, self.state.config.max_body_bytes)
        args = {**bodies.NEW_CLAIM.args(body), "tag": inputs.query_tag(req)}
        answer, revision = self.state.write(req, bodies.to_command(ClaimTask, args))
        claim = answer["claim"]
        if claim is None:
            send_json(resp, answer, revision=revision)
            return
        resp.location = claim_location(claim["token"])
        send_json(resp, answer, revision=revision, status=201)


class ClaimItem:
    """`GET /claims/{token}`: the claim, live or ended (404 problem when no task keeps it);
    `DELETE /claims/{token}?status=done`: release the claim (and set the task's status in
    the same transaction); answers with the ended claim."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        read = self.state.core.claim(parse_token(token, "token"))
        resp.cache_control = ["no-store"]  # its state depends on the time: see the module
        send_json(resp, read.value)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        args = {"token": parse_token(token, "token"), "status": req.get_param("status") or None}
        claim, revision = self.state.write(req, bodies.to_command(ReleaseClaim, args))
        send_json(resp, claim, revision=revision)


class ClaimRenewal:
    """`POST /claims/{token}/renew {"lease": "10m"}` (the body may be left out): the lease
    runs again from now; refused (409 claim-lost) once it ran out."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        body = bodies.CLAIM_RENEWAL.read(req, self.state.config.max_body_bytes)
        args = {**bodies.CLAIM_RENEWAL.args(body), "token": parse_token(token, "token")}
        claim, revision = self.state.write(req, bodies.to_command(RenewClaim, args))
        send_json(resp, claim, revision=revision)
