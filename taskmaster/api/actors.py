"""Who a request writes as: the name of its bearer token, as the journal records it.

With tokens (`TM_API_TOKEN`, named "api", and the named ones of `TM_API_TOKENS`), a write
needs one of them and is journaled as `Origin(<its name>, "api")`: the name comes from the
server's configuration, so a client cannot write under another's name. Without any token the
server is open to whoever reaches it; a client may then say who it is in a `Tm-Actor` header
(an agent's or a script's name) and is `anonymous` otherwise. With tokens, `Tm-Actor` is
ignored: the token decides.
"""

from __future__ import annotations

import falcon

from taskmaster.api.problems import invalid
from taskmaster.config import API_TOKEN_NAME, Config
from taskmaster.journal.entry import Origin

VIA = "api"
ACTOR_HEADER = "Tm-Actor"
ANONYMOUS = "anonymous"
MAX_ACTOR_LENGTH = 100


def token_names(config: Config) -> dict[str, str]:
    """Every write token of the server, each with its name (token -> name)."""
    names = {token: name for name, token in config.api_tokens}
    if config.api_token:
        names[config.api_token] = API_TOKEN_NAME
    return names


def origin_of(req: falcon.Request, config: Config) -> Origin:
    """The origin a write is journaled with (the auth middleware put the token's name on the
    request; without tokens, `Tm-Actor` or anonymous)."""
    named = getattr(req.context, "actor", None)
    if isinstance(named, str):
        return Origin(named, VIA)
    if config.api_token or config.api_tokens:
        # Writes never get here unauthenticated; an unguarded route is still not anonymous.
        return Origin(ANONYMOUS, VIA)
    return Origin(header_actor(req) or ANONYMOUS, VIA)


def header_actor(req: falcon.Request) -> str | None:
    """The `Tm-Actor` header's name; None without one; a 400 naming the header when it is
    empty, too long or holds control characters."""
    raw = req.get_header(ACTOR_HEADER)
    if raw is None:
        return None
    name = raw.strip()
    if not name:
        raise invalid(ACTOR_HEADER, f"{ACTOR_HEADER} is empty: leave it out or name the writer")
    if len(name) > MAX_ACTOR_LENGTH:
        raise invalid(ACTOR_HEADER, f"{ACTOR_HEADER} is longer than {MAX_ACTOR_LENGTH} characters")
    if any(not char.isprintable() for char in name):
        raise invalid(ACTOR_HEADER, f"{ACTOR_HEADER} holds control characters")
    return name
