"""The WeChat channel with wechatpy as WeChat: verification, plaintext / compatible / safe
mode, message types, options, long answers, the 5-second rule, retries, the access token."""

from __future__ import annotations

import importlib.util
import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.channels.base import TurnFailed
from bot.channels.wechat.models import WeChatAccessToken, WeChatInbound
from bot.channels.wechat.render import TEXT_LIMIT_BYTES
from bot.channels.wechat.texts import PLEASE_TYPE, UNSUPPORTED, WELCOME
from bot.gateway.app import create_app
from bot.handoff.texts import NOT_RECEIVED
from bot.store import session_scope, utcnow
from tests.channels.conftest import ScriptedRasa, WeChatApp, assemble, wechat_settings
from tests.channels.peer import WeChatPeer, message_xml, new_openid, text_xml
from tests.handoff.conftest import make_settings

POLICY_REPLY = [
    {
        "text": "办理居住证需要身份证和居住登记凭证。来源：《居住证办理指南》",
        "buttons": [
            {"title": "所需材料", "payload": "居住证办理需要什么材料"},
            {"title": "办理地点", "payload": "居住证在哪里办理"},
            {"title": "转人工", "payload": "转人工"},
        ],
    }
]


def test_disabled_unless_configured(store_url: str) -> None:
    app, _ = create_app(make_settings(store_url))
    client = TestClient(app)
    assert client.get("/wechat").status_code == 404
    assert client.post("/wechat", content=b"<xml/>").status_code == 404


def test_server_verification(wechat: WeChatApp) -> None:
    response = wechat.peer.verify("5318008abc")
    assert response.status_code == 200 and response.text == "5318008abc"
    assert wechat.peer.verify(signature="0" * 40).status_code == 403
    assert wechat.peer.verify(echostr="").status_code == 400


def test_path_is_configurable(
    store_url: str, wechat_api, fake_wechat_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = wechat_settings(store_url, fake_wechat_server[1].url, wechat_path="/wx/zhixun")
    app, _ = assemble(settings, ScriptedRasa())
    client = TestClient(app)
    assert WeChatPeer(client, path="/wx/zhixun").verify("abc").text == "abc"
    assert client.get("/wechat").status_code == 404


@pytest.mark.parametrize("mode", ["plain", "compat", "safe"])
def test_text_message_gets_a_passive_reply(wechat: WeChatApp, mode: str) -> None:
    openid = new_openid()
    reply = wechat.peer.read(wechat.peer.push(text_xml(openid, "你好", 1001), mode))
    assert reply.type == "text" and reply.content == "bot: 你好"
    assert reply.target == openid and reply.source == wechat.settings.wechat_account_id
    turn = wechat.rasa.turns()[0]
    assert turn["sender"] == f"wechat:{openid}"
    assert turn["metadata"] == {
        "channel": "wechat",
        "client": "wechat",
        "elderly_mode": False,
        "voice": False,
    }


def test_safe_mode_reply_is_encrypted(wechat: WeChatApp) -> None:
    response = wechat.peer.push(text_xml(new_openid(), "你好", 1002), "safe")
    assert "<Encrypt>" in response.text and "bot:" not in response.text
    assert wechat.peer.read(response).content == "bot: 你好"  # wechatpy checks the signature


def test_voice_uses_recognition(wechat: WeChatApp) -> None:
    openid = new_openid()
    xml = message_xml(openid, "voice", 2001, MediaId="m1", Format="amr", Recognition="居住证")
    assert wechat.peer.read(wechat.peer.push(xml)).content == "bot: 居住证"


def test_voice_without_recognition_asks_to_type(wechat: WeChatApp) -> None:
    wechat.channel.transcriber = None  # no speech recognition installed
    xml = message_xml(new_openid(), "voice", 2002, MediaId="m1", Format="amr")
    assert wechat.peer.read(wechat.peer.push(xml)).content == PLEASE_TYPE
    assert wechat.rasa.turns() == []


def test_voice_goes_through_speech_recognition_when_there_is_one(wechat: WeChatApp) -> None:
    heard: list[bytes] = []

    async def transcribe(audio: bytes) -> str:
        heard.append(audio)
        return "社保卡"

    wechat.channel.transcriber = transcribe
    xml = message_xml(new_openid(), "voice", 2003, MediaId="media-7", Format="amr")
    assert wechat.peer.read(wechat.peer.push(xml)).content == "bot: 社保卡"
    assert heard == [wechat.api.voice]


def test_voice_not_understood_asks_to_type(wechat: WeChatApp) -> None:
    async def deaf(audio: bytes) -> None:
        raise RuntimeError("speech model missing")

    wechat.channel.transcriber = deaf
    xml = message_xml(new_openid(), "voice", 2004, MediaId="media-8", Format="amr")
    assert wechat.peer.read(wechat.peer.push(xml)).content == PLEASE_TYPE
    assert wechat.rasa.turns() == []


def test_the_project_speech_recognition_is_wired_when_present() -> None:
    from bot.channels.wechat.channel import find_transcriber

    assert (find_transcriber() is not None) == (importlib.util.find_spec("bot.voice") is not None)


@pytest.mark.parametrize(
    ("msg_type", "fields"),
    [
        ("image", {"PicUrl": "http://example.invalid/a.jpg", "MediaId": "m"}),
        ("location", {"Location_X": "30.1", "Location_Y": "120.2", "Label": "x"}),
        ("link", {"Title": "t", "Description": "d", "Url": "http://example.invalid"}),
        ("video", {"MediaId": "m", "ThumbMediaId": "t"}),
    ],
)
def test_other_types_get_a_kind_reply(wechat: WeChatApp, msg_type: str, fields: dict) -> None:
    xml = message_xml(new_openid(), msg_type, 3001, **fields)
    assert wechat.peer.read(wechat.peer.push(xml)).content == UNSUPPORTED
    assert wechat.rasa.turns() == []


def test_events_subscribe_unsubscribe_and_menu(wechat: WeChatApp) -> None:
    openid = new_openid()
    welcome = wechat.peer.read(
        wechat.peer.push(message_xml(openid, "event", None, Event="subscribe"))
    )
    assert welcome.content == WELCOME
    unsubscribe = message_xml(openid, "event", None, Event="unsubscribe")
    assert wechat.peer.read(wechat.peer.push(unsubscribe)) is None  # "success"
    click = message_xml(openid, "event", None, Event="CLICK", EventKey="ZHIXUN_STATUS")
    assert wechat.peer.read(wechat.peer.push(click)).content == "bot: 查询办件进度"
    assert [t["message"] for t in wechat.rasa.turns()] == ["查询办件进度"]


def test_buttons_become_options_answered_by_number_or_tap(wechat: WeChatApp) -> None:
    openid = new_openid()
    wechat.rasa.scripted["居住证"] = POLICY_REPLY
    shown = wechat.peer.say(openid, "居住证", 4001)
    assert "来源：《居住证办理指南》" in shown
    assert (
        '1. <a href="weixin://bizmsgmenu?msgmenucontent=所需材料&msgmenuid=1">所需材料</a>' in shown
    )
    assert "3. " in shown and "转人工" in shown
    assert wechat.peer.say(openid, "２", 4002) == "bot: 居住证在哪里办理"
    wechat.peer.say(openid, "居住证", 4003)
    tapped = text_xml(openid, "所需材料", 4004, bizmsgmenuid="1")
    assert wechat.peer.read(wechat.peer.push(tapped)).content == "bot: 居住证办理需要什么材料"
    # Options hold for the next message only.
    assert wechat.peer.say(openid, "1", 4005) == "bot: 1"


def test_long_answers_are_cut_with_more(wechat: WeChatApp) -> None:
    openid = new_openid()
    sentences = "".join(f"第{n}条：申请人应当提交身份证明和相关材料。" for n in range(1, 121))
    wechat.rasa.scripted["长"] = [{"text": sentences}]
    first = wechat.peer.say(openid, "长", 5001)
    assert len(first.encode()) <= TEXT_LIMIT_BYTES and "回复“更多”" in first
    parts = [first]
    for n in range(2, 10):
        part = wechat.peer.say(openid, "更多", 5000 + n)
        assert len(part.encode()) <= TEXT_LIMIT_BYTES
        parts.append(part)
        if "回复“更多”" not in part:
            break
    joined = "".join(p.split("\n\n（内容较长")[0] for p in parts)
    assert joined.replace("\n", "") == sentences
    assert len(wechat.rasa.turns()) == 1


def test_slow_turn_answers_success_then_one_customer_service_message(wechat: WeChatApp) -> None:
    """The fake Rasa takes 6 s: WeChat gets "success" within the budget, its three retries of
    the same MsgId get "success" too, and the answer arrives once, as a 客服消息."""
    openid = new_openid()
    wechat.rasa.delay = 6.0
    xml = text_xml(openid, "慢问题", 6001)
    started = time.monotonic()
    first = wechat.peer.push(xml)
    elapsed = time.monotonic() - started
    assert first.text == "success"
    assert 4.0 < elapsed < 5.0
    for _ in range(3):  # WeChat's retries, each freshly signed
        assert wechat.peer.push(xml).text == "success"
    sent = wechat.api.wait_for_sent(1, timeout=10)
    time.sleep(0.3)
    assert [m["text"]["content"] for m in wechat.api.sent] == ["bot: 慢问题"]
    assert sent[0]["touser"] == openid and sent[0]["msgtype"] == "text"
    assert len(wechat.rasa.turns()) == 1
    assert wechat.api.token_fetches == 1


def test_retries_of_one_message_make_one_turn_and_one_reply(wechat: WeChatApp) -> None:
    openid = new_openid()
    wechat.rasa.delay = 0.5
    xml = text_xml(openid, "重试", 7001)
    replies: list[str] = []

    def push() -> None:
        replies.append(wechat.peer.read(wechat.peer.push(xml)).content)

    threads = [threading.Thread(target=push) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert replies == ["bot: 重试"] * 4
    assert len(wechat.rasa.turns()) == 1
    assert wechat.api.sent == []


def test_dedup_holds_across_web_app_instances(
    wechat: WeChatApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second web app on the same store: a retry reaching it is not processed again."""
    other_rasa = ScriptedRasa()
    app, _ = assemble(wechat.settings, other_rasa)
    with TestClient(app) as other:
        openid = new_openid()
        xml = text_xml(openid, "两台", 8001)
        assert wechat.peer.read(wechat.peer.push(xml)).content == "bot: 两台"
        assert WeChatPeer(other).read(WeChatPeer(other).push(xml)).content == "bot: 两台"
    assert len(wechat.rasa.turns()) == 1 and other_rasa.turns() == []
    with session_scope(wechat.engine) as session:
        assert session.scalars(select(WeChatInbound.state)).all() == ["replied"]


def test_access_token_is_cached_and_refreshed_when_expired(wechat: WeChatApp) -> None:
    openid = new_openid()
    wechat.peer.say(openid, "你好", 9001)  # opens the 48-hour window
    conversation = f"wechat:{openid}"
    from bot.channels.base import BotMessage

    for n in range(3):
        wechat.client.portal.call(  # type: ignore[union-attr]
            wechat.channel.deliver, conversation, [BotMessage(text=f"通知{n}")]
        )
    assert wechat.api.token_fetches == 1
    wechat.api.send_errors.append(40001)  # WeChat invalidates the token
    wechat.client.portal.call(  # type: ignore[union-attr]
        wechat.channel.deliver, conversation, [BotMessage(text="通知3")]
    )
    assert wechat.api.token_fetches == 2
    assert wechat.api.texts(openid) == ["通知0", "通知1", "通知2", "通知3"]
    with session_scope(wechat.engine) as session:
        stored = session.get(WeChatAccessToken, wechat.settings.wechat_app_id)
        assert stored is not None and stored.expires_at > utcnow() + timedelta(hours=1)


def test_customer_service_json_keeps_chinese_as_utf8(wechat: WeChatApp) -> None:
    """WeChat shows \\u escapes literally: the body must carry the characters as UTF-8."""
    openid = new_openid()
    wechat.client.portal.call(  # type: ignore[union-attr]
        wechat.channel.api.send_text, openid, "中文通知"
    )
    assert "中文通知".encode() in wechat.api.raw_bodies[0]
    assert b"\\u" not in wechat.api.raw_bodies[0]


def test_a_crashing_turn_gets_an_apology_not_a_500(
    wechat: WeChatApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(turn: object) -> list:
        raise RuntimeError("boom")

    monkeypatch.setattr(wechat.gateway.router, "handle", broken)
    openid = new_openid()
    assert "12345" in wechat.peer.say(openid, "你好", 9201)
    with session_scope(wechat.engine) as session:
        assert session.scalars(select(WeChatInbound.state)).all() == ["failed"]
    assert wechat.peer.say(openid, "你好", 9201) is None  # a retry does not run it again


def test_a_turn_the_store_could_not_take_asks_to_send_again(
    wechat: WeChatApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def store_down(turn: object) -> list:
        raise TurnFailed(NOT_RECEIVED)

    monkeypatch.setattr(wechat.gateway.router, "handle", store_down)
    assert wechat.peer.say(new_openid(), "我想问低保", 9202) == NOT_RECEIVED
