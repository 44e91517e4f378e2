"""``POST /api/asr`` (speech to text) and ``GET/POST /api/tts`` (server read-aloud).

Included by the gateway with one ``app.include_router(voice_router)``. Callers are the portal's
own widget: same origin, with its session id in ``X-Zhixun-Session`` (the same id it gives the
chat socket). Integration keys (``Authorization: Bearer …``) are to be accepted here once the
gateway has them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from bot.settings import get_settings
from bot.voice.audio import AudioError
from bot.voice.recognizer import NOT_HEARD
from bot.voice.service import ServiceBusy, get_speech_service
from bot.voice.tts import TtsBusy, TtsEngine, TtsUnavailable

log = logging.getLogger(__name__)

SESSION_HEADER = "X-Zhixun-Session"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

_tts: TtsEngine | None = None


def tts_engine() -> TtsEngine:
    global _tts
    if _tts is None:
        _tts = TtsEngine(get_settings())
    return _tts


@asynccontextmanager
async def voice_lifespan(_: FastAPI) -> AsyncIterator[None]:
    service = get_speech_service()
    # Load the model in the background: the first spoken question should not wait for it,
    # and the web app should not wait for it to start either.
    warm = asyncio.get_running_loop().run_in_executor(None, _warm_up_quietly, service)
    yield
    await asyncio.gather(warm, return_exceptions=True)
    if _tts is not None:
        await _tts.aclose()


def _warm_up_quietly(service) -> None:  # type: ignore[no-untyped-def]
    try:
        service.warm_up()
    except Exception:  # reported again, to the caller, on the first request
        log.exception("speech recognition model not loaded")


router = APIRouter(tags=["voice"], lifespan=voice_lifespan)


class AsrResponse(BaseModel):
    text: str = Field(description="Recognised text (Simplified); empty when not heard")
    confidence: float
    duration_s: float
    heard: bool
    message: str | None = Field(None, description="「没听清，请再说一遍」 when not heard")


class TtsRequest(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _caller_problem(request: Request, session: str | None) -> JSONResponse | None:
    if session is None or not _SESSION_ID.match(session):
        return _error(401, "缺少会话信息，请刷新页面后再试。")
    if not _same_origin(request):
        return _error(403, "不接受来自其他网站的请求。")
    return None


@router.post(
    "/api/asr",
    response_model=AsrResponse,
    responses={400: {}, 401: {}, 403: {}, 413: {}, 415: {}, 503: {}},
    summary="Speech to text (Mandarin, offline)",
)
async def recognize(
    request: Request,
    audio: UploadFile,
    session: Annotated[str | None, Header(alias=SESSION_HEADER)] = None,
) -> AsrResponse | JSONResponse:
    if (problem := _caller_problem(request, session)) is not None:
        return problem
    service = get_speech_service()
    # The request body is bounded as it is read (bot.gateway.limits); this bounds the file.
    data = await audio.read(service.limits.max_bytes + 1)
    try:
        transcript = await service.transcribe(data)
    except AudioError as error:
        return _error(error.status, str(error))
    except ServiceBusy as error:
        return _error(503, str(error), {"Retry-After": str(error.retry_after_s)})
    return AsrResponse(
        text=transcript.text,
        confidence=transcript.confidence,
        duration_s=round(transcript.duration_s, 2),
        heard=transcript.heard,
        message=None if transcript.heard else NOT_HEARD,
    )


async def _speak(text: str) -> Response:
    try:
        mp3 = await tts_engine().synthesize_mp3(text)
    except ValueError as error:
        return _error(422, str(error))
    except TtsBusy as error:
        return _error(503, str(error), {"Retry-After": str(error.retry_after_s)})
    except TtsUnavailable as error:
        return _error(503, str(error))
    headers = {"Cache-Control": "private, max-age=3600"}
    return Response(mp3, media_type="audio/mpeg", headers=headers)


@router.get("/api/tts", summary="Read a text aloud (MP3)", response_class=Response)
async def speak_get(
    request: Request,
    text: Annotated[str, Query(min_length=1, max_length=2000)],
    session: Annotated[str | None, Query(pattern=_SESSION_ID.pattern)] = None,
) -> Response:
    # An <audio src> cannot send headers: the session id comes as a query parameter here.
    if (problem := _caller_problem(request, session)) is not None:
        return problem
    return await _speak(text)


@router.post("/api/tts", summary="Read a text aloud (MP3)", response_class=Response)
async def speak_post(
    request: Request,
    body: TtsRequest,
    session: Annotated[str | None, Header(alias=SESSION_HEADER)] = None,
) -> Response:
    if (problem := _caller_problem(request, session)) is not None:
        return problem
    return await _speak(body.text)


__all__ = ["router"]
