"""``python -m bot.knowledge build|search|answer|eval|calibrate``.

Every command reports bad input (missing files, empty or oversized queries, binary junk,
invalid documents) as one clear message on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.knowledge",
        description="Policy knowledge base: build the index, search it, evaluate, calibrate.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = sub.add_parser("build", help="validate documents and (re)build the index if needed")
    build.add_argument("--force", action="store_true", help="re-embed everything")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.add_argument(
        "--progress-json",
        action="store_true",
        help='progress as JSON lines on stdout ({"stage", "done", "total"}), then the report',
    )
    build.add_argument("--knowledge-dir", type=Path)
    build.add_argument("--index-dir", type=Path)

    model = sub.add_parser("model", help="build the default embedding model if it is missing")
    model.add_argument("--model-dir", type=Path)

    search = sub.add_parser("search", help="search the index")
    search.add_argument("query", nargs="?", help="the question (omit with --stdin)")
    search.add_argument("--stdin", action="store_true", help="one query per input line")
    search.add_argument("--top-k", type=int, default=5)
    search.add_argument("--mode", choices=("bm25", "dense", "hybrid"), default="hybrid")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.add_argument("--index-dir", type=Path)

    answer = sub.add_parser("answer", help="show the chat reply for a question")
    answer.add_argument("query")
    answer.add_argument("--json", action="store_true")
    answer.add_argument("--index-dir", type=Path)

    evaluate = sub.add_parser("eval", help="R@1, R@5, MRR and decision rates on a dev set")
    evaluate.add_argument("file", type=Path, help='JSON lines of {"query", "doc_id"}')
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--misses", action="store_true", help="list hybrid misses")
    evaluate.add_argument("--index-dir", type=Path)

    calibrate = sub.add_parser("calibrate", help="learn fusion and decision thresholds")
    calibrate.add_argument(
        "file", type=Path, nargs="+", help='JSON lines of {"query", "doc_id"} (one or more)'
    )
    calibrate.add_argument("--output", type=Path, help="default: bot/knowledge/calibration.json")
    calibrate.add_argument("--index-dir", type=Path)
    return parser


# ----------------------------------------------------------------------------- helpers


def _open_searcher(index_dir: Path | None, calibration: Any = None) -> Any:
    from bot.knowledge.search import IndexNotFound, Searcher
    from bot.settings import get_settings

    settings = get_settings()
    try:
        return Searcher(index_dir or settings.index_dir, settings.embedding_model_dir, calibration)
    except IndexNotFound as exc:
        raise CliError(str(exc), EXIT_FAILED) from None


def _stdin_lines() -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text or None, decoding problem or None) per input line."""
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        line = raw.rstrip(b"\r\n")
        try:
            yield number, line.decode("utf-8"), None
        except UnicodeDecodeError:
            yield number, None, "the line is not UTF-8 text (binary data?)"


def _print_result(result: Any, top_k: int, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(result.to_json(top_k), ensure_ascii=False) + "\n")
        return
    confidence = "" if result.confidence is None else f", P(top-1 right)={result.confidence:.2f}"
    out.write(f"{result.query}\n  decision: {result.decision}{confidence}\n")
    for rank, hit in enumerate(result.hits[:top_k], start=1):
        out.write(f"  {rank}. {hit.score:.4f}  {hit.doc_id}  {hit.title} · {hit.section}\n")


# ----------------------------------------------------------------------------- commands


def cmd_build(args: argparse.Namespace) -> int:
    from bot.knowledge.documents import KnowledgeBaseError
    from bot.knowledge.embedding import ModelBuildError
    from bot.knowledge.index import BuildPaths, build_index

    paths = BuildPaths.from_settings(knowledge_dir=args.knowledge_dir, index_dir=args.index_dir)

    def progress_line(stage: str, done: int, total: int) -> None:
        print(json.dumps({"stage": stage, "done": done, "total": total}), flush=True)

    try:
        report = build_index(
            paths,
            force=args.force,
            progress=not (args.quiet or args.progress_json),
            on_progress=progress_line if args.progress_json else None,
        )
    except KnowledgeBaseError as exc:
        raise CliError(f"{exc}\nThe previous index (if any) is unchanged.", EXIT_FAILED) from None
    except ModelBuildError as exc:
        raise CliError(f"cannot build the embedding model: {exc}", EXIT_FAILED) from None
    if args.progress_json:
        summary = {
            "stage": "done",
            "status": report.status,
            "documents": report.documents,
            "chunks": report.chunks,
            "embedded": report.embedded,
            "reused": report.reused,
            "changed_documents": report.changed_documents,
            "seconds": round(report.seconds, 2),
        }
        print(json.dumps(summary, ensure_ascii=False), flush=True)
    else:
        print(report.summary())
    return EXIT_OK


def cmd_model(args: argparse.Namespace) -> int:
    from bot.knowledge.embedding import ModelBuildError, describe_model, ensure_model
    from bot.settings import get_settings

    path = args.model_dir or get_settings().embedding_model_dir
    try:
        _, built = ensure_model(path)
    except ModelBuildError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    info = describe_model(path)
    state = "built" if built else "present"
    print(f"{path}: {info.name} [{info.fingerprint}] ({state})")
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from bot.knowledge.search import QueryError, clean_query

    if args.top_k < 1 or args.top_k > 100:
        raise CliError("--top-k must be between 1 and 100")
    if args.stdin == (args.query is not None):
        raise CliError("give either a query or --stdin")
    if not args.stdin:
        try:
            query = clean_query(args.query)
        except QueryError as exc:
            raise CliError(f"bad query: {exc}") from None
        searcher = _open_searcher(args.index_dir)
        _print_result(
            searcher.search(query, args.top_k, args.mode), args.top_k, args.json, sys.stdout
        )
        return EXIT_OK

    searcher = _open_searcher(args.index_dir)
    failures = 0
    for number, text, problem in _stdin_lines():
        try:
            if problem:
                raise QueryError(problem)
            result = searcher.search(clean_query(text), args.top_k, args.mode)
        except QueryError as exc:
            failures += 1
            print(f"line {number}: bad query: {exc}", file=sys.stderr)
            if args.json:
                sys.stdout.write(json.dumps({"line": number, "error": str(exc)}) + "\n")
            continue
        _print_result(result, args.top_k, args.json, sys.stdout)
        sys.stdout.flush()
    return EXIT_BAD_INPUT if failures else EXIT_OK


def cmd_answer(args: argparse.Namespace) -> int:
    from bot.knowledge.answer import answer_question
    from bot.knowledge.search import QueryError, clean_query

    try:
        query = clean_query(args.query)
    except QueryError as exc:
        raise CliError(f"bad query: {exc}") from None
    reply = answer_question(query, _open_searcher(args.index_dir))
    if args.json:
        print(json.dumps(reply.to_json(), ensure_ascii=False))
    else:
        print(f"[{reply.decision}]\n{reply.text}")
        for button in reply.buttons:
            print(f"  [{button.title}] -> {button.payload}")
    return EXIT_OK


def _dev_set(path: Path, searcher: Any) -> list[Any]:
    from bot.knowledge.calibration import DevSetError, read_dev_set

    try:
        return read_dev_set(path, searcher.doc_ids)
    except DevSetError as exc:
        raise CliError(str(exc)) from None


def _rates(rates: dict[str, float]) -> str:
    return "  ".join(f"{rates[d]:7.1%}" for d in ("answer", "clarify", "abstain"))


OUTCOME_HEADER = (
    f"{'':<22}{'right':>7} {'wrong':>7} {'clar+':>7} {'clar-':>7} {'abstain':>7} "
    f"{'refused':>7} | {'right|clar+':>11}"
)


def _outcome_row(label: str, shares: dict[str, float]) -> str:
    from bot.knowledge.calibration import CLARIFY_WITH, OUTCOMES, RIGHT_ANSWER

    cells = " ".join(f"{shares[k]:7.1%}" for k in OUTCOMES)
    either = shares[RIGHT_ANSWER] + shares[CLARIFY_WITH]
    return f"{label:<22}{cells} | {either:11.1%}"


def _print_outcomes(title: str, table: dict[str, Any], by_style: bool = True) -> None:
    """The chat-like outcome table: in-scope outcome shares (clar+ = clarifying buttons with
    the right service, clar- = without it), out-of-scope not answered, must-refuse refused."""
    print(title)
    print(OUTCOME_HEADER)
    shares = table["in_scope"]
    print(_outcome_row(f"in-scope ({shares['n']})", shares))
    if by_style:
        for style, row in table.get("by_style", {}).items():
            print(_outcome_row(f"  {style} ({row['n']})", row))
    oos = table["out_of_scope"]
    if oos["n"]:
        print(f"out-of-scope ({oos['n']}): not answered {oos['not_answered']:.1%}")
    if "must_refuse" in table:
        refuse = table["must_refuse"]
        print(f"must refuse ({refuse['n']}): refused {refuse['refused']:.1%}")


def cmd_eval(args: argparse.Namespace) -> int:
    import hashlib

    from bot.knowledge.calibration import evaluate

    if not args.file.is_file():
        raise CliError(f"{args.file}: file not found")
    searcher = _open_searcher(args.index_dir)
    examples = _dev_set(args.file, searcher)
    report = evaluate(searcher, examples)
    calibration = searcher.calibration.raw if searcher.calibration else None
    digest = hashlib.sha256(args.file.read_bytes()).hexdigest()
    cross_validated = next(
        (
            row["outcomes"]
            for row in (calibration or {}).get("held_out_by_file", {}).values()
            if row.get("sha256") == digest
        ),
        None,
    )
    if args.json:
        if cross_validated is not None:
            report["held_out_outcomes"] = cross_validated
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return EXIT_OK
    n_in = sum(e.doc_id is not None for e in examples)
    print(f"{args.file}: {n_in} in-scope, {len(examples) - n_in} out-of-scope queries")
    print(f"fusion: {json.dumps(report['fusion'])}")
    print(
        f"{'mode':<7} {'R@1':>6} {'R@5':>6} {'MRR':>6} | in-scope  answer  clarify  abstain"
        f" | out-of-scope  answer  clarify  abstain"
    )
    for mode, row in report["modes"].items():
        r = row["retrieval"]
        d = row["decisions"]
        print(
            f"{mode:<7} {r['R@1']:6.3f} {r['R@5']:6.3f} {r['MRR']:6.3f} |          "
            f"{_rates(d['in_scope'])} |              {_rates(d['out_of_scope'])}"
        )
    print()
    _print_outcomes(
        "Through the chat (refusal and not-covered checks, then the hybrid decision):",
        report["modes"]["hybrid"]["outcomes"],
    )
    if cross_validated is not None:
        folds = calibration["cross_validation"]["folds"] if calibration else "k"
        print()
        _print_outcomes(
            f"This file took part in the calibration; its questions held out in {folds}-fold "
            "cross-validation:",
            cross_validated,
        )
    if args.misses:
        for miss in report["hybrid_misses"]:
            print(f"  miss (rank {miss['rank']}): {miss['doc_id']}: {miss['query']}")
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    from bot.knowledge.calibration import DevSetError, calibrate, write_calibration
    from bot.knowledge.decision import DEFAULT_CALIBRATION_PATH

    for path in args.file:
        if not path.is_file():
            raise CliError(f"{path}: file not found")
    searcher = _open_searcher(args.index_dir, calibration=None)
    examples = [example for path in args.file for example in _dev_set(path, searcher)]
    try:
        data = calibrate(searcher, examples, args.file)
    except DevSetError as exc:
        raise CliError(str(exc)) from None
    path = write_calibration(data, args.output or DEFAULT_CALIBRATION_PATH)
    compared = data["fusion"]["compared"]
    print(f"wrote {path}")
    for method, row in compared.items():
        cv = row["cv"]
        print(
            f"fusion {method:<8} held-out R@1 {cv['R@1']:.3f}  R@5 {cv['R@5']:.3f}  "
            f"MRR {cv['MRR']:.3f}  (fitted {json.dumps(row['fitted'])})"
        )
    print(f"kept: {json.dumps(data['fusion']['chosen'])}")
    folds = data["cross_validation"]["folds"]
    print(f"decision, held out in {folds}-fold cross-validation (all files):")
    for mode, row in data["report"].items():
        h = row["held_out"]
        print(
            f"{mode:<7} mean cost {row['held_out_mean_cost']:.3f} | in-scope "
            f"{_rates(h['in_scope'])} | out-of-scope {_rates(h['out_of_scope'])}"
        )
    for source, row in data["held_out_by_file"].items():
        print()
        _print_outcomes(f"{source}, held out (hybrid, as the chat shows it):", row["outcomes"])
    return EXIT_OK


COMMANDS = {
    "build": cmd_build,
    "model": cmd_model,
    "search": cmd_search,
    "answer": cmd_answer,
    "eval": cmd_eval,
    "calibrate": cmd_calibrate,
}


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return EXIT_OK
    except (OSError, MemoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
