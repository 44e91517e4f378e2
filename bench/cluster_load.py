"""Closed-loop load through a cluster's balancer (issue 12): 1 instance of every service vs 2.

    .venv/bin/python bench/cluster_load.py                       # 1 and 2 instances, c=8,32,64
    .venv/bin/python bench/cluster_load.py --instances 2 --concurrency 8 --seconds 10 --no-write

Each run starts its own scratch cluster (bot/cluster/scratch.py: PostgreSQL databases that are
dropped afterwards, a scratch Redis, HAProxy) and sends, through the balancer's REST channel, a
realistic mix: simulated citizens pick greetings, policy questions, status checks (number, then
the phone tail) and now and then a request for a person (which ends that conversation: it goes
to the staff queue). Reported per instance count and concurrency: messages per second, p50/p95/
p99 latency, errors (anything but an answer), "please retry" answers, and the resident memory
of each kind of process after the load. Results replace the "Scale-out" section of
docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from bench.performance_doc import replace_section  # noqa: E402
from bench.turns import GREETINGS, POLICY_QUESTIONS, STATUS_TURNS  # noqa: E402

DOC_START = "<!-- bench/cluster_load.py: start -->"
DOC_END = "<!-- bench/cluster_load.py: end -->"
HANDOFF = ("转人工",)
# What a citizen's next exchange is, with its weight in the mix.
MIX: tuple[tuple[str, float], ...] = (
    ("greeting", 0.25),
    ("policy", 0.45),
    ("status", 0.25),
    ("handoff", 0.05),
)
EXCHANGES_PER_CONVERSATION = 4


def exchange(kind: str, rng: random.Random) -> tuple[str, ...]:
    if kind == "greeting":
        return (rng.choice(GREETINGS),)
    if kind == "policy":
        return (rng.choice(POLICY_QUESTIONS),)
    if kind == "status":
        return rng.choice(STATUS_TURNS)
    return HANDOFF


@dataclass
class Cell:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    retry_answers: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        ms = np.array(self.latencies or [float("nan")]) * 1000
        return {
            "msg_per_s": len(self.latencies) / self.seconds if self.seconds else float("nan"),
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)),
            "errors": self.errors,
            "retry": self.retry_answers,
            "n": len(self.latencies),
        }


async def citizen(
    client: httpx.AsyncClient, url: str, deadline: float, seed: int, out: Cell
) -> None:
    rng = random.Random(seed)
    kinds, weights = zip(*MIX, strict=True)
    while time.perf_counter() < deadline:
        sender = f"cluster-load-{uuid.uuid4().hex}"
        for _ in range(EXCHANGES_PER_CONVERSATION):
            kind = rng.choices(kinds, weights)[0]
            for message in exchange(kind, rng):
                started = time.perf_counter()
                try:
                    response = await client.post(url, json={"sender": sender, "message": message})
                    if response.status_code in (502, 503, 504):
                        out.retry_answers += 1
                    response.raise_for_status()
                    if not response.json():
                        raise ValueError("no reply")
                    out.latencies.append(time.perf_counter() - started)
                except (httpx.HTTPError, ValueError):
                    out.errors += 1
            if kind == "handoff" or time.perf_counter() >= deadline:
                break  # staff have this conversation now


async def measure(url: str, concurrency: int, seconds: float) -> Cell:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    out = Cell()
    async with httpx.AsyncClient(timeout=180, limits=limits) as client:
        await citizen(client, url, time.perf_counter() + 2.0, -1, Cell())  # warm-up
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(citizen(client, url, deadline, seed, out) for seed in range(concurrency))
        )
        out.seconds = time.perf_counter() - started
    return out


def group_rss_mb(group: int) -> float:
    """Resident memory of the live processes in a process group (a service and its workers)."""
    kib = 0
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(status.read_text().rsplit(")", 1)[1].split()[2]) != group:
                continue
            for line in (status.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    kib += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return kib / 1024


def memory_by_kind(cluster) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Largest RSS (MB) of any one process of each kind: rasa, action, web, haproxy, redis."""
    sizes: dict[str, float] = {}
    for name, process in cluster.processes.items():
        kind = name.split("-", 1)[0]
        sizes[kind] = max(sizes.get(kind, 0.0), group_rss_mb(process.pid))
    return sizes


def run_instances(
    instances: int, concurrencies: list[int], seconds: float
) -> tuple[dict[int, dict[str, float]], dict[str, float]]:
    from bot.cluster.scratch import start_scratch_cluster

    scratch = start_scratch_cluster(
        Path(tempfile.mkdtemp(prefix="zhixun-cluster-load-")),
        instances,
        {"ZHIXUN_WORKING_HOURS": "mon-sun 00:00-24:00", "ZHIXUN_HOLIDAYS": ""},
    )
    results: dict[int, dict[str, float]] = {}
    try:
        for concurrency in concurrencies:
            cell = asyncio.run(measure(scratch.rest_url, concurrency, seconds))
            results[concurrency] = r = cell.summary()
            print(
                f"instances={instances} c={concurrency:<3} {r['msg_per_s']:6.1f} msg/s  "
                f"p50 {r['p50_ms']:6.0f}  p95 {r['p95_ms']:6.0f}  p99 {r['p99_ms']:6.0f} ms  "
                f"errors {r['errors']}  retry {r['retry']}  load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        memory = memory_by_kind(scratch.cluster)
    finally:
        scratch.close()
    return results, memory


def render(
    runs: dict[int, tuple[dict[int, dict[str, float]], dict[str, float]]],
    seconds: float,
    command: str,
) -> str:
    cores = os.cpu_count()
    mix = ", ".join(f"{kind} {weight:.0%}" for kind, weight in MIX)
    lines = [
        DOC_START,
        "## Scale-out: load through the balancer (bench/cluster_load.py)",
        "",
        f"Command: `{command}`  ",
        f"Machine: **{cores} cores**, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; the bench client, HAProxy, PostgreSQL, Redis and every "
        f"service share the same {cores} cores. Closed loop through HAProxy's REST port, "
        f"{seconds:.0f} s per cell, each citizen a new conversation every "
        f"{EXCHANGES_PER_CONVERSATION} exchanges or after asking for a person; mix: {mix} "
        "(a status check is two messages). Errors: anything but an answer; retry: the "
        'balancer\'s JSON "please retry".',
        "",
        "| instances | concurrency | cores | msg/s | p50 ms | p95 ms | p99 ms | errors | retry |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for instances, (results, _) in runs.items():
        for concurrency, r in results.items():
            lines.append(
                f"| {instances} | {concurrency} | {cores} | {r['msg_per_s']:.1f} | "
                f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {r['errors']} | "
                f"{r['retry']} |"
            )
    lines += [
        "",
        "Resident memory after the load, MB, the largest process of each kind (with its workers):",
        "",
        "| instances | " + " | ".join(sorted(next(iter(runs.values()))[1])) + " |",
        "|---|" + "---|" * len(next(iter(runs.values()))[1]),
    ]
    for instances, (_, memory) in runs.items():
        lines.append(
            f"| {instances} | " + " | ".join(f"{memory[k]:.0f}" for k in sorted(memory)) + " |"
        )
    lines += ["", DOC_END]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", default="1,2", help="instance counts, e.g. 1,2")
    parser.add_argument("--concurrency", default="8,32,64")
    parser.add_argument("--seconds", type=float, default=20.0, help="per cell")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args()
    try:
        counts = [int(c) for c in args.instances.split(",")]
        concurrencies = [int(c) for c in args.concurrency.split(",")]
    except ValueError:
        parser.error("--instances and --concurrency take comma-separated whole numbers")
    if not all(1 <= c <= 4 for c in counts) or not all(1 <= c <= 512 for c in concurrencies):
        parser.error("instances 1 to 4, concurrency 1 to 512")
    runs = {n: run_instances(n, concurrencies, args.seconds) for n in counts}
    section = render(runs, args.seconds, "python bench/cluster_load.py " + " ".join(sys.argv[1:]))
    print(section)
    if not args.no_write:
        replace_section(DOC_START, DOC_END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
