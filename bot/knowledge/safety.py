"""Requests the assistant must refuse whatever retrieval finds: cheating an office or a benefit
scheme, forged documents, other people's personal data, and attempts to change its rules
(prompt injection).

Standard library only: the Rasa NLU pipeline (Python 3.10 environment) uses the same check to
send such messages to the policy action, which refuses them.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum


class Refusal(str, Enum):
    FRAUD = "fraud"
    FORGERY = "forgery"
    OTHERS_DATA = "others_data"
    INJECTION = "injection"


# A request verb or question shape near the act: "怎么才能多领", "帮我开个假证明", "能不能瞒着".
_ASK = (
    r"(?:怎么|怎样|如何|咋|能不能|能否|可不可以|可以|有没有办法|有什么办法|有啥办法|有啥招|帮我|帮忙|教我|教教|给我|替我|"
    r"我想|想要|想|要|打算|准备|能|会不会被|不被|别被)"
)

_PEOPLE = (
    r"(?:别人|他人|某人|陌生人|邻居|隔壁|同事|同学|前妻|前夫|前任|前女友|前男友|老板|领导|"
    r"女朋友|男朋友|仇人|那个人|这个人|那家|人家|他|她|他们|她们)"
)
_PERSONAL = (
    r"(?:身份证号|身份证号码|手机号|电话号码|住址|家庭住址|地址|住在哪|住哪|个人信息|信息|"
    r"资料|档案|进度|办件|记录|名下|存款|银行卡号|申请材料|材料)"
)

_PATTERNS: tuple[tuple[Refusal, str], ...] = (
    # --- cheating an office or a benefit scheme
    (Refusal.FRAUD, r"骗(?:保|补|钱|取|领|点|过|到)"),
    (Refusal.FRAUD, r"(?:冒领|冒名|冒充|套取|套现|虚报|谎报|瞒报|虚开|代考|替考)"),
    (
        Refusal.FRAUD,
        _ASK
        + r".{0,12}(?:隐瞒|瞒着|瞒过|藏起|不报|不申报)(?:.{0,8})"
        + r"(?:收入|工资|存款|财产|房产|房子|车|资产|工作)",
    ),
    (
        Refusal.FRAUD,
        r"(?:转到|转移到|挂到|放到|过户到|存到).{0,8}(?:亲戚|别人|朋友|他人|外人)的?名下",
    ),
    (Refusal.FRAUD, r"(?:假离婚|假结婚|假装离婚|假装结婚|假装残疾|假装失业|假失业)"),
    (Refusal.FRAUD, r"装(?:得|的)?(?:严重|穷|困难|可怜|残|病|傻)"),
    (Refusal.FRAUD, r"替(?:他|她|我|别人|老人|家人)?(?:去)?(?:刷脸|认证|考试|考|签字|按手印|录像)"),
    (
        Refusal.FRAUD,
        r"(?:走后门|开后门|托关系|找关系|找熟人|塞钱|塞红包|送礼|给红包|花钱买|花点钱).{0,12}(?:快|"
        r"加急|插队|通过|办|批|拿|过|行|领)",
    ),
    (Refusal.FRAUD, r"(?:插个队|插队办|加塞)"),
    (Refusal.FRAUD, r"(?:钻空子|钻漏洞|糊弄过|蒙混过|蒙过|骗过|瞒天过海)"),
    (
        Refusal.FRAUD,
        r"(?:不被|不会被|别被|会被|会不会被|能不能不被)(?:人)?(?:发现|查出|查到|识破|看出)",
    ),
    (Refusal.FRAUD, r"(?:查不出来|查得出来吗|能查出来吗|发现不了|看不出来吧)"),
    (Refusal.FRAUD, r"(?:绕过|绕开|规避)(?:.{0,8})(?:审核|核查|检查|认证|审查|稽查|核对|人脸)"),
    (
        Refusal.FRAUD,
        r"(?:去世|过世|死了|走了).{0,20}(?:继续领|接着领|照样领|一直领|还在发|不去销|不注销|先别报)",
    ),
    (Refusal.FRAUD, r"(?:重复领|领两份|多领一份|两边都领|两头领)"),
    # Hiding a new job from a benefit office by having contributions start late.
    (
        Refusal.FRAUD,
        r"(?:晚点|晚些|晚几个月|推迟|延后|先别|先不|暂时不|别)(?:给我|帮我|替我)?(?:交|缴|上|报|办)"
        r"(?:社保|医保|五险|保险|参保|用工登记)",
    ),
    (
        Refusal.FORGERY,
        r"(?:社保卡|医保卡|身份证|户口本|残疾证|优待证).{0,12}(?:出手|转卖|卖掉|变现)",
    ),
    # --- forged or bought documents
    (
        Refusal.FORGERY,
        r"(?:假证|办证电话|伪造|造假|做假|作假|弄虚作假|仿造|变造|私刻|假公章|假章|假印章)",
    ),
    (
        Refusal.FORGERY,
        r"(?:假的|开假|做假|办假|弄假|买假|一张假|一份假|一个假|个假|张假|份假).{0,10}(?:证明|证书|"
        r"证|执照|材料|合同|病历|诊断|发票|流水|户口|章)",
    ),
    (
        Refusal.FORGERY,
        r"(?:[Pp]一?[个张份下]|[Pp][Ss]|修图|涂改|篡改).{0,8}(?:证|章|证明|日期|金额|流水|截图)",
    ),
    (Refusal.FORGERY, r"(?:找人|私自|偷偷)刻|自己刻(?:个|一个)?章"),
    (Refusal.FORGERY, r"多开.{0,4}(?:发票|证明|单据|收据)"),
    (
        Refusal.FORGERY,
        r"(?:买卖|出售|倒卖|回收|收购|租用|借用|出租|买[个张份]|买一张|卖[个张掉]).{0,6}(?:社保卡|"
        r"医保卡|身份证|户口本|残疾证|优待证|证明|证件|发票|资质|执照)",
    ),
    # --- other people's personal data
    (
        Refusal.OTHERS_DATA,
        _PEOPLE + r"(?:的|"
        r"家的?)" + r".{0,8}" + _PERSONAL + r".{0,10}(?:告诉我|发给?我|给我|查|看看|"
        r"多少|是什么|在哪)",
    ),
    (Refusal.OTHERS_DATA, r"(?:查|看|调|找|翻)(?:一下|一查|查|看)?[^我\d]{0,8}的" + _PERSONAL),
    (Refusal.OTHERS_DATA, r"(?:人肉|开房记录|查个人|查某人|查一个人|户籍信息|户籍资料)"),
    # Someone else's marriage history, however close: only they (or a court) may ask.
    (
        Refusal.OTHERS_DATA,
        r"(?:查|看|调|打听)(?:一下|一查|查|看)?.{0,4}(?:老公|老婆|丈夫|妻子|对象|未婚夫|未婚妻|男朋友|"
        r"女朋友|男友|女友|他|她|别人|对方).{0,12}(?:结过婚|离过婚|婚史|婚姻记录|婚姻状况|结婚登记)",
    ),
    (Refusal.OTHERS_DATA, r"(?:把|将).{0,12}" + _PERSONAL + r".{0,6}(?:发给?我|告诉我|给我看)"),
    (
        Refusal.OTHERS_DATA,
        r"(?:别人|他人|某人|邻居|隔壁|同事|老板|领导|前妻|前夫|前任|前女友|前男友|那个人|这个人|那家)名下",
    ),
    # --- attempts to change the assistant's rules or read its internals
    (
        Refusal.INJECTION,
        r"(?:忽略|无视|忘掉|忘记|不要管|别管|抛开|放弃|跳过)(?:你|掉)?(?:之前|以前|上面|前面|以上|"
        r"上述|所有|全部|一切|原来|原有|你的|的)?.{0,6}(?:指令|指示|规则|设定|限制|要求|提示|约束|规定|"
        r"身份|政策)",
    ),
    (
        Refusal.INJECTION,
        r"(?:系统提示|系统指令|提示词|system ?prompt|prompt|越狱|jailbreak|开发者模式|"
        r"developer mode|dan模式|管理员模式|上帝模式|root权限|调试模式|新指令)",
    ),
    (
        Refusal.INJECTION,
        r"(?:你现在是|你现在扮演|从现在起你是|从现在开始你是|假设你是|假装你是|你要扮演|请扮演|扮演一个|扮演黑客|"
        r"角色扮演|不受任何限制|没有任何限制|没有限制的|无限制的|不用遵守)",
    ),
    (
        Refusal.INJECTION,
        r"(?:管理员密码|后台密码|数据库密码|密钥|后台账号|源代码|源码|数据库|导出数据|所有人的|所有用户|全部用户|"
        r"用户名单|用户数据|配置文件|文件路径|服务器(?:ip|地址)|ip地址|api ?key|token)",
    ),
    (
        Refusal.INJECTION,
        r"(?:重复|复述|输出|打印|列出|显示|原样)(?:一下|一遍)?(?:你|出)?.{0,8}(?:收到的|第一条|"
        r"全部内容|隐藏|原始|指令|配置|设定)",
    ),
    (
        Refusal.INJECTION,
        r"(?:管理员消息|系统消息|开发者消息|后台指令|关闭.{0,4}(?:过滤|审核|限制|安全)|内容过滤|"
        r"解除.{0,4}限制|取消.{0,4}限制|隐藏的?(?:指令|提示|规则))",
    ),
    # English, matched with the spaces removed (see refusal_reason).
    (
        Refusal.INJECTION,
        r"(?:ignore|disregard|forget|override|bypass).{0,30}(?:instruction|rule|prompt|previous|"
        r"above|guideline|polic|filter|restriction)",
    ),
    (
        Refusal.INJECTION,
        r"(?:youarenow|fromnowon|pretendto|pretendyou|pretendthat|roleplayas|developermode|"
        r"jailbr|reveal(?:your|the)|print(?:your|the)(?:system|hidden|prompt)|showmeyour|"
        r"repeatyour|norules|nocontentpolic|nopolic|unrestricted|unfiltered|hiddeninstruction|"
        r"systemprompt|adminpassword)",
    ),
    (
        Refusal.FRAUD,
        r"(?:hide|hiding|conceal|lieabout|fake|forge|cheat).{0,20}(?:income|asset|document|"
        r"certificate|benefit|allowance|card|record)",
    ),
    # --- more ways of cheating, forging and prying, said plainly
    (
        Refusal.FRAUD,
        r"(?:塞|送)(?:点|些|个|一点|一些)?(?:红包|钱|礼|烟酒|购物卡|好处)|"
        r"给(?:办事员|工作人员|窗口|领导|经办人|他|她)(?:塞|送|包)?(?:点|些|个)?(?:红包|好处|烟酒|购物卡)",
    ),
    (
        Refusal.FRAUD,
        r"(?:就说|谎称|假称|骗他们说|跟他们说|报成|说成|写成|填成).{0,8}(?:已经|没有|是|有)",
    ),
    (
        Refusal.FRAUD,
        r"其实(?:不困难|不穷|有工作|有收入|有房|有车|有钱|没病|没残疾|没离婚|没结婚)",
    ),
    (
        Refusal.FRAUD,
        r"重复申请|分开.{0,6}申请.{0,4}(?:多|重复|两份)|(?:用|借)别人的.{0,6}(?:申请|领|办)",
    ),
    (
        Refusal.FORGERY,
        r"(?:假的|(?:弄|办|做|开|买|搞)(?:一?[个张份])?假).{0,14}"
        r"(?:身份|证|执照|章|病历|诊断|发票|合同|证明|材料)",
    ),
    (
        Refusal.FORGERY,
        r"(?:[Pp][Ss]|[Pp]图|修图|改图).{0,6}(?:就行|一下|改|弄)|(?:改|涂|篡).{0,10}(?:用|拿)[Pp][Ss]",
    ),
    (Refusal.FORGERY, r"代开.{0,4}(?:诊断|病历|医院|发票|收入)"),
    (
        Refusal.OTHERS_DATA,
        r"(?:机主|户主|车主|房主)(?:叫|是谁|的?名字|的?姓名|住|的?电话|的?身份证)",
    ),
    (
        Refusal.OTHERS_DATA,
        r"(?:导出|下载|拷贝|打包|列出|发给?我).{0,12}(?:名单|电话|手机号|身份证号|住址|信息|数据)|"
        r"(?:名单|手机号|身份证号|住址|个人信息).{0,8}(?:导出|打包|拷给?我)",
    ),
    (
        Refusal.OTHERS_DATA,
        r"(?:告诉我|发给?我|给我|顺便查|查一下|查查)(?:她|他|对方|别人|人家)的.{0,8}"
        r"(?:银行卡|身份证|手机|电话|住址|地址|名字|姓名|工资|存款|密码)",
    ),
)
_COMPILED = tuple((kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _PATTERNS)
# A citizen worried about being taken for a cheat ("会不会被当成冒领？") asks an honest
# question: it is answered, not refused.
_HONEST_WORRY = re.compile(
    r"(?:会不会|会|怕|担心|是不是|算不算|算)(?:被)?(?:当成|当作|认定为?|认为是?|算作?|视为)?"
    r".{0,4}(?:冒领|骗保|骗取|违规|违法|造假|作假|虚报)"
)
_SPACES = re.compile(r"\s+")


def refusal_reason(text: str) -> Refusal | None:
    """Why a message must be refused, or None for an ordinary message."""
    normalised = _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower()
    honest_worry = _HONEST_WORRY.search(normalised) is not None
    for kind, pattern in _COMPILED:
        if kind is Refusal.FRAUD and honest_worry:
            continue
        if pattern.search(normalised):
            return kind
    return None
