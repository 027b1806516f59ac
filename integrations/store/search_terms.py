"""The words a search compares: one tokenizer for what is indexed and what is asked.

`tokens` is retrieval's (lowercased `\\w+` runs, stop words and one-letter words dropped);
Chinese and Japanese are written without spaces, so a run of their characters is read as its
overlapping two-character pieces ("导出失败" → 导出, 出失, 失败), which a question and a past
answer share when they share a word, whatever surrounds it (`cjk_terms`). `stemmed` is what
expertise compares, with a light English stemmer and generic words dropped first. `term_key`
is how a word is stored. The index holds these terms: a change here needs a migration that
re-indexes (0016 did, for the CJK pieces: `search_index.refresh`).
"""

from __future__ import annotations

import hashlib
import re

_STOP_WORDS = """a an and are as at be but by can could do does for from have how i if in is it
its me my no not of on or our please so that the their them then there these this to us was we
were what when where which who why will with would you your hi hello thanks thank team"""
_STOP = frozenset(_STOP_WORDS.split())


# Hiragana, katakana (not its middle dot ・), Han (unified ideographs, extension A, compatibility)
_CJK_CHARS = "\u3040-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK_CHARS}]+|[^\W{_CJK_CHARS}]+")
_CJK_START = re.compile(f"[{_CJK_CHARS}]")
_HIRAGANA = re.compile("[\u3040-\u309f]+")
# Two-character pieces that say nothing about a subject, like the English stop words:
# we/you/they, what/how/why, can/whether, please/thanks, this/that/one, already/now, hello.
_CJK_STOP_WORDS = """我们 你们 他们 您们 什么 怎么 如何 为什 可以 能否 是否 请问 谢谢 麻烦
一下 这个 那个 一个 已经 现在 没有 怎样 你好 您好 大家 的话 时候 今天 一直"""
_CJK_STOP = frozenset(_CJK_STOP_WORDS.split())


def cjk_terms(run: str) -> list[str]:
    """A run of Chinese or Japanese characters as its overlapping pairs, leaving out pairs
    that say nothing about a subject. Hiragana (Japanese endings and particles: を, です,
    して) separate, as spaces do: its pairs would be grammar, not subject. A character alone
    says too little, like a one-letter word."""
    found: list[str] = []
    for part in _HIRAGANA.split(run):
        pairs = (part[i : i + 2] for i in range(len(part) - 1))
        found.extend(p for p in pairs if p not in _CJK_STOP)
    return found


def is_cjk(word: str) -> bool:
    """Whether `word` is one of `cjk_terms`' pieces (it begins with such a character)."""
    return bool(_CJK_START.match(word))


def tokens(text: str) -> list[str]:
    """The words of `text` that say something, in order, lowercased; Chinese and Japanese
    as their two-character pieces."""
    found: list[str] = []
    for word in _WORD.findall(text.lower()):
        if is_cjk(word):
            found.extend(cjk_terms(word))
        elif len(word) > 1 and word not in _STOP:
            found.append(word)
    return found


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
# Function words of the languages customers write most after English (Spanish, Portuguese,
# French, German, Italian): articles, pronouns, prepositions, conjunctions, common verbs.
# Expertise drops them with the generic words; retrieval keeps them, because its rule of two
# shared terms let a Spanish question through on one subject word and a "de" or "para", and
# measured, dropping them there lost more than it gained (bench/RESULTS.md, session 12).
_STOP_WORDS_EUROPEAN = """
al algo algún alguna alguno como con cuando de del desde donde el ella ellos en entre era es
esa ese esta estamos están este esto estos fue ha han hay hemos la las le les lo los más me mi
muy nos nosotros nuestra nuestro nuestros nuestras o os para pero por porque puede pueden qué
que se ser si sí sin sobre son su sus también te tenemos tiene tienen todo todos tu un una uno
unos ya vuestra vuestro podéis podemos hola gracias estoy está
ao aos as às com da das de do dos ela ele em essa esse esta este eu isso mas na nas no nos nós
nossa nosso o os ou para pela pelo por que se sem seu sua são também um uma vocês obrigado olá
au aux avec ce ces cette dans des du elle en est et il ils je la le les leur mais ne nos notre
nous ou par pas pour qu que qui sa se ses son sont sur un une vos votre vous bonjour merci
aber als am an auch auf aus bei bin bis das dass dem den der des die doch du ein eine einen
einem einer es für hat haben ich ihr im in ist ja kann können mit nach nicht noch nur oder
sie sind so über um und uns unser unsere von vor war was wenn wie wir wird zu zum zur danke
ai al alla alle anche abbiamo che chi con dal dalla dei del della delle dello degli di dopo
gli hanno ho il io la le lo ma mi nel nella nei nelle non nostra nostre nostri nostro per più
quando se si sono su sul sulla un una vostra vostro grazie
"""
_DROPPED = _GENERIC | _STOP | frozenset(_STOP_WORDS_EUROPEAN.split())


def stemmed(text: str) -> str:
    """The text with every word stemmed and generic and stop words dropped (before
    stemming, so that "this" does not become "thi"), for BM25 to match "logs" with "log"
    and not "since" with "since"."""
    return _WORD.sub(
        lambda match: "" if match.group(0).lower() in _DROPPED else stem(match.group(0)),
        text,
    )


MAX_TERM = 64  # characters of `search_postings.term`


def term_key(word: str) -> str:
    """The word as the index stores it: itself, or when longer than `MAX_TERM` (a pasted
    hash) its beginning and a digest of the whole, which no `\\w+` word
    can equal."""
    if len(word) <= MAX_TERM:
        return word
    return f"{word[:40]}~{hashlib.sha1(word.encode()).hexdigest()[:20]}"
