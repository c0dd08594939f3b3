"""Text utilities shared by chunking, BM25 and highlighting: sentences, tokens, cleaning."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean_text", "is_stopword", "split_sentences", "tokenize", "word_count"]

# A sentence ends at . ! or ? (optionally followed by a closing quote or bracket) when the next
# word starts like a sentence. Common abbreviations are protected so "e.g. the" does not split.
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "Dr.", "Mr.", "Ms.", "Mrs.", "Inc.", "St.")
_BOUNDARY = re.compile(r"(?<=[.!?])([”\"’')\]]?)\s+(?=[“\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[a-z0-9]+(?:[+#][a-z0-9+#]*)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")

_STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves us let lets get got go going want wants need needs shall may might
    must also one ones really thing things way im ive dont
    """.split()  # noqa: SIM905 - a word list reads better as text
)


def clean_text(text: str) -> str:
    """Normalise Unicode, drop control and invisible characters, and collapse white space."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def is_stopword(word: str) -> bool:
    return word.lower().replace("’", "'") in _STOPWORDS


def word_count(text: str) -> int:
    return len(text.split())


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences, keeping each sentence's text exactly as written."""
    protected = text
    for i, abbr in enumerate(_ABBREVIATIONS):
        protected = protected.replace(abbr, abbr.replace(".", f"\x00{i}\x00"))
    parts: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(protected):
        end = match.start() + len(match.group(1))
        parts.append(protected[start:end])
        start = match.end()
    parts.append(protected[start:])
    sentences = []
    for part in parts:
        for i, abbr in enumerate(_ABBREVIATIONS):
            part = part.replace(abbr.replace(".", f"\x00{i}\x00"), abbr)
        if part.strip():
            sentences.append(part.strip())
    return sentences


def _stem(token: str) -> str:
    # A deliberately light suffix stripper: enough to meet "hiring"/"hire", "teams"/"team",
    # "monitoring"/"monitor" in BM25, without a stemming dependency.
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", "")):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            stem = token[: -len(suffix)] + keep
            if suffix in ("ing", "ed") and len(stem) > 3 and stem[-1] == stem[-2]:
                stem = stem[:-1]  # "planning" -> "plann" -> "plan"
            return stem
    if token.endswith("e") and len(token) >= 4:
        return token[:-1]  # "hire" and "hiring" meet at "hir"
    return token


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stop words, lightly stemmed, for BM25."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    return [_stem(t) for t in _WORD.findall(text) if t not in _STOPWORDS]
