"""The spaCy pipeline: a blank Chinese pipeline (character segmentation) with one component,
``zhixun_pii``, whose Matcher patterns propose candidates that the core's validators check.

Characters are the tokens (spaCy's ``zh`` default segmenter), so a number inside Chinese text
without spaces ("电话13812345678吧") is found like any other; a single space between digit groups
becomes the preceding token's trailing whitespace, so "138 1234 5678" matches the same eleven
digit tokens as "13812345678", and the validator then checks the grouping against the text.
Text is folded (full-width to half-width) before it reaches the pipeline, offsets unchanged.

Results: ``doc.ents`` (label = kind) and ``doc.user_data["pii"]`` (the core's findings).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import spacy
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span

from bot.privacy import core

COMPONENT = "zhixun_pii"
USER_DATA_KEY = "pii"


def _digits(count: str) -> dict[str, Any]:
    return {"IS_DIGIT": True, "OP": count}


_HYPHEN = {"ORTH": "-", "OP": "?"}
_MOBILE_BODY = [_digits("{3}"), _HYPHEN, _digits("{4}"), _HYPHEN, _digits("{4}")]
_MOBILE_PREFIXES: list[list[dict[str, Any]]] = [
    [],
    [{"ORTH": "8"}, {"ORTH": "6"}, _HYPHEN],
    [{"ORTH": "+"}, {"ORTH": "8"}, {"ORTH": "6"}, _HYPHEN],
    [{"ORTH": "0"}, {"ORTH": "0"}, {"ORTH": "8"}, {"ORTH": "6"}, _HYPHEN],
]
_CARD_GROUP = [_HYPHEN, _digits("{4}")]
_PLATE_CHAR = "^[A-HJ-NP-Za-hj-np-z0-9]$"
# The last character of every road or estate suffix (路, 小区, 大厦 …): the token before a
# house number. The core checks the whole suffix and reads the name and the flat around it.
_ROAD_ENDINGS = sorted({suffix[-1] for suffix in core.ROAD_SUFFIXES.split("|")})

PATTERNS: dict[str, list[list[dict[str, Any]]]] = {
    core.ID_NUMBER: [
        [_digits("{17}"), {"LOWER": {"REGEX": "^[0-9x]$"}}],
        [_digits("{15}")],
    ],
    core.MOBILE: [[*prefix, *_MOBILE_BODY] for prefix in _MOBILE_PREFIXES],
    core.LANDLINE: [
        [
            {"ORTH": "(", "OP": "?"},
            {"ORTH": "0"},
            _digits("{2,3}"),
            {"ORTH": ")", "OP": "?"},
            _HYPHEN,
            _digits("{7,8}"),
        ]
    ],
    core.BANK_CARD: [
        [_digits("{16,19}")],
        [_digits("{4}"), *_CARD_GROUP, *_CARD_GROUP, *_CARD_GROUP, _HYPHEN, _digits("{1,3}")],
        [_digits("{4}"), *_CARD_GROUP, *_CARD_GROUP, *_CARD_GROUP],
    ],
    core.EMAIL: [[{"ORTH": "@"}]],
    core.PLATE: [
        [
            {"ORTH": {"IN": list(core.PLATE_PROVINCES)}},
            {"TEXT": {"REGEX": "^[A-HJ-NP-Za-hj-np-z]$"}},
            {"ORTH": {"IN": ["·", "•", "-"]}, "OP": "?"},
            {"TEXT": {"REGEX": _PLATE_CHAR}, "OP": "{4,5}"},
            {"TEXT": {"REGEX": "^[A-HJ-NP-Za-hj-np-z0-9挂学警港澳]$"}},
        ]
    ],
    core.ADDRESS: [[{"ORTH": {"IN": _ROAD_ENDINGS}}, {"IS_DIGIT": True}]],
}


class PersonalDataRecognizer:
    """Matcher candidates → core validators → the longest non-overlapping findings."""

    def __init__(self, nlp: Language) -> None:
        self.matcher = Matcher(nlp.vocab)
        for kind, patterns in PATTERNS.items():
            self.matcher.add(kind, patterns)

    def __call__(self, doc: Doc) -> Doc:
        text = doc.text
        findings: list[core.Finding] = []
        vocab_strings = doc.vocab.strings
        for match_id, start, end in self.matcher(doc):
            kind = vocab_strings[match_id]
            first = doc[start]
            if kind == core.ADDRESS:
                finding = core.address_at(text, doc[start + 1].idx)
            elif kind == core.EMAIL:
                finding = core.email_at(text, first.idx)
            else:
                last = doc[end - 1]
                finding = core.validate(kind, text, first.idx, last.idx + len(last.text))
            if finding is not None:
                findings.append(finding)
        kept = core.resolve(findings)
        doc.user_data[USER_DATA_KEY] = kept
        doc.ents = [
            span
            for finding in kept
            if (
                span := doc.char_span(
                    finding.start, finding.end, label=finding.kind, alignment_mode="expand"
                )
            )
            is not None
        ]
        return doc


@Language.factory(COMPONENT)
def make_recognizer(nlp: Language, name: str) -> PersonalDataRecognizer:
    return PersonalDataRecognizer(nlp)


@lru_cache(maxsize=1)
def load() -> Language:
    """The pipeline (built once per process: about a tenth of a second)."""
    nlp = spacy.blank("zh")  # segmenter "char": one token per character
    nlp.add_pipe(COMPONENT)
    return nlp


# The Matcher's {16,19}-style quantifiers try every sub-run of a digit run: a run of thousands
# of digits (spaces and hyphens in between count, they are not tokens) costs seconds.
_LONG_DIGIT_RUN = re.compile(r"[0-9](?:[ -]?[0-9]){63}")


def find(text: str) -> list[core.Finding]:
    """Every piece of personal data in ``text``, left to right, never overlapping."""
    folded = core.fold(text)
    if not core.might_hold_personal_data(folded):
        return []
    if _LONG_DIGIT_RUN.search(folded):
        # Same validators, same spans (tests/privacy holds the engines equal), linear time.
        return core.find_with_regex(text)
    doc = load()(folded)
    findings: list[core.Finding] = doc.user_data[USER_DATA_KEY]
    return findings


def entities(text: str) -> list[Span]:
    """The findings as spaCy entity spans (for inspection: ``displacy``, tests)."""
    return list(load()(core.fold(text)).ents)
