"""Text checks shared by every door, standard library only: both Python environments (the
web app's and the Rasa server's) import this module."""

from __future__ import annotations

import re

# C0/C1 control characters except tab and newline, plus zero-width and bidi overrides, which
# only ever arrive by accident or to hide something.
CONTROL_CHARACTERS = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)

# What the Rasa server answers when a turn failed inside it (a database or action server gone
# mid-turn): the citizen is told to send it again (rasa_components/channels.py).
TURN_FAILED = "抱歉，系统刚才没能处理这条消息，请稍后再发一次。"
