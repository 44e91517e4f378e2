"""The WeChat channel's parts: our crypto against wechatpy's, rendering, the menu script, the
migration."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import check_signature as wechatpy_check_signature

from bot.channels.base import BotMessage, Button
from bot.channels.wechat.__main__ import main as wechat_cli
from bot.channels.wechat.crypto import MessageCrypto, signature
from bot.channels.wechat.render import (
    TEXT_LIMIT_BYTES,
    answer_to_option,
    continue_reading,
    render,
)
from bot.channels.wechat.texts import MENU
from bot.store import Base
from tests.channels.conftest import wechat_settings
from tests.channels.fake_wechat import FakeWeChatApi
from tests.channels.peer import AES_KEY, APP_ID, TOKEN

WECHAT_TABLES = ("wechat_inbound", "wechat_nonces", "wechat_followers", "wechat_access_tokens")


def test_signature_matches_wechatpy() -> None:
    wechatpy_check_signature(TOKEN, signature(TOKEN, "1700000000", "n0nce"), "1700000000", "n0nce")


def test_crypto_round_trips_with_wechatpy() -> None:
    ours = MessageCrypto(TOKEN, AES_KEY, APP_ID)
    theirs = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    xml = "<xml><Content><![CDATA[居住证怎么办]]></Content></xml>"
    sealed = ours.seal(xml, "1700000000", "abc")
    import xmltodict

    envelope = xmltodict.parse(sealed)["xml"]
    assert theirs.decrypt_message(sealed, envelope["MsgSignature"], "1700000000", "abc") == xml
    encrypted = xmltodict.parse(theirs.encrypt_message(xml, "abc", "1700000000"))["xml"]
    assert (
        ours.check_message(encrypted["MsgSignature"], "1700000000", "abc", encrypted["Encrypt"])
        == xml
    )


def test_rating_buttons_keep_their_own_numbers() -> None:
    buttons = [Button(title=f"{n}分", payload=str(n)) for n in (5, 4, 3, 2, 1)]
    rendered = render([BotMessage(text="请打分", buttons=buttons)])
    assert rendered is not None
    assert answer_to_option("5", rendered.options) == "5"
    assert answer_to_option("１", rendered.options) == "1"


def test_cutting_counts_bytes_and_keeps_every_character() -> None:
    text = "政" * 3000  # no sentence end at all: cut by characters
    rendered = render([BotMessage(text=text)])
    assert rendered is not None and rendered.more
    assert len(rendered.text.encode()) <= TEXT_LIMIT_BYTES
    rest = continue_reading(rendered.more)
    assert len(rest.text.encode()) <= TEXT_LIMIT_BYTES
    assert render([BotMessage()]) is None


def test_cdata_end_in_a_reply_is_escaped() -> None:
    from wechatpy.parser import parse_message

    from bot.channels.wechat.xml import text_reply

    assert parse_message(text_reply("oOpenid1", "gh_x", "a]]>b<c>")).content == "a]]>b<c>"


def test_menu_script_publishes_through_the_api(fake_wechat_server, store_url: str) -> None:
    api, server = fake_wechat_server
    api.reset()
    settings = wechat_settings(store_url, server.url)
    assert wechat_cli(["menu"], settings) == 0
    assert api.menus == [MENU]
    assert [b["name"] for b in api.menus[0]["button"]] == ["智能咨询", "办件进度", "转人工"]
    assert wechat_cli(["menu"], settings) == 0
    assert api.token_fetches == 1  # the token is shared through the store


def test_menu_script_reports_a_refusal(store_url: str, fake_wechat_server) -> None:
    settings = wechat_settings(store_url, fake_wechat_server[1].url, wechat_app_secret="wrong")
    assert wechat_cli(["menu"], settings) == 1
    assert wechat_cli(["menu"], wechat_settings(store_url, "", wechat_app_id="")) == 2


def test_migration_matches_the_models(store_url: str) -> None:
    assert isinstance(FakeWeChatApi, type)
    engine = create_engine(store_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    ours = [d for d in diff if any(name in repr(d) for name in WECHAT_TABLES)]
    assert ours == []
