"""What the conversation benchmarks send: the same turns for load (bench/load.py) and for the
per-phase cost inside Rasa (bench/turn_cost.py). Standard library only: both Python envs read it."""

GREETINGS = ("你好", "您好", "在吗", "你好呀")
POLICY_QUESTIONS = (
    "居住证怎么办理",
    "社保卡丢了去哪里补办",
    "我家老人八十多了每个月的高龄津贴怎么领",
    "异地就医备案需要什么材料",
    "低保申请要满足什么条件",
    "公积金提取要多长时间到账",
    "孩子刚出生怎么上户口",
    "开个小饭馆要办什么许可证",
    "失业金能领多久",
    "无犯罪记录证明在哪里开",
    "退伍军人优待证怎么申请",
    "个税专项附加扣除在哪里填",
)
# A status check is two messages: the application number, then the phone tail.
STATUS_TURNS = (("查一下YX20261030001的进度", "5173"),)
# A citizen starts a new conversation every this many messages, so trackers stay realistic.
TURNS_PER_CONVERSATION = 4
