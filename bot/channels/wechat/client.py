"""WeChat's server API: the access token (cached, shared, refreshed), customer-service
messages (客服消息), the custom menu and media downloads."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

import httpx
from anyio import to_thread
from sqlalchemy import Engine

from bot.channels.wechat.models import WeChatAccessToken
from bot.settings import Settings
from bot.store import session_scope, utcnow

log = logging.getLogger(__name__)

# access_token invalid / expired: fetch a new one and try once more.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# 45015: the citizen has not written for 48 hours; 45047: too many messages without a reply.
WINDOW_ERRORS = frozenset({45015, 45047})
# Refresh a little before WeChat's expiry, so a request never goes out with a dying token.
EXPIRY_MARGIN = timedelta(minutes=5)


class WeChatApiError(RuntimeError):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatApi:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.app_id = settings.wechat_app_id
        self._secret = settings.wechat_app_secret
        self._engine = engine
        self._client = httpx.AsyncClient(
            base_url=settings.wechat_api_base, timeout=timeout_seconds, transport=transport
        )
        self._token: WeChatAccessToken | None = None
        self._lock = asyncio.Lock()

    # ---- the access token ---------------------------------------------------------------------

    def _fresh(self, token: WeChatAccessToken | None, not_this: str | None) -> bool:
        return (
            token is not None
            and token.token != not_this
            and token.expires_at - EXPIRY_MARGIN > utcnow()
        )

    def _stored(self) -> WeChatAccessToken | None:
        with session_scope(self._engine) as session:
            return session.get(WeChatAccessToken, self.app_id)

    def _store(self, token: str, expires_in: int) -> WeChatAccessToken:
        with session_scope(self._engine) as session:
            row = session.get(WeChatAccessToken, self.app_id)
            if row is None:
                row = WeChatAccessToken(app_id=self.app_id, version=0)
                session.add(row)
            row.token = token
            row.expires_at = utcnow() + timedelta(seconds=expires_in)
            row.version = (row.version or 0) + 1
            return row

    async def access_token(self, not_this: str | None = None) -> str:
        """The account's token: from memory, else the store (another instance may have
        fetched it), else WeChat. ``not_this`` is a token WeChat just called expired."""
        if self._fresh(self._token, not_this):
            return self._token.token  # type: ignore[union-attr]
        async with self._lock:
            if self._fresh(self._token, not_this):
                return self._token.token  # type: ignore[union-attr]
            stored = await to_thread.run_sync(self._stored)
            if self._fresh(stored, not_this):
                self._token = stored
                return stored.token  # type: ignore[union-attr]
            response = await self._client.get(
                "/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.app_id,
                    "secret": self._secret,
                },
            )
            data = self._json(response)
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeChatApiError(-1, "no access_token in the answer")
            self._token = await to_thread.run_sync(
                self._store, token, int(data.get("expires_in") or 7200)
            )
            log.info("fetched a new WeChat access token")
            return token

    @staticmethod
    def _check_status(response: httpx.Response) -> None:
        # Not raise_for_status(): its message quotes the URL, and with it the access token
        # (or, for /cgi-bin/token, the AppSecret), into whatever logs the error.
        if response.is_error:
            raise WeChatApiError(-1, f"HTTP {response.status_code}")

    @classmethod
    def _json(cls, response: httpx.Response) -> dict[str, Any]:
        cls._check_status(response)
        data = response.json()
        if not isinstance(data, dict):
            raise WeChatApiError(-1, "not a JSON object")
        errcode = int(data.get("errcode") or 0)
        if errcode:
            raise WeChatApiError(errcode, str(data.get("errmsg", "")))
        return data

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with the token; a token WeChat calls expired is replaced once."""
        # Chinese as UTF-8, not \\u escapes: WeChat shows escapes literally.
        content = json.dumps(body, ensure_ascii=False).encode()
        token = await self.access_token()
        for attempt in range(2):
            response = await self._client.post(
                path,
                params={"access_token": token},
                content=content,
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            try:
                return self._json(response)
            except WeChatApiError as error:
                if error.errcode not in TOKEN_ERRORS or attempt:
                    raise
                log.info("WeChat called the access token expired (%s); refreshing", error.errcode)
                token = await self.access_token(not_this=token)
        raise AssertionError("unreachable")

    # ---- the calls ----------------------------------------------------------------------------

    async def send_text(self, openid: str, content: str) -> None:
        await self._post(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "text", "text": {"content": content}},
        )

    async def create_menu(self, menu: dict[str, Any]) -> None:
        await self._post("/cgi-bin/menu/create", menu)

    async def download_media(self, media_id: str, max_bytes: int) -> bytes:
        """A voice message's audio (临时素材)."""
        token = await self.access_token()
        response = await self._client.get(
            "/cgi-bin/media/get", params={"access_token": token, "media_id": media_id}
        )
        self._check_status(response)
        if response.headers.get("content-type", "").startswith(("application/json", "text/")):
            self._json(response)  # an error answer
            raise WeChatApiError(-1, "media answer was not audio")
        if len(response.content) > max_bytes:
            raise WeChatApiError(-1, "media too large")
        return response.content

    async def aclose(self) -> None:
        await self._client.aclose()
