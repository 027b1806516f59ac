"""The words a search compares: one tokenizer for what is indexed and what is asked.

`tokens` is retrieval's (lowercased `\\w+` runs, stop words and one-letter words dropped; a
run of CJK characters is one word, as before); `stemmed` is what expertise compares, with a
light English stemmer and generic words dropped first. `term_key` is how a word is stored.
"""

from __future__ import annotations

import hashlib
import re

_STOP_WORDS = """a an and are as at be but by can could do does for from have how i if in is it
its me my no not of on or our please so that the their them then there these this to us was we
were what when where which who why will with would you your hi hello thanks thank team"""
_STOP = frozenset(_STOP_WORDS.split())


def tokens(text: str) -> list[str]:
    """The words of `text` that say something, in order, lowercased."""
    return [t for t in re.findall(r"\w+", text.lower()) if len(t) > 1 and t not in _STOP]


_SUFFIXES = (("ies", "y", 4), ("ing", "", 5), ("ed", "", 4), ("es", "", 4), ("s", "", 3))


def stem(word: str) -> str:
    """A light English stemmer: "exports", "exported", "exporting" → "export"."""
    word = word.lower()
    for suffix, replacement, shortest in _SUFFIXES:
        if len(word) > shortest and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)] + replacement
    return word


# Words that say nothing about a subject, beyond retrieval's stop words.
_GENERIC_WORDS = """about after again all also any anyone before day days did done every get
    got had has
    just keep know last let like more need needs new now one only out right see seem seems
    since some someone still thing things today up use used using want way week yesterday
    morning"""
_GENERIC = frozenset(_GENERIC_WORDS.split())


def stemmed(text: str) -> str:
    """The text with every word stemmed and generic words dropped, for BM25 to match "logs"
    with "log" and not "since" with "since"."""
    return re.sub(
        r"\w+",
        lambda match: "" if match.group(0).lower() in _GENERIC else stem(match.group(0)),
        text,
    )


MAX_TERM = 64  # characters of `search_postings.term`


def term_key(word: str) -> str:
    """The word as the index stores it: itself, or when longer than `MAX_TERM` (a pasted
    hash, a long run of CJK) its beginning and a digest of the whole, which no `\\w+` word
    can equal."""
    if len(word) <= MAX_TERM:
        return word
    return f"{word[:40]}~{hashlib.sha1(word.encode()).hexdigest()[:20]}"
