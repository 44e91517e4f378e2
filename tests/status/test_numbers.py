"""Reading application numbers and phone tails as citizens type them."""

from __future__ import annotations

import pytest

from bot.status.numbers import (
    find_application_no,
    find_phone_tail,
    is_stop_request,
    looks_like_application_no,
    normalize_application_no,
    parse_phone_tail,
)


@pytest.mark.parametrize(
    "raw",
    [
        "YX20261030001",
        "yx20261030001",
        "Yx20261030001",
        "yx 2026 1030 001",
        " YX20261030001 ",
        "YX-2026-1030-001",
        "ＹＸ２０２６１０３０００１",  # full-width letters and digits
        "ｙｘ２０２６　１０３０　００１",  # full-width lower case, ideographic spaces
        "YX2026\t1030\n001",
    ],
)
def test_number_variants_normalise_to_one_form(raw: str) -> None:
    assert normalize_application_no(raw) == "YX20261030001"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        None,
        "YX2026103000",  # 10 digits
        "YX202610300011",  # 12 digits
        "XY20261030001",
        "YX2026103000A",
        "20261030001",  # digits alone are not accepted unless asked for
        "YX٢٠٢٦١٠٣٠٠٠١",  # Arabic-Indic digits are digits to \d, not to us
        "YX20261030001; DROP TABLE status_applications",
        "Y X",
    ],
)
def test_malformed_numbers_are_rejected(raw: str | None) -> None:
    assert normalize_application_no(raw) is None


def test_bare_digits_count_only_when_asked_for_and_not_a_phone() -> None:
    assert normalize_application_no("2026 1030 001", allow_bare_digits=True) == "YX20261030001"
    assert normalize_application_no("13812345678", allow_bare_digits=True) is None
    assert find_application_no("20261030001", allow_bare_digits=True) == "YX20261030001"
    assert find_application_no("20261030001。", allow_bare_digits=True) == "YX20261030001"
    assert find_application_no("20261030001") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("查一下YX20261030001的进度", "YX20261030001"),
        ("查一下yx 2026 1030 001的进度", "YX20261030001"),
        ("ＹＸ２０２６１０３０００１到哪了", "YX20261030001"),
        ("编号是YX-2026-1030-001，麻烦了", "YX20261030001"),
        ("不是YX20261030001，是YX20261018002", "YX20261018002"),  # the correction wins
        ("YX20261030001 5173", "YX20261030001"),
        ("查一下YX202610300011", None),  # a 12th digit: not this number
        ("我手机13812345678", None),
        ("我上个月交的居住证申请到哪一步了", None),
        ("", None),
    ],
)
def test_numbers_are_found_in_free_text(text: str, expected: str | None) -> None:
    assert find_application_no(text) == expected


def test_attempts_at_a_number_are_recognised() -> None:
    assert looks_like_application_no("查一下YX2026的进度")
    assert looks_like_application_no("yx 123")
    assert not looks_like_application_no("查一下我的进度")
    assert not looks_like_application_no(None)


@pytest.mark.parametrize("raw", ["5173", "５１７３", "5 1 7 3", "51-73", " 5173 "])
def test_phone_tail_variants(raw: str) -> None:
    assert parse_phone_tail(raw) == "5173"


@pytest.mark.parametrize("raw", ["", None, "517", "51734", "abcd", "五一七三", "٥١٧٣", "51a3"])
def test_phone_tail_must_be_four_digits(raw: str | None) -> None:
    assert parse_phone_tail(raw) is None


@pytest.mark.parametrize(
    ("text", "expected", "asked"),
    [
        ("5173", "5173", True),
        ("5173", None, False),  # four digits out of the blue are not a tail
        ("５１７３", "5173", True),
        ("5 1 7 3", "5173", True),
        ("尾号5173", "5173", False),
        ("手机后四位是 5173", "5173", False),
        ("我电话最后四个数是5173", "5173", False),
        ("18658035173", "5173", False),  # a whole mobile number gives its tail
        ("YX20261030001 5173", "5173", False),
        ("查一下YX20261030001的进度", None, True),  # never the digits of the number
        ("查一下YX20261030001的进度", None, False),
        ("5173 或者 6620", None, True),  # two candidates: ask again
        ("不记得了", None, True),
    ],
)
def test_phone_tails_are_found_in_free_text(text: str, expected: str | None, asked: bool) -> None:
    assert find_phone_tail(text, expected=asked) == expected


@pytest.mark.parametrize("text", ["算了", "算了吧", "不查了。", "那就不用查了", "取消", "先不查了"])
def test_stop_requests(text: str) -> None:
    assert is_stop_request(text)


@pytest.mark.parametrize("text", ["查一下", "YX20261030001", "5173", "", None])
def test_not_stop_requests(text: str | None) -> None:
    assert not is_stop_request(text)
