"""Showing an applicant's name without giving it away: 刘秀英 → 刘*英, 王芳 → 王*."""

from __future__ import annotations

# Two-character surnames (复姓) in use today; 欧阳明华 → 欧阳*华, not 欧**华.
_COMPOUND_SURNAMES_TEXT = """
    欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 司空 夏侯 轩辕 令狐 端木 独孤
    南宫 西门 百里 呼延 闻人 万俟 澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 钟离 赫连 第五 拓跋
    左丘 东郭 公羊 梁丘 谷梁 羊舌 微生 乐正 壤驷 漆雕 巫马 公良 亓官 司寇 仉督 子车 颛孙 段干
    闾丘 公西 南门 东门 鲜于 叱干 乌雅 那拉 爱新 叶赫
"""
COMPOUND_SURNAMES = frozenset(_COMPOUND_SURNAMES_TEXT.split())
_NAME_SEPARATORS = "·•・.． "


def mask_name(name: str) -> str:
    """Keep the surname and the last character, hide the rest with one ``*`` per character.

    - 王芳 → 王*, 刘秀英 → 刘*英, 欧阳明华 → 欧阳*华, 欧阳峰 → 欧阳*
    - names written with a separator (阿卜杜·热合曼) keep it: 阿**·**曼
    """
    name = name.strip()
    if not name:
        return ""
    if len(name) == 1:
        return "*"
    if any(sep in name for sep in _NAME_SEPARATORS):
        return "".join(
            ch if i in (0, len(name) - 1) or ch in _NAME_SEPARATORS else "*"
            for i, ch in enumerate(name)
        )
    surname_length = 2 if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES else 1
    given = name[surname_length:]
    if len(given) == 1:
        return name[:surname_length] + "*"
    return name[:surname_length] + "*" * (len(given) - 1) + given[-1]
