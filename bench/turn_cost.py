"""Where a conversation turn's time goes inside the Rasa server: greeting vs policy question.

    .venv/bin/python bench/turn_cost.py                  # the model in models/
    .venv/bin/python bench/turn_cost.py --rasa-model /tmp/models/other.tar.gz --no-write

The Rasa server is one process (one Sanic worker: the in-memory lock store allows no more), so
the time it spends on a turn bounds the conversation throughput (bench/load.py). This loads the
trained model into Rasa's ``Agent`` in the Rasa environment and sends it the turns bench/load.py
sends, one at a time (Rasa's own message handling, without HTTP and the REST channel), against
a real action server started on a free port with a scratch database; a new conversation every
few messages. It adds up the CPU and wall time spent in each phase by wrapping Rasa's own
methods (so it is tied to Rasa 3.6). CPU time hardly moves when other work shares the cores,
unlike throughput. Results replace the "Where a turn's time goes" section of
docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DOC_START = "<!-- bench/turn_cost.py: start -->"
DOC_END = "<!-- bench/turn_cost.py: end -->"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
KINDS = ("greeting", "policy")
# Phase label -> (module, class, method) wrapped inside the Rasa process; nested phases are
# part of their parents (the featurizer and DIET of "NLU", TED of "dialogue policies" …).
PHASES: dict[str, tuple[str, str, str]] = {
    "NLU (parse the message)": ("rasa.core.processor", "MessageProcessor", "parse_message"),
    "· sentence featurizer": (
        "rasa_components.sentence_featurizer",
        "SentenceEncoderFeaturizer",
        "process",
    ),
    "· DIET intent classifier": (
        "rasa.nlu.classifiers.diet_classifier",
        "DIETClassifier",
        "process",
    ),
    "dialogue: predictions and actions": (
        "rasa.core.processor",
        "MessageProcessor",
        "_run_prediction_loop",
    ),
    "· TED policy": ("rasa.core.policies.ted_policy", "TEDPolicy", "predict_action_probabilities"),
    "· rule + memoization policies": (
        "rasa.core.policies.rule_policy",
        "RulePolicy",
        "predict_action_probabilities",
    ),
    "· custom action call (Rasa's side)": ("rasa.core.actions.action", "RemoteAction", "run"),
    "tracker store: save": ("rasa.core.tracker_store", "SQLTrackerStore", "save"),
    "tracker store: load": ("rasa.core.tracker_store", "SQLTrackerStore", "retrieve"),
}


# ----------------------------------------------------------------------- inside the Rasa env


def _wrap(spent: dict[str, list[float]], label: str, module: str, cls: str, method: str) -> None:
    import functools
    import importlib
    import inspect

    owner = getattr(importlib.import_module(module), cls)
    original = getattr(owner, method)
    totals = spent.setdefault(label, [0.0, 0.0])

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                totals[0] += time.process_time() - cpu
                totals[1] += time.perf_counter() - wall

    else:

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[0] += time.process_time() - cpu
                totals[1] += time.perf_counter() - wall

    setattr(owner, method, timed)


async def _measure_in_rasa(model: str, action_url: str, tracker_db: str, messages: int) -> dict:
    import logging
    import uuid

    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.endpoints import EndpointConfig
    from rasa.utils.log_utils import configure_structlog
    from rasa.utils.tensorflow.environment import setup_tf_environment

    from bench.turns import GREETINGS, POLICY_QUESTIONS, TURNS_PER_CONVERSATION
    from bot.service_auth import ACTION_TOKEN_ENV, ACTION_TOKEN_HEADER
    from rasa_components.serve import tune_sqlite_connections

    # What `python -m rasa_components.serve` does before the model loads.
    setup_tf_environment()
    tune_sqlite_connections()
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    spent: dict[str, list[float]] = {}
    for label, (module, cls, method) in PHASES.items():
        _wrap(spent, label, module, cls, method)
    _wrap(
        spent,
        "· rule + memoization policies",
        "rasa.core.policies.memoization",
        "MemoizationPolicy",
        "predict_action_probabilities",
    )
    endpoints = AvailableEndpoints(
        action=EndpointConfig(
            action_url, headers={ACTION_TOKEN_HEADER: os.environ.get(ACTION_TOKEN_ENV, "")}
        ),
        tracker_store=EndpointConfig(type="SQL", dialect="sqlite", db=tracker_db),
    )
    agent = await load_agent(model_path=model, endpoints=endpoints)
    texts = {"greeting": GREETINGS, "policy": POLICY_QUESTIONS}

    async def run(kind: str, count: int) -> None:
        sender = ""
        for i in range(count):
            if i % TURNS_PER_CONVERSATION == 0:
                sender = f"cost-{uuid.uuid4().hex}"
            output = CollectingOutputChannel()
            await agent.handle_message(
                UserMessage(texts[kind][i % len(texts[kind])], output, sender)
            )
            if not output.messages:
                raise RuntimeError(f"no reply to a {kind} turn")

    for kind in KINDS:  # warm-up: every code path loaded and traced
        await run(kind, 2 * TURNS_PER_CONVERSATION)
    result: dict[str, dict] = {kind: {"messages": 0, "phases": {}} for kind in KINDS}
    for _ in range(2):  # two rounds, the kinds taking turns
        for kind in KINDS:
            for totals in spent.values():
                totals[0] = totals[1] = 0.0
            cpu, wall = time.process_time(), time.perf_counter()
            await run(kind, messages // 2)
            phases = result[kind]["phases"]
            whole = phases.setdefault("whole turn", [0.0, 0.0])
            whole[0] += time.process_time() - cpu
            whole[1] += time.perf_counter() - wall
            for label, (cpu_s, wall_s) in spent.items():
                phase = phases.setdefault(label, [0.0, 0.0])
                phase[0] += cpu_s
                phase[1] += wall_s
            result[kind]["messages"] += messages // 2
    return {"kinds": result, "load_avg": os.getloadavg()[0]}


# ------------------------------------------------------------------------- the bench's side


def start_action_server(root: Path):  # type: ignore[no-untyped-def]
    from bot.services import Stack, free_port, stack_services
    from bot.settings import Settings

    values = {
        "ZHIXUN_ACTION_PORT": str(free_port()),
        "ZHIXUN_ACTION_SERVER_TOKEN": secrets.token_urlsafe(32),
        "ZHIXUN_DATABASE_URL": f"sqlite:///{root / 'zhixun.db'}",
        "ZHIXUN_RASA_TRACKER_DB": str(root / "unused_rasa_tracker.db"),
        "ZHIXUN_RUN_DIR": str(root / "run"),
    }
    env = {**os.environ, **values}
    settings = Settings(
        _env_file=None, **{k.removeprefix("ZHIXUN_").lower(): v for k, v in values.items()}
    )
    subprocess.run([sys.executable, "-m", "bot.store", "upgrade"], cwd=ROOT, env=env, check=True)
    action_server = next(s for s in stack_services(settings) if s.name == "action server")
    stack = Stack([action_server], env, root / "logs")
    stack.start()
    return settings, env, stack


def render(result: dict, command: str, model: str) -> str:
    kinds = result["kinds"]
    per_message = {
        kind: {
            label: (1000 * cpu / kinds[kind]["messages"], 1000 * wall / kinds[kind]["messages"])
            for label, (cpu, wall) in kinds[kind]["phases"].items()
        }
        for kind in KINDS
    }
    labels = ["whole turn", *PHASES]
    lines = [
        DOC_START,
        "### Where a turn's time goes inside the Rasa server (bench/turn_cost.py)",
        "",
        f"Command: `{command}`  ",
        f"Model: `{model}`. Machine: {os.cpu_count()} cores, Python "
        f"{platform.python_version()} (bench), {time.strftime('%Y-%m-%d')}, 1-minute load "
        f"average {result['load_avg']:.1f}. Rasa's message handling in-process, one message at "
        f"a time, {kinds['greeting']['messages']} messages per kind; milliseconds per message. "
        "Indented phases are part of the one above. Wall time above CPU time is waiting: on the "
        "action server for the custom action call (Rasa serves other turns meanwhile), on the "
        "disk for the tracker store (Rasa's event loop waits too).",
        "",
        "| phase | greeting CPU | policy question CPU | difference | greeting wall | "
        "policy question wall |",
        "|---|---|---|---|---|---|",
    ]
    for label in labels:
        (g_cpu, g_wall), (p_cpu, p_wall) = (
            per_message[kind].get(label, (0.0, 0.0)) for kind in KINDS
        )
        name = f"**{label}**" if label == "whole turn" else label
        lines.append(
            f"| {name} | {g_cpu:.1f} | {p_cpu:.1f} | {p_cpu - g_cpu:+.1f} | {g_wall:.1f} | "
            f"{p_wall:.1f} |"
        )
    lines += ["", DOC_END]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rasa-model", type=Path, default=ROOT / "models" / "zhixun.tar.gz")
    parser.add_argument("--messages", type=int, default=80, help="per kind")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    parser.add_argument(
        "--inside-rasa",
        nargs=3,
        metavar=("ACTION_URL", "TRACKER_DB", "OUT"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    model = str(args.rasa_model.resolve())
    if args.inside_rasa:
        action_url, tracker_db, out = args.inside_rasa
        result = asyncio.run(_measure_in_rasa(model, action_url, tracker_db, args.messages))
        Path(out).write_text(json.dumps(result), encoding="utf-8")
        return 0

    from bench.performance_doc import replace_section
    from bot.services import RASA_WARNING_FILTERS

    root = Path(tempfile.mkdtemp(prefix="zhixun-turn-cost-"))
    settings, env, stack = start_action_server(root)
    try:
        subprocess.run(
            [
                str(RASA_PYTHON),
                str(Path(__file__).resolve()),
                "--rasa-model",
                model,
                "--messages",
                str(args.messages),
                "--inside-rasa",
                f"http://{settings.host}:{settings.action_port}/webhook",
                str(root / "rasa_tracker.db"),
                str(root / "result.json"),
            ],
            cwd=ROOT,
            env={
                **env,
                "PYTHONPATH": str(ROOT),
                "OMP_NUM_THREADS": "1",  # as bot.services runs Rasa
                "RASA_TELEMETRY_ENABLED": "false",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "PYTHONWARNINGS": RASA_WARNING_FILTERS,
            },
            check=True,
        )
    finally:
        stack.stop()
    result = json.loads((root / "result.json").read_text(encoding="utf-8"))
    command = "python bench/turn_cost.py " + " ".join(sys.argv[1:])
    section = render(result, command.strip(), args.rasa_model.name)
    print(section)
    if not args.no_write:
        replace_section(DOC_START, DOC_END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
