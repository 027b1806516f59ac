"""Keyword cues in many languages (SPEC §5.2), and the rules that once were the offline classifier.

The offline classifier is now learned (`workers.triage_model`); it takes the cue groups below
(`cues()`) as features among its n-grams. `classify_by_rules` is the old keyword classifier,
kept to measure the learned one against (`bench/triage_eval.py --classifier rules`).

How the rules read a message, in order:
1. An acknowledgement that asks nothing ("thanks!", "ok 👍", "merci", "np, no rush", an emoji
   on its own) is `no_action`: no card.
2. The first category whose cues appear wins, in this order: incident (something is down for
   many, now), billing, bug, feature request, account access. Order settles overlaps: "SSO is
   down for everyone" is an incident, "we were charged twice" a billing matter.
3. Otherwise a question (a question mark, or a question phrased without one: "wondering if",
   "is there a way", "any update", "bump") is a `question`, and anything else `other`.
Urgency: an incident is urgent; being blocked, a near deadline or a leaked secret is high;
wishes, FYIs and thanks are low; "not urgent" / "no rush" caps it at normal.

Cues cover English plus common French, German, Spanish, Portuguese, Italian, Dutch and
Japanese phrasings. Both are measured by `bench/triage_eval.py` (bench/RESULTS.md).
"""

from __future__ import annotations

import re

from workers.triage_types import Category, Triage, Urgency


def _cues(*patterns: str) -> re.Pattern[str]:
    # Word-bounded for alphabetic scripts; Japanese cues are written without boundaries.
    return re.compile("|".join(patterns), re.IGNORECASE)


def _w(*words: str) -> str:
    return r"\b(?:" + "|".join(words) + r")\b"


# fmt: off
_INCIDENT = _cues(
    _w(r"outage", r"(?:is|are|went|goes|gone|be|been|being) down", r"down for", r"downtime",
       r"not loading", r"won'?t load", r"unreachable", r"unavailable", r"5\d\d ?(?:s|errors?)",
       r"timing out", r"timeouts?", r"spinning", r"flat-?lined",
       r"stopped (?:being|working|loading|coming|arriving|sending|receiving)",
       r"not responding", r"no data",
       r"for everyone", r"for all (?:of )?(?:our |the )?users", r"none of (?:our|the|us)",
       r"nobody can", r"(?:all|every) (?:of )?(?:our )?(?:\d+ )?(?:users|requests|exports)",
       r"sev ?[12]", r"p1", r"production (?:is|down)", r"in prod", r"fora do ar",
       r"hors service", r"en panne", r"ausgefallen", r"antwortet", r"nicht erreichbar", r"caído",
       r"caida", r"no responde", r"storing", r"geen data meer", r"non funziona più",
       r"niedostępn\w*"),
    r"タイムアウト", r"ダウン", r"障害", r"繋がらない", r"つながらない",
)

_BUG = _cues(
    _w(r"bugs?", r"errors?", r"broken", r"crash(?:es|ed|ing)?", r"fails?", r"failed", r"failing",
       r"doesn'?t work", r"not working", r"wrong", r"incorrect", r"exception", r"traceback",
       r"throws?", r"stack ?trace", r"null", r"blank", r"empty", r"drops?", r"duplicated?s?",
       r"twice", r"(?:don'?t|doesn'?t|dont|do not) match", r"mismatch", r"jumps? back", r"odd",
       r"weird", r"glitch", r"regression", r"over 100 ?%", r"above 100",
       r"ne (?:sont|fonctionne) pas", r"marche pas", r"funktioniert nicht", r"fehler",
       r"no funciona", r"erro", r"werkt niet", r"não funciona", r"non funziona", r"por encima",
       r"falsch"),
    r"エラー", r"不具合", r"バグ",
)

_FEATURE_REQUEST = _cues(
    _w(r"feature request", r"would (?:be|love)", r"it'?d be", r"could you add", r"please add",
       r"support for", r"roadmap", r"wish", r"any plans?", r"plans? to (?:support|add)",
       r"would love", r"\+1 on", r"dark mode", r"ce serait", r"serait(?:-il)? possible",
       r"wäre (?:toll|schön|super|gut)", r"tienen pensado", r"añadir", r"gostaríamos",
       r"seria ótimo", r"sarebbe", r"zou fijn", r"we need (?:a |an )?(?:way|option|ability)"),
    r"機能(?:追加|要望)", r"してほしい",
)

_BILLING = _cues(
    _w(r"invoices?", r"billing", r"billed", r"charged?", r"charges", r"refund", r"payment",
       r"credit card", r"card (?:got |was )?declined", r"pricing", r"price", r"renewal",
       r"overage", r"receipt", r"w-?9", r"vat", r"tax", r"downgrad\w*", r"upgrad\w* (?:to|our)",
       r"plan", r"rechnung", r"ust-?idnr", r"facturas?", r"factures?", r"faturas?", r"factuur",
       r"fattura", r"cobr\w+", r"pago"),
    r"請求", r"支払",
)

_ACCOUNT_ACCESS = _cues(
    _w(r"log ?in", r"log(?:ged)? (?:in|out)", r"sign ?in", r"password", r"sso", r"saml", r"scim",
       r"okta", r"2fa", r"mfa", r"locked out", r"access", r"permissions?", r"roles?",
       r"invites?", r"invitation", r"seats?", r"admin rights", r"deactivat\w+", r"anmelden",
       r"anmeldung", r"zugang", r"connexion", r"se connecter", r"mot de passe",
       r"iniciar sesión", r"acceso", r"acesso", r"inloggen", r"accesso"),
    r"ログイン", r"権限",
)

# Checked in this order: the first category whose cues appear wins.
_RULES: list[tuple[Category, re.Pattern[str]]] = [
    (Category.INCIDENT, _INCIDENT),
    (Category.BILLING, _BILLING),
    (Category.BUG, _BUG),
    (Category.FEATURE_REQUEST, _FEATURE_REQUEST),
    (Category.ACCOUNT_ACCESS, _ACCOUNT_ACCESS),
]

_QUESTION = _cues(
    _w(r"how (?:do|can|to|does|should)", r"what(?:'s| is| are)", r"is there a way",
       r"is it possible", r"can (?:we|i|you)", r"could (?:we|i|you)", r"wondering", r"curious",
       r"need to know", r"quick one", r"any (?:update|news|word)", r"bump", r"following up",
       r"still (?:waiting|seeing)", r"please advise", r"est-ce que", r"können sie", r"pueden",
       r"podem"),
    r"[?？]", r"でしょうか", r"ですか",
)
_ACK_WORDS = (
    r"thanks?(?: you)?(?: so much| a lot| again)?",
    r"thx",
    r"tysm",
    r"ty",
    r"cheers",
    r"ok(?:ay)?",
    r"k",
    r"got it",
    r"perfect",
    r"great",
    r"awesome",
    r"cool",
    r"nice",
    r"sounds good",
    r"will do",
    r"done",
    r"appreciated?",
    r"much appreciated",
    r"np",
    r"no (?:rush|worries|problem)",
    r"all good(?: now)?",
    r"that (?:worked|fixed it)",
    r"works now",
    r"sorry for the noise",
    r"never ?mind",
    r"closing (?:this|it)(?: out)?",
    r"merci(?: beaucoup)?",
    r"danke(?: schön)?",
    r"vielen dank",
    r"gracias",
    r"obrigad[oa]",
    r"grazie",
    r"bedankt",
    r"dank je(?: wel)?",
    r"dziękuję",
    r"super",
    r"parfait",
    r"genial",
    r"top",
    r"ありがとうございます",
    r"ありがとう",
    r"了解です",
    r"承知しました",
)
_ACK = re.compile(r"^(?:\W|_)*(?:" + "|".join(_ACK_WORDS) + r")\b", re.IGNORECASE)
_EMOJI_ONLY = re.compile(r"^(?:\s|:[a-z0-9_+\-]+:|[^\w\s])+$")
_PROBLEM = re.compile(_INCIDENT.pattern + "|" + _BUG.pattern, re.IGNORECASE)

_URGENT = _cues(
    _w(r"urgent(?:ly)?", r"asap", r"emergency", r"critical", r"p1", r"sev ?1", r"right now",
       r"immediately", r"dringend", r"urgente?", r"至急"),
)
_DAYS = "monday|tuesday|wednesday|thursday|friday"
_HIGH = _cues(
    _w(r"blocked", r"blocking", r"blocker", r"can'?t", r"cannot", r"deadline", r"today",
       r"tonight", r"tomorrow",
       rf"by (?:eod|end of day|{_DAYS}|\d{{1,2}}(?::\d\d)? ?(?:am|pm)?)",
       rf"before (?:{_DAYS}|eod|the)", r"leaked", r"exposed", r"compromised", r"locked out",
       r"go-?live",
       r"customers? (?:are|is) affected"),
)
_CALM = _cues(
    _w(r"not urgent", r"no rush", r"none of this is urgent", r"whenever you (?:can|get)",
       r"low priority", r"no hurry"),
)
_LOW = _cues(_w(r"fyi", r"heads up", r"just so you know", r"for what it'?s worth"))
# fmt: on


_CUE_GROUPS: list[tuple[str, re.Pattern[str]]] = [
    ("incident", _INCIDENT),
    ("bug", _BUG),
    ("feature_request", _FEATURE_REQUEST),
    ("billing", _BILLING),
    ("account_access", _ACCOUNT_ACCESS),
    ("question", _QUESTION),
    ("urgent", _URGENT),
    ("high", _HIGH),
    ("calm", _CALM),
    ("low", _LOW),
]


def cues(text: str) -> list[str]:
    """The names of the cue groups found in a message (features of the learned classifier)."""
    clean = " ".join(text.split())
    found = [name for name, pattern in _CUE_GROUPS if pattern.search(clean)]
    if _is_acknowledgement(clean):
        found.append("acknowledgement")
    if no_words(clean):
        found.append("no_words")
    return found


def no_words(text: str) -> bool:
    """Nothing but emoji, :emoji_codes: and punctuation (or nothing at all)."""
    return not text.strip() or bool(_EMOJI_ONLY.match(text))


def classify_by_rules(text: str) -> Triage:
    """Classify a customer's words with the rules above (the old offline classifier)."""
    clean = " ".join(text.split())
    if _is_acknowledgement(clean):
        return Triage(
            category=Category.NO_ACTION,
            urgency=Urgency.LOW,
            summary=summary(clean) or "(no text)",
            needs_reply=False,
        )
    category = next((c for c, rule in _RULES if rule.search(clean)), None)
    if category is None:
        category = Category.QUESTION if _QUESTION.search(clean) else Category.OTHER
    return Triage(
        category=category,
        urgency=_urgency(clean, category),
        summary=summary(clean),
        needs_reply=True,
    )


def _is_acknowledgement(text: str) -> bool:
    if not text or _EMOJI_ONLY.match(text):
        return True
    if not _ACK.match(text) or _QUESTION.search(text) or len(text.split()) > 12:
        return False
    return not _PROBLEM.search(text)


def _urgency(text: str, category: Category) -> Urgency:
    if _CALM.search(text):
        return Urgency.LOW if category == Category.FEATURE_REQUEST else Urgency.NORMAL
    if category == Category.INCIDENT:
        return Urgency.URGENT
    if _URGENT.search(text):
        return Urgency.URGENT
    if _HIGH.search(text):
        return Urgency.HIGH
    if category == Category.FEATURE_REQUEST or _LOW.search(text):
        return Urgency.LOW
    return Urgency.NORMAL


def summary(text: str, limit: int = 120) -> str:
    """The message's first sentence, cut to `limit` characters."""
    first = re.split(r"(?<=[.!?。！？])\s", text, maxsplit=1)[0]
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
