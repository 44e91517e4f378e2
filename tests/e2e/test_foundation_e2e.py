"""The real servers on loopback ports: greeting, intents, hostile input, still serving."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.e2e

CONTRACT_INTENTS = {
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "bot_challenge",
    "check_application_status",
    "request_human",
    "complain",
    "ask_policy",
}


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def test_greeting_through_rasa_rest_channel(stack: LiveStack) -> None:
    reply = texts(stack.rest("e2e-greet", "你好"))
    assert "您好" in reply and "办件进度" in reply and "人工" in reply


def test_greeting_through_the_gateway_api(stack: LiveStack) -> None:
    response = stack.chat("e2e-api-greet", "你好")
    assert response.status_code == 200
    reply = texts(response.json()["messages"])
    assert "您好" in reply and "办件进度" in reply
    keyless = httpx.post(
        f"{stack.web_url}/api/chat", json={"sender": "e2e-api-greet", "message": "你好"}
    )
    assert keyless.status_code == 401 and "API 密钥" in keyless.json()["detail"]


def test_bot_challenge_is_answered_honestly(stack: LiveStack) -> None:
    reply = texts(stack.rest("e2e-bot", "你是机器人吗"))
    assert "不是真人" in reply


def test_out_of_scope_is_declined_politely(stack: LiveStack) -> None:
    reply = texts(stack.rest("e2e-oos", "给我讲个笑话吧"))
    assert "抱歉" in reply


def test_model_parse_returns_contract_intents(stack: LiveStack) -> None:
    for text, expected in [
        ("你好呀", "greet"),
        ("我要转人工", "request_human"),
        ("我的居住证申请到哪一步了", "check_application_status"),
        ("办社保卡要带什么材料", "ask_policy"),
    ]:
        parsed = stack.parse(text)
        assert parsed["intent"]["name"] == expected, (text, parsed["intent"])
        assert {r["name"] for r in parsed["intent_ranking"]} & CONTRACT_INTENTS


def test_model_parse_needs_the_token(stack: LiveStack) -> None:
    response = httpx.post(f"{stack.rasa_url}/model/parse", json={"text": "你好"})
    assert response.status_code in (401, 403)


HOSTILE_TEXTS = [
    "",
    "   ",
    "办" * 20_000,
    "\x00\x01\x02居住证\x1b[31m怎么办\x7f",
    "😀😀😀🙏🙏",
    "<script>alert(1)</script>",
    "'; DROP TABLE applications; --",
]


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=range(len(HOSTILE_TEXTS)))
def test_hostile_text_at_rasa_webhook(stack: LiveStack, text: str) -> None:
    response = httpx.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": "e2e-hostile", "message": text},
        timeout=60,
    )
    assert response.status_code == 200 or 400 <= response.status_code < 500
    assert stack.rest("e2e-after-hostile", "你好"), "Rasa stopped answering"


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=range(len(HOSTILE_TEXTS)))
def test_hostile_text_at_api_chat(stack: LiveStack, text: str) -> None:
    response = stack.chat("e2e-api-hostile", text)
    if response.status_code == 200:
        assert response.json()["messages"], "a 200 must carry a reply"
    else:
        assert response.status_code == 422
        assert response.json()["detail"]
    assert stack.chat("e2e-api-after", "你好").status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"sender": "x", "message": ', "application/json"),
        (b"not json at all", "application/json"),
        (b'{"sender": "x", "message": "hi"}', "text/plain"),
        (b"sender=x&message=hi", "application/x-www-form-urlencoded"),
        (b'["a list"]', "application/json"),
        (b'{"sender": "x", "message": 12}', "application/json"),
        (b'{"sender": "../../etc", "message": "hi"}', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
    ],
)
def test_malformed_requests_get_a_clear_4xx(
    stack: LiveStack, body: bytes, content_type: str
) -> None:
    api = httpx.post(
        f"{stack.web_url}/api/chat",
        content=body,
        headers={**stack.api_headers, "Content-Type": content_type},
    )
    assert api.status_code == 422
    assert api.json()["detail"]
    webhook = httpx.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        content=body,
        headers={"Content-Type": content_type},
        timeout=30,
    )
    assert webhook.status_code == 200 or 400 <= webhook.status_code < 500
    assert stack.chat("e2e-after-malformed", "你好").status_code == 200
    assert stack.rest("e2e-after-malformed", "你好")
