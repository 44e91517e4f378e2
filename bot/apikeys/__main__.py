"""``python -m bot.apikeys add NAME`` · ``list`` · ``revoke NAME`` · ``demo``

``add`` prints the new key alone on standard output (``KEY=$(python -m bot.apikeys add crm)``);
it is never shown again. Exit codes: 0 done, 1 refused (message on stderr), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.apikeys.store import DEMO_NAME, ApiKeyError, add_key, list_keys, register_key, revoke_key
from bot.settings import get_settings
from bot.store import NOT_INITIALISED, get_engine


def _list() -> None:
    for key in list_keys(get_engine()):
        state = f"已停用 {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "有效"
        print(f"{key.id}\t{key.name}\t{key.created_at:%Y-%m-%d %H:%M}\t{state}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.apikeys", description="对接方（/api/chat）的 API 密钥管理"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("add", help="新建密钥并打印（只显示这一次）").add_argument("name")
    commands.add_parser("list", help="列出全部密钥（不含密钥本身）")
    commands.add_parser("revoke", help="停用密钥，立即生效").add_argument("name")
    commands.add_parser("demo", help="开发环境：登记 .env 里的 ZHIXUN_DEMO_API_KEY")
    args = parser.parse_args(argv)

    engine = get_engine()
    try:
        if args.command == "add":
            identity, key = add_key(engine, args.name)
            print(
                f"已新建密钥 {identity.name}（编号 {identity.id}）。密钥只显示这一次，请妥善保存：",
                file=sys.stderr,
            )
            print(key)
        elif args.command == "revoke":
            if revoke_key(engine, args.name):
                print(f"已停用密钥 {args.name}")
            else:
                print(f"密钥 {args.name} 早已停用")
        elif args.command == "demo":
            settings = get_settings()
            if settings.is_production:
                print("生产环境不登记演示密钥", file=sys.stderr)
                return 1
            if not settings.demo_api_key:
                print("没有设置 ZHIXUN_DEMO_API_KEY（make run 会写入 .env）", file=sys.stderr)
                return 1
            register_key(engine, DEMO_NAME, settings.demo_api_key)
            print("演示 API 密钥已登记（仅开发环境），见 .env 中的 ZHIXUN_DEMO_API_KEY")
        else:
            _list()
    except ApiKeyError as error:
        print(str(error), file=sys.stderr)
        return 1
    except (OperationalError, ProgrammingError):
        print(NOT_INITIALISED, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
