"""What the offline triage classifier sees of a message (SPEC §5.2). Pure: no I/O.

A message becomes three groups of named features, each group weighted on its own:
- `c:` character 1-5-grams inside each word, padded with a space at both ends (they carry
  Chinese and Japanese, which have no spaces, typos, accents dropped, and words' stems);
- `w:` words and pairs of adjacent words, where a run of Chinese or Japanese characters (no
  spaces to split it) counts as its overlapping character pairs (a one-character run as itself):
  "导出失败" gives the words 导出, 出失, 失败;
- `k:` the keyword cue groups of `workers.triage_rules` that fire (incident, bug, billing...,
  an acknowledgement, an emoji-only message): a few hand-written, many-language cues the model
  weighs by what it learned, not rules that decide.
Slack markup is normalised first (mentions, links, digits), so placeholder ids are not learned.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter

from workers.triage_rules import cues

CHAR_MIN, CHAR_MAX = 1, 5
CUE_WEIGHT = 0.3  # the cue group's length against the n-gram groups' unit length

_LINK_LABEL = re.compile(r"<https?://[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<(?:https?|mailto):[^>]*>")
_MENTION = re.compile(r"<[@!#][^>]*>")
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"\w+")
# Han (with extension A and compatibility ideographs), hiragana and katakana: no spaces.
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def normalise(text: str) -> str:
    """Lower case, NFKC, Slack markup reduced to its words, digits to 0, one space between."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _LINK_LABEL.sub(r" \1 ", text)
    text = _LINK.sub(" url ", text)
    text = _MENTION.sub(" @ ", text)
    text = _DIGIT.sub("0", text)
    return " ".join(text.split())


def char_grams(clean: str, low: int = CHAR_MIN, high: int = CHAR_MAX) -> Counter[str]:
    """Character n-grams within each space-separated word, the word padded by spaces."""
    padded = [f" {word} " for word in clean.split()]
    return Counter(  # counted in C: this runs in the web process for every customer message
        "c:" + word[i : i + n]
        for word in padded
        for n in range(low, min(high, len(word)) + 1)
        for i in range(len(word) - n + 1)
    )


def words(clean: str) -> list[str]:
    """The words of a normalised message; a CJK run becomes its overlapping character pairs."""
    out: list[str] = []
    for word in _WORD.findall(clean):
        start = 0
        for run in _CJK_RUN.finditer(word):
            if run.start() > start:
                out.append(word[start : run.start()])
            chars = run.group()
            out += [chars] if len(chars) == 1 else [a + b for a, b in itertools.pairwise(chars)]
            start = run.end()
        if start < len(word):
            out.append(word[start:])
    return out


def word_grams(clean: str) -> Counter[str]:
    """Words (`words`) and pairs of adjacent words."""
    words_ = words(clean)
    grams: Counter[str] = Counter("w:" + w for w in words_)
    grams.update(f"w:{a} {b}" for a, b in itertools.pairwise(words_))
    return grams


def cue_names(text: str) -> list[str]:
    """The keyword cue groups that fire on the raw text."""
    return ["k:" + name for name in cues(text)]


def groups(
    text: str, chars: tuple[int, int] = (CHAR_MIN, CHAR_MAX)
) -> list[tuple[Counter[str], bool]]:
    """The message's feature groups: (feature counts, whether the group is TF-IDF weighted)."""
    clean = normalise(text)
    return [
        (char_grams(clean, *chars), True),
        (word_grams(clean), True),
        (Counter(cue_names(text)), False),
    ]
