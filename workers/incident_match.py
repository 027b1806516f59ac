"""Whether two customer reports describe the same problem (SPEC §6.6), in any language.

A report's `Fingerprint` is what it says about a failure, pulled from its text:

- **signatures**, typed: `http:<code>` (a 4xx/5xx status said as one), `endpoint:<path>` (an
  API path, ids replaced by `{id}`), `page:<path>` (a page of the app a link points to),
  `error:<code>` (`SAML_RESPONSE_INVALID`, `ERR-4012`, `TimeoutError`), `area:<product area>`
  (from a small lexicon in English, Spanish, Chinese, Japanese, German, French and Portuguese:
  customers in every language name the area, and most write codes, paths and product names
  as they are), `symptom:down` ("it is broken", in those languages) and `symptom:follow_up`
  ("any update?", "still failing": joins its own account's open incident);
- **terms**: the words (stemmed, stop words out) and, for CJK, character pairs;
- **vector**: what it means, when there is an embedding model (`workers.semantic`: OpenAI's,
  or the multilingual encoder the package ships), in one space for every language.

`similarity` is how much of a report's fingerprint another fingerprint (a report, or an
incident's union of its reports) contains: signatures weigh 70%, words 30%, and a report that
names a *different* endpoint, error or product area than the other is pulled down (the export
that fails with 500 is not the login that fails with 500). With vectors on both sides, what
they mean (the cosine with the other's centroid) takes `MEANING_SHARE` of the score: words
do not carry across languages, and most customers describe what they see rather than quote a
code; the signatures stay, because they carry across languages exactly.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import numpy as np

from integrations.store.search_terms import stem, tokens

# How much each kind of shared signature says: an exact error code or endpoint nearly settles
# it, a status code or a product area only together with something else.
WEIGHTS = {
    "error": 0.6,
    "endpoint": 0.6,  # an API path: /api/v1/exports, /v2/events, /sso/saml/acs
    "code": 0.5,  # a lowercase code customers paste: `processing_error`, `card_declined`
    "http": 0.35,
    "area": 0.35,
    "page": 0.3,  # a page of the app a customer links to: where they were, not what failed
    "symptom": 0.15,
}
# Says nothing about which problem: a follow-up joins by its account (`workers.incidents`).
WEIGHTLESS = {"symptom:follow_up"}
# Areas nearly every report touches ("the API"): they count little and never conflict.
GENERIC = {"area:api": 0.15}
# Kinds that, named differently on both sides, say "another problem" (not pages: a link to the
# page a customer was on names no failure; not lowercase codes: one failure shows several).
CONFLICTING = ("error", "endpoint", "area", "http")
CONFLICT_PENALTY = 0.25
# A report that says little (one weak signature) is not matched on that alone; one that says
# much is matched on what it shares up to this much (its details need not all be in the other).
MIN_SIGNATURE_WEIGHT = 0.7
ENOUGH_SIGNATURE_WEIGHT = 1.0
SIGNATURE_SHARE = 0.7
MAX_TERMS = 8  # a long report's words count as if it said its first eight (containment)
CORE_SHARE = 0.25  # an incident's core: what at least a quarter of its reports say
# Meaning (with vectors): a cosine at MEANING_FLOOR counts nothing, at MEANING_FULL everything.
# Set on the five development mornings with the bundled encoder (bench/RESULTS.md).
MEANING_SHARE = 0.6
MEANING_FLOOR = 0.3
MEANING_FULL = 0.6

_AREAS = {  # each a regex; customers in every language name areas in these words
    "sso": r"\bsso\b|\bsaml\b|\bokta\b|\bidp\b|\bazure ?ad\b|\bentra\b|single sign|\bacs\b"
    r"|单点登录|单点|シングルサインオン",
    "login": r"\blog ?ins?\b|\blogins?\b|\bsign ?in\b|\bsigning in\b|iniciar sesi|inicio de sesi"
    r"|\bacceder\b|\bentrar\b|登录|登陆|ログイン|\banmeld|\bconnexion\b|\bse connecter\b",
    "webhook": r"\bwebhooks?\b|\bweb hooks?\b|回调|ウェブフック|\bcallbacks?\b",
    "export": r"\bexports?\b|\bexporting\b|\bcsv\b|exportar|exporta[cç]|导出",
    "dashboard": r"\bdashboards?\b|\bpanel\b|仪表板|仪表盘|看板|ダッシュボード",
    "billing": r"\binvoices?\b|\bbilling\b|\bfactura|账单|发票|請求書",
    "api": r"\bapi\b|\bendpoints?\b|接口|\brate limit",
    "events": r"\bevents? api\b|/events\b|\bevent stream",
    "sync": r"\bsync|\bsalesforce\b|\bsnowflake\b|\bjira\b|同步|sincroniz",
    "email": r"\be-?mails?\b|\bcorreos?\b|\bcourriels?\b|邮件|メール|\binvit(e|es|ation)"
    r"|\bdigests?\b|password reset|reset (your |their )?password|\bforgot|重置密码|パスワード再設定"
    r"|\b2fa\b|\bsmtp\b|\bnotifications?\b|通知|\bverification code",
}
_AREA_PATTERNS = {area: re.compile(pattern, re.I) for area, pattern in _AREAS.items()}
_DOWN = re.compile(  # "it is broken", in the languages of the lexicon
    r"\bdown\b|\boutage\b|\bnot (working|loading|arriving|syncing|sending|showing|coming|moving)"
    r"|\b(is|are)n'?t (working|loading|arriving|syncing|showing|coming)|\bbroken\b|\bfailing\b"
    r"|\bfails?\b|\bfailed\b|\berrors?\b|\bstuck\b|\bhangs?\b|\bhanging\b|\bspinning\b"
    r"|\btim(ed|ing|es)? ?out\b|\bnever (arrived|arrive|came|showed|shows)|\bstopped\b"
    r"|\bno longer\b|\blocked out\b|\bsomething (wrong|down|off)\b|\bjust us\b|\bdelayed\b"
    r"|\bnone of (them|us|our)\b|\bnobody\b|\bno one\b|\b(didn'?t|did not|never) (get|got|receive)"
    r"|\bhaven'?t (received|got)|\bnot received\b|\bunavailable\b|\bdegraded\b"
    r"|\bca[ií]d[oa]s?\b|no funciona|\bfalla|\bno llega"
    r"|detenid|atascad|dejaron de|dej[oó] de|no carga|no podemos|no puedo|\bparou\b|\btrava"
    r"|n[aã]o (chega|funciona|aparece|carrega)|fora do ar|\bfalha|ne (re)?[a-zç]+ (plus|pas)\b"
    r"|\ben panne\b|\bbloqu[ée]|\berreur|funktioniert nicht|\bh[aä]ngt\b|kommt nicht an"
    r"|\bfehler|st[oö]rung|\bausfall|宕机|挂了|无法|不能|报错|错误|失败|故障|卡住|卡死|收不到|没有收到"
    r"|超时|不了|一直显示|障害|エラー|届き?ません|届かない|できません|止まって|タイムアウト|表示されない",
    re.I,
)
_HTTP = re.compile(
    r"(?:\b(?:http|status|error|err|code|c[oó]digo|returns?|returning|got|getting|gives?|giving|throws?|throwing|respond\w*|answers?|a|an|with)"
    r"\W{0,3}|错误|报错|返回|状态码|エラー|[（(])([45]\d\d)(?!\d)"
    r"|(?<!\d)([45]\d\d)\s*(?:errors?|internal|bad gateway|service unavailable|gateway|forbidden"
    r"|unauthori[sz]ed|not found|too many|s\b|错误)",
    re.I,
)
_ERROR = re.compile(
    r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b"  # SAML_RESPONSE_INVALID
    r"|\b((?:ERR|E|ERROR)[-_]?\d{2,6})\b"  # ERR-4012, E1234
    r"|\b([A-Z][a-zA-Z]+(?:Error|Exception))\b"  # TimeoutError
)
# A lowercase code in backticks or quotes, or after "error"/"code": `processing_error`
_CODE = re.compile(
    r"[`'\"«“]([a-z][a-z0-9]*(?:[_.][a-z0-9]+){1,4})[`'\"»”]"
    r"|(?:error|code|failure_code|reason)\W{1,3}([a-z][a-z0-9]*(?:_[a-z0-9]+){1,4})\b",
    re.I,
)
_PATH = re.compile(r"(?<![\w.:/])(/[A-Za-z0-9_\-{}.]+(?:/[A-Za-z0-9_\-{}.]+)*)")
_ENDPOINT = re.compile(r"^/(api|v\d+|sso|oauth|saml|scim|graphql|webhooks?|hooks)(/|$)", re.I)
_URL = re.compile(r"https?://[^\s|>`'\")\]]+")
_ID = re.compile(r"^(?:\d+|[0-9a-f]{8,}|[0-9a-f-]{36}|\{[^}]*\})$", re.I)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")
_STATUS_HOSTS = ("status.",)
# Words that say nothing about which problem it is, in the languages the lexicon knows.
_FILLER_WORDS = """all also any anyone again since still just now today morning get got getting seem
    seems some every day de la el los las que en por para con una un es esta este nos les
    des le du et est pas une sur ist der die das und nicht mit ein eine não com um uma"""
_FILLER = frozenset(_FILLER_WORDS.split())


# "Still broken?": a follow-up, which joins its account's open incident (`follows_up`).
_FOLLOW_UP = re.compile(
    r"\bany (update|eta|news|progress)\b|\bstill\b|\beta\b|进展|进度|还是|novedad|actualizaci"
    r"|atualiza|\bainda\b|des nouvelles|toujours|immer noch|noch immer|まだ|進捗",
    re.I,
)


@dataclass(frozen=True)
class Fingerprint:
    signatures: frozenset[str]
    terms: frozenset[str]
    vector: np.ndarray | None = field(default=None, compare=False)  # unit length

    def __or__(self, other: Fingerprint) -> Fingerprint:
        """Everything both say; their meaning is a group's (`centroid`), not a union's."""
        return Fingerprint(self.signatures | other.signatures, self.terms | other.terms)

    @property
    def has_error_signature(self) -> bool:
        """Names a status code, an endpoint or an error: what a failure report says."""
        kinds = ("http", "endpoint", "error", "code")
        return any(s.split(":", 1)[0] in kinds for s in self.signatures)

    @property
    def says_down(self) -> bool:
        return "symptom:down" in self.signatures

    @property
    def follows_up(self) -> bool:
        """Asks after something already reported ("any update?", "still failing")."""
        return "symptom:follow_up" in self.signatures


EMPTY = Fingerprint(frozenset(), frozenset())


def fingerprint(text: str, vector: np.ndarray | None = None) -> Fingerprint:
    """What `text` says about a failure (see the module's docstring); `vector`: its meaning."""
    signatures: set[str] = set()
    for match in _HTTP.finditer(text):
        signatures.add(f"http:{match.group(1) or match.group(2)}")
    for match in _ERROR.finditer(text):
        code = next(g for g in match.groups() if g)
        signatures.add(f"error:{code.lower()}")
    for match in _CODE.finditer(_URL.sub(" ", text)):
        code = (match.group(1) or match.group(2)).lower()
        if "_" in code and f"error:{code}" not in signatures:
            signatures.add(f"code:{code}")
    for path in _paths(text):
        kind = "endpoint" if _ENDPOINT.match(path) else "page"
        signatures.add(f"{kind}:{path}")
    signatures.update(f"area:{a}" for a, pattern in _AREA_PATTERNS.items() if pattern.search(text))
    if _DOWN.search(text):
        signatures.add("symptom:down")
    if _FOLLOW_UP.search(text):
        signatures.add("symptom:follow_up")
    return Fingerprint(frozenset(signatures), frozenset(terms(text)), vector)


def similarity(
    report: Fingerprint, other: Fingerprint, idf: Mapping[str, float] | None = None
) -> float:
    """How much of `report` `other` contains, 0..1 (not symmetric: see `pair_similarity`).
    `idf`: how rare each word is among the reports of the moment (`rarity`); a word shared
    counts by it, so "search" or "SCIM" says more than "error" or "today"."""
    mine = _weight(report.signatures)
    shared = _weight(report.signatures & other.signatures)
    enough = min(max(mine, MIN_SIGNATURE_WEIGHT), ENOUGH_SIGNATURE_WEIGHT)
    signature_part = min(1.0, shared / enough) if mine else 0.0
    for kind in CONFLICTING:
        ours, theirs = _of_kind(report.signatures, kind), _of_kind(other.signatures, kind)
        if ours and theirs and not ours & theirs:
            signature_part -= CONFLICT_PENALTY
    term_part = _term_part(report.terms, other.terms, idf)
    score = SIGNATURE_SHARE * max(0.0, signature_part) + (1 - SIGNATURE_SHARE) * min(1.0, term_part)
    if report.vector is not None and other.vector is not None:
        cosine = float(report.vector @ other.vector)
        meaning = (cosine - MEANING_FLOOR) / (MEANING_FULL - MEANING_FLOOR)
        blended = (1 - MEANING_SHARE) * score + MEANING_SHARE * min(1.0, max(0.0, meaning))
        score = max(score, blended)  # meaning adds evidence; it never takes a match away
    return round(min(1.0, score), 4)


def _term_part(
    mine: frozenset[str], theirs: frozenset[str], idf: Mapping[str, float] | None
) -> float:
    if not mine:
        return 0.0
    if idf is None:
        return len(mine & theirs) / min(len(mine), MAX_TERMS)
    rarest = max(idf.values(), default=1.0)
    weights = sorted(((idf.get(t, rarest), t) for t in mine), reverse=True)[:MAX_TERMS]
    total = sum(w for w, _ in weights)
    return sum(w for w, t in weights if t in theirs) / total if total else 0.0


def rarity(prints: Sequence[Fingerprint]) -> dict[str, float]:
    """Each word's inverse document frequency among `prints` (smoothed, at least a little)."""
    seen: Counter[str] = Counter()
    for print_ in prints:
        seen.update(print_.terms)
    count = len(prints)
    return {t: math.log((1 + count) / (1 + n)) + 0.1 for t, n in seen.items()}


def core(prints: Sequence[Fingerprint], share: float = CORE_SHARE) -> Fingerprint:
    """What a group of reports says in common: the signatures and words at least `share` of
    them (and at least two, when there are two or more) say. An incident is compared as its
    core, not as the union of everything its reports said: a union grows with each report
    until anything is "contained" in it (one report naming two outages made them one)."""
    if len(prints) == 1:
        return prints[0]
    least = max(2, math.ceil(share * len(prints)))
    signatures: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for print_ in prints:
        signatures.update(print_.signatures)
        words.update(print_.terms)
    return Fingerprint(
        frozenset(s for s, n in signatures.items() if n >= least),
        frozenset(w for w, n in words.items() if n >= least),
        centroid(prints),
    )


def centroid(prints: Sequence[Fingerprint]) -> np.ndarray | None:
    """What a group of reports means: the mean of their vectors, at unit length (None when
    none has one)."""
    vectors = [p.vector for p in prints if p.vector is not None]
    if not vectors:
        return None
    mean = np.mean(vectors, axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else None


def group_similarity(
    report: Fingerprint, prints: Sequence[Fingerprint], idf: Mapping[str, float] | None = None
) -> float:
    """How much a report resembles a group of reports: its `core`, or, when the report names
    nothing the core contradicts, all the group said (a report may name the endpoint only a
    few of the others named)."""
    center = core(prints)
    score = similarity(report, center, idf)
    if not conflicts(report, center):
        everything = EMPTY
        for print_ in prints:
            everything = everything | print_
        everything = replace(everything, vector=center.vector)
        score = max(score, similarity(report, everything, idf))
    return score


def conflicts(report: Fingerprint, other: Fingerprint) -> bool:
    """Names a different error or product area than `other` does: another problem."""
    for kind in CONFLICTING:
        ours, theirs = _of_kind(report.signatures, kind), _of_kind(other.signatures, kind)
        if ours and theirs and not ours & theirs:
            return True
    return False


def pair_similarity(
    a: Fingerprint, b: Fingerprint, idf: Mapping[str, float] | None = None
) -> float:
    """Two reports' similarity: the mean of each one's containment in the other."""
    return round((similarity(a, b, idf) + similarity(b, a, idf)) / 2, 4)


def _weight(signatures: frozenset[str]) -> float:
    return sum(
        GENERIC.get(s, WEIGHTS.get(s.split(":", 1)[0], 0.0))
        for s in signatures
        if s not in WEIGHTLESS
    )


def _of_kind(signatures: frozenset[str], kind: str) -> frozenset[str]:
    return frozenset(s for s in signatures if s.startswith(kind + ":") and s not in GENERIC)


def _paths(text: str) -> set[str]:
    """Endpoint paths named in the text or in its links (not a status page's), ids as {id}."""
    found: list[str] = []
    for url in _URL.findall(text):
        parts = urlsplit(url)
        if not parts.netloc.startswith(_STATUS_HOSTS):
            found.append(parts.path)
    stripped = _URL.sub(" ", text)
    found.extend(_PATH.findall(stripped))
    paths = set()
    for path in found:
        segments = [s for s in path.strip("/").split("/") if s]
        if not segments or not any(len(s) > 1 and not _ID.match(s) for s in segments):
            continue
        normal = "/" + "/".join("{id}" if _ID.match(s) else s.lower() for s in segments)
        paths.add(normal.rstrip("."))
    return paths


def terms(text: str) -> set[str]:
    """Stemmed words (no digits-only words, no Slack mentions) and CJK character pairs."""
    text = re.sub(r"<[@#!][^>]*>", " ", text)
    words = {stem(w) for w in tokens(_CJK.sub(" ", text)) if not w.isdigit() and w not in _FILLER}
    for run in _CJK.findall(text):
        words.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return words
