"""``python -m bot.eval chat FILE.jsonl [--url URL] [--split heldout] [--json] [--check]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from bot.catalog import get_catalog
from bot.eval.chat import ApiKeyRefused, run_questions
from bot.eval.dataset import DatasetError, read_questions
from bot.eval.outcomes import OutcomeReader
from bot.eval.report import render, summarize
from bot.settings import get_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.eval", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    chat = sub.add_parser("chat", help="ask every question through the running web app")
    chat.add_argument("file", type=Path, help='JSON lines: {"query", "doc_id", "style"}')
    settings = get_settings()
    chat.add_argument("--url", default=f"http://{settings.host}:{settings.web_port}")
    chat.add_argument(
        "--api-key",
        default=os.environ.get("ZHIXUN_EVAL_API_KEY") or settings.demo_api_key,
        help="key for /api/chat (default: $ZHIXUN_EVAL_API_KEY, else ZHIXUN_DEMO_API_KEY/.env)",
    )
    chat.add_argument("--split", help='only rows whose "split" is this (e.g. heldout)')
    chat.add_argument("--concurrency", type=int, default=4)
    chat.add_argument("--json", action="store_true", help="print the report as JSON")
    chat.add_argument("--failures", type=Path, help="write every miss to this JSON-lines file")
    chat.add_argument("--check", action="store_true", help="exit 1 below the acceptance")
    return parser


def _progress(done: int, total: int) -> None:
    if done == total or done % 25 == 0:
        print(f"\r{done}/{total} questions", end="\n" if done == total else "", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    catalog = get_catalog()
    try:
        questions = read_questions(args.file, catalog.ids, args.split)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.api_key:
        print(
            "error: /api/chat needs an API key: --api-key or ZHIXUN_DEMO_API_KEY", file=sys.stderr
        )
        return 2
    try:
        trials = asyncio.run(
            run_questions(
                args.url,
                questions,
                OutcomeReader(catalog),
                concurrency=args.concurrency,
                api_key=args.api_key,
                progress=_progress,
            )
        )
    except ApiKeyRefused as exc:
        print(f"error: the API key was refused: {exc}", file=sys.stderr)
        return 2
    report = summarize(trials)
    if args.failures:
        args.failures.write_text(
            "".join(json.dumps(f, ensure_ascii=False) + "\n" for f in report.failures),
            encoding="utf-8",
        )
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(render(report))
    return 1 if args.check and not report.passed else 0


if __name__ == "__main__":
    sys.exit(main())
