"""How much an approver changed a draft before sending it (SPEC §6.7): recorded at approval
(`drafts.edit_distance`), read by `triage gaps` as "heavily edited".

Words, not characters: a draft whose words were all kept but re-cased or re-punctuated was not
changed in substance, and a character-level distance of two long replies costs seconds in
Python. A CJK character counts as a word (those languages put no spaces between words).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_WORD = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


def words(text: str) -> list[str]:
    """The text's words, lowercased, without punctuation; each CJK character one word."""
    return _WORD.findall(text.lower())


def edit_distance(draft: str, sent: str) -> float:
    """The share of words changed from `draft` to `sent`: the words replaced, deleted and
    inserted by difflib's edit script, over the longer text's word count. 0.0 when sent as
    is (or only its case, punctuation or spacing changed), 1.0 when nothing was kept."""
    before, after = words(draft), words(sent)
    longest = max(len(before), len(after))
    if longest == 0:
        return 0.0
    changed = 0
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            changed += max(i2 - i1, j2 - j1)
    return round(min(1.0, changed / longest), 4)
