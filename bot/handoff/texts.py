"""Everything the handoff says to citizens, in one place (action server and web app alike).

These are built in code rather than as domain responses because most carry live numbers (queue
position, expected wait, when to expect a call) and several are sent by the web app, outside
Rasa.
"""

from __future__ import annotations

HOTLINE = "政务服务热线12345"

# The 政务服务"好差评" levels; the web app asks with the same buttons (bot/ratings/texts.py).
RATING_BUTTONS = (
    ("5分 非常满意", "5"),
    ("4分 满意", "4"),
    ("3分 基本满意", "3"),
    ("2分 不满意", "2"),
    ("1分 非常不满意", "1"),
)


def queued(position: int, minutes: int) -> str:
    ahead = "您是下一位" if position <= 1 else f"您前面还有{position - 1}位"
    return (
        f"好的，正在为您转接人工客服。{ahead}，预计等待约{minutes}分钟。"
        "工作人员接入前，您可以先把问题写下来，他们一接入就能看到。"
    )


def already_queued(position: int, minutes: int) -> str:
    return f"您已经在人工客服的队列里了，排第{position}位，预计等待约{minutes}分钟，请稍候。"


def after_hours(schedule: str, opening: str) -> str:
    return (
        f"现在是非工作时间，人工客服的工作时间是{schedule}。"
        f"我可以帮您登记回电：留下电话和想咨询的事，工作人员会在{opening}上班后给您回电。"
    )


ASK_PHONE = "请告诉我您的手机号（或带区号的固定电话）。不需要回电的话，说“算了”就行。"
INVALID_PHONE = (
    "这个号码好像不对：手机号是1开头的11位数字，固定电话请带区号（如0571-88886666）。"
    "请再发一次，不需要回电可以说“算了”。"
)
ASK_MESSAGE = "请简单说说您想咨询或反映的事，工作人员回电前会先看这段留言。"
MESSAGE_TOO_SHORT = "留言太短了，请多说几个字，比如“想问低保怎么申请”。"


def callback_registered(phone_masked: str, when: str) -> str:
    return (
        f"已为您登记回电（电话 {phone_masked}），工作人员会在{when}给您打电话，请留意接听。"
        "还有什么可以帮您的吗？"
    )


def claim_timeout_offer(when: str) -> str:
    return (
        "抱歉，工作人员暂时都在忙，还没能接入。您可以继续等待；也可以直接回复您的电话和想咨询的事"
        f"（如：13800138000 想问低保怎么申请），我们会在{when}给您回电。"
    )


def staff_joined(name: str) -> str:
    return f"工作人员{name}已接入，您可以直接和他/她交流了。"


def transferred(department: str) -> str:
    return f"您的问题已转交{department}，请稍候，那边的工作人员接入后会继续为您服务。"


CLOSED = "本次人工服务已结束，感谢您的耐心。"
# A line staff see in the open ticket when the widget's 新对话 button left the conversation.
CITIZEN_LEFT = "群众点击了“新对话”，已离开这次会话：之后的回复对方可能看不到了。"
CLOSED_UNSERVED = "工作人员已结束本次人工服务排队。如还需要帮助，可以继续问我，或者再次说“转人工”。"
ASK_RATING = "请为本次人工服务打个分（1–5分，5分最满意），直接回复数字就行："


FAILED = f"抱歉，转人工暂时没有成功。着急的话请拨打{HOTLINE}。"
# The store is down and the message could not be kept: the channel hands it back as not sent.
NOT_RECEIVED = (
    "抱歉，系统暂时出了点故障，您刚才的消息没有发送成功。"
    f"请稍等一两分钟再发一次；着急的话可以拨打{HOTLINE}。"
)
OFFER = "这个问题我没法给您可靠的答复。需要的话，我可以为您转接人工客服。"
OFFER_BUTTON = ("转人工", "转人工")
