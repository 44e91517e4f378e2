"""Homophones of service names in a typed or dictated question, mapped back to the names
(低宝 → 低保, 医宝 → 医保, 居主证 → 居住证, 残急证 → 残疾证) before retrieval.

Elderly people's speech-to-text and pinyin typing both produce the right syllables with the
wrong characters, and neither BM25 nor the sentence encoders recognise 迪宝 as 低保. The
matching is :class:`bot.voice.correction.HomophoneCorrector` (toneless pinyin, the usual
Mandarin confusions for names of three or more characters) over the service names of the index's
own jieba dictionary, so it grows with the documents. On typed text it must not rewrite
ordinary words that happen to sound like a name, so a replacement is only made when the
sounded-alike characters

- line up with the word boundaries of the question (以前工资 is not 欠工资, 租房子住 is not
  租房资助), and
- are not themselves a word of the general dictionary (宝宝, 救济, 四十五 stay), and
- do not change a function word standing on its own (户口不在 is not 户口簿在, 去民政局 is not
  区民政局).

Near matches (one syllable off) are not used here: on typed text they rewrote more ordinary
words than names on the dev sets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from bot.nlp.colloquial import normalize
from bot.nlp.tokenize import Tokenizer
from bot.voice.correction import HomophoneCorrector

_HAN_ONLY = re.compile(r"^[\u4e00-\u9fff]+$")
# Numerals sound like many things (四十五 / 十四五) and name no service.
_NUMERALS = frozenset("零一二三四五六七八九十百千万两")
# Function words that sound like a syllable of a name and stand alone in a sentence (户口不在,
# 去民政局, 生育等): never a misheard syllable. Numerals are not among them: 一宝 is 医保.
FUNCTION_CHARACTERS = frozenset(
    "不没在是去的了和也都就还要有等与及或被把给让从向对为吗呢啊吧呀嘛我你他她它这那哪会能可很太又才再"
)
MIN_TERM_CHARS = 2
MAX_TERM_CHARS = 12


def dictionary_terms(dictionary_file: Path) -> list[str]:
    """The words of a jieba dictionary file ("word freq tag" per line)."""
    if not dictionary_file.is_file():
        return []
    words = (line.split(maxsplit=1)[0] for line in dictionary_file.read_text("utf-8").splitlines())
    return [w for w in words if w]


def correctable_terms(terms: Iterable[str]) -> list[str]:
    """The terms a homophone may be mapped to: Chinese characters only, no numerals."""
    return [
        t
        for t in dict.fromkeys(terms)
        if MIN_TERM_CHARS <= len(t) <= MAX_TERM_CHARS
        and _HAN_ONLY.match(t)
        and not (set(t) & _NUMERALS)
    ]


class QueryCorrector:
    """Rewrites the homophones of service names in a question (see the module docstring)."""

    def __init__(self, tokenizer: Tokenizer, terms: Iterable[str]) -> None:
        self.tokenizer = tokenizer
        self.terms = frozenset(correctable_terms(terms))
        self._corrector = HomophoneCorrector(sorted(self.terms), near_terms=())

    @classmethod
    def from_dictionary(cls, tokenizer: Tokenizer, dictionary_file: Path) -> QueryCorrector:
        return cls(tokenizer, dictionary_terms(dictionary_file))

    def correct(self, text: str) -> str:
        """The normalised ``text`` with homophones of service names replaced by the names."""
        normalized = normalize(text)
        if not self.terms:
            return normalized
        spans = self._segment_spans(normalized)
        boundaries = {0} | {end for _, end in spans}
        alone = {start for start, end in spans if end - start == 1}

        def accept(whole: str, start: int, end: int, term: str) -> bool:
            if start not in boundaries or end not in boundaries:
                return False
            window = whole[start:end]
            if window in self.terms:
                return True
            if self.tokenizer.frequency(window) > 0:
                return False
            return not any(
                start + i in alone and heard in FUNCTION_CHARACTERS
                for i, (heard, meant) in enumerate(zip(window, term, strict=True))
                if heard != meant
            )

        return self._corrector.correct(normalized, accept)

    def _segment_spans(self, normalized: str) -> list[tuple[int, int]]:
        spans = []
        position = 0
        for piece in self.tokenizer.segments(normalized):
            spans.append((position, position + len(piece)))
            position += len(piece)
        return spans
