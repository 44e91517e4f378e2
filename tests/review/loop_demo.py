"""The unanswered-question loop on the evaluation harness, before and after (docs/knowledge.md).

``python -m tests.review.loop_demo WORK_DIR`` copies knowledge/, the index and the jieba
dictionary into WORK_DIR (the repository's files are never edited), then:

1. evaluates the questions of ``tests/review/data/unanswered_asked.jsonl`` (questions the bot
   abstained on or clarified) and ``unanswered_paraphrases.jsonl`` (other wordings of the same
   needs, never shown to the loop) with ``python -m bot.knowledge eval``;
2. asks every "asked" question as the chat does and records it as the knowledge action does
   (abstain / clarify), groups the queue, and resolves each group by linking it to the service
   its questions are about (what staff pick in the console), through the same functions the
   console calls;
3. rebuilds the index incrementally (the console's rebuild) and evaluates again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bot.settings import PROJECT_ROOT, get_settings

DATA = Path(__file__).parent / "data"
ASKED = DATA / "unanswered_asked.jsonl"
PARAPHRASES = DATA / "unanswered_paraphrases.jsonl"
REGRESSION = PROJECT_ROOT / "tests" / "data" / "chat" / "heldout.jsonl"


def evaluate(label: str, index_dir: Path) -> None:
    for path in (ASKED, PARAPHRASES, REGRESSION):
        command = [sys.executable, "-m", "bot.knowledge", "eval", str(path)]
        result = subprocess.run(
            [*command, "--index-dir", str(index_dir)],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ,
        )
        print(f"--- {label}: python -m bot.knowledge eval {path.relative_to(PROJECT_ROOT)}")
        print(result.stdout)


def main(work: Path) -> None:
    source = get_settings()
    for name, directory in (
        ("knowledge", source.knowledge_dir),
        ("index", source.index_dir),
        ("jieba", source.jieba_dict_dir),
    ):
        shutil.rmtree(work / name, ignore_errors=True)
        shutil.copytree(directory, work / name)
    os.environ.update(
        {
            "ZHIXUN_KNOWLEDGE_DIR": str(work / "knowledge"),
            "ZHIXUN_INDEX_DIR": str(work / "index"),
            "ZHIXUN_JIEBA_DICT_DIR": str(work / "jieba"),
            "ZHIXUN_DATABASE_URL": f"sqlite:///{work / 'zhixun.db'}",
        }
    )
    (work / "zhixun.db").unlink(missing_ok=True)
    get_settings.cache_clear()
    settings = get_settings()

    from bot.knowledge.answer import answer_question
    from bot.knowledge.search import Searcher
    from bot.review import queue
    from bot.review.rebuild import Rebuilder
    from bot.review.recording import note_policy_turn
    from bot.store import make_engine, upgrade

    # The copied index brought up to date with the copied documents (no-op when current).
    subprocess.run(
        [sys.executable, "-m", "bot.knowledge", "build", "--quiet"], check=True, env=os.environ
    )
    evaluate("before", settings.index_dir)

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    expected: dict[str, str] = {}
    searcher = Searcher(settings.index_dir, settings.embedding_model_dir)
    for number, line in enumerate(ASKED.read_text(encoding="utf-8").splitlines()):
        row = json.loads(line)
        reply = answer_question(row["query"], searcher)
        candidates = [c.doc_id for c in reply.candidates]
        conversation = f"demo-{number}"
        note_policy_turn(engine, conversation, [], row["query"], reply.decision, None, candidates)
        expected[row["query"]] = row["doc_id"]
        print(f"asked: [{reply.decision}] {row['query']}")

    actor = queue.Actor("loop-demo", None, None)
    for group in queue.list_groups(engine):
        texts = [q["text"] for q in group["questions"]]
        service, _ = Counter(expected[t] for t in texts).most_common(1)[0]
        phrasings = [t for t in texts if expected[t] == service]
        queue.resolve_by_link(
            engine, settings.knowledge_dir, group["id"], service, actor, phrasings
        )
        print(f"group {group['id']}: {texts} -> linked {phrasings} to {service}")
    left = [q["text"] for g in queue.list_groups(engine) for q in g["questions"]]
    print(f"still open: {left}")

    rebuilder = Rebuilder(settings)  # what the console starts after a resolution
    rebuilder.request()
    print("rebuild:", json.dumps(rebuilder.wait(1800), ensure_ascii=False))
    evaluate("after", settings.index_dir)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.review.loop_demo WORK_DIR")
    main(Path(sys.argv[1]).resolve())
