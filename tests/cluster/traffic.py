"""Citizens talking to a cluster through its balancer: scripted conversations over Rasa's REST
channel, retried the way a client does when told to, with every attempt recorded."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bot.cluster.haproxy import INSTANCE_HEADER
from bot.text import TURN_FAILED

# Eight turns, each with a piece its reply must contain (None: any non-empty answer). Two status
# forms: the number on one turn, the phone tail on the next.
SCRIPT: tuple[tuple[str, str | None], ...] = (
    ("你好", "办件进度"),
    ("查一下YX20261030001的进度", "后四位"),
    ("5173", "刘*英"),
    ("居住证怎么办理", None),
    ("查一下YX20261013003的进度", "后四位"),
    ("3884", "王*"),
    ("社保卡丢了去哪里补办", None),
    ("你好", "办件进度"),
)
MAX_ATTEMPTS = 6
RETRY_PAUSE_SECONDS = 3.0


@dataclass
class Turn:
    text: str
    expected: str | None
    attempts: int = 0
    retry_signals: int = 0
    resends: int = 0
    instance: str = ""
    reply: str = ""
    failures: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return bool(self.reply)

    @property
    def as_expected(self) -> bool:
        return self.answered and (self.expected is None or self.expected in self.reply)


@dataclass
class Conversation:
    sender: str
    turns: list[Turn]


def new_conversation(prefix: str) -> Conversation:
    return Conversation(
        f"{prefix}-{uuid.uuid4().hex[:12]}", [Turn(text, expected) for text, expected in SCRIPT]
    )


def is_retry_signal(response: httpx.Response) -> bool:
    """The balancer's "please retry" (JSON ``retry: true``) for a turn no instance finished; a
    Rasa server's own (a 200 with :data:`TURN_FAILED`) is read in :func:`send`."""
    if response.status_code not in (502, 503, 504):
        return False
    try:
        return response.json().get("retry") is True
    except ValueError:
        return False


async def send(
    client: httpx.AsyncClient, url: str, sender: str, turn: Turn, pin: str | None
) -> None:
    headers = {INSTANCE_HEADER: pin} if pin else {}
    while turn.attempts < MAX_ATTEMPTS:
        turn.attempts += 1
        try:
            response = await client.post(
                url, json={"sender": sender, "message": turn.text}, headers=headers
            )
        except httpx.RemoteProtocolError:
            # The connection closed before any answer (a keep-alive connection the balancer
            # had just closed): sent again like a retry; the tracker check shows whether it
            # had been taken in.
            turn.resends += 1
            continue
        except httpx.HTTPError as error:
            turn.failures.append(type(error).__name__)
            return  # no answer at all (a timeout): counted as lost
        if response.status_code == 200:
            turn.instance = response.headers.get(INSTANCE_HEADER, "")
            turn.reply = "\n".join(m.get("text") or "" for m in response.json())
            if turn.reply != TURN_FAILED:
                return
            turn.retry_signals += 1
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
            continue
        if not is_retry_signal(response):
            turn.failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
            return
        turn.retry_signals += 1
        await asyncio.sleep(RETRY_PAUSE_SECONDS)


async def talk(
    client: httpx.AsyncClient,
    url: str,
    conversation: Conversation,
    pin_of: Callable[[int], str | None],
    gate: asyncio.Semaphore,
) -> None:
    """One citizen: each turn waits for the previous reply (a chat is sequential)."""
    for index, turn in enumerate(conversation.turns):
        async with gate:
            await send(client, url, conversation.sender, turn, pin_of(index))
        if not turn.answered:
            return


def client(concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # Above the balancer's server timeout: its answer, not ours, ends a slow turn.
    return httpx.AsyncClient(timeout=180, limits=limits)


async def run_fixed(
    url: str,
    conversations: list[Conversation],
    concurrency: int,
    pin_of: Callable[[int, int], str | None],
) -> float:
    """All conversations at once, at most ``concurrency`` turns in flight; returns seconds."""
    gate = asyncio.Semaphore(concurrency)
    started = time.monotonic()
    async with client(concurrency) as http:
        await asyncio.gather(
            *(
                talk(http, url, c, lambda t, n=n: pin_of(n, t), gate)
                for n, c in enumerate(conversations)
            )
        )
    return time.monotonic() - started


async def run_until(
    url: str, prefix: str, workers: int, done: Callable[[], bool], minimum: int
) -> list[Conversation]:
    """Closed loop: ``workers`` citizens start conversation after conversation until ``done()``
    and at least ``minimum`` conversations have started; the balancer picks the instances."""
    conversations: list[Conversation] = []
    gate = asyncio.Semaphore(workers)

    async def worker(http: httpx.AsyncClient) -> None:
        while not done() or len(conversations) < minimum:
            conversation = new_conversation(prefix)
            conversations.append(conversation)
            await talk(http, url, conversation, lambda _t: None, gate)

    async with client(workers) as http:
        await asyncio.gather(*(worker(http) for _ in range(workers)))
    return conversations
