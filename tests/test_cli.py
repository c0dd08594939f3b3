"""The `mlbot` terminal commands, with the real model (slow) except where no model is needed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

MLBOT = [sys.executable, "-m", "bot.cli"]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, knowledge_dir: Path, tmp_path: Path) -> Path:
    monkeypatch.setenv("KNOWLEDGE_DIR", str(knowledge_dir))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    return knowledge_dir


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue(), capsys.readouterr().err


def test_empty_question_exits_2_without_loading_anything(env: Path) -> None:
    done = subprocess.run([*MLBOT, "ask", "  \t "], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "empty" in done.stderr and done.stdout == ""


@pytest.mark.slow
def test_ask_without_an_index_builds_it_first(
    env: Path, capsys: pytest.CaptureFixture[str], real_embedder: object
) -> None:
    code, out, err = run(["ask", "How do we hire?"], capsys)
    assert code == 0 and "No index in" in err and "Built:" in err
    assert "Machine Learning for Leaders" in out
    # Once built, it is simply used.
    code, out, err = run(["ask", "How do we hire?"], capsys)
    assert code == 0 and "Built:" not in err


@pytest.mark.slow
def test_build_then_ask_json_contract(
    env: Path, capsys: pytest.CaptureFixture[str], real_embedder: object
) -> None:
    code, out, err = run(["index", "build"], capsys)
    assert code == 0 and "passages" in out and "index type: flat" in out
    code, out, _ = run(
        ["ask", "--json", "--k", "2", "We are 15 people. Should ML be one central group?"], capsys
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["answered"] is True and len(payload["passages"]) == 2
    top = payload["passages"][0]
    assert top["section"].endswith("Early-Stage Companies (Under 25 Employees)")
    assert top["source"] == "Machine Learning for Leaders: 5 Essentials to Know"
    assert top["highlights"] and top["highlights"][0] in top["text"]
    assert "centralized, shared ML team" in top["highlights"][0]


@pytest.mark.slow
def test_out_of_domain_is_not_covered(
    env: Path, capsys: pytest.CaptureFixture[str], real_embedder: object
) -> None:
    run(["index", "build"], capsys)
    code, out, _ = run(["ask", "--json", "What is the wifi password on floor 3?"], capsys)
    payload = json.loads(out)
    assert code == 0 and payload["answered"] is False and payload["passages"] == []
    assert payload["nearest_topics"]
    code, out, _ = run(["ask", "Which pizza place delivers to the office?"], capsys)
    assert "I don't know" in out and "nearest topics" in out


@pytest.mark.slow
def test_readable_answer_marks_highlights(
    env: Path, capsys: pytest.CaptureFixture[str], real_embedder: object
) -> None:
    run(["index", "build"], capsys)
    code, out, _ = run(["ask", "Should we put a new model behind a feature flag?"], capsys)
    assert code == 0
    assert "4. Measuring and Assessing Machine Learning Models" in out
    assert "**Implementing models behind a feature flag provides a safety net" in out


@pytest.mark.slow
def test_batch_mode_answers_each_line_in_order(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    real_embedder: object,
) -> None:
    run(["index", "build"], capsys)
    questions = ["How should we hire ML engineers?", "", "Where is the parking garage?", "x" * 3000]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(questions) + "\n"))
    code, out, err = run(["ask", "--json", "-"], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 4
    assert lines[0]["answered"] is True
    assert lines[1]["answered"] is False and "empty" in lines[1]["error"]
    assert lines[2]["answered"] is False
    assert lines[3]["truncated"] is True and len(lines[3]["question"]) == 2000
    assert "longer than 2000 characters" in err


@pytest.mark.slow
def test_stale_knowledge_is_rebuilt_unless_told_not_to(
    env: Path, capsys: pytest.CaptureFixture[str], real_embedder: object
) -> None:
    run(["index", "build"], capsys)
    (env / "playbook.md").write_text(
        "# Acme ML playbook\n\n## Budget\n\n"
        "Every ML project at Acme gets a dedicated GPU budget review.\n"
    )
    question = "Does Acme review the GPU budget for ML projects?"
    code, out, err = run(["ask", "--json", "--no-rebuild", question], capsys)
    assert "changed since the index was built" in err
    assert all(p["source"] != "Acme ML playbook" for p in json.loads(out)["passages"])
    code, out, err = run(["ask", "--json", question], capsys)
    assert "rebuilding" in err
    payload = json.loads(out)
    assert payload["passages"][0]["source"] == "Acme ML playbook"
    assert payload["passages"][0]["section"] == "Budget"


@pytest.mark.slow
def test_odd_input_never_crashes(
    env: Path, capsys: pytest.CaptureFixture[str], real_embedder: object
) -> None:
    run(["index", "build"], capsys)
    for question in [
        "\x00\x1b[31mhiring?\x07",
        "🤖🤖 ML team size?",
        "ｆｅａｔｕｒｅ ｆｌａｇ",
        "ñ" * 2500,
    ]:
        code, out, _ = run(["ask", "--json", question], capsys)
        assert code == 0
        assert json.loads(out)["question"]


@pytest.mark.slow
def test_malformed_knowledge_is_reported_with_file_and_line(
    env: Path, capsys: pytest.CaptureFixture[str], real_embedder: object
) -> None:
    run(["index", "build"], capsys)
    before = (Path(str(env)).parent / "data" / "index" / "CURRENT").read_text()
    (env / "bad.md").write_text("---\ntitle: ok\nkind: [unclosed\n---\n\nBody.\n")
    code, _, err = run(["index", "build"], capsys)
    assert code == 1 and "bad.md:3" in err
    assert (Path(str(env)).parent / "data" / "index" / "CURRENT").read_text() == before


def test_stdin_survives_invalid_utf8_and_huge_lines(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from bot.cli import MAX_LINE_CHARS, stdin_lines

    raw = b"how to hire \xff\xfe engineers?\n" + b"x" * (1024 * 1024) + b"\nlast question\n"
    lines = list(stdin_lines(io.BytesIO(raw)))
    assert lines[0] == "how to hire \ufffd\ufffd engineers?"
    assert lines[1] == "x" * MAX_LINE_CHARS and lines[2] == "last question"
    assert "line 2: cut" in capsys.readouterr().err
