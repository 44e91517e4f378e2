"""``python -m bot.staff add NAME [--role staff|admin]`` · ``disable|reset-password NAME`` ·
``set-role NAME staff|admin`` · ``demo`` · ``list``

Roles: ``staff`` work tickets; ``admin`` may also unmask personal data, manage accounts and see
analytics. New accounts are ``staff`` unless ``--role admin`` is given.

Passwords are read from standard input when it is not a terminal (one line), otherwise asked
for twice without echo. Exit codes: 0 done, 1 refused (message on stderr), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.settings import get_settings
from bot.staff.accounts import (
    AccountError,
    add_staff,
    check_password,
    disable_staff,
    ensure_demo,
    list_staff,
    reset_password,
    set_role,
)
from bot.staff.models import ROLE_ADMIN, ROLE_STAFF, ROLES
from bot.store import NOT_INITIALISED, get_engine

ROLE_LABELS = {ROLE_STAFF: "坐席", ROLE_ADMIN: "管理员"}


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
    for staff in list_staff(get_engine()):
        state = "启用" if staff.active else "停用"
        role = ROLE_LABELS.get(staff.role, staff.role)
        print(f"{staff.username}\t{staff.display_name}\t{staff.department or '-'}\t{state}\t{role}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.staff", description="人工坐席账号管理")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="新建账号（密码从标准输入读取）")
    add.add_argument("name")
    add.add_argument("--display-name", help="群众看到的称呼，如“张工”；默认同用户名")
    add.add_argument("--department", help="所属部门，如“区民政局”")
    add.add_argument(
        "--role",
        choices=ROLES,
        default=ROLE_STAFF,
        help="staff（坐席，默认）或 admin（管理员：可查看完整号码、管理账号、查看统计）",
    )
    commands.add_parser("disable", help="停用账号并使其登录立即失效").add_argument("name")
    commands.add_parser("reset-password", help="重设密码（同时解除锁定、重新启用）").add_argument(
        "name"
    )
    role = commands.add_parser("set-role", help="更改账号角色（staff 或 admin）")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    commands.add_parser("demo", help="开发环境：建立演示管理员账号 demo 并打印新密码")
    commands.add_parser("list", help="列出全部账号")
    args = parser.parse_args(argv)

    engine = get_engine()
    secret = get_settings().secret_key
    try:
        if args.command == "add":
            add_staff(
                engine, args.name, read_password(), args.display_name, args.department, args.role
            )
            print(f"已新建账号 {args.name}（{ROLE_LABELS[args.role]}）")
        elif args.command == "disable":
            disable_staff(engine, args.name)
            print(f"已停用账号 {args.name}")
        elif args.command == "reset-password":
            reset_password(engine, args.name, read_password("新密码："), secret)
            print(f"已重设账号 {args.name} 的密码")
        elif args.command == "set-role":
            set_role(engine, args.name, args.role)
            print(f"账号 {args.name} 的角色已改为{ROLE_LABELS[args.role]}")
        elif args.command == "demo":
            if get_settings().is_production:
                print("生产环境不建立演示账号", file=sys.stderr)
                return 1
            username, password = ensure_demo(engine, secret)
            print(f"演示管理员账号（仅开发环境）：用户名 {username}  密码 {password}")
        else:
            _list()
    except AccountError as error:
        print(str(error), file=sys.stderr)
        return 1
    except (OperationalError, ProgrammingError):
        print(NOT_INITIALISED, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
