"""Who serves an account (SPEC §5.5): its channel's regulars, and who answers elsewhere only.

Support teams split their work two ways: by subject (a specialist answers SSO questions for
every customer) and by account (a named engineer or manager answers whatever one customer
asks). Expertise alone sees only the first: a vague question ("something is off with our
account") resembles the same vague question of another customer, answered there by that
customer's own engineer, who would be the wrong person here. The history of answered
questions (`ExpertiseIndex`, with the channel each was answered in) shows the second:

- A channel's **regulars** are the people who answered at least `REGULAR_SHARE` of its
  questions, `LIFT` times their share of every channel's (a specialist who answers all
  customers alike is not one account's regular), the `REGULARS` most: the card names them
  ("answered 26 of this channel's 53 questions") and they join the account team with
  `SUGGEST_WEIGHT_REGULAR` × that share.
- Someone who has answered questions in other channels and **never in this one**, although
  this channel's volume says they would have if they served every account alike, is
  probably assigned to other accounts: their expertise counts `exp(−expected)` of itself,
  where `expected` is how many of this channel's answers would be theirs at their overall
  share: the chance of seeing none. A specialist who answers everyone keeps it all; a new
  colleague with few answers anywhere, or a new channel, loses little (`expected` is small).
  At most halved (`ELSEWHERE_FLOOR`): a channel may simply never have asked about their
  subject, and when they are the only one who knows, they still show.

Each answer counts with its share of the thread's answer (`Evidence.share`), so a one-line
"following this" of a manager is not a regular's answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from integrations.store.expertise_index import Corpus

REGULAR_SHARE = 0.1  # of a channel's answered questions, to count as one of its regulars
LIFT = 2.0  # and at least this many times their share of all channels' answers
REGULARS = 2  # regulars named per channel at most
ELSEWHERE_FLOOR = 0.5  # the least share of their expertise a person keeps


@dataclass(frozen=True)
class Regular:
    user_id: str
    answered: int  # questions of this channel (shares summed, rounded)
    of: int  # the channel's answered questions
    share: float

    def role(self) -> str:
        return f"answered {self.answered} of this channel's {self.of} questions"


@dataclass(frozen=True)
class AccountPeople:
    """A channel's regulars, best first, and each elsewhere-only person's expertise factor."""

    regulars: list[Regular] = field(default_factory=list)
    elsewhere: dict[str, float] = field(default_factory=dict)

    def factor(self, user_id: str) -> float:
        """How much of their expertise counts for this channel (1.0: all of it)."""
        return self.elsewhere.get(user_id, 1.0)


def account_people(corpus: Corpus, channel_id: str) -> AccountPeople:
    """The regulars of `channel_id` and the people who answer only other channels."""
    at = corpus.channel_index(channel_id)
    if at is None or not corpus.documents:
        return AccountPeople()  # nothing answered here yet: no evidence either way
    live = corpus.alive[: corpus.size]
    user, share = corpus.user[: corpus.size][live], corpus.share[: corpus.size][live]
    here = corpus.channel[: corpus.size][live] == at
    people = len(corpus.users)
    everywhere = np.bincount(user, weights=share, minlength=people)
    in_channel = np.bincount(user[here], weights=share[here], minlength=people)
    total, channel_total = float(everywhere.sum()), float(in_channel.sum())
    if channel_total <= 0 or total <= 0:
        return AccountPeople()
    regulars = [
        Regular(
            corpus.users[p],
            round(in_channel[p]),
            round(channel_total),
            float(in_channel[p] / channel_total),
        )
        for p in np.argsort(-in_channel, kind="stable")
        if in_channel[p] / channel_total >= REGULAR_SHARE
        and (in_channel[p] / channel_total) / (everywhere[p] / total) >= LIFT
    ][:REGULARS]
    elsewhere = {
        corpus.users[p]: max(math.exp(-channel_total * everywhere[p] / total), ELSEWHERE_FLOOR)
        for p in np.flatnonzero((everywhere > 0) & (in_channel <= 0))
    }
    return AccountPeople(regulars, elsewhere)
