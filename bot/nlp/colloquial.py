"""What a citizen's question looks like to the sentence encoders, in plain Python.

Standard library only: the Rasa NLU pipeline (Python 3.10 environment) encodes each message the
same way the retriever does, so the retriever can reuse the message's vectors instead of
encoding the question a second time (one embedding per turn).
"""

from __future__ import annotations

import re
import unicodedata

# Colloquial term -> the wording used in the policy documents. Used to expand queries for the
# lexical (BM25) side; every key and value also goes into the dictionary as a whole word.
# Written from common usage in Chinese government-service counters, not from any test set.
COLLOQUIAL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "上户口": ("户口", "出生登记", "入户"),
    "报户口": ("户口", "出生登记", "入户"),
    "落户": ("户口迁入", "入户"),
    "迁户口": ("户口迁入",),
    "户口本": ("户口簿",),
    "暂住证": ("居住证",),
    "居住登记": ("居住证",),
    "身份证": ("居民身份证",),
    "临时身份证": ("临时居民身份证",),
    "无犯罪证明": ("无犯罪记录证明",),
    "良民证": ("无犯罪记录证明",),
    "驾照": ("驾驶证",),
    "换驾照": ("驾驶证", "换证"),
    "社保卡": ("社会保障卡",),
    "社保": ("社会保险",),
    "医保": ("医疗保险", "医疗保障"),
    "医保卡": ("社会保障卡", "医疗保险"),
    "新农合": ("城乡居民医疗保险",),
    "居民医保": ("城乡居民医疗保险",),
    "养老金": ("养老保险", "养老金"),
    "养老保险": ("养老保险",),
    "居民养老": ("城乡居民基本养老保险",),
    "农村养老保险": ("城乡居民基本养老保险",),
    "新农保": ("城乡居民基本养老保险",),
    "认证": ("资格认证",),
    "刷脸认证": ("资格认证",),
    "生存认证": ("资格认证",),
    "失业金": ("失业保险金",),
    "失业补助": ("失业保险金",),
    "失业证": ("就业创业证", "失业登记"),
    "就业证": ("就业创业证", "就业登记"),
    "灵活就业": ("灵活就业人员",),
    "自由职业": ("灵活就业人员",),
    "打零工": ("灵活就业人员",),
    "稳岗补贴": ("稳岗返还",),
    "丧葬费": ("丧葬补助金",),
    "抚恤费": ("抚恤金",),
    "异地看病": ("异地就医",),
    "外地看病": ("异地就医",),
    "异地就医": ("异地就医", "备案"),
    "报销": ("报销", "手工报销"),
    "垫付": ("手工报销", "零星报销"),
    "慢病": ("门诊慢性病",),
    "慢性病": ("门诊慢性病",),
    "特殊病": ("门诊特殊病",),
    "大病": ("门诊特殊病",),
    "低保": ("最低生活保障",),
    "吃低保": ("最低生活保障",),
    "救助": ("临时救助",),
    "救急": ("临时救助",),
    "高龄津贴": ("高龄津贴",),
    "老年补贴": ("高龄津贴",),
    "高龄补贴": ("高龄津贴",),
    "长寿补贴": ("高龄津贴",),
    "居家养老": ("居家养老服务补贴",),
    "养老服务补贴": ("居家养老服务补贴",),
    "残疾补贴": ("困难残疾人生活补贴", "重度残疾人护理补贴"),
    "两项补贴": ("困难残疾人生活补贴", "重度残疾人护理补贴"),
    "护理补贴": ("重度残疾人护理补贴",),
    "残疾证": ("残疾人证",),
    "结婚证": ("结婚登记",),
    "扯证": ("结婚登记",),
    "准生证": ("生育登记",),
    "生育服务证": ("生育登记",),
    "出生证": ("出生医学证明",),
    "出生证明": ("出生医学证明",),
    "育儿补贴": ("育儿补贴",),
    "托育补贴": ("育儿补贴",),
    "生娃补贴": ("育儿补贴",),
    "公积金": ("住房公积金",),
    "取公积金": ("住房公积金", "提取"),
    "过户": ("转移登记", "不动产"),
    "房产证": ("不动产权证书",),
    "二手房": ("二手房", "转移登记"),
    "公租房": ("公共租赁住房",),
    "廉租房": ("公共租赁住房",),
    "开店": ("个体工商户",),
    "个体户": ("个体工商户",),
    "营业执照": ("营业执照", "设立登记"),
    "开公司": ("企业开办",),
    "注册公司": ("企业开办", "设立登记"),
    "食品许可证": ("食品经营许可",),
    "食品经营许可证": ("食品经营许可",),
    "上学": ("入学",),
    "入学报名": ("义务教育", "入学"),
    "上小学": ("义务教育", "入学"),
    "上初中": ("义务教育", "入学"),
    "助学金": ("资助", "家庭经济困难学生"),
    "贫困生": ("家庭经济困难学生",),
    "优待证": ("退役军人优待证",),
    "退伍": ("退役军人",),
    "退伍军人": ("退役军人",),
    "个税": ("个人所得税",),
    "专项扣除": ("专项附加扣除",),
    "欠薪": ("欠薪", "农民工"),
    "讨薪": ("欠薪",),
    "讨工钱": ("欠薪",),
    "欠工资": ("欠薪",),
    "拖欠工资": ("欠薪",),
    "工资不发": ("欠薪",),
}

_WHITESPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, lower case, single spaces."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def expand_colloquial(normalized_text: str) -> list[str]:
    """Official terms for the colloquial terms found in the text (substring match, so 吃低保
    and 低保户 both count), deduplicated, in a stable order."""
    found: list[str] = []
    for colloquial, canonical in COLLOQUIAL_SYNONYMS.items():
        if colloquial in normalized_text:
            found.extend(term for term in canonical if term not in normalized_text)
    return list(dict.fromkeys(found))


def encoder_text(query: str) -> str:
    """The question as the sentence encoders read it: normalised, with the official wording of
    any colloquial terms appended (社保卡 -> 社会保障卡)."""
    text = normalize(query)
    extra = expand_colloquial(text)
    return f"{text}（{'、'.join(extra)}）" if extra else text
