"""``python -m bot.privacy eval FILE [--engine spacy|regex]``: precision and recall per kind on a
labelled set. ``python -m bot.privacy purge [--older-than 180d] [--dry-run]``: anonymize what
is stored past the retention period (docs/privacy.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.privacy import core
from bot.privacy.evaluation import LabelledSetError, evaluate, load_labelled


def _finder(engine: str):  # type: ignore[no-untyped-def]
    if engine == "regex":
        return core.find_with_regex
    from bot.privacy import pipeline

    return pipeline.find


def _eval(args: argparse.Namespace) -> int:
    try:
        examples = load_labelled(Path(args.file))
    except LabelledSetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = evaluate(examples, _finder(args.engine))
    print(f"{len(examples)} texts, engine {args.engine}")
    print(report.table())
    for line in report.errors[: args.show_errors]:
        print(f"  {line}")
    return 0


def _purge(args: argparse.Namespace) -> int:
    from bot.retention import RetentionError, parse_duration, purge
    from bot.settings import get_settings

    settings = get_settings()
    try:
        older_than = parse_duration(args.older_than) if args.older_than else None
        result = purge(settings, older_than=older_than, dry_run=args.dry_run)
    except RetentionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.privacy")
    commands = parser.add_subparsers(dest="command", required=True)
    evaluation = commands.add_parser("eval", help="precision/recall on a labelled JSONL file")
    evaluation.add_argument("file")
    evaluation.add_argument("--engine", choices=("spacy", "regex"), default="spacy")
    evaluation.add_argument("--show-errors", type=int, default=20, metavar="N")
    evaluation.set_defaults(run=_eval)
    retention = commands.add_parser("purge", help="anonymize conversations past retention")
    retention.add_argument(
        "--older-than", metavar="DURATION", help="e.g. 180d, 26w, 6m (default: retention_days)"
    )
    retention.add_argument("--dry-run", action="store_true", help="count, change nothing")
    retention.set_defaults(run=_purge)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
