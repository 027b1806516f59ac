"""The people, accounts and who-answers-what of `sandbox/expertise_world_hard.py`.

A `Stint` is someone answering a topic between two days (relative to now) with a weight; the
generator draws who answers a question from the stints open on its day. `OWNER`, `ENGINEER`
and `ONCALL` are resolved per account (its manager, its support engineer) and per week.
"""

from __future__ import annotations

from dataclasses import dataclass

OWNER, ENGINEER, ONCALL = "OWNER", "ENGINEER", "ONCALL"  # resolved per account and date
EVE = "U0EVE"  # support manager: follows threads, answers none
GUS = "U0GUS"  # deactivated 50 days ago

PEOPLE: dict[str, tuple[str, str, tuple[str, ...]]] = {  # id: (name, time zone, languages)
    "U0AMY": ("Amy (account manager)", "America/New_York", ("en",)),
    "U0BEN": ("Ben (account manager)", "America/Los_Angeles", ("en",)),
    "U0CARMEN": ("Carmen (account manager)", "America/Mexico_City", ("en", "es")),
    "U0LIN": ("Lin (account manager)", "Asia/Singapore", ("en", "zh")),
    "U0ROSA": ("Rosa (support engineer)", "America/Chicago", ("en",)),
    "U0DEV": ("Dev (support engineer)", "America/Denver", ("en",)),
    "U0LUCIA": ("Lucía (support engineer)", "Europe/Madrid", ("en", "es")),
    "U0MEI": ("Mei (support engineer)", "Asia/Shanghai", ("en", "zh")),
    "U0SAM": ("Sam (identity)", "Europe/London", ("en",)),
    "U0NADIA": ("Nadia (identity, was Android)", "Europe/Paris", ("en",)),
    "U0HUGO": ("Hugo (billing)", "Europe/Dublin", ("en",)),
    "U0PRIYA": ("Priya (data, was billing)", "Europe/Berlin", ("en",)),
    "U0MARCO": ("Marco (integrations, was API)", "Europe/Rome", ("en",)),
    "U0WEI": ("Wei (API)", "Asia/Shanghai", ("en", "zh")),
    "U0OLGA": ("Olga (integrations)", "Europe/Warsaw", ("en",)),
    "U0LENA": ("Lena (data)", "America/New_York", ("en",)),
    "U0KENJI": ("Kenji (mobile, iOS)", "Asia/Tokyo", ("en",)),
    "U0ANA": ("Ana (mobile, Android)", "America/Argentina/Buenos_Aires", ("en", "es")),
    "U0TOM": ("Tom (security)", "America/Chicago", ("en",)),
    "U0RAVI": ("Ravi (reliability)", "Asia/Kolkata", ("en",)),
    "U0JO": ("Jo (SRE)", "Australia/Sydney", ("en",)),
    EVE: ("Eve (support manager)", "America/New_York", ("en",)),
}


@dataclass(frozen=True)
class Account:
    team: str
    name: str
    channel: str
    customers: tuple[str, ...]
    owner: str
    engineer: str
    language: str  # the language most of its questions are in


ACCOUNTS = (
    Account("T0GLOBEX", "Globex", "C0GLOBEX", ("U0CAROL", "U0DAVE"), "U0AMY", "U0ROSA", "en"),
    Account("T0INITECH", "Initech", "C0INITECH", ("U0PETER", "U0MILTON"), "U0AMY", "U0ROSA", "en"),
    Account("T0STARK", "Stark", "C0STARK", ("U0PEPPER", "U0HAPPY"), "U0AMY", "U0ROSA", "en"),
    Account("T0HOOLI", "Hooli", "C0HOOLI", ("U0GAVIN", "U0DENPOK"), "U0BEN", "U0DEV", "en"),
    Account("T0UMBRELLA", "Umbrella", "C0UMBRELLA", ("U0ALICE", "U0CHRIS"), "U0BEN", "U0DEV", "en"),
    Account(
        "T0NORTE", "Grupo Norte", "C0NORTE", ("U0JAVIER", "U0SOFIA"), "U0CARMEN", "U0LUCIA", "es"
    ),
    Account(
        "T0AUSTRAL",
        "Banco Austral",
        "C0AUSTRAL",
        ("U0MATIAS", "U0VALEN"),
        "U0CARMEN",
        "U0LUCIA",
        "es",
    ),
    Account(
        "T0LIANXIN", "Lianxin Logistics", "C0LIANXIN", ("U0ZHANG", "U0LIU"), "U0LIN", "U0MEI", "zh"
    ),
    Account("T0HEXIN", "Hexin Health", "C0HEXIN", ("U0CHEN", "U0WANG"), "U0LIN", "U0MEI", "zh"),
)
QUESTION_LANGUAGE = {"en": 1.0, "es": 0.7, "zh": 0.75}  # share in the account's language

NEVER, ALWAYS = -10_000.0, 10_000.0


@dataclass(frozen=True)
class Stint:
    """Someone answering a topic from day `start` to `end` (days relative to now) this much."""

    person: str
    weight: float
    start: float = NEVER
    end: float = ALWAYS


ROSTERS: dict[str, tuple[Stint, ...]] = {
    "sso": (Stint("U0SAM", 0.6), Stint(GUS, 0.4, end=-50), Stint("U0NADIA", 0.3, start=-40)),
    "provisioning": (
        Stint(GUS, 0.5, end=-50),
        Stint("U0SAM", 0.4, end=-40),
        Stint("U0SAM", 0.2, start=-40),
        Stint("U0NADIA", 0.8, start=-40),
    ),
    "billing": (
        Stint("U0PRIYA", 0.85, end=-45),
        Stint("U0PRIYA", 0.15, start=-45, end=-31),
        Stint("U0HUGO", 0.85, start=-45),
        Stint(ENGINEER, 0.15),
    ),
    "contracts": (
        Stint(OWNER, 0.75),
        Stint("U0PRIYA", 0.25, end=-45),
        Stint("U0HUGO", 0.25, start=-45),
    ),
    "api": (
        Stint("U0MARCO", 0.7, end=-35),
        Stint("U0WEI", 0.2, end=-35),
        Stint("U0JO", 0.1, end=-35),
        Stint("U0MARCO", 0.15, start=-35, end=-21),
        Stint("U0WEI", 0.75, start=-35),
        Stint("U0JO", 0.15, start=-35),
    ),
    "integrations": (
        Stint("U0OLGA", 0.85, end=-35),
        Stint("U0OLGA", 0.55, start=-35),
        Stint("U0MARCO", 0.4, start=-35),
        Stint(ENGINEER, 0.1),
    ),
    "data": (
        Stint("U0LENA", 0.85, end=-45),
        Stint("U0LENA", 0.55, start=-45),
        Stint("U0PRIYA", 0.45, start=-45),
        Stint("U0MARCO", 0.1, end=-35),
    ),
    "mobile": (
        Stint("U0KENJI", 0.5),
        Stint("U0NADIA", 0.5, end=-40),
        Stint("U0NADIA", 0.1, start=-40, end=-26),
        Stint("U0ANA", 0.5, start=-40),
    ),
    "security": (Stint("U0TOM", 0.8), Stint("U0SAM", 0.2)),
    "reliability": (Stint(ONCALL, 0.75), Stint("U0RAVI", 0.125), Stint("U0JO", 0.125)),
    "workspace": (Stint(ENGINEER, 0.8), Stint(OWNER, 0.2)),
}
TOPIC_WEIGHTS = {
    "sso": 1.0, "provisioning": 1.0, "billing": 1.2, "contracts": 0.6, "api": 1.2,
    "integrations": 1.0, "data": 1.0, "mobile": 0.8, "security": 0.7, "reliability": 0.9,
    "workspace": 1.2,
}  # fmt: skip
PLATFORMS = {"U0KENJI": "ios", "U0NADIA": "android", "U0ANA": "android"}  # mobile engineers
KINDS = {"single": 0.65, "two": 0.2, "vague": 0.15}
VAGUE_OPENERS = {"en": "I checked your workspace: ", "es": "He revisado vuestra cuenta: ",
                 "zh": "我查看了你们的账号："}  # fmt: skip
