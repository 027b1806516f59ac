"""Knowledge gaps' clusters (SPEC §6.7): requests grouped by what they ask, each group named
by the words its requests share. Pure functions over texts: no database, no Slack, so
`bench/gaps.py` measures them directly.

The method, chosen to be explained in a sentence and measured (bench/RESULTS.md):
- a request is the set of its terms: stemmed words without stop and filler words, and CJK
  text as character pairs (the terms incident matching compares, `workers.incident_match`);
- each term weighs its inverse document frequency over the whole period's requests (TF-IDF
  with binary term frequency: a word said twice in one request says no more), and a request is
  that vector, unit length;
- groups merge while the average cosine similarity between their requests is at least
  `THRESHOLD` (agglomerative clustering, average linkage): a group is joined by what it has
  in common on average, not by one request that happens to look like another;
- a group is named by its terms that at least half of its requests use, the rarest (highest
  IDF) first, each shown as the word its requests wrote most often.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from integrations.store.search_terms import stem, tokens
from workers.incident_match import terms as request_terms

THRESHOLD = 0.15  # average cosine similarity at which two groups merge (bench/gaps.py)
MIN_SHARED = 2  # two requests sharing fewer terms are not alike at all (as retrieval holds)
NAME_TERMS = 3  # words in a group's name
NAME_SHARE = 0.5  # a name's word is used by at least this share of the group's requests

# Words that ask without saying about what; `tokens` drops the commonest already.
_ASKING_WORDS = """anybody anything can't cannot could possible possibly someone something
    tell help question quick wondering wonder way ways know need needs want wants able
    trying tried try hey hola bonjour hallo olá ciao gracias merci danke obrigado set setup
    up change make use add find work works working two"""
_ASKING = frozenset(stem(w) for w in _ASKING_WORDS.split()) | frozenset(_ASKING_WORDS.split())


# Function words of the other languages customers write in, which `tokens` keeps.
_FUNCTION_WORDS = """vous nous pouvez peut est sont pas les des une que qui pour avec dans sur
    comment faire il elle ils por para como cómo qué cuál con los las del una unos es son hay
    puedo podemos wie wir ich ihr sie können kann ist sind nicht und oder der die das den dem
    ein eine mit für auf você vocês nós não com para uma por quanto tempo re ll ve ne ya"""
_FUNCTION = frozenset(_FUNCTION_WORDS.split())
# CJK characters that carry grammar, not subject: a pair holding one says nothing of it.
_GRAMMAR = frozenset(
    "的了吗呢吧是在我们你您他她它这那和与及或就都也还把被给对从向于以之其而且如果但因为所可能要会请"
)
_HIRAGANA = re.compile(r"[\u3040-\u309f]")
# A link names where, not what: `<https://...|label>` keeps its label, a bare URL goes.
_LINK = re.compile(r"<(?:https?|mailto):[^|>]*\|([^>]*)>|<(?:https?|mailto):[^>]*>|https?://\S+")


def terms(text: str) -> frozenset[str]:
    """What a request is compared on: its stemmed words and CJK character pairs, without
    links, function words (and the ends of contractions: we're, we'll), and CJK pairs
    holding a grammar character or hiragana (Japanese content words are kanji, katakana)."""
    text = _LINK.sub(lambda m: m.group(1) or " ", text)
    return frozenset(t for t in request_terms(text) if _says_something(t))


def _says_something(term: str) -> bool:
    if term in _ASKING or term in _FUNCTION:
        return False
    if term[0] >= "\u3040":  # a CJK pair
        return not (_GRAMMAR & set(term) or _HIRAGANA.search(term))
    return True


@dataclass(frozen=True)
class Vocabulary:
    """Inverse document frequencies over a corpus (the period's requests)."""

    idf: dict[str, float]
    unseen: float  # the weight of a term the corpus never used

    @classmethod
    def of(cls, documents: Iterable[frozenset[str]]) -> Vocabulary:
        frequency: Counter[str] = Counter()
        count = 0
        for document in documents:
            frequency.update(document)
            count += 1
        idf = {t: math.log((1 + count) / (1 + df)) + 1 for t, df in frequency.items()}
        return cls(idf, math.log(1 + count) + 1)

    def weight(self, term: str) -> float:
        return self.idf.get(term, self.unseen)


def _unit(document: frozenset[str], vocabulary: Vocabulary) -> dict[str, float]:
    weights = {t: vocabulary.weight(t) for t in document}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {t: w / norm for t, w in weights.items()}


def similarities(
    documents: Sequence[frozenset[str]], vocabulary: Vocabulary
) -> dict[tuple[int, int], float]:
    """Cosine similarity of every pair (i < j) sharing at least `MIN_SHARED` terms; other
    pairs are 0 and left out (only the postings of each term are walked): one word in common
    ("change", "mobile") says little about two questions being one."""
    vectors = [_unit(d, vocabulary) for d in documents]
    postings: dict[str, list[int]] = defaultdict(list)
    for index, document in enumerate(documents):
        for term in document:
            postings[term].append(index)
    pairs: dict[tuple[int, int], float] = defaultdict(float)
    shared: Counter[tuple[int, int]] = Counter()
    for term, indexes in postings.items():
        for a, i in enumerate(indexes):
            for j in indexes[a + 1 :]:
                pairs[(i, j)] += vectors[i][term] * vectors[j][term]
                shared[(i, j)] += 1
    return {pair: value for pair, value in pairs.items() if shared[pair] >= MIN_SHARED}


def cluster(
    documents: Sequence[frozenset[str]],
    vocabulary: Vocabulary,
    threshold: float = THRESHOLD,
) -> list[list[int]]:
    """Groups of document indexes (average linkage until no two groups are `threshold`
    alike), largest first, each in index order; every document is in exactly one."""
    sizes = {i: 1 for i in range(len(documents))}
    members = {i: [i] for i in range(len(documents))}
    linked: dict[int, dict[int, float]] = defaultdict(dict)  # summed similarities
    heap: list[tuple[float, int, int]] = []
    for (i, j), similarity in similarities(documents, vocabulary).items():
        linked[i][j] = linked[j][i] = similarity
        if similarity >= threshold:
            heap.append((-similarity, i, j))
    heapq.heapify(heap)
    while heap:
        negative, i, j = heapq.heappop(heap)
        if i not in sizes or j not in sizes:
            continue  # merged into another group since
        if -negative != _average(linked, sizes, i, j):
            continue  # a stale entry: the current one is in the heap too
        sizes[i] += sizes.pop(j)
        members[i] += members.pop(j)
        for k, summed in linked.pop(j).items():
            linked[k].pop(j, None)
            if k != i:
                linked[i][k] = linked[k][i] = linked[i].get(k, 0.0) + summed
        linked[i].pop(j, None)
        for k in linked[i]:
            average = _average(linked, sizes, i, k)
            if average >= threshold:
                heapq.heappush(heap, (-average, min(i, k), max(i, k)))
    groups = [sorted(m) for m in members.values()]
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def _average(linked: dict[int, dict[int, float]], sizes: dict[int, int], i: int, j: int) -> float:
    return linked[i].get(j, 0.0) / (sizes[i] * sizes[j])


def name(texts: Sequence[str], vocabulary: Vocabulary, limit: int = NAME_TERMS) -> list[str]:
    """The group's words: the terms at least `NAME_SHARE` of its texts use (at least two when
    it has two), rarest first, each as its texts most often wrote it."""
    documents = [terms(t) for t in texts]
    used: Counter[str] = Counter(t for d in documents for t in d)
    needed = max(2, math.ceil(NAME_SHARE * len(texts))) if len(texts) > 1 else 1
    shared = [t for t, n in used.items() if n >= needed]
    shared.sort(key=lambda t: (-used[t] * vocabulary.weight(t), t))
    written = _written_as(texts)
    return [written.get(t, t) for t in shared[:limit]]


def _written_as(texts: Sequence[str]) -> dict[str, str]:
    """Each stem's commonest spelling in the texts ("export" for "exports", "exporting")."""
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for text in texts:
        for word in tokens(text):
            spellings[stem(word)][word] += 1
    return {s: c.most_common(1)[0][0] for s, c in spellings.items()}
