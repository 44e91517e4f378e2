"""The web app as two instances on one database and one Redis (issue 12): what a citizen and a
member of staff see does not depend on which instance each of them reached."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis
import socketio
from sqlalchemy import select

from bot.handoff.models import Ticket
from bot.store import session_scope
from tests.channels import peer
from tests.horizontal.conftest import FEED_POLL_SECONDS, REDIS_URL, Cluster, Instance, wait_until
from tests.horizontal.fake_rasa import RATING_QUESTION

pytestmark = pytest.mark.e2e

# A change made on one instance reaches a console on the other well before the store is
# polled again (FEED_POLL_SECONDS): only the Redis notice explains that.
ANNOUNCED_WITHIN = 1.5


@dataclass
class Widget:
    """A browser's chat socket, as widget.js drives it (long-polling: the python client)."""

    url: str
    events: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sio = socketio.Client(reconnection=False)
        for name in ("bot_uttered", "session_confirm", "error_message"):
            self.sio.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Callable[[Any], None]:
        def record(data: Any = None) -> None:
            self.events.append((name, data))

        return record

    def connect(self) -> str:
        """Opens a new conversation; returns its id."""
        self.sio.connect(self.url, transports=["polling"], socketio_path="socket.io")
        self.sio.emit("session_request", {"token": "", "last_id": 0})
        return f"web-{self.wait_for('session_confirm')['session_id']}"

    def wait_for(
        self, kind: str, predicate: Callable[[Any], bool] = lambda _: True, timeout: float = 10
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [data for name, data in list(self.events) if name == kind and predicate(data)]
            if found:
                return found[-1]
            time.sleep(0.02)
        raise AssertionError(f"no {kind} in time; got {self.events}")

    def texts(self) -> list[str]:
        return [d.get("text") or "" for n, d in list(self.events) if n == "bot_uttered"]

    def close(self) -> None:
        # The python client waits for its long-poll in flight (up to the server's 25 s ping
        # interval) before it returns: let it do that on its own.
        threading.Thread(target=self.sio.disconnect, daemon=True).start()


class EventStream:
    """The console's live feed (server-sent events), read in a thread: (arrival time, event,
    data) for every event."""

    def __init__(self, instance: Instance, headers: dict[str, str], query: str = "") -> None:
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self._client = instance.client(headers=headers)
        self._path = f"/api/handoffs/stream{query}"
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._stop = threading.Event()
        self._thread.start()

    def _read(self) -> None:
        event = "message"
        try:
            with self._client.stream("GET", self._path) as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith("event: "):
                        event = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        data = json.loads(line.removeprefix("data: "))
                        self.events.append((time.monotonic(), event, data))
        except httpx.HTTPError:
            return

    def first(self, predicate: Callable[[str, dict[str, Any]], bool], timeout: float) -> float:
        """When the first event matching ``predicate`` arrived (fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, event, data in list(self.events):
                if predicate(event, data):
                    return at
            time.sleep(0.01)
        raise AssertionError(f"no matching event in {timeout}s; got {self.events[-5:]}")

    def close(self) -> None:
        self._stop.set()
        self._client.close()


def _claim(instance: Instance, staff: dict[str, str], ticket: int) -> None:
    with instance.client(headers=staff) as client:
        response = client.post(f"/api/handoffs/{ticket}/claim")
    assert response.status_code == 200, response.text


def _ticket(cluster: Cluster, ticket_id: int) -> Ticket:
    with session_scope(cluster.engine) as session:
        ticket = session.scalars(select(Ticket).where(Ticket.id == ticket_id)).one()
        session.expunge(ticket)
        return ticket


# ---- socket.io across instances ----------------------------------------------------------------


def test_a_widget_on_one_instance_gets_what_staff_send_on_the_other(cluster: Cluster) -> None:
    widget = Widget(cluster.a.url)
    try:
        conversation = widget.connect()
        ticket = cluster.open_ticket(conversation, "web")
        staff = cluster.login(cluster.b, cluster.staff("socket-staff"))
        _claim(cluster.b, staff, ticket)
        joined = widget.wait_for("bot_uttered", lambda m: "socket-staff工" in (m.get("text") or ""))
        with cluster.b.client(headers=staff) as b:
            sent = b.post(
                f"/api/handoffs/{ticket}/messages",
                json={"text": "您好，材料带身份证原件即可", "client_id": str(uuid.uuid4())},
            )
        assert sent.status_code == 201, sent.text
        assert sent.json()["delivered"] is True
        reply = widget.wait_for(
            "bot_uttered", lambda m: m.get("text") == "您好，材料带身份证原件即可"
        )
        # Numbered by the shared outbox: a reconnect to either instance resumes after it.
        assert reply["id"] > joined["id"]
        assert widget.texts().count("您好，材料带身份证原件即可") == 1
    finally:
        widget.close()


def test_junk_on_the_shared_channels_changes_nothing(cluster: Cluster) -> None:
    """Whatever lands on the pub/sub channels (a misbehaving client of the same Redis) is
    ignored or at most wakes a console; the instances go on delivering."""
    client = redis.Redis.from_url(REDIS_URL)
    for topic in ("socketio", "handoff:changed"):
        channel = f"{cluster.redis_prefix}:{topic}"
        for junk in (
            b"not json",
            b"\xff\xfe\x00",
            json.dumps({"method": "emit"}).encode(),  # no event, no data
            json.dumps({"method": "enter_room", "sid": 5, "room": None}).encode(),
            json.dumps([1, 2, 3]).encode(),
            b"x" * 1_000_000,
        ):
            client.publish(channel, junk)
    client.close()
    for instance in (cluster.a, cluster.b):
        assert instance.process.poll() is None
        assert httpx.get(f"{instance.url}/healthz").status_code == 200
    test_a_widget_on_one_instance_gets_what_staff_send_on_the_other(cluster)


# ---- the staff console's live feed ---------------------------------------------------------------


def test_a_console_on_one_instance_sees_what_happens_on_the_other(cluster: Cluster) -> None:
    watcher = cluster.login(cluster.a, cluster.staff("feed-watcher"))
    queue = EventStream(cluster.a, watcher)
    sender = f"feed-{secrets.token_hex(4)}"
    conversation = cluster.api_conversation(sender)
    try:
        # Opened by the action server: every instance notices it by reading the store.
        ticket = cluster.open_ticket(conversation, "api")
        queue.first(
            lambda event, data: (
                event == "queue"
                and any(t["conversation_id"] == conversation for t in data["tickets"])
            ),
            timeout=FEED_POLL_SECONDS + 5,
        )
        detail = EventStream(cluster.a, watcher, f"?ticket={ticket}")
        try:
            detail.first(lambda event, _: event == "ticket", timeout=10)
            staff = cluster.login(cluster.b, cluster.staff("feed-worker"))
            claimed_at = time.monotonic()
            _claim(cluster.b, staff, ticket)
            seen = detail.first(
                lambda event, data: event == "ticket" and data["state"] == "claimed", timeout=10
            )
            assert seen - claimed_at < ANNOUNCED_WITHIN
            with cluster.api(cluster.b) as citizen:
                for text in ("我的材料齐了吗", "还需要复印件吗"):
                    said_at = time.monotonic()
                    said = citizen.post("/api/chat", json={"sender": sender, "message": text})
                    assert said.status_code == 200, said.text
                    seen = detail.first(
                        lambda event, data, text=text: (
                            event == "messages" and any(m["text"] == text for m in data["messages"])
                        ),
                        timeout=10,
                    )
                    assert seen - said_at < ANNOUNCED_WITHIN
        finally:
            detail.close()
    finally:
        queue.close()


# ---- the resume after a ticket: once, whichever instance ----------------------------------------


def test_closing_asks_for_the_rating_exactly_once_with_both_sweeps_running(
    cluster: Cluster,
) -> None:
    """Each instance sweeps every 50 ms for closed tickets not yet resumed, and resuming takes
    Rasa 300 ms: without a lock shared by the instances the other one resumes it too."""
    instances = (cluster.a, cluster.b)
    staff = {i.name: cluster.login(i, cluster.staff(f"closer-{i.name}")) for i in instances}
    for round_ in range(20):
        closer, reader = instances[round_ % 2], instances[(round_ + 1) % 2]
        sender = f"rating-{round_}-{secrets.token_hex(3)}"
        conversation = cluster.api_conversation(sender)
        ticket = cluster.open_ticket(conversation, "api")
        _claim(closer, staff[closer.name], ticket)
        with closer.client(headers=staff[closer.name]) as client:
            closed = client.post(f"/api/handoffs/{ticket}/close", json={"resolution": "已解答"})
        assert closed.status_code == 200, closed.text
        wait_until(lambda t=ticket: _ticket(cluster, t).resumed_at is not None, what="resume")
        time.sleep(cluster.rasa.resume_delay + 0.3)  # any second resume would be done by now
        assert cluster.rasa.resumes[conversation] == 1, f"round {round_}"
        assert cluster.rasa.rating_questions[conversation] == 1, f"round {round_}"
        with cluster.api(reader) as citizen:
            pending = citizen.get(f"/api/chat/{sender}/messages").json()["messages"]
        texts = [m.get("text") for m in pending]
        assert texts.count(RATING_QUESTION) == 1, (round_, texts)


# ---- WeChat: one message, once -------------------------------------------------------------------


def test_a_wechat_message_delivered_to_both_instances_is_handled_once(cluster: Cluster) -> None:
    """WeChat retries a message it got no answer to in time; behind a balancer the retry may
    reach the other instance, even at the same moment."""
    for round_ in range(5):
        openid = peer.new_openid()
        msg_id = 7_000_000_000 + secrets.randbelow(10**9)
        xml = peer.text_xml(openid, f"居住证怎么办{round_}", msg_id)

        def push(instance: Instance, xml: str = xml) -> Any:
            with httpx.Client(base_url=instance.url, timeout=30) as client:
                wechat = peer.WeChatPeer(client)
                return wechat.read(wechat.push(xml))

        with ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(push, (cluster.a, cluster.b)))
        turns = cluster.rasa.turns_of(f"wechat:{openid}")
        assert turns == [f"居住证怎么办{round_}"]
        contents = [r.content for r in replies if r is not None]
        assert contents, "neither instance answered"
        assert set(contents) == {f"bot: 居住证怎么办{round_}"}
