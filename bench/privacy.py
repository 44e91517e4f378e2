"""What finding and masking personal data costs per message (it runs on every stored message).

    .venv/bin/python bench/privacy.py

Messages: the NLU training examples (data/nlu, what citizens type; few hold personal data) and
the labelled set (tests/data/privacy/labelled.jsonl, nearly all do). Both engines — the spaCy
pipeline (web app, action server) and the regular-expression engine (Rasa's tracker store and
event broker) — after a warm-up; CPU µs per message (thread time: other work on the machine
does not count), mean and 99th percentile.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bot.privacy import core, pipeline  # noqa: E402
from bot.privacy.core import apply_mask  # noqa: E402

ROUNDS = 5


def nlu_examples() -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    texts.append(line[2:])
    return texts


def labelled() -> list[str]:
    lines = (ROOT / "tests" / "data" / "privacy" / "labelled.jsonl").read_text(encoding="utf-8")
    return [json.loads(line)["text"] for line in lines.splitlines() if line.strip()]


def timings(find: Callable[[str], list[core.Finding]], texts: list[str]) -> list[float]:
    for text in texts:
        apply_mask(text, find(text))  # warm-up (the spaCy pipeline loads here)
    samples: list[float] = []
    for _ in range(ROUNDS):
        for text in texts:
            start = time.thread_time()
            apply_mask(text, find(text))
            samples.append((time.thread_time() - start) * 1e6)
    return samples


def main() -> None:
    sets = {"NLU examples": nlu_examples(), "labelled set": labelled()}
    print("| messages | n | engine | µs/message (mean) | p99 |")
    print("|---|---:|---|---:|---:|")
    for name, texts in sets.items():
        for engine, find in (("spaCy", pipeline.find), ("regex", core.find_with_regex)):
            samples = sorted(timings(find, texts))
            mean, p99 = statistics.fmean(samples), samples[int(len(samples) * 0.99)]
            print(f"| {name} | {len(texts)} | {engine} | {mean:.0f} | {p99:.0f} |")


if __name__ == "__main__":
    main()
