"""The 好差评 dialogue through the web app (fake Rasa): asked after a goodbye or an idle pause
that follows a cited answer, once; the level, then the optional comment; a 差评 opens a
follow-up. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.handoff.models import Ticket
from bot.ratings.desk import RatingDesk
from bot.ratings.models import DECLINED, OPEN, Followup, Rating, RatingPrompt
from bot.store import session_scope, utcnow
from tests.handoff.conftest import Desk
from tests.ratings.conftest import CITED, GOODBYE

_cursors: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _fresh_cursors() -> None:
    _cursors.clear()


def _say(desk: Desk, sender: str, text: str, **extra: object) -> list[dict]:
    """One /api/chat turn that acknowledges what the client already has (the outbox cursor)."""
    after = _cursors.get(sender)
    query = f"?after={after}" if after is not None else ""
    body = {"sender": sender, "message": text, **extra}
    response = desk.client.post(f"/api/chat{query}", json=body)
    assert response.status_code == 200, response.text
    messages = response.json()["messages"]
    ids = [m["id"] for m in messages if "id" in m]
    if ids:
        _cursors[sender] = max(ids)
    return messages


def _texts(messages: list[dict]) -> list[str]:
    return [m.get("text") or "" for m in messages]


def _ratings(desk: Desk) -> list[Rating]:
    with session_scope(desk.engine) as session:
        return list(session.scalars(select(Rating).order_by(Rating.id)))


def _followups(desk: Desk) -> list[Followup]:
    with session_scope(desk.engine) as session:
        return list(session.scalars(select(Followup).order_by(Followup.id)))


def _prompt(desk: Desk, conversation_id: str) -> RatingPrompt | None:
    with session_scope(desk.engine) as session:
        return session.get(RatingPrompt, conversation_id)


def _ratings_desk(desk: Desk) -> RatingDesk:
    return desk.client.app.state.rating_desk  # type: ignore[attr-defined]


def test_goodbye_after_an_answer_asks_then_a_bad_rating_takes_a_comment(
    rating_desk: Desk,
) -> None:
    desk, sender = rating_desk, "citizen-1"
    assert CITED in _texts(_say(desk, sender, "居住证要带什么", voice=True))
    goodbye = _say(desk, sender, "再见")
    assert goodbye[0]["text"] == GOODBYE
    question = goodbye[1]
    assert "打个分" in question["text"]
    assert [b["title"] for b in question["buttons"]][3] == "2分 不满意"

    thanks = _texts(_say(desk, sender, "2"))
    assert any("收到您的评价（2分），不满意" in t for t in thanks), thanks
    [rating] = _ratings(desk)
    assert (rating.level, rating.channel, rating.ticket_id) == (2, "api", None)
    assert rating.service_id == "residence-permit" and rating.department == "区公安分局户政科"
    assert rating.voice is True and rating.elderly_mode is False
    [followup] = _followups(desk)
    assert followup.rating_id == rating.id and followup.status == OPEN
    assert abs(followup.deadline_at - rating.created_at - timedelta(hours=72)) < timedelta(
        seconds=1
    )

    said = _texts(_say(desk, sender, "材料写得不清楚，我的电话13812345678"))
    assert any("已记下您的意见" in t for t in said)
    [rating] = _ratings(desk)
    assert rating.comment == "材料写得不清楚，我的电话138****5678"
    # Done: the bot has the conversation again, and no second question comes.
    assert _texts(_say(desk, sender, "你好")) == ["bot: 你好"]
    assert _say(desk, sender, "再见") == [{"text": GOODBYE, "buttons": []}]


def test_ignored_question_goes_to_the_bot_and_is_never_asked_again(rating_desk: Desk) -> None:
    desk, sender = rating_desk, "citizen-2"
    _say(desk, sender, "居住证怎么办")
    assert len(_say(desk, sender, "拜拜")) == 2
    assert CITED in _texts(_say(desk, sender, "居住证在哪办"))  # not a rating: the bot answers
    assert _prompt(desk, desk.conversation(sender)).state == DECLINED
    assert _texts(_say(desk, sender, "再见")) == [GOODBYE]
    assert desk.run(_ratings_desk(desk).sweep, utcnow() + timedelta(days=1)) == 0
    assert _ratings(desk) == []


def test_no_question_without_a_cited_answer(rating_desk: Desk) -> None:
    desk, sender = rating_desk, "citizen-3"
    assert _texts(_say(desk, sender, "你好")) == ["bot: 你好"]
    assert _texts(_say(desk, sender, "再见")) == [GOODBYE]
    assert desk.run(_ratings_desk(desk).sweep, utcnow() + timedelta(days=1)) == 0


def test_idle_prompt_reaches_every_channel_once(rating_desk: Desk) -> None:
    desk, ratings = rating_desk, _ratings_desk(rating_desk)
    from bot.gateway.router import Turn

    sender = "citizen-4"
    _say(desk, sender, "居住证怎么办")
    web = "web-idleidleidleidleidle"
    desk.run(desk.gateway.router.handle, Turn(web, "web", "居住证怎么办", elderly=True))
    assert desk.run(ratings.sweep, utcnow()) == 0  # not idle yet
    later = utcnow() + timedelta(seconds=3601)
    assert desk.run(ratings.sweep, later) == 2
    assert desk.run(ratings.sweep, later) == 0  # once

    waiting = desk.client.get(f"/api/chat/{sender}/messages").json()["messages"]
    assert "打个分" in waiting[-1]["text"]
    assert "打个分" in desk.web.texts(web)[-1]
    thanks = desk.run(desk.gateway.router.handle, Turn(web, "web", "5"))
    assert thanks == []  # delivered through the channel, not as the turn's reply
    assert "感谢您的评价（5分）：非常满意" in desk.web.texts(web)[-1]
    [rating] = _ratings(desk)
    assert (rating.channel, rating.level, rating.elderly_mode) == ("web", 5, True)
    assert _followups(desk) == []  # 好评: no follow-up
    # 好评: a comment only when the citizen asks to add one.
    desk.run(desk.gateway.router.handle, Turn(web, "web", "补充意见"))
    assert "请直接写下" in desk.web.texts(web)[-1]
    desk.run(desk.gateway.router.handle, Turn(web, "web", "很方便"))
    assert _ratings(desk)[0].comment == "很方便"


def test_a_good_rating_does_not_swallow_the_next_question(rating_desk: Desk) -> None:
    desk, sender = rating_desk, "citizen-5"
    _say(desk, sender, "居住证怎么办")
    _say(desk, sender, "再见")
    thanks = _say(desk, sender, "非常满意")
    assert thanks[-1]["buttons"] == [{"title": "补充意见", "payload": "补充意见"}]
    assert _texts(_say(desk, sender, "你好")) == ["bot: 你好"]
    assert _ratings(desk)[0].comment is None


def test_skipping_the_comment_keeps_the_follow_up(rating_desk: Desk) -> None:
    desk, sender = rating_desk, "citizen-6"
    _say(desk, sender, "居住证怎么办")
    _say(desk, sender, "再见")
    _say(desk, sender, "非常不满意")
    assert any("好的" in t for t in _texts(_say(desk, sender, "跳过")))
    [rating] = _ratings(desk)
    assert rating.level == 1 and rating.comment is None
    assert len(_followups(desk)) == 1


def test_rating_after_a_handoff_goes_to_the_ratings_table_and_the_ticket(
    rating_desk: Desk,
) -> None:
    desk, sender = rating_desk, "citizen-7"
    ticket_id = desk.open_ticket(sender)
    alice = desk.login(desk.staff("alice"))
    desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=alice)
    desk.client.post(
        f"/api/handoffs/{ticket_id}/messages", headers=alice, json={"text": "请带身份证原件"}
    )
    desk.client.post(
        f"/api/handoffs/{ticket_id}/close", headers=alice, json={"resolution": "已答复"}
    )
    pending = desk.client.get(f"/api/chat/{sender}/messages").json()["messages"]
    assert "打个分" in pending[-1]["text"]
    _cursors[sender] = pending[-1]["id"]
    rated = _say(desk, sender, "1")
    assert rated[-1]["custom"]["handoff"] == {"event": "rated"}
    with session_scope(desk.engine) as session:
        ticket = session.get(Ticket, ticket_id)
        assert (ticket.rating, ticket.rating_state) == (1, "rated")
    [rating] = _ratings(desk)
    assert rating.ticket_id == ticket_id and rating.level == 1
    assert len(_followups(desk)) == 1
    _say(desk, sender, "等太久了")
    assert _ratings(desk)[0].comment == "等太久了"
    # Its follow-up shows the bot's part (Rasa's tracker) and the ticket's, masked.
    followup_id = _followups(desk)[0].id
    shown = desk.client.get(f"/api/console/followups/{followup_id}/transcript", headers=alice)
    lines = [(line["sender"], line["text"]) for line in shown.json()["lines"]]
    assert ("citizen", "居住证怎么办") in lines
    assert ("staff", "请带身份证原件") in lines
    # The handoff's rating was the conversation's: the bot-only question is not asked.
    _say(desk, sender, "居住证怎么办")
    assert len(_say(desk, sender, "再见")) == 1
