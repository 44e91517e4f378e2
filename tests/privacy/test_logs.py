"""Log records are masked when they are created, whoever logs them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.privacy.logs import mask_personal_data_in_logs


@pytest.fixture
def masked_logging() -> Iterator[None]:
    original = logging.getLogRecordFactory()
    mask_personal_data_in_logs()
    mask_personal_data_in_logs()  # twice: wraps once
    try:
        yield
    finally:
        logging.setLogRecordFactory(original)


def test_messages_arguments_and_tracebacks_are_masked(
    masked_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("some.library")
    with caplog.at_level(logging.INFO):
        logger.info("user said %s", "手机13812345678，身份证11010519491231002X")
        logger.warning("card 6222021234567890128 refused")
        try:
            raise ValueError("bad input: 13912874650")
        except ValueError:
            logger.exception("turn failed")
        logger.info("nothing personal %d", 5)
    text = caplog.text
    for secret in ("13812345678", "11010519491231002X", "6222021234567890128", "13912874650"):
        assert secret not in text
    assert "138****5678" in text and "139****4650" in text
    assert "nothing personal 5" in text


def test_a_broken_format_string_is_left_to_logging(masked_logging: None) -> None:
    factory = logging.getLogRecordFactory()
    record = factory("x", logging.INFO, __file__, 1, "broken %s %s", ("13812345678",), None)
    assert record.msg == "broken %s %s"  # logging reports the bad format when it emits …
    assert record.args == ("138****5678",)  # … with its arguments, masked


def test_the_factory_is_wrapped_once(masked_logging: None) -> None:
    factory = logging.getLogRecordFactory()
    mask_personal_data_in_logs()
    assert logging.getLogRecordFactory() is factory
