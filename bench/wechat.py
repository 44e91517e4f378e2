"""WeChat passive-reply benchmark: a policy question over ``POST /wechat`` on the real stack.

    .venv/bin/python bench/wechat.py                   # 96 requests at concurrency 8
    .venv/bin/python bench/wechat.py --requests 48 --concurrency 4 --no-docs

Starts the action server, the Rasa server (the trained model in models/) and the web app on
free loopback ports with a throwaway store and WeChat configured (safe mode), and a local fake
of WeChat's server API for any reply that misses the budget. Each request is a distinct
citizen's policy question, signed and encrypted as WeChat does (wechatpy), with its own MsgId;
latency is from sending the request to having the whole answer. A request counts as passive
when the answer came in the response (not ``success`` + a customer-service message). Results
replace the "WeChat passive reply" section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.performance_doc import replace_section  # noqa: E402
from bot.services import start_scratch_stack  # noqa: E402
from tests.channels.fake_wechat import FakeWeChatApi, FakeWeChatServer  # noqa: E402
from tests.channels.peer import (  # noqa: E402
    ACCOUNT,
    AES_KEY,
    APP_ID,
    APP_SECRET,
    TOKEN,
    WeChatPeer,
    new_openid,
    text_xml,
)

DOC_START = "<!-- bench/wechat.py: start -->"
DOC_END = "<!-- bench/wechat.py: end -->"
QUESTIONS = [
    "居住证怎么办理",
    "申请低保需要什么材料",
    "社保卡丢了怎么补办",
    "异地就医备案怎么办",
    "灵活就业人员怎么交社保",
    "新生儿怎么上户口",
    "失业金怎么领",
    "公积金怎么提取",
    "残疾人证在哪里办",
    "老年人优待证怎么申请",
    "临时救助怎么申请",
    "医保卡怎么激活",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--concurrency", default="1,8", help="comma-separated levels")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/performance.md")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    offset = 0
    if not any((ROOT / "models").glob("*.tar.gz")):
        sys.exit("No trained Rasa model in models/: run `make model` first.")

    api = FakeWeChatApi(APP_ID, APP_SECRET)
    fake = FakeWeChatServer(api)
    fake.start()
    root = Path(tempfile.mkdtemp(prefix="zhixun-bench-wechat-"))
    print("starting the stack …", flush=True)
    settings, _, stack = start_scratch_stack(
        root,
        {
            "ZHIXUN_WECHAT_TOKEN": TOKEN,
            "ZHIXUN_WECHAT_APP_ID": APP_ID,
            "ZHIXUN_WECHAT_APP_SECRET": APP_SECRET,
            "ZHIXUN_WECHAT_AES_KEY": AES_KEY,
            "ZHIXUN_WECHAT_ACCOUNT_ID": ACCOUNT,
            "ZHIXUN_WECHAT_API_BASE": fake.url,
        },
    )
    base = f"http://127.0.0.1:{settings.web_port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as warm:
            peer = WeChatPeer(warm)
            for n, question in enumerate(QUESTIONS[:3]):  # load models, warm caches
                peer.read(peer.push(text_xml(new_openid(), question, 10_000 + n), "safe"))

        def one(n: int) -> tuple[float, bool, bool]:
            n += offset
            with httpx.Client(base_url=base, timeout=30) as client:
                peer = WeChatPeer(client)
                xml = text_xml(new_openid(), QUESTIONS[n % len(QUESTIONS)], 20_000 + n)
                started = time.perf_counter()
                reply = peer.read(peer.push(xml, "safe"))
                elapsed = time.perf_counter() - started
                return elapsed, reply is not None, bool(reply and "来源：《" in reply.content)

        load_before = os.getloadavg()[0]
        runs = []
        for level in levels:
            offset = len(runs) * args.requests
            started = time.perf_counter()
            with ThreadPoolExecutor(level) as pool:
                results = list(pool.map(one, range(args.requests)))
            runs.append((level, results, time.perf_counter() - started))
        load_after = os.getloadavg()[0]
    finally:
        stack.stop()
        fake.stop()

    rows = []
    for level, results, wall in runs:
        latencies = [r[0] for r in results]
        rows.append(
            [
                str(args.requests),
                str(level),
                f"{percentile(latencies, 0.5):.2f} s",
                f"**{percentile(latencies, 0.95):.2f} s**",
                f"{max(latencies):.2f} s",
                f"{args.requests / wall:.1f} req/s",
                f"{sum(r[1] for r in results)}/{args.requests}",
                f"{sum(r[2] for r in results)}/{args.requests}",
            ]
        )
    machine = (
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{date.today().isoformat()}. The real stack (Rasa with the trained model, action server "
        "with retrieval, web app) on loopback; safe-mode (AES) requests built with wechatpy, "
        f"each a different citizen asking one of {len(QUESTIONS)} policy questions. "
        f"1-minute load average before / after: {load_before:.1f} / {load_after:.1f}."
    )
    header = [
        "requests",
        "concurrency",
        "p50",
        "p95",
        "max",
        "throughput",
        "passive replies (budget 4.5 s)",
        "answers citing a source",
    ]
    lines = [
        DOC_START,
        "## WeChat passive reply (bench/wechat.py)",
        "",
        "Command: `.venv/bin/python bench/wechat.py "
        f"--requests {args.requests} --concurrency {args.concurrency}`  ",
        machine,
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        "Target: p95 well under WeChat's 4.5 s passive-reply budget. A turn that misses it is "
        "answered with `success` and delivered as a customer-service message instead (not "
        "counted as passive above).",
        DOC_END,
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if not args.no_docs:
        replace_section(DOC_START, DOC_END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
