"""Plain-text rendering of answers for the terminal (the Slack rendering lives in blocks.py)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from bot.answers import Answer

if TYPE_CHECKING:
    from bot.digests import Digest

__all__ = ["render_answer_text", "render_digest_text"]


def _emphasise(text: str, highlights: tuple[str, ...], *, bold: tuple[str, str]) -> str:
    for sentence in highlights:
        text = text.replace(sentence, f"{bold[0]}{sentence}{bold[1]}", 1)
    return text


def render_answer_text(answer: Answer, *, color: bool = False, width: int = 100) -> str:
    """The same content Slack shows, as terminal text; highlights in bold (ANSI when ``color``)."""
    bold = ("\033[1m", "\033[0m") if color else ("**", "**")
    lines: list[str] = []
    if answer.truncated:
        lines.append("(Your question was long, so only its beginning was used.)")
    if not answer.answered:
        lines.append("I don't know: the knowledge base doesn't cover that question.")
        if answer.nearest_topics:
            lines.append("The nearest topics it does cover:")
            lines.extend(f"  • {topic}" for topic in answer.nearest_topics)
        return "\n".join(lines)
    for number, passage in enumerate(answer.passages, start=1):
        where = f"{passage.source} › {passage.section}" if passage.section else passage.source
        lines.append(f"[{number}] {where}  (relevance {passage.score:.2f})")
        body = _emphasise(passage.text, passage.highlights, bold=bold)
        lines.extend(
            textwrap.wrap(body, width=width, initial_indent="    ", subsequent_indent="    ")
        )
        lines.append("")
    if answer.related_checklist:
        lines.append(f"Related checklist: mlbot checklist {answer.related_checklist}")
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
            advice = spotted.pitfall.advice[0]
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
