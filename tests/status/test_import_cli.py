"""``python -m bot.status import FILE`` / ``seed`` with hostile input: a clear message, a non-zero
exit, no traceback, and nothing imported from a file with any bad row."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from bot.status.__main__ import main
from bot.status.repository import count_applications
from bot.store import session_scope
from tests.status.conftest import Store

HEADER = (
    "application_no,service_id,applicant_name,phone,status,current_step,"
    "submitted_at,due_date,completed_at,department,note"
)
GOOD = (
    "YX20261201050,residence-permit,赵敏,13800001111,已受理,窗口受理,"
    "2026-12-01,2026-12-15,,区公安分局户政科,"
)
GOOD_2 = (
    "YX20261202051,minimum-living-allowance,钱红,13900002222,待补正,材料补正,"
    "2026-12-02,2026-12-20,,区民政局,缺少收入证明"
)


def write(tmp_path: Path, content: str | bytes, name: str = "records.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def stored(store: Store) -> int:
    with session_scope(store.engine) as session:
        return count_applications(session)


def test_good_file_is_imported(configured_store: Store, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, f"\ufeff{HEADER}\r\n{GOOD}\r\n\r\n{GOOD_2.replace('YX', 'yx')}\r\n")
    code, out, _ = run(capsys, "import", str(path))
    assert (code, out.strip()) == (0, "已导入 2 条办件")
    assert stored(configured_store) == 2


def test_dry_run_checks_without_importing(configured_store: Store, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "import", str(write(tmp_path, f"{HEADER}\n{GOOD}\n")), "--dry-run")
    assert code == 0 and "检查通过：1 条" in out
    assert stored(configured_store) == 0


# (file content, what the message must say)
HOSTILE = {
    "empty": (b"", ["文件为空"]),
    "whitespace only": ("  \n\n", ["文件为空"]),
    "header only": (f"{HEADER}\n", ["没有任何记录"]),
    "missing column": (
        HEADER.replace(",note", "") + "\n" + GOOD.rsplit(",", 1)[0] + "\n",
        ["缺少列：note"],
    ),
    "unknown column": (HEADER + ",extra\n" + GOOD + ",x\n", ["无法识别的列：'extra'"]),
    "duplicated column": (HEADER + ",note\n" + GOOD + ",\n", ["列名重复：note"]),
    "not a csv at all": ("hello world\n", ["缺少列"]),
    "bad date": (
        f"{HEADER}\n{GOOD.replace('2026-12-01', '2026-02-30')}\n",
        ["第2行", "submitted_at"],
    ),
    "date as words": (f"{HEADER}\n{GOOD.replace('2026-12-15', '下周一')}\n", ["第2行", "due_date"]),
    "due before submitted": (
        f"{HEADER}\n{GOOD.replace('2026-12-15', '2026-11-15')}\n",
        ["第2行：due_date 早于 submitted_at"],
    ),
    "unknown service": (
        f"{HEADER}\n{GOOD}\n{GOOD_2.replace('minimum-living-allowance', 'moon-landing')}\n",
        ["第3行：事项编码 moon-landing 不在服务目录中"],
    ),
    "duplicate numbers": (
        f"{HEADER}\n{GOOD}\n{GOOD_2}\n{GOOD.replace('YX', 'yx')}\n",
        ["第4行：申请编号 YX20261201050 与第2行重复"],
    ),
    "bad number": (
        f"{HEADER}\n{GOOD.replace('YX20261201050', 'AB123')}\n",
        ["第2行：申请编号 AB123 格式不正确"],
    ),
    "bad phone": (
        f"{HEADER}\n{GOOD.replace('13800001111', '12345')}\n",
        ["第2行：phone 不是11位手机号"],
    ),
    "unknown status": (
        f"{HEADER}\n{GOOD.replace('已受理', '办好了')}\n",
        ["第2行：状态 办好了 无法识别"],
    ),
    "completed without date": (
        f"{HEADER}\n{GOOD.replace('已受理', '已办结')}\n",
        ["第2行：状态为已办结时 completed_at 不能为空"],
    ),
    "correction without note": (
        f"{HEADER}\n{GOOD_2.replace('缺少收入证明', '')}\n",
        ["第2行：状态为待补正时 note 必须写明需要补正的材料"],
    ),
    "too few fields": (
        f"{HEADER}\n{GOOD}\nYX20261202051,residence-permit\n",
        ["第3行：应有11列，实际有2列"],
    ),
    "empty name": (f"{HEADER}\n{GOOD.replace('赵敏', '  ')}\n", ["第2行：applicant_name 不能为空"]),
    "huge note": (f"{HEADER}\n{GOOD}{'很' * 600}\n", ["第2行：note 超过500个字符"]),
    "gbk": ((f"{HEADER}\n{GOOD}\n").encode("gbk"), ["不是UTF-8编码", "第2行附近"]),
    "utf-16": ((f"{HEADER}\n{GOOD}\n").encode("utf-16"), ["UTF-16"]),
    "nul bytes": (f"{HEADER}\n{GOOD}\x00\n".encode(), ["空字符"]),
    "binary garbage": (bytes(range(256)) * 4, ["不是UTF-8编码"]),
    "unterminated quote": (f'{HEADER}\n{GOOD}\n"YX20261202051,residence-permit\n', ["第"]),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_are_rejected_whole(configured_store: Store, tmp_path, capsys, case) -> None:  # type: ignore[no-untyped-def]
    content, expected = HOSTILE[case]
    code, out, err = run(capsys, "import", str(write(tmp_path, content)))
    assert code == 1, (out, err)
    assert "未导入任何记录" in err
    for fragment in expected:
        assert fragment in err, (fragment, err)
    assert "Traceback" not in err
    assert stored(configured_store) == 0


def test_every_bad_row_is_listed_and_no_personal_data_echoed(
    configured_store, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    rows = [
        GOOD.replace("13800001111", "999").replace("YX20261201050", f"YX2026120105{i}")
        for i in range(3)
    ]
    code, _, err = run(capsys, "import", str(write(tmp_path, "\n".join([HEADER, GOOD_2, *rows]))))
    assert code == 1
    assert [line for line in err.splitlines() if "phone" in line] == [
        "第3行：phone 不是11位手机号",
        "第4行：phone 不是11位手机号",
        "第5行：phone 不是11位手机号",
    ]
    assert "赵敏" not in err and "999" not in err and "13900002222" not in err
    assert stored(configured_store) == 0


def test_very_many_problems_are_summarised(configured_store, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    rows = [GOOD.replace("residence-permit", "nope").replace("050", f"{i:03d}") for i in range(200)]
    code, _, err = run(capsys, "import", str(write(tmp_path, "\n".join([HEADER, *rows]))))
    assert code == 1
    assert "另有150处问题未列出" in err
    assert len(err.splitlines()) < 60


def test_missing_file_and_directory(configured_store, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "import", str(tmp_path / "nope.csv"))
    assert code == 1 and "找不到文件" in err
    code, _, err = run(capsys, "import", str(tmp_path))
    assert code == 1 and "是一个目录" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(configured_store, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, f"{HEADER}\n{GOOD}\n")
    path.chmod(0)
    code, _, err = run(capsys, "import", str(path))
    assert code == 1 and "没有权限" in err


def test_seed_is_idempotent(configured_store: Store, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "seed")
    assert code == 0 and "已载入 46 条演示办件" in out
    code, out, _ = run(capsys, "seed")
    assert code == 0 and "库中已有 46 条办件" in out
    assert stored(configured_store) == 46


def test_usage_errors_exit_2(capsys) -> None:  # type: ignore[no-untyped-def]
    for argv in ([], ["frobnicate"], ["import"]):
        with pytest.raises(SystemExit) as raised:
            main(argv)
        assert raised.value.code == 2
    capsys.readouterr()


def cli(env_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZHIXUN_DATABASE_URL": env_url}
    return subprocess.run(
        [sys.executable, "-m", "bot.status", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_command_line_without_schema_says_what_to_do(tmp_path: Path) -> None:
    result = cli(f"sqlite:///{tmp_path / 'fresh.db'}", "seed")
    assert result.returncode == 1
    assert "python -m bot.store upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_command_line_with_unreachable_database(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n{GOOD}\n")
    result = cli("postgresql://nobody:secret@127.0.0.1:1/none", "import", str(path))
    assert result.returncode == 1
    assert "OperationalError" in result.stderr and "secret" not in result.stderr
    assert "Traceback" not in result.stderr
    for url in ("nonsense://", "postgresql://u:secret@h:notaport/x"):
        result = cli(url, "seed")
        assert result.returncode == 1 and "ZHIXUN_DATABASE_URL 无法使用" in result.stderr
        assert "Traceback" not in result.stderr and "secret" not in result.stderr


def test_command_line_imports(sqlite_store: Store, tmp_path: Path) -> None:
    result = cli(sqlite_store.url, "import", str(write(tmp_path, f"{HEADER}\n{GOOD}\n")))
    assert (result.returncode, result.stdout.strip()) == (0, "已导入 1 条办件")
    assert stored(sqlite_store) == 1
