"""Cross-cutting request handling, in the order it runs: metrics, rate limit, auth, body checks.

The rate limit comes before authentication so that guessing tokens is rate limited too; the
body checks come last and look only at headers (Content-Length, Content-Type), so an oversized
or mistyped body is refused before a byte of it is read.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

import falcon

from taskmaster.api.inputs import is_json_media_type, too_large, unsupported_media_type
from taskmaster.api.metrics import Metrics
from taskmaster.api.problems import Problem
from taskmaster.api.ratelimit import LimiterUnavailable, RateLimiter

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Probes and scrapes are not client traffic: a load balancer must not lock itself out.
RATE_LIMIT_EXEMPT = frozenset({"/metrics", "/api/v1/health"})


class MetricsMiddleware:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        # The route template, not the path: ids in paths would make the label set unbounded.
        route = req.uri_template or "unmatched"
        started = getattr(req.context, "started", None)
        elapsed = None if started is None else time.perf_counter() - started
        self.metrics.observe_request(route, req.method, resp.status_code, elapsed)


def client_key(req: falcon.Request, valid_tokens: Mapping[str, str]) -> str:
    """Who a request counts against: its bearer token if that is a valid one, else its address.

    Only a verified token can be a key: if any token were, a client could dodge the limit by
    sending a new made-up token with each request. The token is hashed so that it never
    appears as a key in a shared (Redis) store.
    """
    token = bearer_token(req)
    if token is not None and token_name(token, valid_tokens) is not None:
        return f"token:{hashlib.sha256(token.encode()).hexdigest()[:32]}"
    return f"addr:{req.remote_addr}"


def bearer_token(req: falcon.Request) -> str | None:
    """The credentials of an `Authorization: Bearer` header; None without one."""
    scheme, _, credentials = (req.get_header("Authorization") or "").partition(" ")
    token = credentials.strip()
    return token if scheme.lower() == "bearer" and token else None


def token_name(token: str, valid_tokens: Mapping[str, str]) -> str | None:
    """The name of `token` among the server's tokens (token -> name); None if it is none.

    Every token is compared, in constant time each: neither the response time nor which
    token comes first may reveal a prefix of one.
    """
    given = token.encode()
    found: str | None = None
    for candidate, name in valid_tokens.items():
        if hmac.compare_digest(given, candidate.encode()):
            found = name
    return found


class RateLimitMiddleware:
    def __init__(
        self, limiter: RateLimiter, metrics: Metrics, *, tokens: Mapping[str, str] | None = None
    ) -> None:
        self.limiter = limiter
        self.metrics = metrics
        self.tokens: Mapping[str, str] = tokens or {}

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path in RATE_LIMIT_EXEMPT:
            return
        try:
            decision = self.limiter.hit(client_key(req, self.tokens))
        except LimiterUnavailable as err:
            raise Problem(
                503,
                f"{err}; this server refuses requests until it is back (rate-limit fallback "
                "'closed')",
                kind="rate-limit-unavailable",
                title="Rate limiter unavailable",
                headers={"Retry-After": "1"},
            ) from None
        req.context.rate_limit = decision
        if not decision.allowed:
            self.metrics.rate_limited.inc()
            raise Problem(
                429,
                f"rate limit of {self.limiter.item} exceeded; retry in {decision.reset_after} s",
                kind="rate-limited",
                title="Too many requests",
                headers={"Retry-After": str(decision.reset_after), **decision.headers()},
            )

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        decision = getattr(req.context, "rate_limit", None)
        if decision is not None:
            resp.set_headers(decision.headers())


class AuthMiddleware:
    """Writes need `Authorization: Bearer <token>` with one of the server's tokens; reads stay
    open (the server binds to loopback by default, and the tokens protect the data, not its
    contents). The token's name goes on the request (`req.context.actor`): the journal's actor.
    """

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = dict(tokens)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.method not in WRITE_METHODS:
            return
        token = bearer_token(req)
        if token is None:
            raise Problem(
                401,
                "this request changes data and needs an 'Authorization: Bearer <token>' header",
                kind="unauthorized",
                headers={"WWW-Authenticate": 'Bearer realm="taskmaster"'},
            )
        name = token_name(token, self._tokens)
        if name is None:
            raise Problem(
                401,
                "the bearer token is not valid",
                kind="unauthorized",
                headers={"WWW-Authenticate": 'Bearer realm="taskmaster", error="invalid_token"'},
            )
        req.context.actor = name


class BodyMiddleware:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.method not in WRITE_METHODS:
            return
        length = req.content_length
        if not length:
            return  # no body, or one whose length is unknown: `inputs.read_json` bounds it
        if length > self.max_bytes:
            raise too_large(self.max_bytes)
        if not is_json_media_type(req.content_type):
            raise unsupported_media_type(req.content_type)
