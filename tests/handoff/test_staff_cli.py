"""``python -m bot.staff``, run as an operator runs it (a subprocess, password on stdin)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.settings import PROJECT_ROOT
from bot.staff.accounts import LoginPolicy, authenticate, find_staff
from bot.store import make_engine

PASSWORD = "a long staff password"


def staff_cli(
    url: str, *args: str, password: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.staff", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "ZHIXUN_DATABASE_URL": url, **env},
        input="" if password is None else password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )


def can_login(engine: Engine, username: str, password: str) -> bool:
    result = authenticate(engine, username, password, LoginPolicy(100, timedelta(minutes=1)))
    return result.staff is not None


def role_of(engine: Engine, username: str) -> str:
    staff = find_staff(engine, username)
    assert staff is not None
    return staff.role


@pytest.fixture
def engine(sqlite_url: str) -> Engine:
    return make_engine(sqlite_url)


def test_add_disable_and_reset(sqlite_url: str, engine: Engine) -> None:
    added = staff_cli(
        sqlite_url,
        "add",
        "zhang.san",
        "--display-name",
        "张工",
        "--department",
        "区民政局",
        password=PASSWORD,
    )
    assert added.returncode == 0, added.stderr
    assert "已新建账号 zhang.san" in added.stdout
    assert PASSWORD not in added.stdout + added.stderr
    assert can_login(engine, "zhang.san", PASSWORD)
    listed = staff_cli(sqlite_url, "list")
    assert "zhang.san\t张工\t区民政局\t启用\t坐席" in listed.stdout
    assert role_of(engine, "zhang.san") == "staff"

    assert staff_cli(sqlite_url, "disable", "zhang.san").returncode == 0
    assert not can_login(engine, "zhang.san", PASSWORD)

    reset = staff_cli(sqlite_url, "reset-password", "zhang.san", password="another long one")
    assert reset.returncode == 0, reset.stderr
    assert can_login(engine, "zhang.san", "another long one")
    assert not can_login(engine, "zhang.san", PASSWORD)


def test_role_on_add_and_set_role(sqlite_url: str, engine: Engine) -> None:
    added = staff_cli(sqlite_url, "add", "li.si", "--role", "admin", password=PASSWORD)
    assert added.returncode == 0, added.stderr
    assert "管理员" in added.stdout
    assert role_of(engine, "li.si") == "admin"
    assert "li.si\tli.si\t-\t启用\t管理员" in staff_cli(sqlite_url, "list").stdout
    assert staff_cli(sqlite_url, "set-role", "li.si", "staff").returncode == 0
    assert role_of(engine, "li.si") == "staff"
    refused = staff_cli(sqlite_url, "add", "wang.wu", "--role", "root", password=PASSWORD)
    assert refused.returncode == 2
    assert find_staff(engine, "wang.wu") is None
    assert staff_cli(sqlite_url, "set-role", "ghost", "admin").returncode == 1


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (("add", "dup"), PASSWORD, "已存在"),
        (("add", "shorty"), "short", "至少"),
        (("add", "empty"), None, "没有密码"),
        (("add", "x"), PASSWORD, "用户名"),
        (("add", "bad/name"), PASSWORD, "用户名"),
        (("add", "spaces"), "  padded password  ", "空格"),
        (("disable", "ghost"), None, "没有账号"),
        (("reset-password", "ghost"), PASSWORD, "没有账号"),
    ],
)
def test_refusals_exit_nonzero_with_a_message(
    sqlite_url: str, args: tuple[str, ...], password: str | None, message: str
) -> None:
    assert staff_cli(sqlite_url, "add", "dup", password=PASSWORD).returncode == 0
    result = staff_cli(sqlite_url, *args, password=password)
    assert result.returncode in (1, 2)
    assert message in result.stderr


def test_demo_account_gets_a_fresh_password_each_time(sqlite_url: str, engine: Engine) -> None:
    first = staff_cli(sqlite_url, "demo", ZHIXUN_ENVIRONMENT="development")
    assert first.returncode == 0, first.stderr
    password = re.search(r"密码 (\S+)", first.stdout).group(1)  # type: ignore[union-attr]
    assert "用户名 demo" in first.stdout
    assert can_login(engine, "demo", password)
    # A newcomer can try everything, unmasking and account management included.
    assert role_of(engine, "demo") == "admin"
    second = staff_cli(sqlite_url, "demo", ZHIXUN_ENVIRONMENT="development")
    new_password = re.search(r"密码 (\S+)", second.stdout).group(1)  # type: ignore[union-attr]
    assert new_password != password
    assert can_login(engine, "demo", new_password) and not can_login(engine, "demo", password)


def test_no_demo_account_in_production(sqlite_url: str, engine: Engine) -> None:
    result = staff_cli(sqlite_url, "demo", ZHIXUN_ENVIRONMENT="production")
    assert result.returncode == 1
    assert "生产环境" in result.stderr
    assert not can_login(engine, "demo", "anything at all")


def test_uninitialised_store_says_what_to_do(tmp_path: Path) -> None:
    result = staff_cli(f"sqlite:///{tmp_path / 'empty.db'}", "add", "x1", password=PASSWORD)
    assert result.returncode == 1
    assert "python -m bot.store upgrade" in result.stderr


def test_usage_errors_exit_2(sqlite_url: str) -> None:
    assert staff_cli(sqlite_url).returncode == 2
    assert staff_cli(sqlite_url, "promote", "x").returncode == 2
