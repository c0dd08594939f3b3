"""Plain-text rendering of answers for the terminal (the Slack rendering lives in blocks.py)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from bot.answers import Answer
from index.compose import Quote, source_parts

if TYPE_CHECKING:
    from bot.digests import Digest
    from bot.gaps import GapReport

__all__ = ["render_answer_text", "render_digest_text", "render_gaps_text"]


def _source_line(section: str, source: str, *, with_title: bool, page: int | None = None) -> str:
    line = " › ".join(source_parts(section, source, with_title=with_title))
    return f"{line} · p. {page}" if page else line


def _quote_lines(quote: Quote, *, bold: tuple[str, str], width: int) -> list[str]:
    def shown(text: str) -> str:
        return f"{bold[0]}{text}{bold[1]}" if text in quote.bold else text

    lines: list[str] = []
    if quote.sentences:
        body = " ".join(shown(s) for s in quote.sentences)
        lines += textwrap.wrap(body, width=width, initial_indent="  │ ", subsequent_indent="  │ ")
    for item in quote.items:
        lines += textwrap.wrap(
            shown(item), width=width, initial_indent="  │ • ", subsequent_indent="  │   "
        )
    if quote.more_items:
        lines.append(f"  │ …and {quote.more_items} more")
    return lines


def render_answer_text(
    answer: Answer, *, color: bool = False, width: int = 100, verbose: bool = False
) -> str:
    """What Slack shows, as terminal text: the answer first, then support, each with its
    source line; the answering sentences in bold (ANSI when ``color``). Scores only when
    ``verbose``."""
    bold = ("\033[1m", "\033[0m") if color else ("**", "**")
    lines: list[str] = []
    if answer.truncated:
        lines.append("(Your question was long, so only its beginning was used.)")
    composition = answer.composition
    if not answer.answered or composition is None:
        lines.append("I don't know: the knowledge base doesn't cover that question.")
        if answer.nearest_topics:
            lines.append("The nearest topics it does cover:")
            lines.extend(f"  • {topic}" for topic in answer.nearest_topics)
        if verbose:
            lines.append(f"(confidence {answer.confidence:.2f})")
        return "\n".join(lines)
    for number, quote in enumerate(composition.quotes):
        if number == 1:
            lines.append("Also relevant:")
        lines += _quote_lines(quote, bold=bold, width=width)
        where = _source_line(
            quote.section, quote.source, with_title=not composition.one_source, page=quote.page
        )
        score = f"  (score {quote.score:.2f}, {quote.path}:{quote.line})" if verbose else ""
        lines.append(f"  — {where}{score}")
        lines.append("")
    footer = [f"From {composition.lead.source}"] if composition.one_source else []
    if answer.related_checklist:
        footer.append(f"related checklist: mlbot checklist {answer.related_checklist}")
    if footer:
        lines.append(" · ".join(footer))
    return "\n".join(lines).rstrip()


def render_digest_text(digest: Digest) -> str:
    """A digest as terminal text (what `mlbot digest preview` prints)."""
    lines = [
        f"ML pitfalls digest for {digest.channel_id}",
        f"{digest.start:%Y-%m-%d %H:%M} – {digest.end:%Y-%m-%d %H:%M} UTC, "
        f"{digest.messages_read} messages read",
        "",
    ]
    if digest.spotted:
        lines.append("Spotted:")
        for spotted in digest.spotted:
            advice = spotted.advice
            lines.append(
                f"  • {spotted.pitfall.title}: {spotted.count}x  {spotted.permalink or ''}"
            )
            lines.append(f"    What helps ({advice.section}): “{advice.quote}”")
    else:
        lines.append("A quiet period: no pitfalls spotted.")
    watch = digest.watch
    lines += [
        "",
        f"Pitfall to watch: {watch.title}",
        f"  “{watch.source.quote}” ({watch.source.section})",
        f"For your next review: {watch.review_question}",
    ]
    return "\n".join(lines)


def render_gaps_text(report: GapReport) -> str:
    """The gap report as terminal text (what `mlbot gaps` prints)."""
    from bot.gaps import REASON_LABELS

    head = (
        f"Knowledge gaps in {report.team_id or 'this workspace'}, "
        f"{report.start:%Y-%m-%d %H:%M} – {report.end:%Y-%m-%d %H:%M} UTC"
    )
    if report.empty:
        return f"{head}\nNothing to report."
    lines = [
        head,
        f"{report.questions} questions from {report.askers} people in {len(report.groups)} groups",
        "",
    ]
    for group in report.groups:
        reasons = ", ".join(f"{REASON_LABELS[k]} x{n}" for k, n in group.reasons.items())
        lines.append(f"{group.askers} asked ({group.questions} questions) · {reasons}")
        lines += [f"  “{example}”" for example in group.examples]
        lines.append(f"  closest: {', '.join(group.sections) or 'nothing in the knowledge base'}")
    return "\n".join(lines)
