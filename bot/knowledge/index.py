"""Build the knowledge index: BM25 over jieba tokens and dense vectors in faiss.

Layout of ``settings.index_dir``::

    manifest.json   format, model, dictionary and per-document hashes (written last)
    chunks.jsonl    one chunk per line, in index order
    vectors.npy     float32 chunk vectors (also the cache for the next build); 常见问法 example
                    chunks are encoded as queries (question to question), the rest as passages
    use.npy         float32 chunk vectors of the second encoder (multilingual USE v3, numpy)
    dense.faiss     IndexFlatIP, or IndexHNSWFlat above HNSW_THRESHOLD chunks
    bm25/           bm25s index over jieba search-mode tokens
    jieba.txt       the domain dictionary the tokens were made with (queries must use it too)

A build is skipped, without importing torch or loading the model, when the documents, the
dictionary, the model and the code versions all match the manifest. Otherwise it is written into
a temporary sibling directory and swapped in by renaming, so a failed build never replaces the
last good index. Documents whose bytes did not change keep their vectors.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.catalog import load_catalog
from bot.knowledge.chunking import CHUNKING_VERSION, EXAMPLE, Chunk, chunk_document
from bot.knowledge.documents import document_paths, load_documents
from bot.knowledge.embedding import ModelInfo, describe_model, ensure_model
from bot.nlp.dictionary import DICTIONARY_FILENAME
from bot.nlp.dictionary import generate as generate_dictionary
from bot.settings import get_settings

INDEX_FORMAT = 1
# Build progress for a caller that shows it (the console's progress bar): (stage, done, total).
ProgressCallback = Callable[[str, int, int], None]

HNSW_THRESHOLD = 50_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
EMBED_BATCH = 32
BM25_K1 = 1.2
BM25_B = 0.75

MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
VECTORS = "vectors.npy"
USE_VECTORS = "use.npy"
DENSE = "dense.faiss"
BM25_DIR = "bm25"
DICTIONARY_COPY = "jieba.txt"


@dataclass
class BuildPaths:
    knowledge_dir: Path
    index_dir: Path
    model_dir: Path
    dictionary_dir: Path
    catalog_path: Path

    @classmethod
    def from_settings(cls, **overrides: Path | None) -> BuildPaths:
        s = get_settings()
        values = {
            "knowledge_dir": s.knowledge_dir,
            "index_dir": s.index_dir,
            "model_dir": s.embedding_model_dir,
            "dictionary_dir": s.jieba_dict_dir,
            "catalog_path": s.catalog_path,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class BuildReport:
    status: str  # "unchanged" or "built"
    index_dir: Path
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    model_built: bool = False
    seconds: float = 0.0
    changed_documents: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.status == "unchanged":
            return f"index up to date ({self.index_dir}), nothing to do [{self.seconds:.2f}s]"
        model = "; built the embedding model" if self.model_built else ""
        return (
            f"built {self.index_dir}: {self.documents} documents, {self.chunks} chunks "
            f"({self.embedded} embedded, {self.reused} reused){model} [{self.seconds:.1f}s]"
        )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_state(paths: BuildPaths, model: ModelInfo, dictionary_text: str) -> dict[str, Any]:
    """Everything an index depends on, cheap to compute: compared with the manifest to skip
    builds that would change nothing."""
    return {
        "format": INDEX_FORMAT,
        "chunking": CHUNKING_VERSION,
        "model": model.fingerprint,
        "dictionary": _sha256(dictionary_text.encode("utf-8")),
        "catalog": _sha256(paths.catalog_path.read_bytes()),
        "files": {p.name: _sha256(p.read_bytes()) for p in document_paths(paths.knowledge_dir)},
        "bm25": {"k1": BM25_K1, "b": BM25_B},
        "hnsw_threshold": HNSW_THRESHOLD,
    }


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def backup_dir(index_dir: Path) -> Path:
    return index_dir.with_name(index_dir.name + ".previous")


def resolve_index_dir(index_dir: Path) -> Path:
    """The directory holding the last good index: normally ``index_dir``; the backup if a swap
    was interrupted between its two renames."""
    if (index_dir / MANIFEST).is_file():
        return index_dir
    backup = backup_dir(index_dir)
    if (backup / MANIFEST).is_file():
        return backup
    return index_dir


@contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = index_dir.with_name(f".{index_dir.name}.lock")
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _swap_in(tmp: Path, index_dir: Path) -> None:
    backup = backup_dir(index_dir)
    if backup.exists():
        shutil.rmtree(backup)
    if index_dir.exists():
        os.replace(index_dir, backup)
    os.replace(tmp, index_dir)
    shutil.rmtree(backup, ignore_errors=True)


def _cached_vectors(index_dir: Path, manifest: dict[str, Any] | None, state: dict[str, Any]):
    """doc_id -> (sha256, vectors) from the previous index when its model and chunking match."""
    import numpy as np

    if not manifest or manifest.get("state", {}).get("model") != state["model"]:
        return {}
    if manifest["state"].get("chunking") != state["chunking"]:
        return {}
    try:
        vectors = np.load(index_dir / VECTORS)
        chunk_docs = [
            json.loads(line)["doc_id"]
            for line in (index_dir / CHUNKS).read_text(encoding="utf-8").splitlines()
        ]
    except (OSError, ValueError, KeyError):
        return {}
    if len(chunk_docs) != len(vectors):
        return {}
    rows: dict[str, list[int]] = {}
    for row, doc_id in enumerate(chunk_docs):
        rows.setdefault(doc_id, []).append(row)
    cache = {}
    for doc_id, info in manifest.get("documents", {}).items():
        if doc_id in rows and len(rows[doc_id]) == info.get("chunks"):
            cache[doc_id] = (info.get("sha256"), vectors[rows[doc_id]])
    return cache


def build_dense_index(vectors, hnsw_threshold: int = HNSW_THRESHOLD):
    """Exact inner product for small corpora; HNSW (approximate, sub-linear) above the threshold."""
    import faiss
    import numpy as np

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if len(vectors) > hnsw_threshold:
        index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    return index


def build_bm25(token_lists: list[list[str]]):
    import bm25s

    retriever = bm25s.BM25(k1=BM25_K1, b=BM25_B)
    retriever.index(token_lists, show_progress=False)
    return retriever


def build_index(
    paths: BuildPaths | None = None,
    force: bool = False,
    progress: bool = True,
    encoder: Any = None,
    on_progress: ProgressCallback | None = None,
) -> BuildReport:
    """Build (or skip) the index; raises KnowledgeBaseError for invalid documents.

    Incremental: only documents whose bytes changed are re-embedded (see module doc).
    ``on_progress`` hears ("embedding", done, total) per batch, then ("writing", 0, 1)."""
    started = time.perf_counter()
    paths = paths or BuildPaths.from_settings()
    _, model_built = ensure_model(paths.model_dir)
    model = describe_model(paths.model_dir)
    # The dictionary is generated in memory and written only after a successful build, so a
    # broken document leaves both the index and the dictionary as they were.
    dictionary_text = generate_dictionary(paths.catalog_path, paths.knowledge_dir)

    with _build_lock(paths.index_dir):
        state = source_state(paths, model, dictionary_text)
        live_dir = resolve_index_dir(paths.index_dir)
        manifest = read_manifest(live_dir)
        if not force and manifest and manifest.get("state") == state:
            _write_dictionary_file(paths.dictionary_dir, dictionary_text)
            return BuildReport("unchanged", live_dir, seconds=time.perf_counter() - started)

        catalog = load_catalog(paths.catalog_path)
        documents = load_documents(paths.knowledge_dir, catalog.ids)
        report = _write_index(
            paths,
            documents,
            model,
            dictionary_text,
            state,
            manifest,
            live_dir,
            force,
            progress,
            encoder,
            on_progress,
        )
        _write_dictionary_file(paths.dictionary_dir, dictionary_text)
        report.model_built = model_built
        report.seconds = time.perf_counter() - started
        return report


def _write_dictionary_file(directory: Path, text: str) -> None:
    path = directory / DICTIONARY_FILENAME
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _write_index(
    paths,
    documents,
    model,
    dictionary_text,
    state,
    manifest,
    live_dir,
    force,
    progress,
    encoder,
    on_progress=None,
) -> BuildReport:
    import numpy as np
    from tqdm import tqdm

    from bot.nlp.tokenize import Tokenizer

    chunks_by_doc: dict[str, list[Chunk]] = {d.id: chunk_document(d) for d in documents}
    cache = {} if force else _cached_vectors(live_dir, manifest, state)
    to_embed = [d for d in documents if cache.get(d.id, (None,))[0] != d.sha256]
    report = BuildReport("built", paths.index_dir, documents=len(documents))
    report.changed_documents = [d.id for d in to_embed]

    new_vectors: dict[str, Any] = {}
    if to_embed:
        if encoder is None:
            from bot.knowledge.embedding import load_encoder

            if on_progress:
                on_progress("loading model", 0, len(to_embed))

            encoder = load_encoder(paths.model_dir)
        chunks = [c for d in to_embed for c in chunks_by_doc[d.id]]
        texts = [c.text if c.kind == EXAMPLE else c.embedding_text for c in chunks]
        # Similar lengths in a batch waste less compute on padding; examples are questions.
        order = sorted(range(len(texts)), key=lambda i: (chunks[i].kind == EXAMPLE, len(texts[i])))
        all_new = np.zeros((len(texts), encoder.dim), dtype=np.float32)
        if on_progress:
            on_progress("embedding", 0, len(texts))
        with tqdm(
            total=len(texts), desc="embedding chunks", unit="chunk", disable=not progress
        ) as bar:
            for start in range(0, len(order), EMBED_BATCH):
                rows = order[start : start + EMBED_BATCH]
                examples = [i for i in rows if chunks[i].kind == EXAMPLE]
                passages = [i for i in rows if chunks[i].kind != EXAMPLE]
                if examples:
                    all_new[examples] = encoder.queries([texts[i] for i in examples])
                if passages:
                    all_new[passages] = encoder.passages([texts[i] for i in passages])
                bar.update(len(rows))
                if on_progress:
                    on_progress("embedding", min(start + EMBED_BATCH, len(texts)), len(texts))
        row = 0
        for d in to_embed:
            n = len(chunks_by_doc[d.id])
            new_vectors[d.id] = all_new[row : row + n]
            row += n

    ordered_chunks: list[Chunk] = []
    vector_parts = []
    for d in documents:
        ordered_chunks.extend(chunks_by_doc[d.id])
        if d.id in new_vectors:
            vector_parts.append(new_vectors[d.id])
            report.embedded += len(chunks_by_doc[d.id])
        else:
            vector_parts.append(cache[d.id][1])
            report.reused += len(chunks_by_doc[d.id])
    vectors = np.ascontiguousarray(np.concatenate(vector_parts), dtype=np.float32)
    report.chunks = len(ordered_chunks)
    if on_progress:
        on_progress("writing", 0, 1)

    paths.index_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(
        tempfile.mkdtemp(prefix=f".{paths.index_dir.name}.build-", dir=paths.index_dir.parent)
    )
    try:
        (tmp / DICTIONARY_COPY).write_text(dictionary_text, encoding="utf-8")
        tokenizer = Tokenizer(tmp / DICTIONARY_COPY)
        token_lists = [tokenizer.tokenize(c.lexical_text) for c in ordered_chunks]
        build_bm25(token_lists).save(str(tmp / BM25_DIR), show_progress=False)

        import faiss

        faiss.write_index(build_dense_index(vectors), str(tmp / DENSE))
        np.save(tmp / VECTORS, vectors)
        np.save(tmp / USE_VECTORS, second_encoder_vectors(ordered_chunks))
        with (tmp / CHUNKS).open("w", encoding="utf-8") as out:
            for chunk in ordered_chunks:
                out.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
        counts: dict[str, int] = {}
        for chunk in ordered_chunks:
            counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
        manifest_data = {
            "format": INDEX_FORMAT,
            "state": state,
            "model": {
                "name": model.name,
                "fingerprint": model.fingerprint,
                "dim": int(vectors.shape[1]),
                "query_prompt": model.query_prompt,
                "passage_prompt": model.passage_prompt,
            },
            "dense_index": "hnsw" if len(vectors) > HNSW_THRESHOLD else "flat",
            "chunks": len(ordered_chunks),
            "documents": {
                d.id: {
                    "file": d.path.name,
                    "sha256": d.sha256,
                    "title": d.title,
                    "department": d.department,
                    "chunks": counts.get(d.id, 0),
                }
                for d in documents
            },
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        # Written last: a directory without a manifest is never taken for an index.
        (tmp / MANIFEST).write_text(
            json.dumps(manifest_data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        tmp.chmod(0o755)
        _swap_in(tmp, paths.index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def second_encoder_vectors(chunks: list[Chunk]) -> Any:
    """Every chunk under the second encoder: questions as they are, sections with their
    heading path. Cheap (numpy, ~1 ms a chunk), so recomputed on each build."""
    from bot.knowledge.second_encoder import encode_texts

    return encode_texts([c.text if c.kind == EXAMPLE else c.embedding_text for c in chunks])


def dictionary_copy(index_dir: Path) -> Path:
    return index_dir / DICTIONARY_COPY


__all__ = [
    "DICTIONARY_FILENAME",
    "BuildPaths",
    "BuildReport",
    "build_index",
    "read_manifest",
    "resolve_index_dir",
]
