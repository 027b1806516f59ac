"""The language a customer wrote in (SPEC §5.4): detected from their words, named on the card.

Slack messages are short and half of them is not language: mentions, links, channel names,
`code`, pasted logs, error codes, acronyms. `words_of` keeps only the words a person wrote;
detection reads those. Chinese, Japanese and Korean are told apart by their scripts (kana is
Japanese, Hangul Korean, Han without kana Chinese), which is exact where a statistical model
of a few characters is not; every other language is py3langid's guess (a naive Bayes model
over byte n-grams, 4.5 MB, shipped in its package), restricted to `LANGUAGES` so that a short
English message is not taken for Frisian. Too few words, or a guess it is unsure of, is None:
"thx!" or "ok 👍" has no language worth naming, and the draft then follows the model (which
sees the words) or, offline, the team's language.

Measured on the 186 plain and terse messages of bench/data/language_short.jsonl (written for
this, 10 languages; bench/RESULTS.md), each library given the text without code, mentions and
links: py3langid restricted to these languages 180 right, lingua's high-accuracy mode 181 but
280 MB of models and 5 s to load them, lingua's low-accuracy mode 175, CLD2 161, langdetect
149. With the cleaning and the script rules here, and guesses below `MIN_CONFIDENCE` left
undetermined, none of the file's 203 messages is read as a wrong language. py3langid's model
loads once per process, on the first detection (never at import, never in the web process,
which does not detect): 0.7 s and 80 MB on an idle machine.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import structlog

from integrations.array_cache import mapped

log = structlog.get_logger(__name__)

# The languages detection may answer, and their names on the card (in English: the card's
# other words are English too). The seven with offline acknowledgements are first
# (workers/acknowledgements.py).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "es": "Spanish",
    "zh": "Chinese",
    "ja": "Japanese",
    "de": "German",
    "fr": "French",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
    "ko": "Korean",
    "ru": "Russian",
    "uk": "Ukrainian",
    "pl": "Polish",
    "tr": "Turkish",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "fi": "Finnish",
    "cs": "Czech",
    "ro": "Romanian",
    "hu": "Hungarian",
    "el": "Greek",
    "he": "Hebrew",
    "ar": "Arabic",
    "hi": "Hindi",
    "id": "Indonesian",
    "vi": "Vietnamese",
    "th": "Thai",
}

# Fewer letters than this (outside Chinese, Japanese and Korean) is not worth a guess.
MIN_LETTERS = 8
# py3langid's probability (over LANGUAGES) below which its guess is not taken.
MIN_CONFIDENCE = 0.7

_NOT_WORDS = [
    re.compile(r"```.*?(?:```|\Z)", re.DOTALL),  # code blocks, closed or not
    re.compile(r"`[^`\n]*`"),  # inline code
    re.compile(r"<[^<>\s][^<>]*>"),  # Slack's mentions, channels, links, dates: <@U…>, <http…|…>
    re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE),  # bare links
    re.compile(r"\S+@\S+\.\w+"),  # email addresses
    re.compile(r":[a-z0-9_+'-]+:"),  # :emoji: codes
    re.compile(r"&(?:amp|lt|gt);"),  # Slack's escapes
]
# A token that is an identifier, a path, a number, a version or an acronym, not a word:
# it holds a digit, `_ . / \ = : # @ $ %`, or a capital after a lower-case letter
# (camelCase), or is all capitals (SSO, CSV, HTTP).
_IDENTIFIER = re.compile(
    r"^(?:.*[\d_./\\=:#@$%].*|.*[a-z][A-Z].*|[A-Z]{2,}s?)$",
)
_CJK_RUN = re.compile("([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff66-\uff9d]+)")
_LOG_LINE = re.compile(  # a pasted log or stack line outside a code block
    r"^\s*(?:at |File \"|Traceback|Caused by|\d{4}-\d\d-\d\d|\[?(?:ERROR|WARN|INFO|DEBUG)\b)"
)


def words_of(text: str) -> str:
    """The words a person wrote in a Slack message: no markup, code, links, ids or logs."""
    for pattern in _NOT_WORDS:
        text = pattern.sub(" ", text)
    lines = [line for line in text.splitlines() if not _LOG_LINE.match(line)]
    tokens = _CJK_RUN.sub(r" \1 ", " ".join(lines)).split()  # "CSVエクスポート" is two
    kept = [t for t in tokens if not _IDENTIFIER.match(t.strip(".,;:!?()[]{}'\"¡¿"))]
    return " ".join(kept)


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the language `text` is written in (one of `LANGUAGES`), or None
    when it has too few words to tell or the guess is unsure."""
    words = words_of(text)
    by_script = _by_script(words)
    if by_script is not None:
        return by_script
    if sum(ch.isalpha() for ch in words) < MIN_LETTERS:
        return None
    code, confidence = _identifier().classify(words)
    return str(code) if confidence >= MIN_CONFIDENCE and code in LANGUAGES else None


def language_name(code: str | None) -> str:
    """The language's English name for the card and the prompt ("Spanish"); the code itself
    for one not in `LANGUAGES`."""
    return LANGUAGES.get(code or "", code or "unknown")


def _by_script(words: str) -> str | None:
    """Chinese, Japanese or Korean when their characters carry the message (at least as many
    as the words in other scripts): kana is Japanese, Hangul Korean, Han without kana Chinese.
    None for any other text."""
    kana, hangul, han = (len(block.findall(words)) for block in (_KANA, _HANGUL, _HAN))
    cjk = kana + hangul + han
    if cjk < 2:  # most messages: no need to count the other words
        return None
    other_words = sum(1 for w in words.split() if not _CJK.search(w))
    if cjk < other_words:
        return None
    if kana and han < 20 * kana:
        return "ja"
    return "ko" if hangul > han else "zh"


# The blocks `_by_script` counts, a character class each (one pass in C, not a call a letter)
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9d]")
_HANGUL = re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_HAN = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
_CJK = re.compile("|".join(block.pattern for block in (_KANA, _HANGUL, _HAN)))


_loaded: list[Any] = []
_loading = threading.Lock()


def _identifier() -> Any:
    """py3langid's model, restricted to `LANGUAGES`; loaded once per process, on first use
    (the worker's threads share it: classifying only reads it)."""
    if not _loaded:
        with _loading:
            if not _loaded:
                _loaded.append(_load_identifier())
    return _loaded[0]


def _load_identifier() -> Any:
    """The identifier, loaded lean: py3langid's own loader keeps all 97 languages' weights
    (27 MB) and copies its 38 MB tokenizer automaton once more on the way (a worker's memory
    peaked at 258 MB in the F=1 burst, 240 of it right after this load); here only our
    languages' weights are kept, and the automaton is memory-mapped from a cache file written
    once (`integrations.array_cache`: a process keeps only the states it walks, 54 MB of
    private memory before). Its own loader when that fails (another version's layout)."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    try:
        import importlib.metadata
        import lzma
        import shutil
        import tempfile

        import numpy as np

        version = importlib.metadata.version("py3langid")
        with tempfile.TemporaryFile(suffix=".npz") as tmp:
            with lzma.open(MODEL_DIR / MODEL_FILE) as source:
                shutil.copyfileobj(source, tmp, length=1 << 20)
            tmp.seek(0)
            with np.load(tmp, allow_pickle=False) as data:
                classes = data["classes"].tolist()
                keep = [i for i, c in enumerate(classes) if c in LANGUAGES]
                ptc = np.ascontiguousarray(data["ptc"][:, keep])
                pc = data["pc"][keep]
                with data.zip.open("nextmove.npy") as member:  # its shape, not its data
                    np.lib.format.read_magic(member)
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)

                def fill(table: np.ndarray) -> None:
                    table[:] = data["nextmove"]

                automaton = mapped(f"py3langid-{version}-nextmove", shape, dtype.type, fill)
                nextmove = automaton.data
                row = np.ascontiguousarray(data["nextmove_row"]).data
                output = data["out_feat"].tolist()
        return LanguageIdentifier(
            ptc, pc, [classes[i] for i in keep], nextmove, output, norm_probs=True, tk_row=row
        )
    except Exception:  # a layout this loader does not know: py3langid's way, heavier
        log.warning("language.lean_load_failed", exc_info=True)
        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        identifier.set_languages(list(LANGUAGES))
        return identifier


def language_code(value: str) -> str | None:
    """An ISO 639-1 code from what a model answered ("es", "zh-CN", "PT_br"), or None."""
    code = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return code if re.fullmatch(r"[a-z]{2}", code) else None
