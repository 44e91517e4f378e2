"""Retrieval benchmark: query latency (encode + search), memory and index build time.

    .venv/bin/python bench/retrieval.py                      # 1k, 100k, 1M chunks + real corpus
    .venv/bin/python bench/retrieval.py --scales 1000,100000 --no-docs

For each scale a fresh worker process writes a synthetic index with the production writers
(bm25s over jieba tokens, faiss flat or HNSW above ``HNSW_THRESHOLD``), opens it with the
production :class:`~bot.knowledge.search.Searcher` and times ``searcher.search()`` end to end
(encode the query with the real model, BM25, dense search, fusion, decision) on dev-set queries,
one at a time as the action server does. Synthetic chunks reuse the real chunks' tokens and
vectors (perturbed), so term statistics and vector geometry stay realistic. RSS is the worker's
resident memory after loading the index and model, and after the queries.

The real corpus is measured too: full build (embedding every chunk), a no-change build, and the
dev-set evaluation. Results replace the "Knowledge retrieval" section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.performance_doc import replace_section  # noqa: E402

DOC_START = "<!-- bench/retrieval.py: start -->"
DOC_END = "<!-- bench/retrieval.py: end -->"
CHUNKS_PER_DOC = 12
DEV_SET = ROOT / "tests" / "data" / "retrieval_dev.jsonl"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def dev_queries(limit: int) -> list[str]:
    rows = [
        json.loads(line)
        for line in DEV_SET.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [r["query"] for r in rows][:limit]


# ----------------------------------------------------------------------------- worker


def write_synthetic_index(index_dir: Path, n_chunks: int, seed: int = 0) -> dict[str, float]:
    """A production-format index of ``n_chunks`` chunks made from the real ones."""
    import faiss

    from bot.knowledge.chunking import Chunk
    from bot.knowledge.index import (
        BM25_DIR,
        CHUNKS,
        DENSE,
        DICTIONARY_COPY,
        HNSW_THRESHOLD,
        MANIFEST,
        build_bm25,
        build_dense_index,
        read_manifest,
    )
    from bot.nlp.tokenize import Tokenizer
    from bot.settings import get_settings

    real_dir = get_settings().index_dir
    manifest = read_manifest(real_dir)
    if manifest is None:
        raise SystemExit("build the real index first: python -m bot.knowledge build")
    real_vectors = np.load(real_dir / "vectors.npy")
    real_chunks = [
        Chunk.from_json(json.loads(line))
        for line in (real_dir / CHUNKS).read_text(encoding="utf-8").splitlines()
    ]
    tokenizer = Tokenizer(real_dir / DICTIONARY_COPY)
    real_tokens = [tokenizer.tokenize(c.lexical_text) for c in real_chunks]

    rng = np.random.default_rng(seed)
    source = rng.integers(0, len(real_chunks), n_chunks)
    timings: dict[str, float] = {}

    started = time.perf_counter()
    vectors = np.empty((n_chunks, real_vectors.shape[1]), dtype=np.float32)
    step = 100_000
    for start in range(0, n_chunks, step):
        part = source[start : start + step]
        noisy = real_vectors[part] + rng.normal(0, 0.03, (len(part), real_vectors.shape[1])).astype(
            np.float32
        )
        vectors[start : start + len(part)] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    token_lists = []
    for i, j in enumerate(source):
        tokens = real_tokens[j]
        keep = rng.random(len(tokens)) < 0.8
        token_lists.append(
            [t for t, k in zip(tokens, keep, strict=True) if k] + [f"syn{i % 50_000}"]
        )
    timings["synthesize_s"] = time.perf_counter() - started

    index_dir.mkdir(parents=True)
    shutil.copy(real_dir / DICTIONARY_COPY, index_dir / DICTIONARY_COPY)
    started = time.perf_counter()
    build_bm25(token_lists).save(str(index_dir / BM25_DIR), show_progress=False)
    timings["bm25_build_s"] = time.perf_counter() - started
    started = time.perf_counter()
    faiss.write_index(build_dense_index(vectors), str(index_dir / DENSE))
    timings["dense_build_s"] = time.perf_counter() - started
    del token_lists

    started = time.perf_counter()
    documents = {}
    with (index_dir / CHUNKS).open("w", encoding="utf-8") as out:
        for i, j in enumerate(source):
            real = real_chunks[j]
            doc_id = f"syn-{i // CHUNKS_PER_DOC}"
            chunk = Chunk(
                doc_id,
                f"合成事项{i // CHUNKS_PER_DOC}",
                real.department,
                real.section,
                (f"合成事项{i // CHUNKS_PER_DOC}", real.section),
                real.text[:60],
                real.kind,
            )
            out.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
            if doc_id not in documents:
                documents[doc_id] = {
                    "title": chunk.title,
                    "department": chunk.department,
                    "chunks": 0,
                }
            documents[doc_id]["chunks"] += 1
    np.save(index_dir / "vectors.npy", vectors)
    synthetic_manifest = {
        **manifest,
        "chunks": n_chunks,
        "documents": documents,
        "dense_index": "hnsw" if n_chunks > HNSW_THRESHOLD else "flat",
    }
    (index_dir / MANIFEST).write_text(
        json.dumps(synthetic_manifest, ensure_ascii=False), encoding="utf-8"
    )
    timings["write_s"] = time.perf_counter() - started
    timings["index_type"] = synthetic_manifest["dense_index"]
    return timings


def worker(n_chunks: int, n_queries: int) -> dict:
    from bot.knowledge.embedding import load_encoder
    from bot.knowledge.search import QUERY_THREADS, Searcher
    from bot.settings import get_settings

    result: dict = {"chunks": n_chunks}
    with tempfile.TemporaryDirectory(prefix="zhixun-bench-") as tmp:
        index_dir = Path(tmp) / "index"
        started = time.perf_counter()
        result.update(write_synthetic_index(index_dir, n_chunks))
        result["build_total_s"] = time.perf_counter() - started
        baseline = rss_mb()

        started = time.perf_counter()
        encoder = load_encoder(get_settings().embedding_model_dir, threads=QUERY_THREADS)
        result["model_load_s"] = time.perf_counter() - started
        started = time.perf_counter()
        searcher = Searcher(index_dir, encoder=encoder)
        result["index_load_s"] = time.perf_counter() - started
        result["rss_loaded_mb"] = rss_mb()
        result["rss_before_load_mb"] = baseline

        queries = dev_queries(n_queries)
        for q in queries[:5]:  # warm-up
            searcher.search(q)
        encode, dense, total = [], [], []
        for q in queries:
            t0 = time.perf_counter()
            vector = searcher.encode_query(q)
            t1 = time.perf_counter()
            searcher.dense.search(vector[None, :].astype(np.float32), min(256, n_chunks))
            t2 = time.perf_counter()
            searcher.search(q, top_k=5)
            t3 = time.perf_counter()
            encode.append(t1 - t0)
            dense.append(t2 - t1)
            total.append(t3 - t2)
        result["queries"] = len(queries)
        result["load_average"] = os.getloadavg()[0]
        result["encode"] = percentiles(encode)
        result["dense_search"] = percentiles(dense)
        result["search_end_to_end"] = percentiles(total)
        result["rss_after_queries_mb"] = rss_mb()
    return result


# ----------------------------------------------------------------------------- real corpus


def real_corpus(n_queries: int) -> dict:
    from bot.knowledge.calibration import evaluate, read_dev_set
    from bot.knowledge.embedding import load_encoder
    from bot.knowledge.index import BuildPaths, build_index
    from bot.knowledge.search import Searcher
    from bot.settings import get_settings

    settings = get_settings()
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="zhixun-bench-real-") as tmp:
        paths = BuildPaths.from_settings(
            index_dir=Path(tmp) / "index", dictionary_dir=Path(tmp) / "jieba"
        )
        started = time.perf_counter()
        encoder = load_encoder(settings.embedding_model_dir)
        out["model_load_s"] = time.perf_counter() - started
        report = build_index(paths, force=True, progress=False, encoder=encoder)
        out["full_build_s"] = report.seconds
        out["documents"], out["chunks"] = report.documents, report.chunks
        command = [sys.executable, "-m", "bot.knowledge", "build", "--quiet"]
        env = {
            **os.environ,
            "ZHIXUN_INDEX_DIR": str(paths.index_dir),
            "ZHIXUN_JIEBA_DICT_DIR": str(paths.dictionary_dir),
        }
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        out["noop_build_process_s"] = time.perf_counter() - started

        searcher = Searcher(paths.index_dir, encoder=encoder)
        queries = dev_queries(n_queries)
        for q in queries[:5]:
            searcher.search(q)
        samples = []
        for q in queries:
            t0 = time.perf_counter()
            searcher.search(q, top_k=5)
            samples.append(time.perf_counter() - t0)
        out["search_end_to_end"] = percentiles(samples)
        out["rss_mb"] = rss_mb()
        examples = read_dev_set(DEV_SET, searcher.doc_ids)
        out["eval"] = evaluate(searcher, examples)
        out["eval"].pop("hybrid_misses", None)
        out["dev_set"] = {
            "in_scope": sum(e.doc_id is not None for e in examples),
            "out_of_scope": sum(e.doc_id is None for e in examples),
        }
        calibration = searcher.calibration.raw if searcher.calibration else None
        if calibration:
            out["held_out"] = {m: r["held_out"] for m, r in calibration["report"].items()}
            out["fusion_compared"] = calibration["fusion"]["compared"]
    return out


# ----------------------------------------------------------------------------- report


RATE_HEADER = "answer / clarify / abstain"


def _rates(rates: dict[str, float]) -> str:
    return " / ".join(f"{rates[k]:.1%}" for k in ("answer", "clarify", "abstain"))


def _ms(row: dict[str, float], digits: int = 1) -> str:
    return f"{row['p50_ms']:.{digits}f} / {row['p95_ms']:.{digits}f} ms"


def _dev_set_lines(real: dict) -> list[str]:
    counts = real["dev_set"]
    lines = [
        f"### Dev set ({counts['in_scope']} in-scope, {counts['out_of_scope']} out-of-scope)",
        "",
        "`python -m bot.knowledge eval tests/data/retrieval_dev.jsonl`; fusion kept by "
        f"calibration: `{json.dumps(real['eval']['fusion'])}`.",
        "",
        f"| mode | R@1 | R@5 | MRR | in-scope {RATE_HEADER} | out-of-scope {RATE_HEADER} |",
        "|---|---|---|---|---|---|",
    ]
    for mode, row in real["eval"]["modes"].items():
        r, d = row["retrieval"], row["decisions"]
        lines.append(
            f"| {mode} | {r['R@1']:.3f} | {r['R@5']:.3f} | {r['MRR']:.3f} "
            f"| {_rates(d['in_scope'])} | {_rates(d['out_of_scope'])} |"
        )
    if "held_out" not in real:
        return lines
    lines += [
        "",
        "Decision rates above use the committed calibration, fitted on this same file. Held out "
        "in 5-fold cross-validation (`python -m bot.knowledge calibrate …`):",
        "",
        f"| mode | in-scope {RATE_HEADER} | out-of-scope {RATE_HEADER} |",
        "|---|---|---|",
    ]
    for mode, h in real["held_out"].items():
        lines.append(f"| {mode} | {_rates(h['in_scope'])} | {_rates(h['out_of_scope'])} |")
    fusion = "; ".join(
        f"{m} {c['cv']['R@1']:.3f} / {c['cv']['MRR']:.3f} (fitted {json.dumps(c['fitted'])})"
        for m, c in real["fusion_compared"].items()
    )
    return [*lines, "", f"Fusion, held-out R@1 / MRR: {fusion}."]


def _real_corpus_lines(real: dict) -> list[str]:
    return [
        "",
        f"### Real corpus ({real['documents']} documents, {real['chunks']} chunks)",
        "",
        f"- full build (embed every chunk): {real['full_build_s']:.1f} s, model already loaded "
        f"(loading it: {real['model_load_s']:.1f} s)",
        "- `python -m bot.knowledge build` with nothing changed: "
        f"{real['noop_build_process_s']:.2f} s for the whole process (torch not imported)",
        f"- `searcher.search()` end to end: {_ms(real['search_end_to_end'])}; "
        f"process RSS {real['rss_mb']:.0f} MB",
        "",
    ]


def _scale_lines(scales: list[dict]) -> list[str]:
    lines = [
        "### Scale (synthetic chunks)",
        "",
        "| chunks | dense index | build bm25 + dense | encode p50 / p95 | dense search p50 / p95 "
        "| **encode + search p50 / p95** | RSS loaded / after queries | load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in scales:
        build = f"{s['bm25_build_s']:.1f} s + {s['dense_build_s']:.1f} s"
        rss = f"{s['rss_loaded_mb']:.0f} / {s['rss_after_queries_mb']:.0f} MB"
        lines.append(
            f"| {s['chunks']:,} | {s['index_type']} | {build} | {_ms(s['encode'])} "
            f"| {_ms(s['dense_search'], 2)} | **{_ms(s['search_end_to_end'])}** | {rss} "
            f"| {s.get('load_average', float('nan')):.1f} |"
        )
    return [
        *lines,
        "",
        '"encode + search" is `searcher.search()`: query encoding, BM25, dense search, fusion, '
        "document ranking and the decision. Target: p95 ≤ 30 ms at 100k chunks. The load "
        "average is the machine's right after a row's queries: above ~1 other processes were "
        "competing for the 2 cores and the encode time (the same model at every scale) grew.",
        "",
    ]


def render(real: dict | None, scales: list[dict], command: str, load: list[float]) -> str:
    lines = [
        DOC_START,
        "## Knowledge retrieval (bench/retrieval.py)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}. Model: multilingual-e5-small (float32, CPU, torch's "
        "default threads), queries encoded one at a time. 1-minute load average during the run: "
        f"{min(load):.1f}–{max(load):.1f} (other processes share the cores; latency tails "
        "grow with it).",
        "",
    ]
    if real:
        lines += _dev_set_lines(real) + _real_corpus_lines(real)
    if scales:
        lines += _scale_lines(scales)
    lines.append(DOC_END)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-real", action="store_true", help="skip the real-corpus runs")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/performance.md")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    if args.worker:
        print(json.dumps(worker(args.worker, args.queries)))
        return 0

    command = "python bench/retrieval.py " + " ".join(sys.argv[1:])
    load = [os.getloadavg()[0]]
    real = None if args.no_real else real_corpus(args.queries)
    load.append(os.getloadavg()[0])
    if real:
        print(json.dumps(real, ensure_ascii=False)[:2000], flush=True)
    scales = []
    for n in [int(v) for v in args.scales.split(",") if v.strip()]:
        done = subprocess.run(
            [sys.executable, __file__, "--worker", str(n), "--queries", str(args.queries)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        scales.append(json.loads(done.stdout.strip().splitlines()[-1]))
        load.append(os.getloadavg()[0])
        print(json.dumps(scales[-1]), flush=True)
    section = render(real, scales, command.strip(), load)
    print(section)
    if not args.no_docs:
        replace_section(DOC_START, DOC_END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
