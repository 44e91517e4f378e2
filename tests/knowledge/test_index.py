"""Index builds: incremental, skipped when nothing changed, never half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.knowledge.documents import KnowledgeBaseError
from bot.knowledge.index import (
    MANIFEST,
    BuildPaths,
    backup_dir,
    build_dense_index,
    build_index,
    read_manifest,
    resolve_index_dir,
)
from bot.settings import PROJECT_ROOT, get_settings

pytestmark = pytest.mark.model


def paths_for(tmp_path: Path, knowledge: Path, model_dir: Path) -> BuildPaths:
    return BuildPaths(
        knowledge_dir=knowledge,
        index_dir=tmp_path / "index",
        model_dir=model_dir,
        dictionary_dir=tmp_path / "jieba",
        catalog_path=get_settings().catalog_path,
    )


def test_build_skip_and_incremental_rebuild(tmp_path, small_knowledge, model_dir, encoder) -> None:
    paths = paths_for(tmp_path, small_knowledge, model_dir)
    first = build_index(paths, progress=False, encoder=encoder)
    assert first.status == "built" and first.documents == 3
    assert first.embedded == first.chunks > 0 and first.reused == 0
    manifest = read_manifest(paths.index_dir)
    assert manifest["dense_index"] == "flat"
    assert set(manifest["documents"]) == {
        "residence-permit",
        "minimum-living-allowance",
        "social-security-card",
    }
    assert (paths.dictionary_dir / "zhixun.txt").is_file()

    second = build_index(paths, progress=False, encoder=encoder)
    assert second.status == "unchanged"

    doc = small_knowledge / "residence-permit.md"
    doc.write_text(
        doc.read_text(encoding="utf-8") + "\n### 问：周末能办吗？\n答：周六上午可以。\n", "utf-8"
    )
    third = build_index(paths, progress=False, encoder=encoder)
    residence_chunks = read_manifest(paths.index_dir)["documents"]["residence-permit"]["chunks"]
    assert third.status == "built" and third.changed_documents == ["residence-permit"]
    assert third.embedded == residence_chunks and third.reused == third.chunks - residence_chunks


def test_unchanged_build_is_fast_and_loads_no_model(
    tmp_path, small_knowledge, model_dir, encoder
) -> None:
    paths = paths_for(tmp_path, small_knowledge, model_dir)
    build_index(paths, progress=False, encoder=encoder)
    script = (
        "import sys, time; from pathlib import Path\n"
        "from bot.knowledge.index import BuildPaths, build_index\n"
        f"p = BuildPaths(Path({str(paths.knowledge_dir)!r}), Path({str(paths.index_dir)!r}), "
        f"Path({str(model_dir)!r}), Path({str(paths.dictionary_dir)!r}), "
        f"Path({str(paths.catalog_path)!r}))\n"
        "r = build_index(p, progress=False)\n"
        "assert r.status == 'unchanged', r\n"
        "assert 'torch' not in sys.modules and 'faiss' not in sys.modules\n"
        "print(r.seconds)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip()) < 0.5


def test_broken_document_keeps_the_last_good_index(
    tmp_path, small_knowledge, model_dir, encoder
) -> None:
    paths = paths_for(tmp_path, small_knowledge, model_dir)
    build_index(paths, progress=False, encoder=encoder)
    before = {p.name: p.read_bytes() for p in paths.index_dir.iterdir() if p.is_file()}
    dictionary_before = (paths.dictionary_dir / "zhixun.txt").read_bytes()
    (small_knowledge / "broken.md").write_text("# 没有 front matter\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=r"broken\.md: no front matter"):
        build_index(paths, progress=False, encoder=encoder)
    after = {p.name: p.read_bytes() for p in paths.index_dir.iterdir() if p.is_file()}
    assert after == before
    assert (paths.dictionary_dir / "zhixun.txt").read_bytes() == dictionary_before
    assert not [p for p in tmp_path.iterdir() if ".build-" in p.name]


def test_failed_write_leaves_no_temporary_directory(tmp_path, small_knowledge, model_dir) -> None:
    class Exploding:
        dim = 384

        def passages(self, texts):
            raise RuntimeError("boom")

    paths = paths_for(tmp_path, small_knowledge, model_dir)
    with pytest.raises(RuntimeError, match="boom"):
        build_index(paths, progress=False, encoder=Exploding())
    assert not paths.index_dir.exists()
    assert not [p for p in tmp_path.iterdir() if ".build-" in p.name]


def test_interrupted_swap_falls_back_to_the_previous_index(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    backup = backup_dir(index_dir)
    backup.mkdir()
    (backup / MANIFEST).write_text(json.dumps({"format": 1}), encoding="utf-8")
    assert resolve_index_dir(index_dir) == backup


def test_hnsw_above_the_threshold() -> None:
    import numpy as np

    vectors = np.random.default_rng(0).normal(size=(300, 16)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    flat = build_dense_index(vectors, hnsw_threshold=1000)
    hnsw = build_dense_index(vectors, hnsw_threshold=100)
    assert type(flat).__name__ == "IndexFlatIP" and type(hnsw).__name__ == "IndexHNSWFlat"
    _, flat_ids = flat.search(vectors[:10], 1)
    _, hnsw_ids = hnsw.search(vectors[:10], 1)
    assert flat_ids.ravel().tolist() == hnsw_ids.ravel().tolist() == list(range(10))
