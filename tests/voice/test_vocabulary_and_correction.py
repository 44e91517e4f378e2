"""The domain vocabulary from the catalogue, and mapping near-homophones back to it."""

from __future__ import annotations

import pytest

from bot.catalog import Catalog, Service
from bot.voice.correction import HomophoneCorrector
from bot.voice.vocabulary import PROMPT_MAX_CHARS, build_vocabulary, get_vocabulary


def test_vocabulary_covers_catalogue_and_colloquial_terms() -> None:
    vocabulary = get_vocabulary()
    for term in (
        "社保卡",
        "医保",
        "低保",
        "公积金",
        "居住证申领",
        "异地就医备案",
        "公安分局户政科",
    ):
        assert term in vocabulary.terms, term
    assert "区医疗保障局" in vocabulary.terms  # departments, as spoken with and without 区
    assert "医疗保障局" in vocabulary.terms
    assert len(vocabulary.prompt) <= PROMPT_MAX_CHARS
    assert "社保卡" in vocabulary.prompt and "公积金" in vocabulary.prompt


def test_a_new_catalogue_service_joins_the_vocabulary() -> None:
    catalog = Catalog("云溪区", (Service("x", "老年助餐服务申请（长者食堂）", "区民政局"),))
    assert "长者食堂" in build_vocabulary(catalog).terms


@pytest.fixture(scope="module")
def corrector() -> HomophoneCorrector:
    vocabulary = get_vocabulary()
    return HomophoneCorrector(vocabulary.terms, vocabulary.near_terms)


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("社报卡丢了怎么办", "社保卡丢了怎么办"),
        ("我想申请低包", "我想申请低保"),
        ("居住政怎么办理", "居住证怎么办理"),
        ("公鸡金能取吗", "公积金能取吗"),
        ("我要办一地就医备案", "我要办异地就医备案"),
        ("门怎慢性病怎么认定", "门诊慢性病怎么认定"),  # zhen heard as zen: fuzzy
        ("会议居然优待政怎么申领", "会议居然优待证怎么申领"),
        ("积住证怎么办理", "居住证怎么办理"),  # ju heard as ji: fuzzy
        ("老年人的高零股贴", "老年人的高龄补贴"),  # near: bu heard as gu
        ("开饭馆要办使品尖影许客众吗", "开饭馆要办食品经营许可众吗"),  # near, two syllables
        ("失业金怎么灵", "失业金怎么领"),  # a question phrase, exact sound
        ("不办社保卡", "补办社保卡"),
    ],
)
def test_near_homophones_of_domain_terms_are_mapped_back(
    corrector: HomophoneCorrector, heard: str, meant: str
) -> None:
    assert corrector.correct(heard) == meant


@pytest.mark.parametrize(
    "ordinary",
    [
        "今天天气不错",
        "我想问一下",
        "老伴走了怎么办",
        "这个东西在哪里买",
        "我不想办了",
        "他说明天再来看看",
        "",
        "ABC 123 ？！",
    ],
)
def test_ordinary_words_are_left_alone(corrector: HomophoneCorrector, ordinary: str) -> None:
    assert corrector.correct(ordinary) == ordinary


def test_two_character_terms_need_the_exact_sound(corrector: HomophoneCorrector) -> None:
    # 低保 is di-bao; 地泡 (di-pao) is not close enough for a two-character term.
    assert corrector.correct("地泡") == "地泡"
    assert corrector.correct("底保") == "低保"


def test_a_sound_shared_by_two_terms_is_not_guessed() -> None:
    corrector = HomophoneCorrector(["公事", "公式"])
    assert corrector.correct("攻势") == "攻势"


def test_near_matches_never_override_a_term_heard_right(corrector: HomophoneCorrector) -> None:
    # 能住房 is near 廉租房, but 住房公积金 was heard exactly.
    assert corrector.correct("能住房公积金怎么取") == "能住房公积金怎么取"
    # 把户口 is near 报户口, but 户口 itself was heard right.
    assert corrector.correct("我想把户口迁过来") == "我想把户口迁过来"


def test_phrases_are_not_matched_near(corrector: HomophoneCorrector) -> None:
    assert corrector.correct("怎么弄") == "怎么弄"  # near 怎么领, but only exact for phrases


def test_three_character_near_matches_keep_the_initial(corrector: HomophoneCorrector) -> None:
    assert corrector.correct("每年领养老亲") == "每年领养老金"  # q/j alike
    # 出生门 (…men) is not 出生证 (…zheng): a shared final is not enough in three characters.
    assert corrector.correct("小孩出生门，去派出所") == "小孩出生门，去派出所"
