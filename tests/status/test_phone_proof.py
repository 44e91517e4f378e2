"""What a citizen proves ownership with, and who counts as the caller."""

from __future__ import annotations

import pytest

from bot.status.callers import caller_identity
from bot.status.phone_proof import ProofKind, full_phone_in, parse_phone_proof


@pytest.mark.parametrize(
    ("raw", "kind", "digits"),
    [
        ("5173", ProofKind.PHONE_TAIL, "5173"),
        ("５１７３", ProofKind.PHONE_TAIL, "5173"),
        ("18658035173", ProofKind.FULL_PHONE, "18658035173"),
        ("186 5803 5173", ProofKind.FULL_PHONE, "18658035173"),
        ("１８６-５８０３-５１７３", ProofKind.FULL_PHONE, "18658035173"),
    ],
)
def test_a_tail_or_a_whole_mobile_number_is_a_proof(raw: str, kind: ProofKind, digits: str) -> None:
    proof = parse_phone_proof(raw)
    assert proof is not None and proof.kind is kind and proof.digits == digits
    assert digits not in repr(proof)


@pytest.mark.parametrize("raw", [None, "", "517", "51734", "12345678901", "2865803517", "电话"])
def test_anything_else_is_not(raw: str | None) -> None:
    assert parse_phone_proof(raw) is None


def test_a_proof_matches_only_its_own_part_of_the_phone() -> None:
    tail, full = parse_phone_proof("5173"), parse_phone_proof("18658035173")
    assert tail is not None and full is not None
    assert tail.matches("18658035173") and full.matches("18658035173")
    assert tail.matches("13900005173") and not full.matches("13900005173")
    assert not tail.matches(None) and not full.matches(None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18658035173", "18658035173"),
        ("我的手机是１８６５８０３５１７３", "18658035173"),
        ("YX20261030001 18658035173", "18658035173"),
        ("5173", None),
        ("尾号5173", None),
        ("18658035173 或 13900005173", None),  # two candidates: the tail alone decides
        ("13900000000", None),  # not the number that gave the tail
        ("186580351735", None),  # twelve digits
    ],
)
def test_the_full_number_is_taken_from_the_message_that_gave_the_tail(
    text: str, expected: str | None
) -> None:
    assert full_phone_in(text, tail="5173") == expected


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        ("key:portal", "key:portal"),
        ("ip:203.0.113.5", "ip:203.0.113.5"),
        ("rest:127.0.0.1", "rest:127.0.0.1"),
        ("ip:2001:db8:1:2:aaaa::1", "ip:2001:db8:1:2::/64"),
        ("ip:2001:db8:1:2:bbbb::9", "ip:2001:db8:1:2::/64"),  # the same subscriber
        ("ip:::ffff:203.0.113.5", "ip:203.0.113.5"),
        ("wechat", "wechat:conversation:conv-1"),
        (None, "conversation:conv-1"),
        ("", "conversation:conv-1"),
        ({"forged": True}, "conversation:conv-1"),
        ("key:" + "x" * 1000, "key:" + "x" * 251),
    ],
)
def test_caller_identity(client: object, expected: str) -> None:
    assert caller_identity(client, "conv-1") == expected
