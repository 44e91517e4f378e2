"""Names are shown masked: enough to recognise one's own record, not to learn someone's name."""

from __future__ import annotations

import csv

import pytest

from bot.settings import get_settings
from bot.status.masking import mask_name


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("刘秀英", "刘*英"),
        ("王芳", "王*"),
        ("高建国", "高*国"),
        ("欧阳明华", "欧阳*华"),
        ("欧阳峰", "欧阳*"),
        ("司马建军", "司马*军"),
        ("诸葛亮", "诸葛*"),
        ("张王晓明", "张**明"),
        ("阿卜杜·热合曼", "阿**·**曼"),
        ("李", "*"),
        ("", ""),
        ("  王芳 ", "王*"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_every_demo_name_is_masked() -> None:
    with get_settings().demo_applications_csv.open(encoding="utf-8-sig", newline="") as handle:
        names = [row["applicant_name"] for row in csv.DictReader(handle)]
    assert names
    for name in names:
        masked = mask_name(name)
        assert len(masked) == len(name)
        assert "*" in masked
        assert masked != name
        # At most the surname and the last character stay readable.
        shown = sum(1 for ch in masked if ch != "*" and ch != "·")
        assert shown <= 3, (name, masked)
