"""Personal data never reaches a log line: every log record of the process is masked when it is
created (its message, arguments and exception text), whoever logs it — our code, uvicorn, Sanic,
Rasa. Dependency-free (the core's engine), so the Rasa server installs it too.

Installed by the web app, the action server and the Rasa server at start-up.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.privacy.core import mask_with_regex

_INSTALLED = "_zhixun_masks_personal_data"


def _masked_record(factory: Any, *args: Any, **kwargs: Any) -> logging.LogRecord:
    record: logging.LogRecord = factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it (args included) on emit
        if isinstance(record.args, tuple):
            record.args = tuple(mask_with_regex(str(arg)) for arg in record.args)
        return record
    masked = mask_with_regex(message)
    if masked != message:
        record.msg, record.args = masked, ()
    if record.exc_info and record.exc_info[0] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        record.exc_text = mask_with_regex(text)
    return record


def mask_personal_data_in_logs() -> None:
    """Wrap the process's log-record factory (once; later calls do nothing)."""
    current = logging.getLogRecordFactory()
    if getattr(current, _INSTALLED, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _masked_record(current, *args, **kwargs)

    setattr(factory, _INSTALLED, True)
    logging.setLogRecordFactory(factory)
