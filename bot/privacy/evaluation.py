"""Precision and recall of the recognizers on a labelled set (``python -m bot.privacy eval``).

A labelled file is JSON Lines: ``{"text": …, "spans": [{"start", "end", "kind"}], "decoys":
[{"start", "end"}]}``. ``spans`` are the personal data in the text; ``decoys`` are look-alikes
that must not be found (order and application numbers, amounts, dates, ID numbers with a wrong
check digit, card numbers failing Luhn). A found span counts only when kind, start and end are
exactly those of a labelled span.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.privacy.core import KINDS, Finding

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_TEXT_CHARS = 10_000


class LabelledSetError(ValueError):
    """The labelled file cannot be read; the message says which line and why."""


@dataclass(frozen=True)
class Example:
    text: str
    spans: frozenset[tuple[str, int, int]]
    decoys: tuple[tuple[int, int], ...]


@dataclass
class KindScore:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        labelled = self.true_positives + self.false_negatives
        return self.true_positives / labelled if labelled else 1.0


@dataclass
class Report:
    by_kind: dict[str, KindScore] = field(default_factory=lambda: {k: KindScore() for k in KINDS})
    decoys: int = 0
    decoys_found: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def overall(self) -> KindScore:
        total = KindScore()
        for score in self.by_kind.values():
            total.true_positives += score.true_positives
            total.false_positives += score.false_positives
            total.false_negatives += score.false_negatives
        return total

    def table(self) -> str:
        lines = [f"{'kind':<10} {'labelled':>8} {'found':>6} {'P':>6} {'R':>6}"]
        for kind, score in [*self.by_kind.items(), ("all", self.overall)]:
            labelled = score.true_positives + score.false_negatives
            found = score.true_positives + score.false_positives
            lines.append(
                f"{kind:<10} {labelled:>8} {found:>6} {score.precision:>6.3f} {score.recall:>6.3f}"
            )
        lines.append(
            f"decoys (look-alikes that must stay): {self.decoys}, found: {self.decoys_found}"
        )
        return "\n".join(lines)


def _span(raw: object, text: str, where: str, *, with_kind: bool) -> tuple[str, int, int]:
    if not isinstance(raw, dict):
        raise LabelledSetError(f"{where}: a span must be an object")
    start, end, kind = raw.get("start"), raw.get("end"), raw.get("kind", "")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise LabelledSetError(f"{where}: start/end must be integers within the text")
    if with_kind and kind not in KINDS:
        raise LabelledSetError(f"{where}: kind must be one of {', '.join(KINDS)}")
    return str(kind), start, end


def parse_line(line: str, number: int) -> Example:
    where = f"line {number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise LabelledSetError(f"{where}: not JSON ({error.msg})") from None
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        raise LabelledSetError(f"{where}: expected an object with a string 'text'")
    text = row["text"]
    if len(text) > MAX_TEXT_CHARS:
        raise LabelledSetError(f"{where}: text longer than {MAX_TEXT_CHARS} characters")
    spans, decoys = row.get("spans", []), row.get("decoys", [])
    if not isinstance(spans, list) or not isinstance(decoys, list):
        raise LabelledSetError(f"{where}: 'spans' and 'decoys' must be lists")
    return Example(
        text,
        frozenset(_span(s, text, where, with_kind=True) for s in spans),
        tuple(_span(d, text, where, with_kind=False)[1:] for d in decoys),
    )


def load_labelled(path: Path) -> list[Example]:
    if not path.is_file():
        raise LabelledSetError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise LabelledSetError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise LabelledSetError(f"{path}: not UTF-8 text") from None
    return [parse_line(line, n) for n, line in enumerate(lines, 1) if line.strip()]


def evaluate(examples: Iterable[Example], finder: Callable[[str], list[Finding]]) -> Report:
    report = Report()
    for example in examples:
        found = {(f.kind, f.start, f.end) for f in finder(example.text)}
        for kind, start, end in found | example.spans:
            score = report.by_kind[kind]
            if (kind, start, end) in found and (kind, start, end) in example.spans:
                score.true_positives += 1
            elif (kind, start, end) in found:
                score.false_positives += 1
                report.errors.append(
                    f"extra {kind} {example.text[start:end]!r} in {example.text!r}"
                )
            else:
                score.false_negatives += 1
                report.errors.append(
                    f"missed {kind} {example.text[start:end]!r} in {example.text!r}"
                )
        for start, end in example.decoys:
            report.decoys += 1
            if any(s < end and start < e for _, s, e in found):
                report.decoys_found += 1
    return report
