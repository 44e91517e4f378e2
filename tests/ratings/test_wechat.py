"""好差评 over WeChat: the idle question arrives as a 客服消息 with the level links, the reply
digit is the level, and a voice message counts as voice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.ratings.models import Followup, Rating
from bot.store import session_scope, utcnow
from tests.channels.conftest import (  # noqa: F401  (fixtures)
    WeChatApp,
    cheap_password_hashing,
    fake_wechat_server,
    store_url,
    wechat,
    wechat_api,
)
from tests.channels.peer import message_xml, new_openid
from tests.handoff.conftest import wait_until
from tests.ratings.conftest import CITED


def test_idle_question_and_rating_over_wechat(wechat: WeChatApp) -> None:  # noqa: F811
    wechat.rasa.scripted["居住证怎么办"] = [{"text": CITED}]
    openid = new_openid()
    spoken = message_xml(openid, "voice", 1, MediaId="m1", Format="amr", Recognition="居住证怎么办")
    answer = wechat.peer.read(wechat.peer.push(spoken))
    assert "来源：《居住证申领》" in answer.content

    ratings = wechat.client.app.state.rating_desk  # type: ignore[attr-defined]
    asked = wechat.client.portal.call(ratings.sweep, utcnow() + timedelta(hours=1))  # type: ignore[union-attr]
    assert asked == 1
    question = wechat.api.texts(openid)[-1]
    assert "打个分" in question
    assert 'msgmenucontent=2&msgmenuid=2">2分 不满意</a>' in question

    assert wechat.peer.say(openid, "2", 2) is None  # taken by the rating; thanks come as 客服消息
    wait_until(lambda: "收到您的评价（2分）" in wechat.api.texts(openid)[-1])
    assert "1. " in wechat.api.texts(openid)[-1]  # 跳过 as a numbered option
    assert wechat.peer.say(openid, "1", 3) is None  # 1 = the 跳过 option, not a level
    wait_until(lambda: "好的" in wechat.api.texts(openid)[-1])
    with session_scope(wechat.engine) as session:
        [rating] = session.scalars(select(Rating)).all()
        assert (rating.channel, rating.level, rating.voice, rating.comment) == (
            "wechat",
            2,
            True,
            None,
        )
        assert session.scalars(select(Followup)).one().rating_id == rating.id
