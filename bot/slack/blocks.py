"""Pure Block Kit renderers. Everything user-typed is escaped; every message fits Slack's limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import (
    ContextActionsBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
)

from bot.answers import Answer
from index.compose import Quote, source_parts

if TYPE_CHECKING:
    from bot.pitfalls import PitfallMatch
from knowledge.schema import (
    Checklist,
    ChecklistItem,
    Checklists,
    Pitfall,
    Pitfalls,
    SourceQuote,
)

__all__ = [
    "MAX_BLOCKS",
    "MAX_SECTION_TEXT",
    "Blocks",
    "answer_message",
    "checklist_message",
    "checklist_topics_message",
    "error_message",
    "escape",
    "pitfall_catalogue_message",
    "pitfall_detail_message",
    "pitfall_matches_message",
    "quote_mrkdwn",
    "shared_checklist_message",
    "unknown_topic_message",
]

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_TEXT = 2000
MAX_FALLBACK_TEXT = 3000
MAX_HEADING_CHARS = 70

Blocks = list[dict[str, Any]]

# Slack's own feedback buttons on an answer (one action; the value says which and for what).
ANSWER_FEEDBACK = "answer_feedback"
# The hand-made 👍/👎 of answers posted before: still handled for messages already in Slack.
FEEDBACK_UP = "answer_feedback_up"
FEEDBACK_DOWN = "answer_feedback_down"
FLAG_GAP = "flag_gap"
CHECKLIST_TICK = "checklist_tick"
CHECKLIST_SHARE = "checklist_share"


def escape(text: str) -> str:
    """Escape Slack's control characters so user text can never form a mention or link.

    ``<!channel>``, ``<@U123>`` and links all need ``<``; with it escaped, "@channel" typed by a
    person stays plain text (we never post with ``link_names``).
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _section(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": _trim(text, MAX_SECTION_TEXT)},
        **extra,
    }


def _context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": _trim(text, MAX_CONTEXT_TEXT)}],
    }


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": _trim(text, 150), "emoji": True},
    }


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value[:2000],
    }
    if style:
        button["style"] = style
    return button


def _fit(blocks: Blocks) -> Blocks:
    """Keep within Slack's 50-block limit, saying so rather than failing."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 1]
    kept.append(_context("…more was left out to fit in one Slack message."))
    return kept


def _message(text: str, blocks: Blocks) -> dict[str, Any]:
    return {"text": _trim(text, MAX_FALLBACK_TEXT), "blocks": _fit(blocks)}


def _source_line(section: str, source: str, *, with_title: bool, page: int | None = None) -> str:
    """One short line naming where a quote comes from: section › subsection (· p. 12)."""
    # Long headings (whole sentences in some documents) are cut.
    parts = source_parts(section, source, with_title=with_title)
    line = " › ".join(escape(_trim(p, MAX_HEADING_CHARS)) for p in parts)
    return f"{line} · p. {page}" if page else line


def _bolded(text: str, bold: Sequence[str]) -> str:
    """Escape ``text``; bold it whole when it is one of the answering parts."""
    return f"*{escape(text)}*" if text in bold else escape(text)


def quote_mrkdwn(quote: Quote) -> str:
    """A verbatim quote as Slack block quote lines: prose, then list items, answer in bold."""
    lines = []
    if quote.sentences:
        lines.append(" ".join(_bolded(s, quote.bold) for s in quote.sentences))
    lines += [f"• {_bolded(item, quote.bold)}" for item in quote.items]
    if quote.more_items:
        lines.append(f"_…and {quote.more_items} more_")
    return "\n".join(f"> {line}" for line in lines)


def answer_message(answer: Answer, *, answer_id: int | None = None) -> dict[str, Any]:
    """An answer: the answering quote first, at most two supporting quotes, each with one short
    source line; the document title once (or per quote when they differ)."""
    blocks: Blocks = []
    if answer.truncated:
        blocks.append(_context("Your question was long, so I used its beginning."))
    composition = answer.composition
    if not answer.answered or composition is None:
        topics = "\n".join(f"• {escape(t)}" for t in answer.nearest_topics)
        text = (
            "I don't know: my knowledge base doesn't cover that question, "
            "and I only answer with what it says."
        )
        blocks.append(_section(f":thinking_face: {text}"))
        if topics:
            blocks.append(_section(f"*The nearest topics I do cover:*\n{topics}"))
        fallback = text
    else:
        for number, quote in enumerate(composition.quotes):
            if number == 1:
                blocks.append(_context("Also relevant:"))
            line = _source_line(
                quote.section, quote.source, with_title=not composition.one_source, page=quote.page
            )
            blocks.append(_section(f"{quote_mrkdwn(quote)}\n_{line}_"))
        footer = [f"From _{escape(composition.lead.source)}_"] if composition.one_source else []
        if answer.related_checklist:
            footer.append(f":clipboard: `/ml-checklist {answer.related_checklist}`")
        if footer:
            blocks.append(_context(" · ".join(footer)))
        fallback = composition.text
    if answer_id is not None and answer.answered:
        blocks.append(_feedback_buttons(answer_id))
    elif answer_id is not None:
        # Nothing to rate: the person can tell the knowledge owner what is missing.
        blocks.append(
            {
                "type": "actions",
                "block_id": "flag_gap",
                "elements": [_button("Flag this gap", FLAG_GAP, str(answer_id))],
            }
        )
    return _message(fallback, blocks)


def _feedback_buttons(answer_id: int) -> dict[str, Any]:
    """Slack's native feedback buttons (a context_actions block); they toggle in the client."""
    block = ContextActionsBlock(
        block_id="answer_feedback",
        elements=[
            FeedbackButtonsElement(
                action_id=ANSWER_FEEDBACK,
                positive_button=FeedbackButtonObject(
                    text="Helpful",
                    value=f"up:{answer_id}",
                    accessibility_label="This answer was helpful",
                ),
                negative_button=FeedbackButtonObject(
                    text="Not helpful",
                    value=f"down:{answer_id}",
                    accessibility_label="This answer was not helpful",
                ),
            )
        ],
    )
    return block.to_dict()


def error_message(text: str) -> dict[str, Any]:
    return _message(text, [_section(f":warning: {text}")])


# Checklists -----------------------------------------------------------------------------------


def checklist_topics_message(checklists: Checklists, *, intro: str = "") -> dict[str, Any]:
    lines = [f"• `{c.id}`: {escape(c.summary)}" for c in checklists.checklists]
    blocks: Blocks = []
    if intro:
        blocks.append(_section(intro))
    blocks.append(_section("*Checklists:* use `/ml-checklist <topic>`\n" + "\n".join(lines)))
    blocks.append(
        _context("`/ml-checklist team-structure 120` gives the advice for a company of 120 people.")
    )
    return _message(
        "Available checklists: " + ", ".join(c.id for c in checklists.checklists), blocks
    )


def unknown_topic_message(topic: str, checklists: Checklists) -> dict[str, Any]:
    intro = f"I don't have a checklist called `{escape(topic[:60])}`."
    return checklist_topics_message(checklists, intro=intro)


def _item_text(item: ChecklistItem) -> str:
    return f"*{escape(item.text)}*\n_{escape(item.source.section)}_: “{escape(item.source.quote)}”"


def _items_for(checklist: Checklist, head_count: int | None) -> tuple[list[ChecklistItem], str]:
    items = list(checklist.items)
    note = ""
    if checklist.stages:
        stage = checklist.stage_for(head_count) if head_count else None
        if stage:
            items += stage.items
            note = f"Advice for *{escape(stage.title)}* ({head_count} people)."
        else:
            note = "Add your head count for stage advice, e.g. `/ml-checklist team-structure 120`."
    return items, note


def checklist_message(
    checklist: Checklist, *, ticked: set[str], head_count: int | None = None
) -> dict[str, Any]:
    """An interactive checklist: one checkbox per item, each citing its source."""
    items, note = _items_for(checklist, head_count)
    blocks: Blocks = [_header(checklist.title), _context(escape(checklist.summary))]
    if note:
        blocks.append(_context(note))
    for item in items:
        option = {"text": {"type": "mrkdwn", "text": "Done"}, "value": item.id}
        accessory: dict[str, Any] = {
            "type": "checkboxes",
            "action_id": CHECKLIST_TICK,
            "options": [option],
        }
        if item.id in ticked:
            accessory["initial_options"] = [option]
        blocks.append(
            _section(
                _item_text(item),
                # The head count rides along so a tick can redraw the same checklist.
                block_id=f"chk|{checklist.id}|{item.id}|{head_count or ''}",
                accessory=accessory,
            )
        )
    done = sum(item.id in ticked for item in items)
    blocks.append(_context(f"{done} of {len(items)} done · your ticks are saved for this channel"))
    blocks.append(
        {
            "type": "actions",
            "block_id": "checklist_actions",
            "elements": [
                _button(
                    "Share with channel",
                    CHECKLIST_SHARE,
                    f"{checklist.id}|{head_count or ''}",
                    style="primary",
                )
            ],
        }
    )
    return _message(f"Checklist: {checklist.title}", blocks)


def shared_checklist_message(
    checklist: Checklist, *, ticked: set[str], user_id: str, head_count: int | None = None
) -> dict[str, Any]:
    """The read-only version posted to the channel, with the sharer's progress."""
    items, note = _items_for(checklist, head_count)
    blocks: Blocks = [_header(checklist.title), _context(f"Shared by <@{user_id}>")]
    if note and head_count:
        blocks.append(_context(note))
    for item in items:
        mark = ":white_check_mark:" if item.id in ticked else ":white_large_square:"
        blocks.append(_section(f"{mark} {_item_text(item)}"))
    blocks.append(_context(f"Run `/ml-checklist {checklist.id}` to work through it yourself."))
    return _message(f"Checklist: {checklist.title}", blocks)


# Pitfalls ------------------------------------------------------------------------------------


def _advice_quote(advice: SourceQuote) -> str:
    """A catalogue quote as a block quote with its short source line."""
    where = _source_line(advice.section, "", with_title=False)
    return f"> “{escape(advice.quote)}”\n_{where}_"


def pitfall_catalogue_message(pitfalls: Pitfalls) -> dict[str, Any]:
    """The catalogue on one screen: a line per pitfall; details with ``/ml-pitfalls <id>``."""
    lines = [f"• *{escape(p.title)}*  `{p.id}`" for p in pitfalls.pitfalls]
    blocks: Blocks = [_header("ML pitfalls to watch for")]
    # One section holds up to 3,000 characters: long catalogues take a few.
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > MAX_SECTION_TEXT:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(_section("\n".join(chunk)))
    blocks.append(
        _context(
            "`/ml-pitfalls <id>` for why it matters and what helps · "
            "`/ml-pitfalls <your plan>` to check a plan"
        )
    )
    return _message("ML pitfalls to watch for", blocks)


def pitfall_detail_message(pitfall: Pitfall) -> dict[str, Any]:
    """One pitfall in full: why it matters, every piece of advice, a question for review."""
    advice = [a for a in pitfall.advice if a.quote != pitfall.source.quote]
    blocks: Blocks = [
        _header(pitfall.title),
        _section(f"*Why it matters*\n{_advice_quote(pitfall.source)}"),
        _section("*What helps*\n" + "\n".join(_advice_quote(a) for a in advice)),
        _context(f":speech_balloon: For your next review: {escape(pitfall.review_question)}"),
    ]
    return _message(f"{pitfall.title}: {advice[0].quote if advice else ''}", blocks)


def pitfall_matches_message(matches: Sequence[PitfallMatch]) -> dict[str, Any]:
    """The pitfalls a text risks: each with the sentence of the text that shows it (when the
    text has several) and the advice that best counters it."""
    if not matches:
        return _message(
            "No pitfalls spotted",
            [
                _section(
                    ":white_check_mark: I didn't spot any of the pitfalls I know in that text."
                ),
                _context("`/ml-pitfalls` with no text lists them all."),
            ],
        )
    blocks: Blocks = [_header(f"{len(matches)} pitfall{'s' if len(matches) > 1 else ''} to watch")]
    for match in matches:
        pitfall = match.pitfall
        blocks.append({"type": "divider"})
        text = f"*{escape(pitfall.title)}*"
        if match.evidence:
            text += f"\n:mag: Spotted in: “{escape(_trim(match.evidence, 280))}”"
        blocks.append(_section(f"{text}\n*What helps:*\n{_advice_quote(match.best_advice)}"))
    blocks.append(_context("`/ml-pitfalls <id>` for more on one pitfall"))
    names = ", ".join(m.pitfall.title for m in matches)
    return _message(f"Pitfalls to watch: {names}", blocks)


# Digests and radar ---------------------------------------------------------------------------


def _when(moment: Any) -> str:
    """A Slack date token: every reader sees it in their own time zone."""
    stamp = int(moment.timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{fallback}>"


def digest_message(digest: Any) -> dict[str, Any]:
    """The channel digest: pitfalls spotted since the last one, then one to watch for."""
    blocks: Blocks = [
        _header("ML pitfalls digest"),
        _context(
            f"{_when(digest.start)} – {_when(digest.end)} · "
            f"{digest.messages_read} message{'s' if digest.messages_read != 1 else ''} read"
        ),
    ]
    if digest.spotted:
        blocks.append(_section("*Spotted in this channel:*"))
        for spotted in digest.spotted[:10]:
            pitfall = spotted.pitfall
            times = "once" if spotted.count == 1 else f"{spotted.count} times"
            example = f" · <{spotted.permalink}|example>" if spotted.permalink else ""
            blocks.append(
                _section(
                    f"*{escape(pitfall.title)}* came up {times}{example}\n"
                    f"{_advice_quote(spotted.advice)}"
                )
            )
    else:
        blocks.append(_section(":seedling: A quiet period: I didn't spot any pitfalls here."))
    watch = digest.watch
    blocks.append({"type": "divider"})
    blocks.append(
        _section(
            f"*Pitfall to watch: {escape(watch.title)}*\n"
            f"{_advice_quote(watch.source)}\n"
            f"What helps:\n{_advice_quote(watch.advice[0])}"
        )
    )
    blocks.append(
        _section(f":speech_balloon: *For your next review:* {escape(watch.review_question)}")
    )
    blocks.append(
        _context("`/ml-digest status` for the schedule · `/ml-digest unsubscribe` to stop")
    )
    spotted_names = ", ".join(s.pitfall.title for s in digest.spotted) or "none spotted"
    return _message(f"ML pitfalls digest: {spotted_names}. To watch: {watch.title}", blocks)


def _gap_reasons(reasons: dict[str, int]) -> str:
    from bot.gaps import REASON_LABELS

    return ", ".join(
        f"{REASON_LABELS[k]}" + (f" ×{n}" if n > 1 else "") for k, n in reasons.items()
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def gaps_message(report: Any) -> dict[str, Any]:
    """The knowledge owner's gap report: groups of questions the knowledge base could not
    answer well, most-asked first, on one screen. Askers are never named; questions are
    trimmed and escaped."""
    from bot.gaps import MAX_GROUPS

    period = f"{_when(report.start)} – {_when(report.end)}"
    blocks: Blocks = [_header("Knowledge gaps")]
    if report.empty:
        blocks.append(
            _section(
                f":white_check_mark: Nothing to report for {period}: every question found "
                "a confident answer, and none got 👎 or a gap flag."
            )
        )
        return _message("Knowledge gaps: nothing to report.", blocks)
    people = f"{report.askers} {'person' if report.askers == 1 else 'people'}"
    blocks.append(
        _context(
            f"{period} · {_count(report.questions, 'question')} from {people} "
            f"in {_count(len(report.groups), 'group')}"
        )
    )
    for group in report.groups[:MAX_GROUPS]:
        asked = f"{group.askers} {'person' if group.askers == 1 else 'people'} asked"
        if group.questions != group.askers:
            asked += f" ({group.questions} times)"
        examples = "\n".join(f"> {escape(example)}" for example in group.examples)
        closest = (
            "\nClosest: " + ", ".join(f"_{escape(s)}_" for s in group.sections)
            if group.sections
            else "\nClosest: nothing in the knowledge base"
        )
        blocks.append(_section(f"*{asked}* · {_gap_reasons(group.reasons)}\n{examples}{closest}"))
    rest = report.groups[MAX_GROUPS:]
    if rest:
        more = sum(g.questions for g in rest)
        blocks.append(
            _context(f"…and {_count(len(rest), 'smaller group')} ({_count(more, 'question')}).")
        )
    blocks.append(
        _context(
            "Add a document or a paragraph where the closest sections are, then "
            "`mlbot docs add`. Askers are never named."
        )
    )
    top = report.groups[0]
    return _message(
        f"Knowledge gaps: {_count(len(report.groups), 'group')}; most asked: "
        f"{escape(top.examples[0])}",
        blocks,
    )


def radar_nudge_message(match: PitfallMatch) -> dict[str, Any]:
    pitfall = match.pitfall
    blocks: Blocks = [
        _section(
            f":wave: Friendly heads-up: your message may risk *{escape(pitfall.title)}*.\n"
            f"{_advice_quote(match.best_advice)}"
        ),
        _context("Only you can see this. `/ml-radar off` turns these nudges off for the channel."),
    ]
    return _message(f"Heads-up: {pitfall.title}. {match.best_advice.quote}", blocks)


def home_view(
    *,
    progress: Sequence[tuple[str, str, int, int]],
    subscriptions: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """The App Home tab: how to ask, checklist progress (channel, checklist title, done,
    total), digest subscriptions."""
    blocks: Blocks = [
        _header("ML Leaders Bot"),
        _section(
            "*Ask me anything about leading ML work*: DM me, or @mention me in a channel. "
            "I answer with the knowledge base's own words, the answer first, and say so when it "
            "doesn't cover your question.\n"
            "• `/ml-checklist [topic]`: hiring, team-structure, pipeline, evaluation, pitfalls\n"
            "• `/ml-pitfalls [your plan]`: which ML pitfalls a plan risks\n"
            "• `/ml-digest subscribe`: a weekly digest of pitfalls for a channel\n"
            "• `/ml-radar on`: gentle private nudges when a message risks a pitfall"
        ),
        {"type": "divider"},
    ]
    if progress:
        lines = [
            f"• <#{channel}> *{escape(title)}*: {done} of {total} ticked"
            for channel, title, done, total in progress[:40]
        ]
        blocks.append(_section("*Your checklists*\n" + "\n".join(lines)))
    else:
        blocks.append(_section("*Your checklists*\nNone started yet: try `/ml-checklist hiring`."))
    if subscriptions:
        lines = [f"• <#{channel}>: {escape(schedule)}" for channel, schedule in subscriptions[:40]]
        blocks.append(_section("*Digests you subscribed*\n" + "\n".join(lines)))
    else:
        blocks.append(_section("*Digests you subscribed*\nNone yet."))
    return {"type": "home", "blocks": _fit(blocks)}
