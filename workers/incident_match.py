"""Whether two customer reports describe the same problem (SPEC §6.6), in any language.

A report's `Fingerprint` is what it says about a failure, pulled from its text:

- **signatures**, typed: `http:<code>` (a 4xx/5xx status said as one), `path:<endpoint>` (ids
  replaced by `{id}`), `error:<code>` (`SAML_RESPONSE_INVALID`, `ERR-4012`, `TimeoutError`),
  `area:<product area>` (from a small lexicon in English, Spanish, Chinese, Japanese, German,
  French and Portuguese: customers in every language name the area, and most write codes,
  paths and product names as they are), and `symptom:down`;
- **terms**: the words (stemmed, stop words out) and, for CJK, character pairs.

`similarity` is how much of a report's fingerprint another fingerprint (a report, or an
incident's union of its reports) contains: signatures weigh 70%, words 30%, and a report that
names a *different* endpoint, error or product area than the other is pulled down (the export
that fails with 500 is not the login that fails with 500). Embeddings (issue 17) would replace
the words' part; the signatures stay, because they carry across languages exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from integrations.store.search_terms import stem, tokens

# How much each kind of shared signature says: an exact error code or endpoint nearly settles
# it, a status code or a product area only together with something else.
WEIGHTS = {"error": 0.6, "path": 0.6, "http": 0.35, "area": 0.35, "symptom": 0.15}
# Areas nearly every report touches ("the API"): they count little and never conflict.
GENERIC = {"area:api": 0.15}
# Kinds that, named differently on both sides, say "another problem".
CONFLICTING = ("path", "error", "area")
CONFLICT_PENALTY = 0.25
# A report that says little (one weak signature) is not matched on that alone.
MIN_SIGNATURE_WEIGHT = 0.7
SIGNATURE_SHARE = 0.7
MAX_TERMS = 8  # a long report's words count as if it said its first eight (containment)

_AREAS = {  # each a regex; customers in every language name areas in these words
    "sso": r"\bsso\b|\bsaml\b|\bokta\b|\bidp\b|\bazure ?ad\b|\bentra\b|single sign|\bacs\b"
    r"|单点登录|单点|シングルサインオン",
    "login": r"\blog ?ins?\b|\blogins?\b|\bsign ?in\b|\bsigning in\b|iniciar sesi|inicio de sesi"
    r"|\bacceder\b|\bentrar\b|登录|登陆|ログイン|\banmeld|\bconnexion\b|\bse connecter\b",
    "webhook": r"\bwebhooks?\b|\bweb hooks?\b|回调|ウェブフック|\bcallbacks?\b",
    "export": r"\bexports?\b|\bexporting\b|\bcsv\b|exportar|exportaci|导出",
    "dashboard": r"\bdashboards?\b|\bpanel\b|仪表板|仪表盘|看板|ダッシュボード",
    "billing": r"\binvoices?\b|\bbilling\b|\bfactura|账单|发票|請求書",
    "api": r"\bapi\b|\bendpoints?\b|接口|\brate limit",
    "events": r"\bevents? api\b|/events\b|\bevent stream",
    "sync": r"\bsync|\bsalesforce\b|\bsnowflake\b|\bjira\b|同步|sincroniz",
    "notifications": r"\bemails?\b|\bnotifications?\b|通知|\bcorreos?\b",
}
_AREA_PATTERNS = {area: re.compile(pattern, re.I) for area, pattern in _AREAS.items()}
_DOWN = re.compile(
    r"\bdown\b|\boutage\b|\bnot working\b|\bbroken\b|\bfailing\b|\bfails?\b|\berrors?\b"
    r"|\bca[ií]d[oa]\b|no funciona|\bfalla|\berror(es)?\b|宕机|挂了|无法|不能|报错|失败|故障"
    r"|障害|エラー|\bst[oö]rung\b|\bpanne\b|\bfora do ar\b",
    re.I,
)
_HTTP = re.compile(
    r"(?:\b(?:http|status|error|err|code|c[oó]digo|returns?|returning|got|getting|a|an|with)"
    r"\W{0,3}|错误|报错|返回|状态码|エラー)([45]\d\d)(?!\d)"
    r"|(?<!\d)([45]\d\d)\s*(?:errors?|internal|bad gateway|service unavailable|gateway|forbidden"
    r"|unauthori[sz]ed|not found|too many|s\b|错误)",
    re.I,
)
_ERROR = re.compile(
    r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b"  # SAML_RESPONSE_INVALID
    r"|\b((?:ERR|E|ERROR)[-_]?\d{2,6})\b"  # ERR-4012, E1234
    r"|\b([A-Z][a-zA-Z]+(?:Error|Exception))\b"  # TimeoutError
)
_PATH = re.compile(r"(?<![\w.:/])(/[A-Za-z0-9_\-{}.]+(?:/[A-Za-z0-9_\-{}.]+)*)")
_URL = re.compile(r"https?://[^\s|>]+")
_ID = re.compile(r"^(?:\d+|[0-9a-f]{8,}|[0-9a-f-]{36}|\{[^}]*\})$", re.I)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")
_STATUS_HOSTS = ("status.",)
# Words that say nothing about which problem it is, in the languages the lexicon knows.
_FILLER_WORDS = """all also any anyone again since still just now today morning get got getting seem
    seems some every day de la el los las que en por para con una un es esta este nos les
    des le du et est pas une sur ist der die das und nicht mit ein eine não com um uma"""
_FILLER = frozenset(_FILLER_WORDS.split())


@dataclass(frozen=True)
class Fingerprint:
    signatures: frozenset[str]
    terms: frozenset[str]

    def __or__(self, other: Fingerprint) -> Fingerprint:
        return Fingerprint(self.signatures | other.signatures, self.terms | other.terms)

    @property
    def has_error_signature(self) -> bool:
        """Names a status code, an endpoint or an error: what a failure report says."""
        return any(s.split(":", 1)[0] in ("http", "path", "error") for s in self.signatures)

    @property
    def says_down(self) -> bool:
        return "symptom:down" in self.signatures


EMPTY = Fingerprint(frozenset(), frozenset())


def fingerprint(text: str) -> Fingerprint:
    """What `text` says about a failure (see the module's docstring)."""
    signatures: set[str] = set()
    for match in _HTTP.finditer(text):
        signatures.add(f"http:{match.group(1) or match.group(2)}")
    for match in _ERROR.finditer(text):
        code = next(g for g in match.groups() if g)
        signatures.add(f"error:{code.lower()}")
    signatures.update(f"path:{p}" for p in _paths(text))
    signatures.update(f"area:{a}" for a, pattern in _AREA_PATTERNS.items() if pattern.search(text))
    if _DOWN.search(text):
        signatures.add("symptom:down")
    return Fingerprint(frozenset(signatures), frozenset(_terms(text)))


def similarity(report: Fingerprint, other: Fingerprint) -> float:
    """How much of `report` `other` contains, 0..1 (not symmetric: see `pair_similarity`)."""
    mine = _weight(report.signatures)
    shared = _weight(report.signatures & other.signatures)
    signature_part = shared / max(mine, MIN_SIGNATURE_WEIGHT) if mine else 0.0
    for kind in CONFLICTING:
        ours, theirs = _of_kind(report.signatures, kind), _of_kind(other.signatures, kind)
        if ours and theirs and not ours & theirs:
            signature_part -= CONFLICT_PENALTY
    words = list(report.terms)
    term_part = len(report.terms & other.terms) / min(len(words), MAX_TERMS) if words else 0.0
    score = SIGNATURE_SHARE * max(0.0, signature_part) + (1 - SIGNATURE_SHARE) * min(1.0, term_part)
    return round(min(1.0, score), 4)


def pair_similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Two reports' similarity: the mean of each one's containment in the other."""
    return round((similarity(a, b) + similarity(b, a)) / 2, 4)


def _weight(signatures: frozenset[str]) -> float:
    return sum(GENERIC.get(s, WEIGHTS.get(s.split(":", 1)[0], 0.0)) for s in signatures)


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


def _terms(text: str) -> set[str]:
    """Stemmed words (no digits-only words, no Slack mentions) and CJK character pairs."""
    text = re.sub(r"<[@#!][^>]*>", " ", text)
    words = {stem(w) for w in tokens(_CJK.sub(" ", text)) if not w.isdigit() and w not in _FILLER}
    for run in _CJK.findall(text):
        words.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return words
