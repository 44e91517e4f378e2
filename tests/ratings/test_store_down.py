"""The rating dialogue is a by-product of the conversation: when its store is down, every turn
still reaches the bot and every reply still reaches the citizen."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.base import BotMessage, ChannelRegistry, Turn
from bot.handoff.desk import HandoffDesk
from bot.ratings.desk import RatingDesk
from bot.store import make_engine
from tests.handoff.conftest import make_settings
from tests.ratings.conftest import CITED, GOODBYE


def test_store_down_costs_nothing(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'never-migrated.db'}")
    engine = make_engine(settings.database_url)
    ratings = RatingDesk(settings, engine, ChannelRegistry(), cast(HandoffDesk, None))
    turn = Turn("api-1-x", "api", "2", elderly=True, voice=True)
    replies = [BotMessage(text=CITED)]

    async def run() -> tuple[Any, ...]:
        await ratings.seen(turn)  # logs, does not raise
        taken = await ratings.intercept(turn)
        after_answer = await ratings.after_bot(turn, replies)
        after_goodbye = await ratings.after_bot(turn, [BotMessage(text=GOODBYE)])
        # The sweep fails loudly; its loop (_sweep_forever) logs and tries again later.
        with pytest.raises(SQLAlchemyError):
            await ratings.sweep()
        return taken, after_answer, after_goodbye

    taken, after_answer, after_goodbye = asyncio.run(run())
    assert taken is False
    assert after_answer == replies
    assert [m.text for m in after_goodbye] == [GOODBYE]
    engine.dispose()
