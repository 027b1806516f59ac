"""Reading the history search's index: BM25+ from the postings of a query's terms only.

`matches` reads one scope's counts (documents, total length) and the postings of the query's
terms; `bm25_plus` scores the documents sharing enough of those terms exactly as rank-bm25's
`BM25Plus` (k1 1.5, b 0.75, delta 1) scored a whole corpus held in memory: the same idf
(log((N + 1) / df)), the same document lengths (to the last bits of a float: the sums are
added in another order).
So a request costs what its terms' postings cost, not what the whole history costs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.store.search_models import SearchDocument, SearchPosting, SearchStats
from integrations.store.search_terms import term_key

K1, B, DELTA = 1.5, 0.75, 1.0  # rank-bm25's BM25Plus defaults


@dataclass
class Matches:
    """What BM25 needs of one scope for one query."""

    documents: int = 0  # N
    length: int = 0  # the sum of the documents' lengths
    terms: dict[int, dict[str, int]] = field(default_factory=dict)  # source → {term: tf}
    lengths: dict[int, int] = field(default_factory=dict)  # source → its length

    def df(self) -> Counter[str]:
        """How many documents of the scope hold each of the query's terms."""
        return Counter(term for terms in self.terms.values() for term in terms)


def matches(
    session: Session,
    corpus: str,
    scope: str,
    words: Sequence[str],
    *,
    exclude_request: int | None = None,
) -> Matches:
    """The scope's counts and the postings of `words`, without the documents of
    `exclude_request` (a request is never its own example)."""
    keys = sorted({term_key(w) for w in words})
    stats = session.execute(
        select(SearchStats.documents, SearchStats.length).where(
            SearchStats.corpus == corpus, SearchStats.scope == scope
        )
    ).first()
    if not keys or stats is None:
        return Matches()
    found = Matches(int(stats.documents), int(stats.length))
    left_out: set[int] = set()
    if exclude_request is not None:
        for source_id, length in session.execute(
            select(SearchDocument.source_id, SearchDocument.length).where(
                SearchDocument.corpus == corpus,
                SearchDocument.request_id == exclude_request,
                SearchDocument.scope == scope,
            )
        ):
            found.documents -= 1
            found.length -= length
            left_out.add(source_id)
    for source_id, term, tf, length in session.execute(
        select(
            SearchPosting.source_id, SearchPosting.term, SearchPosting.tf, SearchPosting.length
        ).where(
            SearchPosting.corpus == corpus,
            SearchPosting.scope == scope,
            SearchPosting.term.in_(keys),
        )
    ):
        if source_id not in left_out:
            found.terms.setdefault(source_id, {})[term] = tf
            found.lengths[source_id] = length
    return found


def bm25_plus(
    words: Sequence[str], found: Matches, shared: int, *, constant: bool = True
) -> list[tuple[int, float]]:
    """(source, score) of each document holding at least `shared` of the query's distinct
    words (all of them when it has fewer), unordered.

    rank-bm25's BM25+ gives every query word its idf × delta in every document, holding it
    or not: that part is one constant; only the words a document holds add to it. It does
    not change which document ranks first, but it is most of a weak match's score, so a sum
    or a ratio of scores (expertise) is taken without it (`constant` False)."""
    query = Counter(term_key(w) for w in words)  # each word as often as it was written
    if not query or found.documents <= 0 or not found.terms:
        return []
    n = found.documents
    idf = {term: math.log((n + 1) / df) for term, df in found.df().items()}
    floor = sum(idf.get(term, 0.0) * DELTA * times for term, times in query.items())
    avgdl = found.length / n
    needed = min(shared, len(query))
    scored = []
    for source_id, terms in found.terms.items():
        if len(terms) < needed:  # `terms` holds only the query's
            continue
        norm = K1 * (1 - B + B * found.lengths[source_id] / avgdl)
        score = floor if constant else 0.0
        for term, f in terms.items():
            score += query[term] * idf[term] * (f * (K1 + 1)) / (norm + f)
        scored.append((source_id, score))
    return scored
