"""The answer a verified citizen gets: short lines, plain words, read well aloud (no emoji)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.catalog import Catalog, get_catalog
from bot.settings import get_settings
from bot.status.masking import mask_name
from bot.status.models import ApplicationStatus
from bot.status.repository import ApplicationView

STATUS_IN_PLAIN_WORDS = {
    ApplicationStatus.PENDING_ACCEPTANCE: "申请已提交，正在等待窗口受理",
    ApplicationStatus.ACCEPTED: "已经受理，正在按流程办理",
    ApplicationStatus.UNDER_REVIEW: "材料已受理，工作人员正在审核",
    ApplicationStatus.NEEDS_CORRECTION: "材料还需要补正，补齐后才能继续办理",
    ApplicationStatus.COMPLETED: "已经办完",
    ApplicationStatus.REJECTED: "这次申请没有被受理",
}
ANOTHER_CHECK_HINT = "如需查询其他办件，直接把申请编号发给我就行。"


def today_in_office_timezone() -> dt.date:
    """Due dates are the district's calendar days, not UTC ones."""
    return dt.datetime.now(ZoneInfo(get_settings().timezone)).date()


def format_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def service_title(service_id: str, catalog: Catalog | None = None) -> str:
    service = (catalog or get_catalog()).get(service_id)
    return service.title if service is not None else "政务服务事项"


def compose_status_reply(
    application: ApplicationView, *, today: dt.date | None = None, catalog: Catalog | None = None
) -> str:
    """The whole answer for one application the citizen has proven to be theirs."""
    today = today or today_in_office_timezone()
    status = application.status
    lines = [
        f"{mask_name(application.applicant_name)}您好，查到您的办件：",
        f"事项：{service_title(application.service_id, catalog)}",
        f"编号：{application.application_no}",
        f"状态：{status.value}（{STATUS_IN_PLAIN_WORDS[status]}）",
        f"当前环节：{application.current_step}",
        f"提交日期：{format_date(application.submitted_at)}",
    ]
    lines.extend(_dates(application, today))
    lines.extend(_what_to_do(application))
    lines.append(ANOTHER_CHECK_HINT)
    return "\n".join(lines)


def _dates(application: ApplicationView, today: dt.date) -> list[str]:
    due = format_date(application.due_date)
    completed = application.completed_at
    if application.status is ApplicationStatus.COMPLETED and completed is not None:
        on_time = "按时办结" if completed <= application.due_date else "晚于承诺日期办结"
        return [f"办结日期：{format_date(completed)}（承诺{due}前办结，{on_time}）"]
    if application.status is ApplicationStatus.REJECTED and completed is not None:
        return [f"决定日期：{format_date(completed)}"]
    days = (application.due_date - today).days
    if days > 0:
        when = f"还有{days}天"
    elif days == 0:
        when = "就是今天"
    else:
        when = f"已超期{-days}天"
    line = f"承诺办结日期：{due}（{when}）"
    if days < 0 and application.status is not ApplicationStatus.NEEDS_CORRECTION:
        line += f"，可以联系{application.department}询问原因"
    return [line]


def _what_to_do(application: ApplicationView) -> list[str]:
    department = application.department
    note = application.note.strip().rstrip("。")
    if application.status is ApplicationStatus.NEEDS_CORRECTION:
        return [
            f"需要补正：{note}。",
            f"请带上补正材料、本人身份证和受理回执，到{department}窗口补交；补齐后会继续办理。",
        ]
    if application.status is ApplicationStatus.REJECTED:
        return [
            f"不予受理的原因：{note}。",
            "您可以：",
            "1. 按上面的原因补齐条件或材料后，重新提出申请；",
            "2. 对这个决定有异议的，可以依法申请行政复议（一般应在知道决定之日起60日内提出）；",
            f"3. 有不清楚的地方，可以致电或前往{department}咨询。",
        ]
    if application.status is ApplicationStatus.COMPLETED:
        return [f"如需领取证照或结果文书，请按受理回执上写明的方式领取，或咨询{department}。"]
    return []
