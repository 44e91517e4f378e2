"""jieba tokenization for retrieval, with the domain dictionary loaded into a private
``jieba.Tokenizer`` (the global one belongs to whoever else imports jieba).

Text is NFKC-normalised (full-width letters and digits become half-width) and lower-cased;
punctuation, whitespace and function words are dropped. Search mode (``cut_for_search``) also
emits the shorter words inside long ones, so 社会保障卡 matches 社会保障 and 保障卡.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import jieba

from bot.nlp.colloquial import expand_colloquial, normalize
from bot.nlp.dictionary import DICTIONARY_FILENAME

jieba.setLogLevel(logging.WARNING)

# Function words of questions; whitespace-separated so the list stays readable.
_STOP_WORDS_TEXT = """
的 了 吗 呢 啊 呀 吧 嘛 么 哦 哈 嗯 呗 啦 喔 噢 哎 唉 诶 欸
是 我 你 您 他 她 它 我们 你们 他们 咱 咱们 俺 自己 人家 请问 请 问 问下 一下
一个 这个 那个 这 那 个 些 这些 那些 怎么 怎么样 怎样 咋 如何 什么 啥 哪些 哪个 多少 几
是不是 能不能 可不可以 在 和 与 及 或 或者 都 也 就 还 又 才 再 很 太 挺 非常
比较 已经 有 没 没有 能 可以 会 要 想 需要 得 该 应该 给 把 被 让 对 从
向 跟 为 为了 吗？ 谢谢 您好 你好 麻烦 帮 帮忙 帮我 一些 然后 但是 因为 所以 如果 那么
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def _is_content(token: str) -> bool:
    if not token.strip() or token in STOP_WORDS:
        return False
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


class Tokenizer:
    """A jieba tokenizer with the domain dictionary; thread-safe after the first call."""

    def __init__(self, dictionary_file: Path | None, hmm: bool = False) -> None:
        # HMM guesses new words from unknown character runs (咋领, 刚生); off by default so a
        # query and a document always split the same characters the same way.
        self.dictionary_file = dictionary_file
        self.hmm = hmm
        self._jieba = jieba.Tokenizer()
        self._lock = threading.Lock()
        self._ready = False

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self._jieba.initialize()
            if self.dictionary_file is not None and self.dictionary_file.is_file():
                self._jieba.load_userdict(str(self.dictionary_file))
            self._ready = True

    def words(self, text: str) -> list[str]:
        """Plain (accurate-mode) segmentation of the normalised text, content words only."""
        self._ensure_ready()
        return [t for t in self._jieba.cut(normalize(text), HMM=self.hmm) if _is_content(t)]

    def segments(self, normalized_text: str) -> list[str]:
        """Every piece of the accurate-mode segmentation of already normalised text, stop words
        and punctuation included (they concatenate back to the text)."""
        self._ensure_ready()
        return list(self._jieba.cut(normalized_text, HMM=self.hmm))

    def frequency(self, word: str) -> int:
        """The word's frequency in the loaded dictionaries (0: not a dictionary word)."""
        self._ensure_ready()
        return int(self._jieba.FREQ.get(word, 0))

    def tokenize(self, text: str) -> list[str]:
        """Search-mode tokens of the normalised text, content words only, in order: each word,
        preceded by every shorter dictionary word inside it (jieba's own search mode only looks
        at 2- and 3-character pieces, which loses 养老保险 inside 城乡居民基本养老保险)."""
        self._ensure_ready()
        freq = self._jieba.FREQ
        tokens: list[str] = []
        for word in self._jieba.cut(normalize(text), HMM=self.hmm):
            if not _is_content(word):
                continue
            n = len(word)
            if n > 2:
                for size in range(2, n):
                    for start in range(n - size + 1):
                        piece = word[start : start + size]
                        if freq.get(piece) and _is_content(piece):
                            tokens.append(piece)
            tokens.append(word)
        return tokens

    def query_tokens(self, text: str) -> list[str]:
        """Tokens of a citizen's question plus the official wording of colloquial terms in it
        (社保卡 -> 社会保障卡), so BM25 meets the documents' vocabulary."""
        tokens = self.tokenize(text)
        expansion = expand_colloquial(normalize(text))
        if expansion:
            tokens.extend(self.tokenize(" ".join(expansion)))
        return tokens


@lru_cache(maxsize=8)
def get_tokenizer(dictionary_dir: Path | None = None) -> Tokenizer:
    """The shared tokenizer for a dictionary directory (default: settings.jieba_dict_dir)."""
    if dictionary_dir is None:
        from bot.settings import get_settings

        dictionary_dir = get_settings().jieba_dict_dir
    return Tokenizer(dictionary_dir / DICTIONARY_FILENAME)
