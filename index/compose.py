"""Retrieved passages -> an answer: the answering sentences or list first, then support.

Everything here is read off a document's structure, never off one document's contents:
- a list and its lead-in are one unit, quoted whole (long lists capped);
- a sentence that leans on the one before it ("This…", "However…") brings that sentence along;
- a passage that only poses a problem brings the passage right after it that answers it;
- a head count in the question ("60 engineers") picks the section whose heading range holds it
  ("Mid-Stage Companies (25-500 Employees)");
- at most two supporting quotes, each from another section and with a score close to the lead.

Quotes are verbatim: whole sentences and whole list items, in document order. Nothing here
encodes text: it reads the sentence vectors the build already stored, so composing adds no
model work to an answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from index.documents import ITEM, LEAD_IN, PARAGRAPH, Passage
from index.search import Retriever, SearchResult
from index.text import word_count

__all__ = [
    "Composition",
    "Composer",
    "Quote",
    "head_count_of",
    "source_parts",
    "heading_range",
    "leans_on_previous",
]

# A long list shows its first items (as many as fit LIST_WORDS words, at least MIN_LIST_ITEMS,
# at most MAX_LIST_ITEMS) and says how many more there are.
LIST_WORDS = 150
MIN_LIST_ITEMS = 5
MAX_LIST_ITEMS = 20
# Supporting quotes: at most this many, each within this much of the lead's score.
MAX_SUPPORT = 2
SUPPORT_MARGIN = 0.05
# A second passage of the lead's own section supports only when it scores this close.
SAME_SECTION_MARGIN = 0.03
# How far below the best passage, when it only poses a problem, an answering one may score and
# still lead: from another section, or from the problem's own section (where the document goes
# on to answer it).
SETUP_MARGIN = 0.05
SETUP_SECTION_MARGIN = 0.3
# A lead list whose asked-about item stands out, but would start more than this many words in
# (the answer-first line the composition evaluation holds every answer to), shows its lead-in
# and that item only, with a count of the rest, unless the question asks for the whole list.
ITEM_WITHIN_WORDS = 60
# How much closer than the list's opening sentence an earlier sentence of a found lead-in
# paragraph must be to the question for the quote to start at it.
LEAD_SENTENCE_MARGIN = 0.05
# A supporting list shows its lead-in and at most this many items (the matched one first).
SUPPORT_LIST_ITEMS = 1
# How far below the lead a list unit may score and still lead a question that asks for a list.
LIST_MARGIN = 0.08
# Bold: the closest sentences of a passage (at most BOLD_TOP, within BOLD_WITHIN of the best).
BOLD_TOP = 2
BOLD_WITHIN = 0.05
# A highlighted sentence is bolded only inside a quote that is at least this much longer.
MIN_CONTEXT_WORDS = 6

# Opening words that make a sentence lean on the one before it.
_LEANING = re.compile(
    r"^(?:this|these|that|those|such|they|them|their|its|both|furthermore|however|moreover|"
    r"additionally|also|besides|consequently|therefore|thus|hence|equally|similarly|likewise|"
    r"instead|otherwise|nevertheless|nonetheless|still|yet|but|and|so|then|accordingly|"
    r"as a result|in addition|in contrast|on the other hand|for example|for instance|"
    r"in this|in these|at this|at these|by contrast|even so|in turn|in that case|"
    r"it(?!['’]s\b| is\b)(?=\s))\b",
    re.IGNORECASE,
)
# A sentence that names a difficulty, and one that gives advice.
_PROBLEM = re.compile(
    r"\b(?:challeng\w*|difficult\w*|hurdles?|problems?|obstacles?|struggl\w*|daunting|"
    r"hard|rare|risks?|pitfalls?|dilemma\w*|uncertain\w*|unclear|pain\w*)\b",
    re.IGNORECASE,
)
_ADVICE = re.compile(
    r"\b(?:should|must|recommend\w*|prioriti[sz]\w*|consider|focus|avoid|ensure|establish\w*|"
    r"leverag\w*|implement|implementing|need to|needs to|essential|key|best|solution\w*|"
    r"approach\w*|strateg\w*|remed\w*|mitigat\w*|invest\w*|explore|seek|define|helps?|effective|"
    r"provides?|requires?|use|using)\b",
    re.IGNORECASE,
)
# Questions that ask why something is hard are answered by the problem itself.
_ASKS_WHY = re.compile(r"^\s*(?:why|what makes|how come)\b", re.IGNORECASE)
# Questions that ask what something is good for: the sentence that elaborates answers them.
_ASKS_REASON = re.compile(
    r"^\s*(?:why|what makes|how come)\b|\b(?:point|benefits?|gain|advantages?|matters?|worth|"
    r"upside|good for|purpose)\b",
    re.IGNORECASE,
)
# Questions that ask for several things: steps, areas, mistakes…
_ASKS_LIST = re.compile(
    r"\b(?:what|which) (?:are|were|would be) |\b(?:list|steps|stages|phases|mistakes|pitfalls|"
    r"areas|concerns|things|factors|ways|types|kinds|categories|elements|components|"
    r"principles|criteria|characteristics|roles|requirements|practices|checks|outcomes|"
    r"functions|activities|actions|aspects|dimensions|traits|qualities|properties|"
    r"considerations|signals|questions|challenges|errors|traps|main|key|common)\b",
    re.IGNORECASE,
)

# Head counts: "60 engineers", "20-person", "3k people", "about 1,200 strong", "a team of eight".
_SMALL_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_NUMBER_WORDS = {word: value for value, word in enumerate(_SMALL_NUMBERS.split())} | {
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "dozen": 12,
    "a hundred": 100,
    "a thousand": 1000,
}
_NUM = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*([kK]\b)?"
_PEOPLE = (
    r"(?:-?\s*(?:person|people|persons|employees?|engineers?|staff|folks|ppl|devs?|"
    r"developers?|heads?|headcount|fte?s?|members?|strong|-strong|hires|workers|"
    r"engineering|eng)\b)"
)
_HEAD_COUNT = re.compile(_NUM + r"\s*" + _PEOPLE, re.IGNORECASE)
_TEAM_OF = re.compile(
    r"\b(?:team|company|org|organi[sz]ation|startup|shop|staff) of (?:about |around |~)?"
    r"(" + "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True)) + r"|\d[\d,]*)"
    r"\b",
    re.IGNORECASE,
)
_WORD_COUNT = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True)) + r")"
    r"\s+" + _PEOPLE,
    re.IGNORECASE,
)
# Heading ranges: "(Under 25 Employees)", "25-500", "500+", "over 1,000", "1k–5k people".
_RANGE_NUM = r"(\d{1,3}(?:,\d{3})+|\d+)\s*([kK])?"
_BETWEEN = re.compile(_RANGE_NUM + r"\s*(?:-|–|—|to)\s*" + _RANGE_NUM)
_BELOW = re.compile(
    r"\b(?:under|fewer than|less than|below|up to|at most|<)\s*" + _RANGE_NUM, re.IGNORECASE
)
_ABOVE = re.compile(
    _RANGE_NUM + r"\s*\+|\b(?:over|more than|above|at least|>)\s*" + _RANGE_NUM, re.IGNORECASE
)


def _value(digits: str, thousands: str | None) -> float:
    number = float(digits.replace(",", ""))
    return number * 1000 if thousands else number


def head_count_of(question: str) -> float | None:
    """The head count or team size a question names, if any."""
    match = _HEAD_COUNT.search(question)
    if match:
        return _value(match.group(1), match.group(2))
    for pattern in (_TEAM_OF, _WORD_COUNT):
        found = pattern.search(question)
        if found:
            word = found.group(1).lower()
            return float(_NUMBER_WORDS.get(word) or word.replace(",", ""))
    return None


def heading_range(heading: str) -> tuple[float, float] | None:
    """The number range a heading names: "Under 25" -> (0, 24), "25-500" -> (25, 500)."""
    between = _BETWEEN.search(heading)
    if between:
        low = _value(between.group(1), between.group(2))
        high = _value(between.group(3), between.group(4) or between.group(2))
        return (low, high) if low <= high else None
    below = _BELOW.search(heading)
    if below:
        high = _value(below.group(1), below.group(2))
        inclusive = below.group(0).lower().startswith(("up to", "at most"))
        return 0.0, high if inclusive else high - 1
    above = _ABOVE.search(heading)
    if above:
        if above.group(1):
            return _value(above.group(1), above.group(2)), math.inf
        low = _value(above.group(3), above.group(4))
        return low + (0 if above.group(0).lower().startswith("at least") else 1), math.inf
    return None


def source_parts(section: str, source: str = "", *, with_title: bool = False) -> list[str]:
    """What a short source line names: the section path's last two headings ("A > B > C" ->
    ["B", "C"]), after the document title when ``with_title`` (or when there is no section)."""
    parts = [p.strip() for p in section.split(" > ") if p.strip()][-2:] if section else []
    if source and (with_title or not parts):
        parts.insert(0, source)
    return parts


def leans_on_previous(sentence: str) -> bool:
    """Whether a sentence opens by pointing back ("This…", "However…", "These included…")."""
    return bool(_LEANING.match(sentence.lstrip("“\"'(")))


def _poses_problem_only(sentences: Sequence[str]) -> bool:
    text = " ".join(sentences)
    return bool(_PROBLEM.search(text)) and not _ADVICE.search(text)


@dataclass(frozen=True)
class Quote:
    """Verbatim text from one place of a document: sentences of prose and/or list items.

    ``bold`` names the sentences or items that answer, when the quote holds more than them.
    """

    sentences: tuple[str, ...]
    items: tuple[str, ...]
    more_items: int
    bold: tuple[str, ...]
    source: str
    section: str
    doc_id: str
    path: str
    line: int
    score: float
    passage_ids: tuple[int, ...]
    page: int | None = None  # paged formats (PDF): the page it starts on

    @property
    def answer_text(self) -> str:
        """The answering part on its own (bold parts, else the whole quote)."""
        if self.bold:
            return " ".join(self.bold)
        parts = list(self.sentences) + list(self.items)
        return " ".join(parts)

    def to_json(self) -> dict[str, object]:
        return {
            "text": " ".join(self.sentences),
            "items": list(self.items),
            "more_items": self.more_items,
            "bold": list(self.bold),
            "source": self.source,
            "section": self.section,
            "path": self.path,
            "line": self.line,
            "page": self.page,
        }


@dataclass(frozen=True)
class Composition:
    lead: Quote
    support: tuple[Quote, ...]

    @property
    def text(self) -> str:
        """The answering sentence(s): what a notification shows."""
        return self.lead.answer_text

    @property
    def quotes(self) -> tuple[Quote, ...]:
        return (self.lead, *self.support)

    @property
    def one_source(self) -> bool:
        """Whether every quote comes from one document (its title is then shown once)."""
        return len({q.source for q in self.quotes}) == 1

    def to_json(self) -> dict[str, object]:
        return {
            "text": self.text,
            "lead": self.lead.to_json(),
            "supporting": [q.to_json() for q in self.support],
        }


class Composer:
    """Turns a :class:`SearchResult` into a :class:`Composition` using the index's structure."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever

        self.passages: list[Passage] = retriever.index.passages
        # Sections by document, in reading order, with their heading ranges (head counts).
        self._ranges: dict[tuple[str, str], tuple[float, float]] = {}
        self._section_passages: dict[tuple[str, str], list[int]] = {}
        self._unit_passages: dict[tuple[str, int], list[int]] = {}
        for pid, passage in enumerate(self.passages):
            key = (passage.doc_id, passage.section)
            self._section_passages.setdefault(key, []).append(pid)
            self._unit_passages.setdefault((passage.doc_id, passage.unit), []).append(pid)
            if key not in self._ranges and passage.section:
                found = heading_range(passage.section.split(" > ")[-1])
                if found:
                    self._ranges[key] = found

    # Scores --------------------------------------------------------------------------------

    def _similarity(self, pids: Sequence[int], qvec: np.ndarray) -> dict[int, float]:
        return self.retriever.similarity(list(pids), qvec)

    def _best_sentences(self, pid: int, qvec: np.ndarray) -> list[int]:
        """Indexes of the passage's sentences closest to the question (reading order)."""
        sentences = self.passages[pid].sentences
        if len(sentences) <= 1:
            return list(range(len(sentences)))
        sims = self.retriever.index.sentence_vectors_for(pid) @ qvec
        best = float(sims.max())
        return sorted(int(i) for i in np.argsort(-sims)[:BOLD_TOP] if sims[i] >= best - BOLD_WITHIN)

    def _bold_sentences(self, pid: int, qvec: np.ndarray, question: str) -> list[int]:
        """The sentences worth bolding: the closest ones, or what answers in their place."""
        sentences = self.passages[pid].sentences
        if len(sentences) <= 1:
            return []
        moved = set()
        for i in self._best_sentences(pid, qvec):
            after = i + 1 if i + 1 < len(sentences) else None
            if after is None:
                moved.add(i)
            elif not _ASKS_WHY.search(question) and _poses_problem_only([sentences[i]]):
                moved.add(after)  # a set-up ("… is also a common challenge."): what follows answers
            elif _ASKS_REASON.search(question) and leans_on_previous(sentences[after]):
                moved.add(after)  # asked what it is good for: the sentence that elaborates
            else:
                moved.add(i)
        return sorted(moved)

    # Structure -------------------------------------------------------------------------------

    def _neighbour(self, pid: int, step: int) -> int | None:
        other = pid + step
        if not 0 <= other < len(self.passages):
            return None
        here, there = self.passages[pid], self.passages[other]
        if there.doc_id != here.doc_id or there.section != here.section:
            return None
        return other

    def _list_of(self, pid: int) -> list[int] | None:
        """The passages of the list unit ``pid`` belongs to (lead-in first), if it is in one."""
        passage = self.passages[pid]
        unit = self._unit_passages.get((passage.doc_id, passage.unit), [])
        if passage.kind not in (ITEM, LEAD_IN) or not any(
            self.passages[p].kind == ITEM for p in unit
        ):
            return None
        # A long lead-in paragraph is several passages: only the one holding the lead-in
        # sentence belongs to the list.
        return [p for p in unit if self.passages[p].kind in (ITEM, LEAD_IN)]

    def _context_before(self, pid: int, first: int) -> list[tuple[int, int]]:
        """Sentences to bring along before sentence ``first`` of passage ``pid`` because it
        leans on them (at most two, same section)."""
        brought: list[tuple[int, int]] = []
        where = (pid, first)
        for _ in range(2):
            p, s = where
            if not leans_on_previous(self.passages[p].sentences[s]):
                break
            if s > 0:
                where = (p, s - 1)
            else:
                before = self._neighbour(p, -1)
                if before is None or self.passages[before].kind == ITEM:
                    break
                where = (before, len(self.passages[before].sentences) - 1)
            brought.insert(0, where)
        return brought

    # Quotes ----------------------------------------------------------------------------------

    def _quote(
        self,
        *,
        spans: list[tuple[int, int]],
        answer: set[tuple[int, int]],
        score: float,
        items: Sequence[int] = (),
        bold_items: Sequence[int] = (),
        cap: int | None = None,
    ) -> Quote:
        sentences = tuple(self.passages[p].sentences[s] for p, s in spans)
        first = spans[0][0] if spans else items[0]
        if cap is None:
            cap = self._list_cap(items)
        shown, more = list(items[:cap]), max(0, len(items) - cap)
        if more and bold_items and bold_items[0] not in shown:
            shown[-1] = bold_items[0]  # a capped list still shows the item that was asked about
        item_texts = tuple(self.passages[p].text for p in shown)
        bold = [self.passages[p].sentences[s] for p, s in spans if (p, s) in answer]
        bold += [self.passages[p].text for p in shown if p in bold_items]
        total = sum(word_count(t) for t in (*sentences, *item_texts))
        if sum(word_count(t) for t in bold) + MIN_CONTEXT_WORDS > total:
            bold = []  # the quote is the answer: no bold needed
        passage = self.passages[first]
        return Quote(
            sentences=sentences,
            items=item_texts,
            more_items=more,
            bold=tuple(bold),
            source=passage.doc_title,
            section=passage.section,
            doc_id=passage.doc_id,
            path=passage.path,
            line=passage.line,
            score=score,
            passage_ids=tuple(dict.fromkeys([*(p for p, _ in spans), *shown])),
            page=passage.page,
        )

    def _list_cap(self, items: Sequence[int]) -> int:
        """How many items of a list to show: all while they fit ``LIST_WORDS`` words, and at
        least ``MIN_LIST_ITEMS`` and at most ``MAX_LIST_ITEMS``."""
        words, count = 0, 0
        for pid in items[:MAX_LIST_ITEMS]:
            words += word_count(self.passages[pid].text)
            if words > LIST_WORDS and count >= MIN_LIST_ITEMS:
                break
            count += 1
        return count

    def _list_quote(
        self,
        members: list[int],
        pid: int,
        qvec: np.ndarray,
        score: float,
        *,
        support: bool,
        question: str = "",
    ) -> Quote:
        lead_ins = [p for p in members if self.passages[p].kind == LEAD_IN]
        items = [p for p in members if self.passages[p].kind == ITEM]
        spans: list[tuple[int, int]] = []
        answer: set[tuple[int, int]] = set()
        if lead_ins:
            lead_in = lead_ins[0]
            last = len(self.passages[lead_in].sentences) - 1
            start = last
            if pid == lead_in and not support and last > 0:
                # The lead-in paragraph itself was found: when an earlier sentence of it, not
                # the one that opens the list, is what answers, the quote starts there.
                sims = self.retriever.index.sentence_vectors_for(lead_in) @ qvec
                best = int(np.argmax(sims))
                if best != last and sims[best] - sims[last] >= LEAD_SENTENCE_MARGIN:
                    start = best
                    answer = {(lead_in, best)}
            spans = [
                *self._context_before(lead_in, start),
                *((lead_in, s) for s in range(start, last + 1)),
            ]
        if support:
            chosen = [pid] if self.passages[pid].kind == ITEM else items[:1]
            quote = self._quote(
                spans=spans, answer=set(), score=score, items=chosen, cap=SUPPORT_LIST_ITEMS
            )
            return _with_more(quote, len(items) - len(chosen))
        # Bold the item asked about only when it stands out from its siblings.
        bold_items: list[int] = []
        if self.passages[pid].kind == ITEM and len(items) > 1:
            sims = self._similarity(items, qvec)
            ranked = sorted(items, key=lambda p: -sims[p])
            if ranked[0] == pid and sims[ranked[0]] - sims[ranked[1]] >= 0.08:
                bold_items = [pid]
        if bold_items and not _ASKS_LIST.search(question):
            before = [self.passages[p].sentences[s] for p, s in spans]
            before += [self.passages[p].text for p in items[: items.index(pid)]]
            if sum(word_count(t) for t in before) > ITEM_WITHIN_WORDS:
                # The item asked about would come too far down: its lead-in and it alone, with
                # a count of the others.
                quote = self._quote(
                    spans=spans, answer=set(), score=score, items=[pid], bold_items=[pid], cap=1
                )
                return _with_more(quote, len(items) - 1)
        return self._quote(
            spans=spans, answer=answer, score=score, items=items, bold_items=bold_items
        )

    def _prose_quote(
        self, pid: int, qvec: np.ndarray, score: float, *, question: str, support: bool
    ) -> Quote:
        passage = self.passages[pid]
        if support:
            # Support is the one sentence that answers best, with what it leans on.
            best = self._best_sentences(pid, qvec)[0]
            spans = [*self._context_before(pid, best), (pid, best)]
            return self._quote(spans=spans, answer={(pid, best)}, score=score)
        # The lead is its whole passage (a paragraph or a few of its sentences), with the
        # answering sentences in bold when there is more.
        spans = [*self._context_before(pid, 0), *((pid, s) for s in range(len(passage.sentences)))]
        answer = {(pid, s) for s in self._bold_sentences(pid, qvec, question)}
        following = self._neighbour(pid, 1)
        if following is None or _ASKS_WHY.search(question):
            return self._quote(spans=spans, answer=answer, score=score)
        members = self._list_of(following)
        if members and _ASKS_LIST.search(question):
            # Asked for a list, the paragraph right before one leads to it: the list answers.
            return self._list_quote(members, following, qvec, score, support=False)
        if _poses_problem_only([self.passages[p].sentences[s] for p, s in spans]):
            if members:
                listed = self._list_quote(members, following, qvec, score, support=False)
                return _join(self._quote(spans=spans, answer=set(), score=score), listed)
            if _ADVICE.search(self.passages[following].text):
                take = self._best_sentences(following, qvec)[0]
                extra = [(following, s) for s in range(take + 1)]
                return self._quote(spans=spans + extra, answer=set(extra), score=score)
        return self._quote(spans=spans, answer=answer, score=score)

    def _unit_quote(
        self, pid: int, qvec: np.ndarray, score: float, *, question: str, support: bool
    ) -> Quote:
        members = self._list_of(pid)
        if members:
            return self._list_quote(members, pid, qvec, score, support=support, question=question)
        return self._prose_quote(pid, qvec, score, question=question, support=support)

    # Choosing the lead -----------------------------------------------------------------------

    def _stage_passage(self, result: SearchResult, qvec: np.ndarray) -> tuple[int, float] | None:
        """For a question naming a head count: the best passage of the section whose heading
        range holds it, among the range sections beside the ones retrieved."""
        count = head_count_of(result.query)
        if count is None or not self._ranges:
            return None
        for hit in result.hits[:5]:
            doc, section = hit.passage.doc_id, hit.passage.section
            parents = {section, section.rpartition(" > ")[0]}
            ranged = [
                key
                for key in self._ranges
                if key[0] == doc and key[1].rpartition(" > ")[0] in parents
            ]
            if not ranged:
                continue
            holding = [key for key in ranged if _holds(self._ranges[key], count)]
            if not holding:
                return None
            pids = self._section_passages[holding[0]]
            sims = self._similarity(pids, qvec)
            best = max(pids, key=lambda p: sims[p])
            return best, sims[best]
        return None

    def _list_lead(self, result: SearchResult, qvec: np.ndarray) -> tuple[int, float] | None:
        """For a question asking for several things: a list among the top hits, or in the lead's
        section, scoring close to the lead."""
        if not _ASKS_LIST.search(result.query) or not result.hits:
            return None
        top = result.hits[0]
        if self._list_of(top.passage_id):
            return None
        candidates = {h.passage_id for h in result.hits[:3] if self._list_of(h.passage_id)}
        candidates |= {
            p
            for p in self._section_passages.get((top.passage.doc_id, top.passage.section), [])
            if self._list_of(p)
        }
        if not candidates:
            return None
        sims = self._similarity(sorted(candidates), qvec)
        score_of = {h.passage_id: h.score for h in result.hits}
        best = max(candidates, key=lambda p: score_of.get(p, sims[p]))
        score = score_of.get(best, sims[best])
        if score < top.score - LIST_MARGIN:
            return None
        return best, score

    def _answer_over_setup(self, result: SearchResult) -> tuple[int, float] | None:
        """When the best passage only poses a problem, one that answers leads instead: a close
        one, or the best of the problem's own section."""
        top = result.hits[0]
        # A list item or lead-in is part of a list, never a set-up for the next paragraph.
        if (
            top.passage.kind != PARAGRAPH
            or _ASKS_WHY.search(result.query)
            or not _poses_problem_only(top.passage.sentences)
        ):
            return None
        for hit in result.hits[1:]:
            same = hit.passage.doc_id == top.passage.doc_id and (
                hit.passage.section == top.passage.section
            )
            margin = SETUP_SECTION_MARGIN if same else SETUP_MARGIN
            if hit.score < top.score - margin or _poses_problem_only(hit.passage.sentences):
                continue
            return hit.passage_id, hit.score
        return None

    def _list_overlaps(self, pid: int, used: set[int]) -> bool:
        members = self._list_of(pid)
        return bool(members and used.intersection(members))

    def compose(self, result: SearchResult) -> Composition | None:
        """The answer for an answered search result (None when nothing was found)."""
        if not result.hits or result.query_vector is None:
            return None
        qvec = result.query_vector
        question = result.query
        lead_pid, lead_score = result.hits[0].passage_id, result.hits[0].score
        chosen = (
            self._stage_passage(result, qvec)
            or self._list_lead(result, qvec)
            or self._answer_over_setup(result)
        )
        if chosen is not None:
            lead_pid, lead_score = chosen[0], max(lead_score, chosen[1])
        lead = self._unit_quote(lead_pid, qvec, lead_score, question=question, support=False)
        count = head_count_of(question)
        used_sections = {(lead.doc_id, lead.section)}
        used = set(lead.passage_ids)
        support: list[Quote] = []
        for hit in result.hits:
            if len(support) == MAX_SUPPORT:
                break
            key = (hit.passage.doc_id, hit.passage.section)
            if hit.passage_id in used or self._list_overlaps(hit.passage_id, used):
                continue
            margin = SAME_SECTION_MARGIN if key in used_sections else SUPPORT_MARGIN
            if hit.score < lead_score - margin:
                continue
            if count is not None and key in self._ranges and not _holds(self._ranges[key], count):
                continue  # another stage than the one the question names
            quote = self._unit_quote(
                hit.passage_id, qvec, hit.score, question=question, support=True
            )
            support.append(quote)
            used_sections.add(key)
            used.update(quote.passage_ids)
        return Composition(lead=lead, support=tuple(support))


def _holds(bounds: tuple[float, float], count: float) -> bool:
    return bounds[0] <= count <= bounds[1]


def _with_more(quote: Quote, more: int) -> Quote:
    return replace(quote, more_items=max(0, more))


def _join(first: Quote, second: Quote) -> Quote:
    """One quote of two consecutive places: a problem and the list that answers it."""
    return replace(
        first,
        sentences=first.sentences + second.sentences,
        items=second.items,
        more_items=second.more_items,
        bold=second.bold,
        passage_ids=tuple(dict.fromkeys(first.passage_ids + second.passage_ids)),
    )
