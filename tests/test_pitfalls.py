"""The pitfall detector with the real model, and `mlbot pitfalls`."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.pitfalls import PitfallDetector, cross_validate_detector, evaluate_detector
from knowledge import (
    DEFAULT_KNOWLEDGE_DIR,
    TRAINING_MESSAGES,
    load_labelled_messages,
    load_pitfalls,
)
from knowledge.schema import LabelledMessage, LabelledMessages
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def detector(real_embedder, tmp_path_factory: pytest.TempPathFactory) -> PitfallDetector:  # type: ignore[no-untyped-def]
    catalogue = load_pitfalls()
    messages = load_labelled_messages(DEFAULT_KNOWLEDGE_DIR / TRAINING_MESSAGES, pitfalls=catalogue)
    return PitfallDetector(
        embedder=real_embedder,
        pitfalls=catalogue,
        messages=messages.messages,
        cache_dir=tmp_path_factory.mktemp("cache"),
    )


def test_plan_with_two_pitfalls_names_both(detector: PitfallDetector) -> None:
    plan = (
        "We'll ship the churn model next week and expect churn to halve by the end of the month. "
        "Success is the model's AUC on the test set; nobody needs to look at retention. "
        "The team is staffed and the roadmap is agreed. "
        "Marketing will announce it in the newsletter."
    )
    found = {m.pitfall.id for m in detector.detect(plan)}
    assert {"expecting-immediate-results", "model-metrics-over-product"} <= found


def test_a_risky_line_in_a_bullet_list_is_found_and_quoted(detector: PitfallDetector) -> None:
    plan = (
        "Q1 plan:\n"
        "- move the docs site to the new CMS\n"
        "- refresh the onboarding emails\n"
        "- ship the fraud model to every customer at once, no flag and no way back\n"
        "- hire a designer\n"
    )
    matches = detector.detect(plan)
    assert [m.pitfall.id for m in matches] == ["no-production-safety-net"]
    assert matches[0].evidence == (
        "ship the fraud model to every customer at once, no flag and no way back"
    )
    # A one-sentence text is its own evidence: nothing more to point at.
    assert detector.detect("No flag needed, just ship the model to everyone.")[0].evidence is None


def test_ordinary_and_healthy_messages_are_not_flagged(detector: PitfallDetector) -> None:
    for text in ["Standup moves to 10:30 tomorrow.", "Lunch order closes at noon.", ""]:
        assert detector.detect(text) == []


def test_scores_are_probabilities_sorted_best_first(detector: PitfallDetector) -> None:
    matches = detector.detect(
        "We promised the board churn halves in the model's first week. Success is the model's "
        "AUC on the test set; nobody needs to look at retention."
    )
    assert len(matches) >= 2
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_labelled_set_quality_floor(detector: PitfallDetector) -> None:
    # The bar is 0.90/0.90: today 0.913 precision / 0.908 recall on the evaluation set (551
    # messages; see the closing note of the Slack app issue). These floors catch regressions.
    report = evaluate_detector(detector, load_labelled_messages())
    assert report.messages >= 550
    assert report.precision >= 0.90
    assert report.recall >= 0.90


@pytest.mark.parametrize(
    ("plan", "advice"),
    [
        (
            "We'll ship the new ranking model to everyone on Friday without a feature flag.",
            "Implementing models behind a feature flag provides a safety net",
        ),
        (
            "Rolling the recommender out with no A/B test and no way to compare it to the old one.",
            "Implementing models behind a feature flag provides a safety net",
        ),
    ],
)
def test_what_helps_is_the_advice_that_counters_the_text(
    detector: PitfallDetector, plan: str, advice: str
) -> None:
    match = next(m for m in detector.detect(plan) if m.pitfall.id == "no-production-safety-net")
    assert match.best_advice.quote.startswith(advice)
    assert sorted(a.quote for a in match.advice) == sorted(a.quote for a in match.pitfall.advice)


def test_cli_names_a_pitfall_to_show_its_details(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    assert main(["pitfalls", "no-production-safety-net"], out=out) == 0
    text = out.getvalue()
    assert "Why it matters" in text and "feature flag" in text and "score" not in text


def test_cli_json_contract_and_batch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, real_embedder
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    out = io.StringIO()
    assert (
        main(["pitfalls", "--json", "We expect the model to double revenue on day one."], out=out)
        == 0
    )
    payload = json.loads(out.getvalue())
    assert payload["text"].startswith("We expect")
    assert payload["pitfalls"][0]["id"] == "expecting-immediate-results"
    assert set(payload["pitfalls"][0]) == {"id", "title", "score", "evidence", "advice"}
    assert set(payload["pitfalls"][0]["advice"]) == {"quote", "section"}
    monkeypatch.setattr(
        sys,
        "stdin",
        io.StringIO(
            "Lunch order closes at noon.\nNo flag needed, just ship the model to everyone.\n"
        ),
    )
    out = io.StringIO()
    assert main(["pitfalls", "--json", "-"], out=out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["text"] for line in lines] == [
        "Lunch order closes at noon.",
        "No flag needed, just ship the model to everyone.",
    ]
    assert lines[0]["pitfalls"] == []
    assert "no-production-safety-net" in {p["id"] for p in lines[1]["pitfalls"]}


def test_cli_catalogue_and_checklists_need_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    assert main(["pitfalls"], out=out) == 0
    assert "ml-for-linear-process" in out.getvalue()
    out = io.StringIO()
    assert main(["checklist", "team-structure", "12", "--json"], out=out) == 0
    assert json.loads(out.getvalue())["stage"] == "early"
    assert main(["checklist", "nonsense"], out=io.StringIO()) == 2


def test_trained_detector_is_cached_and_reused(real_embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = PitfallDetector(embedder=real_embedder, pitfalls=load_pitfalls(), cache_dir=tmp_path)
    cached = list(tmp_path.glob("pitfall-detector-*.pickle"))
    assert len(cached) == 1
    second = PitfallDetector(embedder=real_embedder, pitfalls=load_pitfalls(), cache_dir=tmp_path)
    text = "We expect the model to double revenue on day one."
    assert [m.to_json() for m in first.detect(text)] == [m.to_json() for m in second.detect(text)]
    cached[0].write_bytes(b"garbage")  # a damaged cache is retrained, not trusted
    third = PitfallDetector(embedder=real_embedder, pitfalls=load_pitfalls(), cache_dir=tmp_path)
    assert third.detect(text)[0].pitfall.id == "expecting-immediate-results"


def test_cli_eval_pitfalls_reports_both_labelled_sets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, real_embedder
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    out = io.StringIO()
    assert main(["eval", "--pitfalls", "--misses"], out=out) == 0
    rows = {
        line.split()[0]: line.split() for line in out.getvalue().splitlines() if line[:1] != " "
    }
    # Each training message scored by a detector that never saw it (5 folds).
    assert rows["crossval"][1] == "869"
    assert float(rows["crossval"][2]) >= 0.89 and float(rows["crossval"][3]) >= 0.88
    assert rows["evaluation"][1] == "551"
    assert float(rows["evaluation"][2]) >= 0.90 and float(rows["evaluation"][3]) >= 0.90
    # --misses lists each wrong message with what was expected and what was found.
    assert "expected [" in out.getvalue()


def test_old_cached_detectors_are_pruned(tmp_path: Path) -> None:
    for age in range(5):
        stale = tmp_path / f"pitfall-detector-old{age}.pickle"
        stale.write_bytes(b"old")
        os.utime(stale, (1_000_000 + age, 1_000_000 + age))
    PitfallDetector(embedder=HashingEmbedder(), pitfalls=load_pitfalls(), cache_dir=tmp_path)
    kept = sorted(p.name for p in tmp_path.glob("pitfall-detector-*.pickle"))
    # The new model and the two newest old ones stay.
    assert len(kept) == 3 and "pitfall-detector-old4.pickle" in kept
    assert "pitfall-detector-old3.pickle" in kept and "pitfall-detector-old0.pickle" not in kept


def test_cross_validation_never_scores_a_message_with_a_detector_trained_on_it() -> None:
    catalogue = load_pitfalls()
    messages = LabelledMessages(
        messages=[
            LabelledMessage(text=f"message {n}", pitfalls=["no-monitoring"] if n % 3 else [])
            for n in range(23)
        ]
    )
    trained_on: list[set[str]] = []

    def train(kept):  # type: ignore[no-untyped-def]
        trained_on.append({m.text for m in kept})
        return PitfallDetector(embedder=HashingEmbedder(), pitfalls=catalogue, messages=kept)

    seen = []
    report = cross_validate_detector(
        train, messages, folds=4, progress=lambda fold, folds: seen.append((fold, folds))
    )
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert report.messages == 23
    everything = {m.text for m in messages.messages}
    held_out = [everything - kept for kept in trained_on]
    # Every message is held out exactly once, by folds of near-equal size.
    assert sorted(len(h) for h in held_out) == [5, 6, 6, 6]
    assert set().union(*held_out) == everything
