"""What the WeChat channel itself says (everything else comes from the bot)."""

from __future__ import annotations

WELCOME = (
    "您好，欢迎关注！我是智询，区政务服务智能助手，可以帮您：\n"
    "1. 解答办事问题，比如“居住证怎么办理”“低保要什么材料”，答案会注明政策出处；\n"
    "2. 查询办件进度（需要受理编号和手机号后四位）；\n"
    "3. 转接人工客服。\n"
    "直接发文字或语音给我就可以，也可以点下方菜单。"
)
ASK_PROMPT = "请直接发送您想咨询的问题，比如“居住证怎么办理”“社保卡丢了怎么补办”。"
PLEASE_TYPE = "抱歉，这条语音我没能听清。请直接发文字给我，比如“居住证怎么办理”。"
UNSUPPORTED = (
    "目前我能看懂文字和语音消息，图片、位置、链接和视频还看不了。"
    "请用文字描述您想办的事，比如“居住证怎么办理”。"
)
OUTSIDE_WINDOW = (
    "微信群众超过48小时没有给公众号发消息，微信不再允许主动发送客服消息；"
    "请等群众再次发消息，或改用电话联系"
)
NOT_REACHABLE = "微信客服消息接口暂时无法发送"
FAILED = "抱歉，系统有点忙，请稍后再试；着急的话可以拨打政务服务热线12345。"

# The custom menu (python -m bot.channels.wechat menu): click keys → what happens.
ASK_KEY = "ZHIXUN_ASK"
STATUS_KEY = "ZHIXUN_STATUS"
HUMAN_KEY = "ZHIXUN_HUMAN"
MENU = {
    "button": [
        {"type": "click", "name": "智能咨询", "key": ASK_KEY},
        {"type": "click", "name": "办件进度", "key": STATUS_KEY},
        {"type": "click", "name": "转人工", "key": HUMAN_KEY},
    ]
}
# Menu clicks that are a turn for the bot, as if the citizen had typed it.
MENU_TURNS = {STATUS_KEY: "查询办件进度", HUMAN_KEY: "转人工"}
