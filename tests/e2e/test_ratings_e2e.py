"""好差评 on the real stack through /api/chat: a cited policy answer, goodbye, the question,
不满意 and a comment; the service comes from Rasa's own slot, the department from the
catalogue; the follow-up is open; hostile input changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.ratings.models import DECLINED, Followup, Rating, RatingPrompt
from bot.store import make_engine, session_scope
from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.e2e


class Citizen:
    """An /api/chat client that acknowledges what it has seen (the outbox cursor)."""

    def __init__(self, stack: LiveStack, sender: str) -> None:
        self.stack, self.sender, self.cursor = stack, sender, None

    def say(self, text: str, **extra: object) -> list[str]:
        import httpx

        params = {"after": self.cursor} if self.cursor is not None else {}
        response = httpx.post(
            f"{self.stack.web_url}/api/chat",
            params=params,
            json={"sender": self.sender, "message": text, **extra},
            headers=self.stack.api_headers,
            timeout=60,
        )
        assert response.status_code == 200, response.text
        messages = response.json()["messages"]
        ids = [m["id"] for m in messages if "id" in m]
        self.cursor = max(ids) if ids else self.cursor
        return [m.get("text") or "" for m in messages]


def _rows(stack: LiveStack, conversation_id: str) -> tuple[list[Rating], list[Followup]]:
    engine = make_engine(stack.database_url)
    try:
        with session_scope(engine) as session:
            ratings = list(
                session.scalars(select(Rating).where(Rating.conversation_id == conversation_id))
            )
            followups = list(
                session.scalars(
                    select(Followup).where(Followup.rating_id.in_([r.id for r in ratings]))
                )
            )
            return ratings, followups
    finally:
        engine.dispose()


def test_bad_rating_with_a_comment_over_api_chat(stack: LiveStack) -> None:
    citizen = Citizen(stack, "ratings-e2e-1")
    answer = citizen.say("居住证怎么办理", elderly_mode=True)
    assert any("来源：《" in text for text in answer), answer
    goodbye = citizen.say("再见")
    assert len(goodbye) == 2 and "打个分" in goodbye[-1], goodbye
    assert any("收到您的评价（2分）" in t for t in citizen.say("2"))
    assert any("已记下" in t for t in citizen.say("窗口地址没写清楚，回电13812345678"))

    [rating], [followup] = _rows(stack, stack.api_conversation("ratings-e2e-1"))
    assert (rating.level, rating.channel, rating.ticket_id) == (2, "api", None)
    assert rating.service_id == "residence-permit"
    assert rating.department == "区公安分局户政科"
    assert rating.elderly_mode is True and rating.voice is False
    assert rating.comment == "窗口地址没写清楚，回电138****5678"
    assert followup.status == "open"

    # Afterwards the bot has the conversation; a second goodbye asks nothing.
    assert len(citizen.say("再见")) == 1


def test_hostile_rating_input_changes_nothing(stack: LiveStack) -> None:
    citizen = Citizen(stack, "ratings-e2e-2")
    citizen.say("居住证怎么办理")
    citizen.say("再见")
    # A level out of range is not a rating: the question is dropped there (never asked again),
    # and what follows (an injection attempt, control characters around a digit) goes to the
    # bot as ordinary messages; nothing is stored as a rating.
    for text in ("7", "2'; DROP TABLE ratings; --", "\x00\x01\x02 5 \x03"):
        citizen.say(text)
    ratings, _ = _rows(stack, stack.api_conversation("ratings-e2e-2"))
    assert ratings == []
    engine = make_engine(stack.database_url)
    try:
        with session_scope(engine) as session:
            prompt = session.get(RatingPrompt, stack.api_conversation("ratings-e2e-2"))
            assert prompt is not None and prompt.state == DECLINED
    finally:
        engine.dispose()
