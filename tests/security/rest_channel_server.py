"""Rasa's REST channel (``rasa_components.channels``) on a real Sanic server, registered the way
``rasa run`` registers it, without a trained model (nor TensorFlow: it starts in seconds);
``test_rest_channel.py`` starts it with the Rasa environment's Python and the Rasa server's
environment from ``bot.services``:

    .venv-rasa/bin/python -m tests.security.rest_channel_server PORT PAUSED_SENDER

The agent answers every turn with what reached it (sender, input channel, metadata) as JSON
text, and fails the turn :data:`FAILING_TEXT` the way a lost database fails one. The
conversation ``PAUSED_SENDER`` is paused, the way a handoff leaves it.
"""

from __future__ import annotations

import json
import sys

from rasa.core.channels.channel import UserMessage, register
from rasa.core.tracker_store import InMemoryTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ConversationPaused
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from rasa_components.channels import ValidatedRestInput

FAILING_TEXT = "这一轮会出错"


class EchoAgent:
    """Stands in for Rasa's agent: what the channel uses of it (tracker store, handle_message)."""

    def __init__(self, tracker_store: TrackerStore) -> None:
        self.tracker_store = tracker_store

    async def handle_message(self, message: UserMessage) -> None:
        if message.text == FAILING_TEXT:
            raise ConnectionError("the tracker store's database went away")
        echo = {
            "sender": message.sender_id,
            "input_channel": message.input_channel,
            "metadata": message.metadata,
        }
        await message.output_channel.send_text_message(message.sender_id, json.dumps(echo))


def main() -> None:
    port, paused_sender = int(sys.argv[1]), sys.argv[2]
    tracker_store = InMemoryTrackerStore(Domain.empty())
    app = Sanic("rasa_server")  # reads SANIC_* from the environment, as Rasa's app does
    register([ValidatedRestInput()], app, route="/webhooks/")

    async def start_agent(running_app: Sanic, _: object) -> None:
        paused = DialogueStateTracker.from_events(paused_sender, [ConversationPaused()])
        await tracker_store.save(paused)
        running_app.ctx.agent = EchoAgent(tracker_store=tracker_store)

    app.register_listener(start_agent, "before_server_start")
    app.run(host="127.0.0.1", port=port, access_log=False)


if __name__ == "__main__":
    main()
