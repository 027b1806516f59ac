"""Ranking colleagues sorts only the answers that can count (`workers.expertise._may_count`):
on a long history a request's words are held by thousands of answered questions, and sorting
them all was most of a ranking. Leaving one out that counts would change who is suggested, so
the property is checked on generated rankings, ties included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.expertise import BEST_ANSWERS, SIMILAR_SHARE, _may_count

SCORES = st.one_of(st.sampled_from([0.0, 0.25, 1.0, 1.0, 2.5, 4.0]), st.floats(0, 5))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_answer_that_can_count_is_kept(data: st.DataObject) -> None:
    people = data.draw(st.integers(1, 12), label="people")
    pairs = data.draw(
        st.lists(st.tuples(st.integers(0, people - 1), SCORES), min_size=1, max_size=300)
    )
    user = np.array([u for u, _ in pairs], dtype=np.int32)
    scores = np.array([s for _, s in pairs])
    most = data.draw(st.integers(1, 60), label="most")

    kept = _may_count(user, scores, people, most)

    for person in np.unique(user):
        theirs = np.sort(scores[user == person])[::-1]
        last_counted = theirs[min(BEST_ANSWERS, len(theirs)) - 1]
        assert kept[(user == person) & (scores >= last_counted)].all(), person  # with ties
    assert kept[scores >= SIMILAR_SHARE * scores.max()].all()


def test_few_answers_are_all_kept_and_many_are_cut_down() -> None:
    rng = np.random.default_rng(7)
    user = rng.integers(0, 10, 20_000).astype(np.int32)
    scores = rng.exponential(1.0, 20_000)
    assert _may_count(user[:50], scores[:50], 10).all()
    assert _may_count(user, scores, 10).sum() < 2_000
