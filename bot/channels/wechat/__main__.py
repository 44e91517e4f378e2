"""``python -m bot.channels.wechat menu``: publish the account's custom menu
(智能咨询 / 办件进度 / 转人工) through WeChat's API, with the configured AppID and AppSecret."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import httpx

from bot.channels.wechat.client import WeChatApi, WeChatApiError
from bot.channels.wechat.texts import MENU
from bot.settings import Settings, get_settings
from bot.store import make_engine


async def publish_menu(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    api = WeChatApi(settings, engine)
    try:
        await api.create_menu(MENU)
    finally:
        await api.aclose()
        engine.dispose()


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.channels.wechat")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("menu", help="publish the custom menu (智能咨询 / 办件进度 / 转人工)")
    commands.add_parser("show-menu", help="print the menu that `menu` would publish")
    args = parser.parse_args(argv)
    if args.command == "show-menu":
        print(json.dumps(MENU, ensure_ascii=False, indent=2))
        return 0
    settings = settings or get_settings()
    if not (settings.wechat_app_id and settings.wechat_app_secret):
        print("Set ZHIXUN_WECHAT_APP_ID and ZHIXUN_WECHAT_APP_SECRET first.", file=sys.stderr)
        return 2
    try:
        asyncio.run(publish_menu(settings))
    except (WeChatApiError, httpx.HTTPError) as error:
        print(f"WeChat did not take the menu: {error}", file=sys.stderr)
        return 1
    print("Menu published: " + " / ".join(b["name"] for b in MENU["button"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
