"""The jieba domain dictionary: terms from the service catalogue, the knowledge base and a
curated list of the words citizens actually use (社保卡, 低保, 上户口 …).

``python -m bot.nlp.dictionary`` writes ``<settings.jieba_dict_dir>/zhixun.txt`` ("word freq tag"
per line, sorted, so the output is deterministic). Retrieval tokenization
(:mod:`bot.nlp.tokenize`) and Rasa's ``JiebaTokenizer`` (``dictionary_path: var/jieba``) both load
it, so the bot and the knowledge index split words the same way.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.catalog import Catalog, load_catalog
from bot.frontmatter import DocumentError, parse_front_matter
from bot.nlp.colloquial import COLLOQUIAL_SYNONYMS
from bot.settings import get_settings

DICTIONARY_FILENAME = "zhixun.txt"

# jieba keeps a user word whole when its frequency beats the product of its parts' frequencies
# divided by the dictionary total (~6e7); a few thousand is plenty for multi-character terms
# while staying low enough not to swallow characters of neighbouring words.
FREQ_CURATED = 5000
FREQ_CATALOG = 4000
FREQ_KNOWLEDGE = 2000


# Colloquial words kept whole even when they need no expansion.
CURATED_TERMS: tuple[str, ...] = (
    "社保卡",
    "低保",
    "医保",
    "公积金",
    "上户口",
    "居住证",
    "异地就医",
    "身份证",
    "驾驶证",
    "驾照",
    "高龄津贴",
    "户口簿",
    "户口迁入",
    "出生登记",
    "出生医学证明",
    "临时居民身份证",
    "无犯罪记录证明",
    "社会保障卡",
    "医疗保险",
    "养老保险",
    "失业保险金",
    "就业创业证",
    "灵活就业人员",
    "稳岗返还",
    "丧葬补助金",
    "抚恤金",
    "异地就医备案",
    "手工报销",
    "零星报销",
    "门诊慢性病",
    "门诊特殊病",
    "最低生活保障",
    "临时救助",
    "居家养老",
    "残疾人证",
    "结婚登记",
    "生育登记",
    "育儿补贴",
    "住房公积金",
    "不动产",
    "不动产权证书",
    "转移登记",
    "公共租赁住房",
    "个体工商户",
    "营业执照",
    "企业开办",
    "食品经营许可",
    "义务教育",
    "退役军人",
    "优待证",
    "个人所得税",
    "专项附加扣除",
    "农民工",
    "一网通办",
    "政务服务中心",
    "工本费",
    "办理时限",
    "工作日",
    "一窗受理",
    "社会保险",
    "资格认证",
    "刷脸认证",
)

_CJK_TERM = re.compile(r"^[\u3400-\u9fff\uf900-\ufaffA-Za-z0-9]+$")
_TITLE_SEPARATORS = re.compile(r"[（）()、，,；;：:/\s·]+")
_CONNECTORS = re.compile(r"(?<=[\u4e00-\u9fff]{2})[和与及](?=[\u4e00-\u9fff]{2})")
_ACTION_SUFFIXES = (
    "参保缴费",
    "参保登记",
    "设立登记",
    "资格认证",
    "转移登记",
    "申领",
    "申请",
    "办理",
    "登记",
    "开具",
    "认定",
    "提取",
    "报名",
    "填报",
    "投诉",
    "换证",
    "换领",
    "补领",
    "补换",
    "缴费",
    "备案",
    "服务",
)
_QUOTED = re.compile(r"[“「『\"]([^”」』\"]{2,10})[”」』\"]")


@dataclass(frozen=True)
class Entry:
    word: str
    freq: int
    tag: str


def title_terms(title: str) -> list[str]:
    """Meaningful terms of a service title: its segments, and each segment without the
    trailing action word (居住证申领 -> 居住证申领, 居住证)."""
    terms: list[str] = []
    base = _TITLE_SEPARATORS.sub(" ", title).strip()
    for segment in base.split():
        for part in [segment, *_CONNECTORS.split(segment)]:
            terms.append(part)
            for suffix in _ACTION_SUFFIXES:
                if part.endswith(suffix) and len(part) - len(suffix) >= 2:
                    terms.append(part[: -len(suffix)])
                    break
    return [t for t in dict.fromkeys(terms) if _is_term(t)]


def department_terms(department: str) -> list[str]:
    """The department's full name and its name without the district prefix (区民政局 -> 民政局)."""
    terms = [department]
    for prefix in ("区", "市", "县"):
        if department.startswith(prefix) and len(department) > 3:
            terms.append(department[len(prefix) :])
    return [t for t in terms if _is_term(t)]


def quoted_terms(text: str) -> list[str]:
    """Terms a document itself puts in quotes (俗称“上户口”): how people name the service."""
    return [t for t in _QUOTED.findall(text) if _is_term(t) and len(t) <= 8]


def _is_term(term: str) -> bool:
    return len(term) >= 2 and bool(_CJK_TERM.match(term))


def _knowledge_sources(knowledge_dir: Path) -> list[tuple[str, str]]:
    """(title, full text) per readable knowledge document; broken documents are reported by the
    index build, the dictionary just skips what it cannot parse."""
    sources: list[tuple[str, str]] = []
    if not knowledge_dir.is_dir():
        return sources
    for path in sorted(knowledge_dir.glob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
            meta, _body = parse_front_matter(text, path)
        except (DocumentError, OSError, UnicodeDecodeError):
            continue
        title = meta.get("title")
        sources.append((title if isinstance(title, str) else "", text))
    return sources


def build_entries(catalog: Catalog, knowledge_dir: Path) -> list[Entry]:
    best: dict[str, Entry] = {}

    def add(word: str, freq: int, tag: str) -> None:
        word = word.strip()
        if not _is_term(word):
            return
        current = best.get(word)
        if current is None or freq > current.freq:
            best[word] = Entry(word, freq, tag)

    for service in catalog.services:
        for term in title_terms(service.title):
            add(term, FREQ_CATALOG, "nz")
        for term in department_terms(service.department):
            add(term, FREQ_CATALOG, "nt")
    for title, text in _knowledge_sources(knowledge_dir):
        for term in title_terms(title):
            add(term, FREQ_KNOWLEDGE, "nz")
        for term in quoted_terms(text):
            add(term, FREQ_KNOWLEDGE, "nz")
    for colloquial, canonical in COLLOQUIAL_SYNONYMS.items():
        add(colloquial, FREQ_CURATED, "nz")
        for term in canonical:
            add(term, FREQ_CURATED, "nz")
    for term in CURATED_TERMS:
        add(term, FREQ_CURATED, "nz")
    return [best[word] for word in sorted(best)]


def render(entries: Iterable[Entry]) -> str:
    return "".join(f"{e.word} {e.freq} {e.tag}\n" for e in entries)


def generate(catalog_path: Path | None = None, knowledge_dir: Path | None = None) -> str:
    settings = get_settings()
    catalog = load_catalog(catalog_path or settings.catalog_path)
    return render(build_entries(catalog, knowledge_dir or settings.knowledge_dir))


def write_dictionary(
    target_dir: Path | None = None,
    catalog_path: Path | None = None,
    knowledge_dir: Path | None = None,
) -> tuple[Path, bool]:
    """Write ``zhixun.txt`` into ``target_dir``; returns (path, whether the content changed)."""
    target_dir = target_dir or get_settings().jieba_dict_dir
    content = generate(catalog_path, knowledge_dir)
    path = target_dir / DICTIONARY_FILENAME
    if path.is_file() and path.read_text(encoding="utf-8") == content:
        return path, False
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(content, encoding="utf-8")
    tmp.replace(path)
    return path, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.nlp.dictionary",
        description="Write the jieba domain dictionary used by retrieval and Rasa.",
    )
    parser.add_argument("--output-dir", type=Path, help="default: settings.jieba_dict_dir")
    args = parser.parse_args(argv)
    try:
        path, changed = write_dictionary(args.output_dir)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: cannot write the jieba dictionary: {exc}", file=sys.stderr)
        return 1
    lines = path.read_text(encoding="utf-8").count("\n")
    print(f"{path}: {lines} terms ({'written' if changed else 'unchanged'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
