"""Send questions through the running web app's ``/api/chat``, one fresh conversation each."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from bot.eval.dataset import Question
from bot.eval.outcomes import ERROR, Outcome, OutcomeReader


class ApiKeyRefused(RuntimeError):
    """``/api/chat`` refused the key (401): no question can be asked, so the run stops."""


@dataclass(frozen=True)
class Trial:
    question: Question
    outcome: Outcome
    seconds: float
    reply: str


async def _ask(
    client: httpx.AsyncClient, url: str, question: Question, reader: OutcomeReader
) -> Trial:
    sender = f"eval-{uuid.uuid4().hex}"
    started = time.perf_counter()
    try:
        response = await client.post(url, json={"sender": sender, "message": question.query})
        if response.status_code == 401:
            raise ApiKeyRefused(str(response.json().get("detail") or "API key refused"))
        response.raise_for_status()
        messages = response.json().get("messages") or []
    except (httpx.HTTPError, ValueError) as exc:
        return Trial(question, Outcome(ERROR, detail=str(exc)[:200]), 0.0, "")
    seconds = time.perf_counter() - started
    outcome = reader.read(messages, question.service_id)
    reply = " / ".join(str(m.get("text") or "") for m in messages)
    return Trial(question, outcome, seconds, reply)


async def run_questions(
    base_url: str,
    questions: Sequence[Question],
    reader: OutcomeReader,
    concurrency: int = 4,
    api_key: str | None = None,
    timeout: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Trial]:
    """Every question once, ``concurrency`` at a time; results in the input order."""
    url = base_url.rstrip("/") + "/api/chat"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0

    async with httpx.AsyncClient(timeout=timeout, headers=headers) as client:

        async def one(question: Question) -> Trial:
            nonlocal done
            async with gate:
                trial = await _ask(client, url, question, reader)
            done += 1
            if progress is not None:
                progress(done, len(questions))
            return trial

        return list(await asyncio.gather(*(one(q) for q in questions)))
