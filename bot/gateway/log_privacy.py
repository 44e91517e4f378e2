"""Keeps what citizens say out of the web app's logs.

uvicorn's access log prints each request target with its query string, and some query strings
carry personal data: ``/api/tts?text=…`` is the answer a citizen had read aloud (their own
question quoted back), WeChat's callbacks carry the citizen's ``openid``. The access log keeps
method, path and status, which is what operations need.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"
_TARGET_ARG = 2  # uvicorn: (client, method, path with query string, http version, status)


class DropQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > _TARGET_ARG:
            target = args[_TARGET_ARG]
            if isinstance(target, str) and "?" in target:
                path = target.split("?", 1)[0]
                record.args = (*args[:_TARGET_ARG], f"{path}?…", *args[_TARGET_ARG + 1 :])
        return True


def drop_query_strings_from_access_log() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
        logger.addFilter(DropQueryStrings())
