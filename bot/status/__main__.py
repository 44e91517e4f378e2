"""``python -m bot.status seed`` · ``python -m bot.status import FILE [--dry-run]``

Exit codes: 0 done, 1 the file or the store was not right (message on stderr, nothing imported),
2 wrong usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from bot.settings import get_settings
from bot.status.loading import StoreNotReady, import_file, seed_demo_data
from bot.status.records import RecordFileError
from bot.store import get_engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.status", description="办件进度：演示数据与CSV导入"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("seed", help="库中还没有办件时，载入演示办件（可重复运行）")
    importing = commands.add_parser(
        "import", help="从CSV文件导入办件；有任何一行不合格，整个文件都不导入"
    )
    importing.add_argument("file", type=Path, help="UTF-8编码的CSV文件，表头同演示数据")
    importing.add_argument("--dry-run", action="store_true", help="只检查，不导入")
    args = parser.parse_args(argv)

    try:
        engine = get_engine()
    except (ArgumentError, ValueError) as error:
        # Not the error text: it may quote the whole URL, password included.
        print(
            f"ZHIXUN_DATABASE_URL 无法使用（{_store_description()}，{type(error).__name__}）："
            "请检查数据库类型和地址，例如 sqlite:///var/zhixun.db 或 "
            "postgresql://user@127.0.0.1:5432/zhixun",
            file=sys.stderr,
        )
        return 1
    try:
        if args.command == "seed":
            result = seed_demo_data(engine=engine)
            if result.imported:
                print(f"已载入 {result.imported} 条演示办件")
            else:
                print(f"库中已有 {result.already_present} 条办件，未载入演示数据")
            return 0
        count = import_file(args.file, engine=engine, dry_run=args.dry_run)
        if args.dry_run:
            print(f"检查通过：{count} 条办件可以导入（--dry-run，未写入）")
        else:
            print(f"已导入 {count} 条办件")
        return 0
    except RecordFileError as error:
        print(f"未导入任何记录，文件有以下问题：\n{error}", file=sys.stderr)
        return 1
    except StoreNotReady as error:
        print(str(error), file=sys.stderr)
        return 1
    except SQLAlchemyError as error:
        # Only the driver's own message, and only for connection problems: a statement error's
        # text would carry the record values as parameters.
        detail = str(error.orig).strip() if isinstance(error, OperationalError) else ""
        print(
            f"数据库 {_store_description()} 出错（{type(error).__name__}"
            f"{'：' + detail if detail else ''}），未导入任何记录",
            file=sys.stderr,
        )
        return 1


def _store_description() -> str:
    url = get_settings().database_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "无法解析的地址"


if __name__ == "__main__":
    sys.exit(main())
