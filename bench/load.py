"""Closed-loop load through Rasa's REST channel: greeting vs policy question vs status turn.

    .venv/bin/python bench/load.py                         # starts its own stack on free ports
    .venv/bin/python bench/load.py --rasa-model /tmp/models --no-write   # another trained model
    .venv/bin/python bench/load.py --rasa-url http://127.0.0.1:5005 --no-write

For each concurrency (1, 8, 32 by default) and each turn kind, that many simulated citizens send
messages back to back; each starts a new conversation every few messages so trackers stay
realistic. The kinds take turns in ``--rounds`` short rounds, so a burst of other work on the
machine falls on all of them alike. Reported per kind: messages per second, p50/p95/p99 latency,
errors, the ratio of its msg/s to the greeting's in the same run, the machine's load average,
and, when the bench started the stack itself, the CPU time each service spent per message (from
/proc: unlike msg/s, it hardly moves when other work shares the cores). Results replace the
"Conversation load" section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from bench.performance_doc import replace_section  # noqa: E402
from bench.turns import (  # noqa: E402
    GREETINGS,
    POLICY_QUESTIONS,
    STATUS_TURNS,
    TURNS_PER_CONVERSATION,
)

DOC_START = "<!-- bench/load.py: start -->"
DOC_END = "<!-- bench/load.py: end -->"
# Issue 13: a policy question at least this fraction of the greeting's msg/s at concurrency 8,
# with its p95 under this many milliseconds.
TARGET_CONCURRENCY = 8
TARGET_RATIO = 0.8
TARGET_P95_MS = 1000.0


# What one simulated citizen sends, over and over: each item is one exchange (one or more
# messages; a status check is the number, then the phone tail).
KINDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "greeting": tuple((greeting,) for greeting in GREETINGS),
    "policy": tuple((question,) for question in POLICY_QUESTIONS),
    "status": STATUS_TURNS,
}

CpuProbe = Callable[[], dict[str, float]]


@dataclass
class Cell:
    """One kind at one concurrency, summed over its rounds."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    load_averages: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        ms = np.array(self.latencies or [float("nan")]) * 1000
        n = len(self.latencies)
        return {
            "msg_per_s": n / self.seconds if self.seconds else float("nan"),
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)),
            "errors": self.errors,
            "n": n,
            "load_avg": max(self.load_averages, default=float("nan")),
            **{
                f"cpu_ms:{name}": 1000 * s / n if n else float("nan")
                for name, s in self.cpu_seconds.items()
            },
        }


async def citizen(
    client: httpx.AsyncClient,
    url: str,
    exchanges: tuple[tuple[str, ...], ...],
    deadline: float,
    out: Cell,
) -> None:
    turns = itertools.cycle(exchanges)
    sent = 0
    sender = f"load-{uuid.uuid4().hex}"
    while time.perf_counter() < deadline:
        for message in next(turns):
            if sent and sent % TURNS_PER_CONVERSATION == 0:
                sender = f"load-{uuid.uuid4().hex}"
            started = time.perf_counter()
            try:
                response = await client.post(url, json={"sender": sender, "message": message})
                response.raise_for_status()
                if not response.json():
                    raise ValueError("no reply")
                out.latencies.append(time.perf_counter() - started)
            except (httpx.HTTPError, ValueError):
                out.errors += 1
            sent += 1


async def measure_round(
    rasa_url: str, kind: str, concurrency: int, seconds: float, cpu: CpuProbe, out: Cell
) -> None:
    url = rasa_url.rstrip("/") + "/webhooks/rest/webhook"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        # Warm-up: every code path loaded before the clock starts.
        await citizen(client, url, KINDS[kind], time.perf_counter() + 1.0, Cell())
        cpu_before = cpu()
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(citizen(client, url, KINDS[kind], deadline, out) for _ in range(concurrency))
        )
        out.seconds += time.perf_counter() - started
        for name, spent in cpu().items():
            out.cpu_seconds[name] = out.cpu_seconds.get(name, 0.0) + spent - cpu_before[name]
    out.load_averages.append(os.getloadavg()[0])


def run_all(
    rasa_url: str, concurrencies: list[int], seconds: float, rounds: int, cpu: CpuProbe
) -> dict[int, dict[str, dict[str, float]]]:
    results: dict[int, dict[str, dict[str, float]]] = {}
    for concurrency in concurrencies:
        cells = {kind: Cell() for kind in KINDS}
        for _ in range(rounds):
            for kind, cell in cells.items():
                asyncio.run(measure_round(rasa_url, kind, concurrency, seconds / rounds, cpu, cell))
        results[concurrency] = {kind: cell.summary() for kind, cell in cells.items()}
        for kind, r in results[concurrency].items():
            cpu_text = "  ".join(
                f"{key.split(':', 1)[1]} {value:.0f}"
                for key, value in r.items()
                if key.startswith("cpu_ms:")
            )
            print(
                f"c={concurrency:<3} {kind:9} {r['msg_per_s']:6.1f} msg/s  p50 {r['p50_ms']:6.0f}"
                f"  p95 {r['p95_ms']:6.0f}  p99 {r['p99_ms']:6.0f} ms  errors {r['errors']}"
                f"  load {r['load_avg']:.1f}  CPU ms/msg: {cpu_text or '-'}",
                flush=True,
            )
    return results


def _verdict(results: dict[int, dict[str, dict[str, float]]]) -> str:
    row = results.get(TARGET_CONCURRENCY)
    if row is None:
        return ""
    policy = row["policy"]
    ratio = policy["msg_per_s"] / row["greeting"]["msg_per_s"]
    met = ratio >= TARGET_RATIO and policy["p95_ms"] < TARGET_P95_MS
    return (
        f"Target (issue 13): at concurrency {TARGET_CONCURRENCY} a policy question at ≥ "
        f"{TARGET_RATIO}× the greeting's msg/s with p95 < {TARGET_P95_MS / 1000:.0f} s. "
        f"This run: {ratio:.2f}×, p95 {policy['p95_ms'] / 1000:.2f} s: "
        f"**{'met' if met else 'not met'}**."
    )


def render(
    results: dict[int, dict[str, dict[str, float]]], seconds: float, rounds: int, command: str
) -> str:
    services = sorted(
        {
            key.split(":", 1)[1]
            for row in results.values()
            for r in row.values()
            for key in r
            if key.startswith("cpu_ms:")
        }
    )
    cpu_header = "".join(f" {name} CPU ms/msg |" for name in services)
    lines = [
        DOC_START,
        "## Conversation load through Rasa's REST channel (bench/load.py)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; client, Rasa server, action server on the same cores. "
        f"Closed loop, {seconds:.0f} s per cell in {rounds} round(s) that take turns between "
        f"the kinds, a new conversation every {TURNS_PER_CONVERSATION} messages. Ratio: the "
        "kind's msg/s over the greeting's at the same concurrency in the same run. Load: the "
        "machine's highest 1-minute load average after the cell's rounds (above 2, other work "
        "was competing for the cores). CPU ms/msg: CPU time of each service's processes over "
        "the cell, per message answered; the Rasa server is one process, so its figure bounds "
        "the msg/s.",
        "",
        "| concurrency | turn | msg/s | ratio to greeting | p50 ms | p95 ms | p99 ms | errors "
        f"| load |{cpu_header}",
        "|---|---|---|---|---|---|---|---|---|" + "---|" * len(services),
    ]
    for concurrency, row in results.items():
        greeting = row["greeting"]["msg_per_s"] or float("nan")
        for kind, r in row.items():
            cpu_cells = "".join(
                f" {r.get(f'cpu_ms:{name}', float('nan')):.0f} |" for name in services
            )
            lines.append(
                f"| {concurrency} | {kind} | {r['msg_per_s']:.1f} | "
                f"{r['msg_per_s'] / greeting:.2f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
                f"{r['p99_ms']:.0f} | {r['errors']} | {r['load_avg']:.1f} |{cpu_cells}"
            )
    verdict = _verdict(results)
    lines += ["", *([verdict, ""] if verdict else []), DOC_END]
    return "\n".join(lines)


def process_group_cpu_seconds(group: int) -> float:
    """User + system CPU time of the live processes in a process group (a service started in
    its own session: the server and any worker it forks)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # After the command name (which may hold spaces): state, ppid, pgrp, …, utime, stime.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def start_own_stack(root: Path, rasa_model: Path | None):  # type: ignore[no-untyped-def]
    from bot.services import start_scratch_stack

    # Status checks from one bench client would otherwise trip the per-number cool-down.
    overrides = {"ZHIXUN_STATUS_MAX_FAILURES_PER_APPLICATION": "1000000"}
    if rasa_model is not None:
        overrides["ZHIXUN_RASA_MODEL_DIR"] = str(rasa_model.resolve())
    settings, _, stack = start_scratch_stack(root, overrides)
    return settings, stack


def stack_cpu_probe(stack) -> CpuProbe:  # type: ignore[no-untyped-def]
    groups = {
        service.name: process.pid
        for service, process in zip(stack.services, stack.processes, strict=True)
    }
    return lambda: {
        **{name: process_group_cpu_seconds(pid) for name, pid in groups.items()},
        # The simulated citizens (this process) share the same cores.
        "bench client": time.process_time(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rasa-url", help="a running Rasa server; default: start a stack")
    parser.add_argument(
        "--rasa-model", type=Path, help="model file or directory for the bench's own stack"
    )
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=20.0, help="per kind and concurrency")
    parser.add_argument("--rounds", type=int, default=2, help="turns the kinds take per cell")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args()
    if args.rasa_url and args.rasa_model:
        parser.error("--rasa-model applies only to the bench's own stack")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    command = "python bench/load.py " + " ".join(sys.argv[1:])
    stack = None
    try:
        if args.rasa_url:
            rasa_url = args.rasa_url
            cpu: CpuProbe = dict
        else:
            settings, stack = start_own_stack(
                Path(tempfile.mkdtemp(prefix="zhixun-load-")), args.rasa_model
            )
            rasa_url = f"http://127.0.0.1:{settings.rasa_port}"
            cpu = stack_cpu_probe(stack)
        results = run_all(rasa_url, concurrencies, args.seconds, max(1, args.rounds), cpu)
    finally:
        if stack is not None:
            stack.stop()
    section = render(results, args.seconds, max(1, args.rounds), command.strip())
    print(section)
    if not args.no_write:
        replace_section(DOC_START, DOC_END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
