"""What a citizen is told when status checks are paused: when to come back and what else works.

Never whether the number exists, never which of the budgets is spent (a citizen whose number
someone else has been guessing at did nothing wrong), and always a way that needs no bot.
"""

from __future__ import annotations

import datetime as dt
import math

from bot.status.budgets import Pause

HUMAN_BUTTON = {"title": "转人工", "payload": "转人工"}
OTHER_WAYS = (
    "着急的话，可以拨打12345政务服务便民热线，或带上身份证到政务服务大厅窗口查询；"
    "也可以转人工，由工作人员核实身份后帮您查询。"
)


def wait_in_words(wait: dt.timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes}分钟"
    hours = math.ceil(minutes / 60)
    if hours < 48:
        return f"{hours}小时"
    return f"{math.ceil(hours / 24)}天"


def compose_pause_reply(pause: Pause) -> str:
    wait = wait_in_words(pause.retry_after)
    if pause.full_phone_accepted:
        return "\n".join(
            [
                f"为保护办件信息安全，用手机号后四位核对暂停使用，约{wait}后恢复。",
                "您现在可以改用申请时登记的完整手机号（11位）核对：说“查进度”，"
                "发送申请编号，问到手机号后四位时直接发送完整的11位手机号。",
                OTHER_WAYS,
            ]
        )
    return "\n".join([f"为保护办件信息安全，办件查询暂停使用，约{wait}后可以再试。", OTHER_WAYS])
