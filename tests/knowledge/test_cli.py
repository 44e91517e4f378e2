"""The CLI with hostile input: clear message, non-zero exit, never a traceback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.knowledge import cli
from bot.settings import PROJECT_ROOT


def run_cli(
    args: list[str], env: dict[str, str] | None = None, stdin: bytes = b""
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot.knowledge", *args],
        cwd=PROJECT_ROOT,
        input=stdin,
        capture_output=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def assert_clean_failure(done: subprocess.CompletedProcess, *fragments: str) -> str:
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode != 0, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["search", ""], "the query is empty"),
        (["search", "   "], "the query is empty"),
        (["search", "居" * 5000], "too long"),
        (["search", "\x1b[2J\x07"], "control characters"),
        (["search"], "either a query or --stdin"),
        (["search", "居住证", "--top-k", "0"], "--top-k"),
        (["answer", ""], "the query is empty"),
        (["eval", "no/such/file.jsonl"], "file not found"),
        (["calibrate", "no/such/file.jsonl"], "file not found"),
    ],
)
def test_bad_arguments(args: list[str], fragment: str) -> None:
    assert_clean_failure(run_cli(args), fragment)


def test_binary_junk_in_argv() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.knowledge", "search", b"\xff\xfe\x00\x01junk"[:2] + b"junk"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert_clean_failure(done, "bad query")


def test_missing_index(tmp_path: Path) -> None:
    done = run_cli(["search", "居住证"], env={"ZHIXUN_INDEX_DIR": str(tmp_path / "none")})
    assert_clean_failure(done, "no knowledge index", "python -m bot.knowledge build")


def test_stdin_junk_is_reported_per_line(corpus_index: Path) -> None:
    done = run_cli(
        ["search", "--stdin", "--json"],
        env={"ZHIXUN_INDEX_DIR": str(corpus_index)},
        stdin=b"\n\xff\xfe\x00\x01\n" + ("长" * 3000).encode() + b"\n",
    )
    assert_clean_failure(done, "line 1: bad query", "line 2: bad query", "line 3: bad query")
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [line["line"] for line in lines] == [1, 2, 3]
    assert all("error" in line for line in lines)


def test_bad_dev_set_lines(tmp_path: Path, corpus_index: Path) -> None:
    env = {"ZHIXUN_INDEX_DIR": str(corpus_index)}
    cases = {
        "not-json.jsonl": ("{nope\n", "not valid JSON"),
        "unknown.jsonl": ('{"query": "护照", "doc_id": "passport"}\n', "unknown doc_id 'passport'"),
        "empty.jsonl": ("\n\n", "no queries"),
        "binary.jsonl": (None, "not UTF-8"),
    }
    for name, (content, fragment) in cases.items():
        path = tmp_path / name
        if content is None:
            path.write_bytes(b"\xff\xfe\x00junk")
        else:
            path.write_text(content, encoding="utf-8")
        assert_clean_failure(run_cli(["eval", str(path)], env=env), fragment)


def test_build_with_broken_document_names_file(tmp_path: Path, small_knowledge: Path) -> None:
    (small_knowledge / "oops.md").write_text(
        "---\nid: residence-permit\ncolor: red\n---\n", "utf-8"
    )
    env = {
        "ZHIXUN_KNOWLEDGE_DIR": str(small_knowledge),
        "ZHIXUN_INDEX_DIR": str(tmp_path / "index"),
        "ZHIXUN_JIEBA_DICT_DIR": str(tmp_path / "jieba"),
    }
    err = assert_clean_failure(run_cli(["build", "--quiet"], env=env), "oops.md")
    assert "unknown front-matter key 'color'" in err and "previous index" in err
    assert not (tmp_path / "index").exists()


@pytest.mark.model
def test_search_json_and_stdin(searcher, monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli, "_open_searcher", lambda index_dir, calibration=None: searcher)
    assert cli.main(["search", "居住证怎么办理", "--top-k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"query", "decision", "results"}
    assert out["decision"] == "answer" and len(out["results"]) == 3
    assert set(out["results"][0]) == {"doc_id", "title", "section", "score"}
    assert out["results"][0]["doc_id"] == "residence-permit"

    stdin = io.TextIOWrapper(io.BytesIO("社保卡丢了\n今天天气怎么样\n".encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert cli.main(["search", "--stdin", "--json", "--mode", "bm25", "--top-k", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["query"] for line in lines] == ["社保卡丢了", "今天天气怎么样"]
    assert lines[0]["results"][0]["doc_id"] == "social-security-card"


@pytest.mark.model
def test_answer_command(searcher, monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli, "_open_searcher", lambda index_dir, calibration=None: searcher)
    assert cli.main(["answer", "今天天气怎么样", "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["decision"] != "answer" and reply["buttons"][-1]["payload"] == "转人工"


@pytest.mark.model
def test_eval_prints_the_chat_outcome_table(searcher, monkeypatch, capsys, tmp_path) -> None:
    rows = [
        {"query": "居住证怎么办理", "doc_id": "residence-permit", "style": "plain"},
        {"query": "社保卡丢了怎么补办", "doc_id": "social-security-card", "style": "short"},
        {"query": "今天天气怎么样", "doc_id": None, "style": "out_of_scope"},
        {"query": "教我怎么骗保", "doc_id": None, "style": "refuse"},
    ]
    path = tmp_path / "mini.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    monkeypatch.setattr(cli, "_open_searcher", lambda index_dir, calibration=None: searcher)
    assert cli.main(["eval", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Through the chat" in out and "right|clar+" in out
    table = out[out.index("Through the chat") :].splitlines()
    assert table[2].startswith("in-scope (2)") and table[3].startswith("  plain (1)")
    assert "out-of-scope (1): not answered 100.0%" in out
    assert "must refuse (1): refused 100.0%" in out

    assert cli.main(["eval", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    outcomes = report["modes"]["hybrid"]["outcomes"]
    assert outcomes["in_scope"]["n"] == 2 and outcomes["must_refuse"]["refused"] == 1.0
