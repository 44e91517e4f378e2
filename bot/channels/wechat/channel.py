"""The WeChat Official Account channel: ``GET/POST /wechat`` (WeChat's message push) and
delivery through customer-service messages (客服消息).

A request is checked before anything is parsed (size, URL signature, timestamp), then parsed
without entity expansion, decrypted in safe mode (AppID checked), checked for the account it is
addressed to and for a replayed signature — only then does it reach the bot. WeChat gives up
on a reply after 5 s and retries the same message, so a turn gets
``wechat_reply_budget_seconds``: answered in time it is the passive reply, otherwise WeChat
gets ``success`` at once and the answer follows as a customer-service message. Each message is
processed once, by MsgId (events: FromUserName + CreateTime), whichever instance a retry
reaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from anyio import to_thread
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.base import (
    BotMessage,
    ChannelContext,
    DeliveryFailed,
    DeliveryRefused,
    InvalidMessage,
    Turn,
    TurnFailed,
    clean_text,
)
from bot.channels.wechat import store, texts
from bot.channels.wechat.client import WINDOW_ERRORS, WeChatApi, WeChatApiError
from bot.channels.wechat.crypto import (
    DecryptError,
    MessageCrypto,
    SignatureError,
    check_signature,
)
from bot.channels.wechat.models import DEFERRED, DELIVERED, FAILED, PROCESSING, REPLIED
from bot.channels.wechat.render import (
    Rendered,
    answer_to_option,
    continue_reading,
    render,
    wants_more,
)
from bot.channels.wechat.xml import BadXml, Inbound, parse_fields, read_inbound, text_reply
from bot.store import utcnow

log = logging.getLogger(__name__)

NAME = "wechat"
PREFIX = "wechat:"
_TIMESTAMP = re.compile(r"^\d{1,12}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{40}$")
_ECHOSTR = re.compile(r"^[\x21-\x7e]{1,256}$")
UNSUPPORTED_TYPES = frozenset({"image", "location", "link", "video", "shortvideo", "file"})
RETRY_POLL_SECONDS = 0.1
PRUNE_EVERY_SECONDS = 3600
KEEP_RECORDS = timedelta(days=1)

# Speech to text for voice messages WeChat did not transcribe: audio bytes → text or None.
Transcriber = Callable[[bytes], Awaitable[str | None]]


class Rejected(Exception):
    """A request refused before it reached the bot."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def conversation_id(openid: str) -> str:
    return f"{PREFIX}{openid}"


class WeChatChannel:
    names = (NAME,)

    def __init__(
        self,
        context: ChannelContext,
        api: WeChatApi | None = None,
        transcriber: Transcriber | None = None,
    ) -> None:
        self.context = context
        self.settings = context.settings
        self.engine = context.engine
        self.api = api or WeChatApi(context.settings, context.engine)
        self.crypto = (
            MessageCrypto(
                self.settings.wechat_token,
                self.settings.wechat_aes_key,
                self.settings.wechat_app_id,
            )
            if self.settings.wechat_aes_key
            else None
        )
        self.transcriber = transcriber
        self._later: set[asyncio.Task[None]] = set()
        self._pruner: asyncio.Task[None] | None = None

    # ---- checks -------------------------------------------------------------------------------

    def _check_signed(self, params: dict[str, str]) -> tuple[str, str]:
        """The URL signature and its timestamp: checked before anything else is read."""
        sign, timestamp, nonce = (params.get(k, "") for k in ("signature", "timestamp", "nonce"))
        if not (_SIGNATURE.match(sign) and _TIMESTAMP.match(timestamp) and _NONCE.match(nonce)):
            raise Rejected(400, "missing or malformed signature, timestamp or nonce")
        try:
            check_signature(sign, self.settings.wechat_token, timestamp, nonce)
        except SignatureError:
            raise Rejected(403, "bad signature") from None
        if abs(time.time() - int(timestamp)) > self.settings.wechat_max_clock_skew_seconds:
            raise Rejected(403, "stale timestamp")
        return timestamp, nonce

    def _open(self, params: dict[str, str], body: bytes, timestamp: str, nonce: str) -> Inbound:
        """The message inside the (already signature-checked) request."""
        try:
            fields = parse_fields(body)
        except BadXml as error:
            raise Rejected(400, str(error)) from None
        encrypt_type = params.get("encrypt_type", "raw")
        if encrypt_type == "aes":
            if self.crypto is None:
                raise Rejected(400, "safe mode is not configured (ZHIXUN_WECHAT_AES_KEY)")
            encrypted = fields.get("Encrypt", "")
            msg_signature = params.get("msg_signature", "")
            if not encrypted or not _SIGNATURE.match(msg_signature):
                raise Rejected(400, "safe mode needs Encrypt and msg_signature")
            self._check_account(fields.get("ToUserName"))
            try:
                plaintext = self.crypto.check_message(msg_signature, timestamp, nonce, encrypted)
            except SignatureError:
                raise Rejected(403, "bad msg_signature") from None
            except DecryptError as error:
                raise Rejected(403, f"cannot decrypt: {error}") from None
            try:
                fields = parse_fields(plaintext.encode())
            except BadXml as error:
                raise Rejected(400, str(error)) from None
        elif encrypt_type != "raw":
            raise Rejected(400, "unknown encrypt_type")
        try:
            inbound = read_inbound(fields)
        except BadXml as error:
            raise Rejected(400, str(error)) from None
        self._check_account(inbound.to_user)
        openid = params.get("openid")
        if openid is not None and openid != inbound.openid:
            raise Rejected(403, "openid does not match the message")
        return inbound

    def _check_account(self, to_user: str | None) -> None:
        expected = self.settings.wechat_account_id
        if expected and to_user is not None and to_user != expected:
            raise Rejected(403, "message for another account")

    # ---- the endpoints ------------------------------------------------------------------------

    async def verify(self, request: Request) -> Response:
        """WeChat's server check when the URL is saved: echo ``echostr`` if signed by us."""
        params = dict(request.query_params)
        try:
            self._check_signed(params)
        except Rejected as error:
            return PlainTextResponse(error.detail, status_code=error.status)
        echostr = params.get("echostr", "")
        if not _ECHOSTR.match(echostr):
            return PlainTextResponse("missing echostr", status_code=400)
        return PlainTextResponse(echostr)

    async def receive(self, request: Request) -> Response:
        params = dict(request.query_params)
        try:
            # At most wechat_max_body_bytes: the web app counts the bytes as they are read.
            body = await request.body()
            timestamp, nonce = self._check_signed(params)
            inbound = self._open(params, body, timestamp, nonce)
            digest = hashlib.sha256(body).hexdigest()
            if not await to_thread.run_sync(
                store.remember_nonce, self.engine, nonce, timestamp, digest
            ):
                raise Rejected(403, "signature already used for another message")
        except Rejected as error:
            log.warning("WeChat request refused (%s): %s", error.status, error.detail)
            return PlainTextResponse(error.detail, status_code=error.status)
        try:
            reply = await self.handle(inbound)
        except SQLAlchemyError:
            log.exception("WeChat channel store unavailable")
            return PlainTextResponse("temporarily unavailable", status_code=503)
        except Exception:
            log.exception("WeChat message %s failed", inbound.dedup_key)
            reply = texts.FAILED
        if reply is None:
            return PlainTextResponse("success")
        xml = text_reply(inbound.openid, inbound.to_user, reply)
        if params.get("encrypt_type") == "aes" and self.crypto is not None:
            xml = self.crypto.seal(xml, str(int(time.time())), nonce)
        return Response(xml, media_type="application/xml")

    # ---- one message, once --------------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> str | None:
        """The passive reply's text, or ``None`` for ``success`` (nothing now, or later)."""
        deadline = time.monotonic() + self.settings.wechat_reply_budget_seconds
        key = inbound.dedup_key
        first = await to_thread.run_sync(store.claim, self.engine, key, inbound.openid)
        if first is not None:
            return await self._outcome_of(key, first.state, first.reply, deadline)
        if inbound.msg_type == "event" and inbound.event == "unsubscribe":
            await to_thread.run_sync(store.forget, self.engine, inbound.openid)
            await to_thread.run_sync(store.finish, self.engine, key, REPLIED, None)
            return None
        await to_thread.run_sync(store.saw_citizen, self.engine, inbound.openid, None)
        task = asyncio.create_task(self._process(inbound))
        try:
            rendered = await asyncio.wait_for(
                asyncio.shield(task), max(0.0, deadline - time.monotonic())
            )
        except TimeoutError:
            await to_thread.run_sync(store.finish, self.engine, key, DEFERRED, None)
            later = asyncio.create_task(self._deliver_when_done(task, inbound))
            self._later.add(later)
            later.add_done_callback(self._later.discard)
            return None
        except Exception:
            # Marked, so a retry does not wait for an outcome that will never come.
            with contextlib.suppress(SQLAlchemyError):
                await to_thread.run_sync(store.finish, self.engine, key, FAILED, None)
            raise
        await self._remember_shown(inbound.openid, rendered)
        await to_thread.run_sync(
            store.finish, self.engine, key, REPLIED, rendered.text if rendered else None
        )
        return rendered.text if rendered else None

    async def _outcome_of(
        self, key: str, state: str, reply: str | None, deadline: float
    ) -> str | None:
        """A retry: wait for the first request's outcome and give the same answer."""
        while state == PROCESSING and time.monotonic() < deadline:
            await asyncio.sleep(RETRY_POLL_SECONDS)
            record = await to_thread.run_sync(store.inbound, self.engine, key)
            if record is None:
                return None
            state, reply = record.state, record.reply
        # Deferred (or still running): the answer comes as a customer-service message.
        return reply if state == REPLIED else None

    async def _deliver_when_done(
        self, task: asyncio.Task[Rendered | None], inbound: Inbound
    ) -> None:
        key = inbound.dedup_key
        try:
            rendered = await task
            if rendered is not None:
                await self._send(inbound.openid, rendered)
            await to_thread.run_sync(store.finish, self.engine, key, DELIVERED, None)
        except Exception as error:  # the citizen's answer is lost: say so in the log
            log.error("slow WeChat reply for %s not delivered: %s", key, error)
            with contextlib.suppress(SQLAlchemyError):
                await to_thread.run_sync(store.finish, self.engine, key, FAILED, None)

    async def _process(self, inbound: Inbound) -> Rendered | None:
        if inbound.msg_type == "event":
            return await self._event(inbound)
        if inbound.msg_type == "text":
            return await self._text(inbound, inbound.content)
        if inbound.msg_type == "voice":
            text = inbound.recognition.strip() or await self._transcribe(inbound)
            if not text:
                return Rendered(texts.PLEASE_TYPE)
            return await self._text(inbound, text, voice=True)
        return Rendered(texts.UNSUPPORTED)

    async def _event(self, inbound: Inbound) -> Rendered | None:
        if inbound.event == "subscribe":
            return Rendered(texts.WELCOME)
        if inbound.event == "click":
            if inbound.event_key == texts.ASK_KEY:
                return Rendered(texts.ASK_PROMPT)
            turn_text = texts.MENU_TURNS.get(inbound.event_key)
            if turn_text is not None:
                return await self._turn(inbound.openid, turn_text)
        return None  # views, location reports, scans: nothing to say

    async def _text(self, inbound: Inbound, raw: str, voice: bool = False) -> Rendered | None:
        options, more = await to_thread.run_sync(store.take_shown, self.engine, inbound.openid)
        if more and wants_more(raw):
            part = continue_reading(more)
            return Rendered(part.text, options, part.more)
        text = answer_to_option(raw, options, inbound.menu_id) or raw
        try:
            text = clean_text(text, self.settings.max_message_chars)
        except InvalidMessage as error:
            return Rendered(str(error))
        return await self._turn(inbound.openid, text, voice)

    async def _turn(self, openid: str, text: str, voice: bool = False) -> Rendered | None:
        turn = Turn(conversation_id(openid), NAME, text, client=NAME, voice=voice)
        try:
            messages = await self.context.router.handle(turn)
        except TurnFailed as failure:  # nothing of it was kept: the citizen is asked to resend
            return Rendered(str(failure))
        return render(messages)

    async def _transcribe(self, inbound: Inbound) -> str | None:
        if self.transcriber is None or not inbound.media_id:
            return None
        try:
            audio = await self.api.download_media(
                inbound.media_id, self.settings.wechat_max_voice_bytes
            )
            return await self.transcriber(audio)
        except Exception as error:  # any failure ends in "please type", never in silence
            log.warning("WeChat voice message not transcribed: %s", error)
            return None

    # ---- delivering later ---------------------------------------------------------------------

    async def _remember_shown(self, openid: str, rendered: Rendered | None) -> None:
        if rendered is not None:
            await to_thread.run_sync(
                store.shown, self.engine, openid, rendered.options, rendered.more
            )

    async def _send(self, openid: str, rendered: Rendered) -> None:
        try:
            await self.api.send_text(openid, rendered.text)
        except WeChatApiError as error:
            if error.errcode in WINDOW_ERRORS:
                raise DeliveryRefused(texts.OUTSIDE_WINDOW) from error
            raise DeliveryFailed(f"{texts.NOT_REACHABLE}（{error}）") from error
        except httpx.HTTPError as error:
            raise DeliveryFailed(f"{texts.NOT_REACHABLE}（{type(error).__name__}）") from error
        await self._remember_shown(openid, rendered)

    async def deliver(self, conversation_id: str, messages: list[BotMessage]) -> None:
        """Staff replies, handoff notices, the rating question: as customer-service messages,
        inside the 48 hours after the citizen last wrote."""
        if not conversation_id.startswith(PREFIX):
            raise DeliveryFailed(f"not a WeChat conversation: {conversation_id}")
        openid = conversation_id.removeprefix(PREFIX)
        rendered = render(messages)
        if rendered is None:
            return
        last = await to_thread.run_sync(store.last_inbound, self.engine, openid)
        window = timedelta(hours=self.settings.wechat_service_window_hours)
        if last is None or utcnow() - last > window:
            raise DeliveryRefused(texts.OUTSIDE_WINDOW)
        await self._send(openid, rendered)

    # ---- life cycle ---------------------------------------------------------------------------

    async def _prune_forever(self) -> None:
        while True:
            try:
                await to_thread.run_sync(store.prune, self.engine, utcnow() - KEEP_RECORDS)
            except SQLAlchemyError:
                log.warning("could not prune WeChat records", exc_info=True)
            await asyncio.sleep(PRUNE_EVERY_SECONDS)

    async def start(self) -> None:
        self._pruner = asyncio.create_task(self._prune_forever(), name="wechat-prune")

    async def stop(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            await asyncio.gather(self._pruner, return_exceptions=True)
        if self._later:  # slow replies still on their way: give them a moment
            await asyncio.wait(self._later, timeout=10)
        await self.api.aclose()


def install(app: FastAPI, context: ChannelContext) -> WeChatChannel | None:
    """Mounted only when configured: otherwise ``/wechat`` does not exist (404)."""
    settings = context.settings
    if not settings.wechat_enabled:
        return None
    channel = WeChatChannel(context, transcriber=find_transcriber())
    context.registry.register(channel)
    path = settings.wechat_path
    app.add_api_route(path, channel.verify, methods=["GET"], include_in_schema=False)
    app.add_api_route(path, channel.receive, methods=["POST"], include_in_schema=False)
    return channel


def find_transcriber() -> Transcriber | None:
    """The project's own offline speech recognition (:mod:`bot.voice`), imported on first use
    so the web app does not load a speech model before a voice message needs it."""
    if importlib.util.find_spec("bot.voice") is None:
        return None

    async def transcribe(audio: bytes) -> str | None:
        from bot.voice.service import get_speech_service

        transcript = await get_speech_service().transcribe(audio)
        return transcript.text if transcript.heard and transcript.text else None

    return transcribe
