"""``python -m bot.staff add|disable|reset-password NAME`` · ``demo`` · ``list``

Passwords are read from standard input when it is not a terminal (one line), otherwise asked
for twice without echo. Exit codes: 0 done, 1 refused (message on stderr), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.settings import get_settings
from bot.staff.accounts import (
    AccountError,
    add_staff,
    check_password,
    disable_staff,
    ensure_demo,
    reset_password,
)
from bot.staff.models import StaffUser
from bot.store import get_engine, session_scope


def read_password(prompt: str = "密码：") -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise AccountError("标准输入里没有密码")
        return line.rstrip("\r\n")
    first = getpass.getpass(prompt)
    check_password(first)
    if getpass.getpass("再输入一次：") != first:
        raise AccountError("两次输入的密码不一致")
    return first


def _list() -> None:
    with session_scope(get_engine()) as session:
        for staff in session.scalars(select(StaffUser).order_by(StaffUser.username)):
            state = "启用" if staff.active else "停用"
            print(f"{staff.username}\t{staff.display_name}\t{staff.department or '-'}\t{state}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.staff", description="人工坐席账号管理")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="新建账号（密码从标准输入读取）")
    add.add_argument("name")
    add.add_argument("--display-name", help="群众看到的称呼，如“张工”；默认同用户名")
    add.add_argument("--department", help="所属部门，如“区民政局”")
    commands.add_parser("disable", help="停用账号并使其登录立即失效").add_argument("name")
    commands.add_parser("reset-password", help="重设密码（同时解除锁定、重新启用）").add_argument(
        "name"
    )
    commands.add_parser("demo", help="开发环境：建立演示账号 demo 并打印新密码")
    commands.add_parser("list", help="列出全部账号")
    args = parser.parse_args(argv)

    engine = get_engine()
    try:
        if args.command == "add":
            add_staff(engine, args.name, read_password(), args.display_name, args.department)
            print(f"已新建账号 {args.name}")
        elif args.command == "disable":
            disable_staff(engine, args.name)
            print(f"已停用账号 {args.name}")
        elif args.command == "reset-password":
            reset_password(engine, args.name, read_password("新密码："))
            print(f"已重设账号 {args.name} 的密码")
        elif args.command == "demo":
            if get_settings().is_production:
                print("生产环境不建立演示账号", file=sys.stderr)
                return 1
            username, password = ensure_demo(engine)
            print(f"演示坐席账号（仅开发环境）：用户名 {username}  密码 {password}")
        else:
            _list()
    except AccountError as error:
        print(str(error), file=sys.stderr)
        return 1
    except (OperationalError, ProgrammingError):
        print("数据库还没有初始化：请先运行 python -m bot.store upgrade", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
