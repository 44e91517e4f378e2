"""Who is checking: the caller identity the per-caller budgets are counted under.

Our channels put it in the message metadata as ``client``: ``key:<API key name>`` for an
integration, ``ip:<address>`` for the web widget, ``rest:<address>`` for a direct caller of
Rasa's REST channel. A bare channel name (``wechat``) is shared by every user of that channel,
whose platform authenticates each of them and names their conversation, so there the
conversation is the caller: one WeChat user cannot spend the budget of all the others.
Without an identity, the conversation is the caller too.

An IPv6 address counts as its /64 network: one subscriber usually holds a whole /64, and
every address in it would otherwise be a fresh budget.
"""

from __future__ import annotations

import ipaddress

MAX_CALLER_CHARS = 255
ADDRESS_KINDS = ("ip", "rest")


def caller_identity(client: object, conversation_id: str) -> str:
    if not isinstance(client, str) or not client.strip():
        return f"conversation:{conversation_id}"
    client = client.strip()[:MAX_CALLER_CHARS]
    kind, separator, rest = client.partition(":")
    if not separator:
        return f"{client}:conversation:{conversation_id}"
    if kind in ADDRESS_KINDS:
        return f"{kind}:{_address_network(rest)}"
    return client


def _address_network(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)
