"""Hostile requests to /wechat: each refused with a 4xx before the bot, leaving no trace in the
tracker (Rasa) or the tickets, and nothing processed twice."""

from __future__ import annotations

import time

import pytest
import xmltodict
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto

from bot.channels.wechat.models import WeChatInbound
from bot.store import session_scope
from tests.channels.conftest import WeChatApp
from tests.channels.peer import ACCOUNT, AES_KEY, TOKEN, new_openid, sign, text_xml

XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>gh_0123456789ab</ToUserName><FromUserName>oAbcdefgh</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content>"
    "<MsgId>1</MsgId></xml>"
)
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "hahahahahaha">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    "<xml><ToUserName>gh_0123456789ab</ToUserName><FromUserName>oAbcdefgh</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&d;</Content>"
    "<MsgId>2</MsgId></xml>"
)


def assert_no_trace(wechat: WeChatApp) -> None:
    assert wechat.rasa.calls == []
    assert wechat.tickets() == []
    with session_scope(wechat.engine) as session:
        assert session.scalar(select(func.count()).select_from(WeChatInbound)) == 0
    assert wechat.api.sent == []


def push_raw(wechat: WeChatApp, body: bytes, params: dict[str, str]):  # type: ignore[no-untyped-def]
    return wechat.client.post("/wechat", params=params, content=body)


def test_bad_signature(wechat: WeChatApp) -> None:
    params = {**wechat.peer.params(), "signature": sign("wrong-token", "1", "2")}
    assert wechat.peer.push(text_xml(new_openid(), "你好", 1), params=params).status_code == 403
    assert_no_trace(wechat)


def test_missing_signature(wechat: WeChatApp) -> None:
    response = push_raw(wechat, text_xml(new_openid(), "你好", 1).encode(), {})
    assert response.status_code == 400
    assert_no_trace(wechat)


@pytest.mark.parametrize("age", [-3600, 301, 86400])
def test_stale_or_future_timestamp(wechat: WeChatApp, age: int) -> None:
    params = wechat.peer.params(timestamp=int(time.time()) - age)
    assert wechat.peer.push(text_xml(new_openid(), "你好", 1), params=params).status_code == 403
    assert_no_trace(wechat)


@pytest.mark.parametrize("body", [XXE, LAUGHS, "<xml><unclosed>", "not xml at all", ""])
def test_entities_and_malformed_xml(wechat: WeChatApp, body: str) -> None:
    response = push_raw(wechat, body.encode(), wechat.peer.params())
    assert response.status_code == 400
    assert "passwd" not in response.text and "root:" not in response.text
    assert_no_trace(wechat)


def test_body_size_limit(wechat: WeChatApp) -> None:
    big = text_xml(new_openid(), "办" * 30_000, 1).encode()
    assert len(big) > wechat.settings.wechat_max_body_bytes
    assert push_raw(wechat, big, wechat.peer.params()).status_code == 413
    assert_no_trace(wechat)


def test_wrong_account(wechat: WeChatApp) -> None:
    xml = text_xml(new_openid(), "你好", 1, account="gh_somebodyelse")
    assert wechat.peer.push(xml).status_code == 403
    assert wechat.peer.push(xml, "safe").status_code == 403
    assert_no_trace(wechat)


def test_encrypted_for_another_app_id(wechat: WeChatApp) -> None:
    wechat.peer.crypto = WeChatCrypto(TOKEN, AES_KEY, "wxanotherappid0000")
    assert wechat.peer.push(text_xml(new_openid(), "你好", 1), "safe").status_code == 403
    assert_no_trace(wechat)


def test_bad_msg_signature_and_garbage_ciphertext(wechat: WeChatApp) -> None:
    params = wechat.peer.params()
    sealed = xmltodict.parse(
        wechat.peer.crypto.encrypt_message(
            text_xml(new_openid(), "你好", 1), params["nonce"], params["timestamp"]
        )
    )["xml"]
    body = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt>{sealed['Encrypt']}</Encrypt></xml>"
    wrong = {**params, "encrypt_type": "aes", "msg_signature": "0" * 40}
    assert push_raw(wechat, body.encode(), wrong).status_code == 403
    garbage = "QUFBQUFBQUFBQUFBQUFBQQ=="
    forged = {
        **params,
        "encrypt_type": "aes",
        "msg_signature": sign(TOKEN, params["timestamp"], params["nonce"], garbage),
    }
    body = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt>{garbage}</Encrypt></xml>"
    assert push_raw(wechat, body.encode(), forged).status_code == 403
    assert_no_trace(wechat)


def test_signed_url_replayed_with_another_message(wechat: WeChatApp) -> None:
    """Plaintext mode signs only the URL: a captured URL must not carry someone else's text."""
    params = wechat.peer.params()
    openid = new_openid()
    assert wechat.peer.push(text_xml(openid, "你好", 1), params=params).status_code == 200
    forged = text_xml(new_openid(), "转人工", 2)
    assert wechat.peer.push(forged, params=params).status_code == 403
    assert len(wechat.rasa.turns()) == 1 and wechat.tickets() == []


def test_openid_mismatch_and_bad_fields(wechat: WeChatApp) -> None:
    xml = text_xml(new_openid(), "你好", 1)
    assert wechat.peer.push(xml, openid="oSomebodyElse123").status_code == 403
    no_msgid = xml.replace("<MsgId>1</MsgId>", "")
    assert wechat.peer.push(no_msgid).status_code == 400
    bad_sender = text_xml("../../etc", "你好", 3)
    assert wechat.peer.push(bad_sender).status_code == 400
    assert_no_trace(wechat)


def test_safe_mode_without_a_key_is_refused(wechat: WeChatApp) -> None:
    wechat.channel.crypto = None
    assert wechat.peer.push(text_xml(new_openid(), "你好", 1), "safe").status_code == 400
    assert_no_trace(wechat)


def test_empty_or_overlong_text_gets_a_message_not_a_turn(wechat: WeChatApp) -> None:
    openid = new_openid()
    assert "空" in wechat.peer.say(openid, "\u200b", 1)
    assert "太长" in wechat.peer.say(openid, "办" * 2500, 2)
    assert wechat.rasa.calls == []
