"""Answer composition from a document's structure, on a document that is not the article."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from index.build import build_index
from index.compose import Composer, head_count_of, heading_range, leans_on_previous
from index.documents import ITEM, LEAD_IN, load_passages
from index.search import Hit, Retriever, SearchResult, Thresholds
from index.store import load_index
from tests.fakes import HashingEmbedder

ON_CALL = """\
---
title: "Running an On-Call Rotation"
---
# Running an On-Call Rotation

## Choosing a rotation size

### Small teams (fewer than 8 engineers)

A single weekly rotation with one primary engineer is usually enough.

### Growing teams (8-40 engineers)

Split the rotation by service, so each engineer is paged for code they know.

### Large organisations (40+ engineers)

Give each product area its own rotation and a secondary who can take over.

## Handing over a shift

Every handover should cover these points:

- Open incidents and who owns them.
- Alerts that fired but were silenced.
- Deploys planned for the next shift.
- Anything the outgoing engineer is worried about.

## Paging fatigue

Too many pages wear people down. Engineers who are woken every night stop reading alerts.

This is why every alert needs an owner. The owner deletes or tunes alerts nobody acts on.

## Escalation

Knowing when to escalate is the most difficult part of being on call for new engineers.

The best rule is to escalate once customers are affected and the cause is still unknown.
"""


def _composer_for(tmp_path: Path, name: str, text: str) -> Composer:
    """A composer over an index of one markdown document."""
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / name).write_text(text, encoding="utf-8")
    embedder = HashingEmbedder()
    build_index(knowledge_dir=knowledge, index_dir=tmp_path / "idx", embedder=embedder)
    index = load_index(tmp_path / "idx", model=embedder.name)
    retriever = Retriever(index=index, embedder=embedder, thresholds=Thresholds(0.1, 0.1, 0.1))
    return Composer(retriever)


@pytest.fixture
def composer(tmp_path: Path) -> Composer:
    return _composer_for(tmp_path, "on-call.md", ON_CALL)


def _pid(composer: Composer, start: str) -> int:
    return next(i for i, p in enumerate(composer.passages) if p.text.startswith(start))


def _result(composer: Composer, question: str, *starts: str) -> SearchResult:
    """A search result for ``question`` whose hits are the passages starting with ``starts``,
    best first (so composition is tested apart from ranking)."""
    result = composer.retriever.search(question, k=5)
    hits = [
        Hit(
            passage_id=_pid(composer, start),
            passage=composer.passages[_pid(composer, start)],
            score=0.9 - 0.01 * rank,
            dense=0.9 - 0.01 * rank,
            bm25=0.0,
            highlights=(),
        )
        for rank, start in enumerate(starts)
    ]
    return dataclasses.replace(result, hits=hits)


def test_a_list_and_its_lead_in_are_one_unit(tmp_path: Path) -> None:
    (tmp_path / "on-call.md").write_text(ON_CALL, encoding="utf-8")
    _, passages = load_passages(tmp_path)
    unit = [p for p in passages if p.section == "Handing over a shift"]
    assert [p.kind for p in unit] == [LEAD_IN, ITEM, ITEM, ITEM, ITEM]
    assert len({p.unit for p in unit}) == 1
    assert all(p.lead_in == "Every handover should cover these points:" for p in unit[1:])


@pytest.mark.parametrize(
    "hit", ["Alerts that fired but were silenced.", "Every handover should cover"]
)
def test_a_question_matching_an_item_or_the_lead_in_gets_the_whole_list(
    composer: Composer, hit: str
) -> None:
    composition = composer.compose(_result(composer, "silenced alerts at handover?", hit))
    assert composition is not None
    lead = composition.lead
    assert lead.sentences == ("Every handover should cover these points:",)
    assert lead.items == (
        "Open incidents and who owns them.",
        "Alerts that fired but were silenced.",
        "Deploys planned for the next shift.",
        "Anything the outgoing engineer is worried about.",
    )
    assert lead.section == "Handing over a shift" and lead.more_items == 0


def test_long_lists_are_capped_and_say_how_many_more(tmp_path: Path) -> None:
    items = "\n".join(f"- Check number {n} of the launch list." for n in range(1, 31))
    launch = f"# Launch\n\n## Checks\n\nBefore launch, run these checks:\n\n{items}\n"
    composer = _composer_for(tmp_path, "launch.md", launch)
    composition = composer.compose(composer.retriever.search("which launch checks?", k=5))
    assert composition is not None
    lead = composition.lead
    assert lead.sentences == ("Before launch, run these checks:",)
    assert len(lead.items) + lead.more_items == 30 and lead.more_items > 0


def test_a_sentence_that_leans_on_the_one_before_brings_it_along(composer: Composer) -> None:
    composition = composer.compose(
        _result(composer, "why does every alert need an owner", "This is why every alert")
    )
    assert composition is not None
    assert composition.lead.sentences[:2] == (
        "Engineers who are woken every night stop reading alerts.",
        "This is why every alert needs an owner.",
    )


def test_a_passage_that_only_poses_a_problem_brings_the_answer_after_it(
    composer: Composer,
) -> None:
    composition = composer.compose(
        _result(composer, "when do new engineers escalate", "Knowing when to escalate")
    )
    assert composition is not None
    lead = composition.lead
    assert lead.sentences[0].startswith("Knowing when to escalate")
    answer = (
        "The best rule is to escalate once customers are affected and the cause is still unknown."
    )
    assert lead.sentences[-1] == answer
    assert lead.bold == (answer,)  # the answering sentence, not the set-up, is in bold
    assert composition.text == answer  # and it is what a notification shows


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("We're 5 engineers, how should on-call work?", "Small teams (fewer than 8 engineers)"),
        ("a 25-person team: how do we run the rotation?", "Growing teams (8-40 engineers)"),
        ("We have about 3k people on call", "Large organisations (40+ engineers)"),
    ],
)
def test_a_head_count_picks_the_section_whose_heading_range_holds_it(
    composer: Composer, question: str, section: str
) -> None:
    # Retrieval put the small-team advice first; the head count decides.
    composition = composer.compose(
        _result(composer, question, "A single weekly rotation", "Split the rotation by service")
    )
    assert composition is not None
    assert composition.lead.section == f"Choosing a rotation size > {section}"
    # Another stage's advice is not offered as support.
    assert all("Choosing a rotation size" not in q.section for q in composition.support)


def test_supporting_quotes_come_from_other_places_and_only_when_close(
    composer: Composer,
) -> None:
    result = _result(
        composer,
        "alerts and handovers",
        "This is why every alert",
        "Alerts that fired but were silenced.",
        "Open incidents and who owns them.",
        "Knowing when to escalate",
    )
    composition = composer.compose(result)
    assert composition is not None
    assert len(composition.support) <= 2
    sections = [composition.lead.section, *(q.section for q in composition.support)]
    assert sections[:2] == ["Paging fatigue", "Handing over a shift"]
    far = dataclasses.replace(
        result, hits=[result.hits[0], dataclasses.replace(result.hits[1], score=0.5)]
    )
    assert composer.compose(far).support == ()  # not close to the lead: left out


@pytest.mark.parametrize(
    ("question", "count"),
    [
        ("How should a 20-person startup organise ML?", 20),
        ("about 300 employees", 300),
        ("We're 60 engineers; central team or embedded?", 60),
        ("3k people across business units", 3000),
        ("we're 1,200 strong", 1200),
        ("a team of eight", 8),
        ("twelve engineers", 12),
        ("What's the difference between 2 models?", None),
        ("How do we hire?", None),
    ],
)
def test_head_counts_in_questions(question: str, count: float | None) -> None:
    assert head_count_of(question) == count


@pytest.mark.parametrize(
    ("heading", "bounds"),
    [
        ("Early-Stage Companies (Under 25 Employees)", (0, 24)),
        ("Mid-Stage Companies (25-500 Employees)", (25, 500)),
        ("Mature Companies (500+ Employees)", (500, math.inf)),
        ("Teams of up to 10", (0, 10)),
        ("Over 1,000 people", (1001, math.inf)),
        ("1k–5k staff", (1000, 5000)),
        ("Choosing a rotation size", None),
    ],
)
def test_number_ranges_in_headings(heading: str, bounds: tuple[float, float] | None) -> None:
    assert heading_range(heading) == bounds


@pytest.mark.parametrize(
    ("sentence", "leans"),
    [
        ("This impacts both efficiency and reliability.", True),
        ("These included Sambhus and Gavish.", True),
        ("Furthermore, A/B tests boost confidence.", True),
        ("However, caution should be exercised.", True),
        ("It’s important to acknowledge the context.", False),
        ("It must be carefully constructed.", True),
        ("The quality of the dataset is paramount.", False),
        ("Thoroughly prepare the datasets.", False),
    ],
)
def test_leaning_sentences(sentence: str, leans: bool) -> None:
    assert leans_on_previous(sentence) is leans


ROLE_ITEMS = (
    "Product: people with technical curiosity and a firm grasp of the business, who can judge "
    "which problems are worth a model at all and explain the trade-offs to stakeholders in "
    "plain words, week after week.",
    "Data: people who can select models, engineer features, model and vectorise data, and "
    "analyse results thoroughly before anyone trusts a number from them or ships a decision "
    "on it.",
    "Platform: people who can assess, integrate and build platforms for data and engineering "
    "teams, including ETL processes, data warehousing and CI/CD pipelines.",
)
ROLES = "# Hiring for ML\n\n## Roles\n\nDefine roles around these core areas:\n\n" + "".join(
    f"- {item}\n" for item in ROLE_ITEMS
)


@pytest.fixture
def roles(tmp_path: Path) -> Composer:
    return _composer_for(tmp_path, "roles.md", ROLES)


def test_an_item_asked_about_far_down_a_long_list_leads_with_its_lead_in(roles: Composer) -> None:
    question = "who should own ETL processes, data warehousing and CI/CD pipelines?"
    composition = roles.compose(_result(roles, question, "Platform: people"))
    assert composition is not None
    lead = composition.lead
    assert lead.sentences == ("Define roles around these core areas:",)
    assert lead.items == (ROLE_ITEMS[-1],)
    assert lead.more_items == 2  # the other two are counted, not hidden


def test_a_question_asking_for_the_list_still_gets_all_of_it(roles: Composer) -> None:
    question = "what are the roles, such as ETL processes, data warehousing and CI/CD pipelines?"
    composition = roles.compose(_result(roles, question, "Platform: people"))
    assert composition is not None
    assert len(composition.lead.items) == 3 and composition.lead.more_items == 0


PIPELINES = """\
# Shipping models

## Pipelines

Automated and reproducible pipelines cut the time it takes to ship a model. The process has \
three phases:

- Understanding the business problem and its data.
- Engineering the model and checking its quality.
- Deploying the model and monitoring it in production.

## Safety

Safe operation of a system is improved through:

- clear information to the teams that deploy it;
- documentation of risks based on evidence from past incidents.

Teams should rehearse their incident response before launch.
"""


@pytest.fixture
def pipelines(tmp_path: Path) -> Composer:
    return _composer_for(tmp_path, "pipelines.md", PIPELINES)


def test_a_found_lead_in_whose_first_sentence_answers_is_quoted_from_there(
    pipelines: Composer,
) -> None:
    question = "what do automated reproducible pipelines cut?"
    composition = pipelines.compose(_result(pipelines, question, "Automated and reproducible"))
    assert composition is not None
    lead = composition.lead
    answer = "Automated and reproducible pipelines cut the time it takes to ship a model."
    assert lead.sentences == (answer, "The process has three phases:")
    assert lead.bold == (answer,)
    assert len(lead.items) == 3  # the list it opens still follows


def test_a_list_item_naming_a_risk_is_not_taken_for_a_set_up(pipelines: Composer) -> None:
    question = "does documenting past incidents count toward safety?"
    found = "documentation of risks based on evidence"
    composition = pipelines.compose(_result(pipelines, question, found, "Teams should rehearse"))
    assert composition is not None
    lead = composition.lead
    assert lead.sentences == ("Safe operation of a system is improved through:",)
    assert "documentation of risks based on evidence from past incidents." in lead.items
