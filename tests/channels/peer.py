"""WeChat's side of the conversation, built with wechatpy: signed (and in safe mode encrypted)
pushes, and our replies read back with wechatpy's parser and crypto."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.parser import parse_message
from wechatpy.utils import WeChatSigner

TOKEN = "zhixunTestToken2026"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "secret-for-tests"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
ACCOUNT = "gh_0123456789ab"


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def text_xml(openid: str, content: str, msg_id: int, account: str = ACCOUNT, **extra: str) -> str:
    fields = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in extra.items())
    return (
        f"<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>{fields}</xml>"
    )


def message_xml(openid: str, msg_type: str, msg_id: int | None, **fields: str) -> str:
    body = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    msg = f"<MsgId>{msg_id}</MsgId>" if msg_id is not None else ""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{fields.pop('CreateTime', int(time.time()))}</CreateTime>"
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>{body}{msg}</xml>"
    )


def new_openid() -> str:
    return "o" + secrets.token_urlsafe(20).replace("-", "x").replace("_", "y")


class WeChatPeer:
    def __init__(
        self,
        client: Any,
        path: str = "/wechat",
        token: str = TOKEN,
        app_id: str = APP_ID,
        aes_key: str = AES_KEY,
    ) -> None:
        self.client = client  # a TestClient or an httpx.Client
        self.path = path
        self.token = token
        self.crypto = WeChatCrypto(token, aes_key, app_id)

    def params(self, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or secrets.token_hex(8)
        return {"timestamp": ts, "nonce": nonce, "signature": sign(self.token, ts, nonce)}

    def verify(self, echostr: str = "echo-1234", **overrides: str) -> httpx.Response:
        params = {**self.params(), "echostr": echostr, **overrides}
        return self.client.get(self.path, params=params)

    def push(
        self,
        xml: str,
        mode: str = "plain",
        params: dict[str, str] | None = None,
        openid: str | None = None,
    ) -> httpx.Response:
        """POST as WeChat does: ``plain``, ``safe`` (encrypted only) or ``compat`` (both)."""
        params = dict(params or self.params())
        if openid:
            params["openid"] = openid
        body = xml
        if mode in ("safe", "compat"):
            sealed = xmltodict.parse(
                self.crypto.encrypt_message(xml, params["nonce"], params["timestamp"])
            )["xml"]
            params |= {"encrypt_type": "aes", "msg_signature": sealed["MsgSignature"]}
            account = xmltodict.parse(xml)["xml"]["ToUserName"]
            if mode == "safe":
                body = (
                    f"<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>"
                )
            else:
                body = xml.replace(
                    "</xml>", f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>"
                )
        return self.client.post(
            self.path, params=params, content=body.encode(), headers={"Content-Type": "text/xml"}
        )

    def read(self, response: httpx.Response) -> Any:
        """Our passive reply as wechatpy reads it (decrypted and verified in safe mode)."""
        assert response.status_code == 200, response.text
        if response.text == "success":
            return None
        text = response.text
        if "<Encrypt>" in text:
            envelope = xmltodict.parse(text)["xml"]
            text = self.crypto.decrypt_message(
                text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
            )
        return parse_message(text)

    def say(self, openid: str, content: str, msg_id: int, mode: str = "plain") -> str | None:
        reply = self.read(self.push(text_xml(openid, content, msg_id), mode))
        return None if reply is None else reply.content
