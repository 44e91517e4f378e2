"""Closed-loop load through Rasa's REST channel: greeting vs policy question vs status turn.

    .venv/bin/python bench/load.py                         # starts its own stack on free ports
    .venv/bin/python bench/load.py --rasa-url http://127.0.0.1:5005 --no-write

For each concurrency (1, 8, 32 by default) and each turn kind, that many simulated citizens send
messages back to back for ``--seconds``; each starts a new conversation every few messages so
trackers stay realistic. Reported per kind: messages per second, p50/p95/p99 latency, errors and
the ratio of its msg/s to the greeting's in the same run (the machine is noisy, so only
ratios measured together mean much). Results replace the "Conversation load" section of
docs/performance.md.
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
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from bench.performance_doc import replace_section  # noqa: E402

DOC_START = "<!-- bench/load.py: start -->"
DOC_END = "<!-- bench/load.py: end -->"
TURNS_PER_CONVERSATION = 4

GREETINGS = ("你好", "您好", "在吗", "你好呀")
POLICY_QUESTIONS = (
    "居住证怎么办理",
    "社保卡丢了去哪里补办",
    "我家老人八十多了每个月的高龄津贴怎么领",
    "异地就医备案需要什么材料",
    "低保申请要满足什么条件",
    "公积金提取要多长时间到账",
    "孩子刚出生怎么上户口",
    "开个小饭馆要办什么许可证",
    "失业金能领多久",
    "无犯罪记录证明在哪里开",
    "退伍军人优待证怎么申请",
    "个税专项附加扣除在哪里填",
)
STATUS_TURNS = (("查一下YX20261030001的进度", "5173"),)


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


# What one simulated citizen sends, over and over: each item is one exchange (one or more
# messages; a status check is the number, then the phone tail).
KINDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "greeting": tuple((greeting,) for greeting in GREETINGS),
    "policy": tuple((question,) for question in POLICY_QUESTIONS),
    "status": STATUS_TURNS,
}


async def citizen(
    client: httpx.AsyncClient,
    url: str,
    exchanges: tuple[tuple[str, ...], ...],
    deadline: float,
    out: Samples,
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


async def measure(rasa_url: str, kind: str, concurrency: int, seconds: float) -> dict[str, float]:
    url = rasa_url.rstrip("/") + "/webhooks/rest/webhook"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    samples = Samples()
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        # Warm-up: every code path loaded before the clock starts.
        await citizen(client, url, KINDS[kind], time.perf_counter() + 1.0, Samples())
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(citizen(client, url, KINDS[kind], deadline, samples) for _ in range(concurrency))
        )
        elapsed = time.perf_counter() - started
    ms = np.array(samples.latencies or [float("nan")]) * 1000
    return {
        "msg_per_s": len(samples.latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "errors": samples.errors,
        "n": len(samples.latencies),
    }


def run_all(rasa_url: str, concurrencies: list[int], seconds: float) -> dict[int, dict]:
    results: dict[int, dict] = {}
    for concurrency in concurrencies:
        row = {}
        for kind in KINDS:
            row[kind] = asyncio.run(measure(rasa_url, kind, concurrency, seconds))
            r = row[kind]
            print(
                f"c={concurrency:<3} {kind:9} {r['msg_per_s']:6.1f} msg/s  p50 {r['p50_ms']:6.0f}"
                f"  p95 {r['p95_ms']:6.0f}  p99 {r['p99_ms']:6.0f} ms  errors {r['errors']}",
                flush=True,
            )
        results[concurrency] = row
    return results


def render(results: dict[int, dict], seconds: float, command: str) -> str:
    lines = [
        DOC_START,
        "## Conversation load through Rasa's REST channel (bench/load.py)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; client, Rasa server, action server on the same cores. "
        f"Closed loop, {seconds:.0f} s per cell, a new conversation every "
        f"{TURNS_PER_CONVERSATION} messages. Ratio: the kind's msg/s over the greeting's at "
        "the same concurrency in the same run.",
        "",
        "| concurrency | turn | msg/s | ratio to greeting | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for concurrency, row in results.items():
        greeting = row["greeting"]["msg_per_s"] or float("nan")
        for kind, r in row.items():
            lines.append(
                f"| {concurrency} | {kind} | {r['msg_per_s']:.1f} | "
                f"{r['msg_per_s'] / greeting:.2f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
                f"{r['p99_ms']:.0f} | {r['errors']} |"
            )
    lines += ["", DOC_END]
    return "\n".join(lines)


def start_own_stack(root: Path):  # type: ignore[no-untyped-def]
    from bot.services import start_scratch_stack

    # Status checks from one bench client would otherwise trip the per-number cool-down.
    settings, _, stack = start_scratch_stack(
        root, {"ZHIXUN_STATUS_MAX_FAILURES_PER_APPLICATION": "1000000"}
    )
    return settings, stack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rasa-url", help="a running Rasa server; default: start a stack")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    command = "python bench/load.py " + " ".join(sys.argv[1:])
    stack = None
    try:
        if args.rasa_url:
            rasa_url = args.rasa_url
        else:
            settings, stack = start_own_stack(Path(tempfile.mkdtemp(prefix="zhixun-load-")))
            rasa_url = f"http://127.0.0.1:{settings.rasa_port}"
        results = run_all(rasa_url, concurrencies, args.seconds)
    finally:
        if stack is not None:
            stack.stop()
    section = render(results, args.seconds, command.strip())
    print(section)
    if not args.no_write:
        replace_section(DOC_START, DOC_END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
