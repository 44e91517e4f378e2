"""Shared secrets between Zhixun's own services (issue 8), standard library only: the web app,
the action server and the Rasa server (its REST channel) all import this module.

Each secret travels in a header, never in a URL or on a command line, and is compared in
constant time.
"""

from __future__ import annotations

import hmac

# Rasa → action server, on every action call (endpoints.yml); value: ZHIXUN_ACTION_SERVER_TOKEN.
ACTION_TOKEN_HEADER = "X-Zhixun-Action-Token"
ACTION_TOKEN_ENV = "ZHIXUN_ACTION_SERVER_TOKEN"
# Web app → Rasa's REST channel: the gateway vouches for the metadata it forwards;
# value: ZHIXUN_GATEWAY_TOKEN.
GATEWAY_TOKEN_HEADER = "X-Zhixun-Gateway"
GATEWAY_TOKEN_ENV = "ZHIXUN_GATEWAY_TOKEN"


def token_matches(offered: str | None, expected: str) -> bool:
    """True when ``offered`` is the (non-empty) ``expected`` secret; an empty secret matches
    nothing, so an unconfigured service trusts no one."""
    if not expected or offered is None:
        return False
    return hmac.compare_digest(offered.encode("utf-8"), expected.encode("utf-8"))
