"""What the offline triage classifier sees of a message (SPEC §5.2). Pure: no I/O.

A message becomes three groups of named features, each group weighted on its own:
- `c:` character 1-5-grams inside each word, padded with a space at both ends (they carry
  Chinese and Japanese, which have no spaces, typos, accents dropped, and words' stems);
- `w:` words and pairs of adjacent words, where a run of Chinese or Japanese characters (no
  spaces to split it) counts as its overlapping character pairs (a one-character run as itself):
  "导出失败" gives the words 导出, 出失, 失败;
- `k:` the keyword cue groups of `workers.triage_rules` that fire (incident, bug, billing...,
  an acknowledgement, an emoji-only message): a few hand-written, many-language cues the model
  weighs by what it learned, not rules that decide; and the urgency cues below (`k:u_...`).

Slack markup is normalised first (mentions, links, digits), so placeholder ids are not learned.

Urgency cues (`urgency_cues`): every writer of the labelled sets puts a deadline named in words
("closing at 14:00", "before the board meeting tomorrow") at high, and "when you can" asks,
cosmetic faults and idle curiosity at low; but n-grams and meaning learn such phrases one
wording and one language at a time. One feature per kind of cue, in the training set's seven
languages, lets what one writer taught carry to another's words: leaving each of four outside
writers out in turn, urgency +0.7 to +4.8 points on the one left out, category and needs-reply
unchanged or better. Kept out of `workers.triage_rules`, whose old rules read its cues.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter

from workers.triage_rules import cues

CHAR_MIN, CHAR_MAX = 1, 5
CUE_WEIGHT = 0.3  # the cue group's length against the n-gram groups' unit length

_LINK_LABEL = re.compile(r"<https?://[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<(?:https?|mailto):[^>]*>")
_MENTION = re.compile(r"<[@!#][^>]*>")
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"\w+")
# Han (with extension A and compatibility ideographs), hiragana and katakana: no spaces.
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.IGNORECASE)


def _w(*words: str) -> str:
    """Word-bounded alternatives (Chinese and Japanese cues are written without bounds)."""
    return r"\b(?:" + "|".join(words) + r")\b"


_DAYS = (
    r"monday|tuesday|wednesday|thursday|friday|lunes|martes|miércoles|jueves|viernes|segunda"
    r"|terça|quarta|quinta|sexta|montag|dienstag|mittwoch|donnerstag|freitag|lundi|mardi"
    r"|mercredi|jeudi|vendredi"
)
# fmt: off
URGENCY_CUES: dict[str, re.Pattern[str]] = {
    # a time of day: 14:00, 3pm, 17h, 14 Uhr, noon, 15時, 8点
    "clock": _any(
        r"\b\d{1,2}:\d\d\b", r"\b\d{1,2} ?(?:am|pm|h|hs|uhr)\b", r"\b\d{1,2}h\d\d\b",
        _w("noon", "midday", "mediodía", "midi", "meio-dia", "mittag"),
        r"\d{1,2} ?(?:時|点|點)(?!数)", r"[上下]午\d", r"正午"),
    "today": _any(
        _w("today", "tonight", r"this (?:morning|afternoon|evening)", r"end of (?:the )?day",
           "eod", "cob", "close of business", "hoy", r"esta (?:tarde|noche)", "hoje",
           "esta noite", "heute", "heut", "aujourd'hui", "ce soir", "cet après-midi",
           "dienstschluss", "feierabend", r"fin de (?:la )?journée", r"final del día",
           r"fim do dia", r"fin del día"),
        r"今天|今日|本日|今晚|今夜|下班前|当天|今朝|夕方まで|终业|終業"),
    "tomorrow": _any(
        _w("tomorrow", "amanhã", "morgen", "demain", r"mañana (?:temprano|por la|a las|antes)"),
        r"明天|明日|明早"),
    # a short time left: "in two hours", "within the hour", "right away"
    "soon": _any(
        _w(r"in (?:an|one|two|three|half an|\d+) (?:hours?|minutes?|mins?)",
           r"within (?:the |an |one )?(?:hour|\d+ hours?|minutes)", r"right away",
           r"en (?:una|dos|tres|\d+) horas?", r"em (?:uma|duas|três|\d+) horas?",
           r"in (?:einer|zwei|drei|\d+) stunden?", r"dans (?:une|deux|trois|\d+) heures?",
           r"\d+ (?:horas|hours|heures|stunden)", "sofort", "tout de suite", "ya mismo",
           "ahora mismo", "de inmediato"),
        r"\d+ ?(?:个|個)?小时|[一两二三半]个?小时|\d+時間以内|马上|立刻|尽快|急用|大至急|すぐに"),
    "deadline": _any(
        _w("deadline", r"due (?:today|tomorrow|by|at|on|before)", r"cut-?off",
           r"clos(?:ing|es) (?:at|by|on|tonight|today|tomorrow)",
           r"before (?:the |our |my )?(?:meeting|board|audit|call|demo|launch|noon|midday|eod"
           rf"|end of|{_DAYS})",
           rf"by (?:noon|midday|tomorrow|tonight|end of|close of|{_DAYS})",
           "plazo", "vence", "vencimiento", r"fecha l[ií]mite", "prazo", "frist", "stichtag",
           rf"bis (?:morgen|heute|{_DAYS}|\d)", "échéance", "date limite",
           rf"avant (?:demain|ce soir|midi|la réunion|{_DAYS})",
           rf"antes (?:de|del|das?) (?:las|as|la|mañana|amanhã|{_DAYS}|\d)",
           r"cierra (?:a las|hoy|esta|mañana)", "fecha de corte", "go-?live"),
        r"截止|期限|締め?切|カット|截港|截关|前必须|必须今天|まで(?:に|で)"),
    # asked to take one's time
    "calm": _any(
        _w("no rush", "no hurry", r"not (?:at all )?urgent", r"not a (?:big )?priority",
           "low priority", "whenever", r"when(?:ever)? you (?:get a (?:chance|sec|moment|minute)"
           r"|can|have (?:a |the )?(?:moment|minute|time|sec))",
           r"at your (?:convenience|leisure)", "in your own time", "no pressure",
           "no need to hurry", r"sin (?:prisa|apuro|urgencia)",
           r"no (?:es|hay) (?:urgente|prisa|apuro)",
           r"cuando (?:puedan|puedas|tengan|tengas)", "con calma", r"sem (?:pressa|urgência)",
           "não é urgente", r"quando (?:puderem|puder|der)", "sem stress", "keine eile",
           "eilt nicht", "nicht dringend", "kein stress", r"wenn (?:ihr|sie|du) zeit",
           "bei gelegenheit", r"pas (?:urgent|pressée?)", "rien d'urgent", "sans urgence",
           r"quand vous (?:aurez|pourrez)", "à l'occasion"),
        r"不急|不着急|不用急|有空|方便的时候|慢慢来|急ぎません|急ぎでは|お手すき|お時間のある"
        r"|時間のある(?:時|とき)|いつでも"),
    # little at stake: cosmetic, minor, a suggestion, a someday wish
    "cosmetic": _any(
        _w("cosmetic", r"purely (?:visual|cosmetic)", r"visual(?:ly)? only", "minor",
           "small thing", "tiny", "nit", "nitpick", r"nice[- ]to[- ]have", r"(?:not a|no) big deal",
           "not blocking", r"doesn'?t block", "typo", "cosmétique", "esthétique", "rien de grave",
           "détail", "estético", "cosmético", "detalle menor", "nada grave", "kosmetisch",
           "kleinigkeit", "schönheitsfehler", "nicht schlimm", "nur optisch", "detalhe",
           "nada demais", "não é grave", "sugerencia", "sugestão", "suggestion", "anregung", "idee",
           "idea", "someday", "one day", "algún día", "ojalá", "um dia", "un jour"),
        r"小问题|小建议|不影响使用|不影响|细节|見た目|表示だけ|細かい|軽微|些細|ちょっとした|错别字|誤字"),
    # asking for its own sake, for information, or for next year's plans
    "curious": _any(
        _w("just curious", "curious", "out of curiosity", "just wondering",
           r"random (?:q|question)", "just asking", "fyi", "for your information", "heads up",
           "just so you know", "next year", "planning", "por curiosidad", "solo pregunto",
           r"só (?:perguntando|avisando)",
           "curiosidade", r"nur (?:aus neugier|zur info)", "zur info", "par curiosité",
           r"pour (?:info|information)", "año que viene", "ano que vem", "próximo año",
           "próximo ano", "nächstes jahr", "l'an prochain"),
        r"好奇|随便问|顺便问|参考まで|ちなみに|念のため|明年|来年"),
    "plus_one": _any(r"(?:^|\s)\+1\b"),  # "+1 to the CSV request": a vote, not a need
}
# fmt: on


def urgency_cues(text: str) -> list[str]:
    """The kinds of urgency cue in a message: a deadline or time (clock, today, tomorrow, soon,
    deadline) or little at stake (calm, cosmetic, curious, plus_one)."""
    clean = " ".join(text.split())
    return [name for name, pattern in URGENCY_CUES.items() if pattern.search(clean)]


def normalise(text: str) -> str:
    """Lower case, NFKC, Slack markup reduced to its words, digits to 0, one space between."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _LINK_LABEL.sub(r" \1 ", text)
    text = _LINK.sub(" url ", text)
    text = _MENTION.sub(" @ ", text)
    text = _DIGIT.sub("0", text)
    return " ".join(text.split())


def char_grams(clean: str, low: int = CHAR_MIN, high: int = CHAR_MAX) -> Counter[str]:
    """Character n-grams within each space-separated word, the word padded by spaces."""
    padded = [f" {word} " for word in clean.split()]
    return Counter(  # counted in C: this runs in the web process for every customer message
        "c:" + word[i : i + n]
        for word in padded
        for n in range(low, min(high, len(word)) + 1)
        for i in range(len(word) - n + 1)
    )


def words(clean: str) -> list[str]:
    """The words of a normalised message; a CJK run becomes its overlapping character pairs."""
    out: list[str] = []
    for word in _WORD.findall(clean):
        start = 0
        for run in _CJK_RUN.finditer(word):
            if run.start() > start:
                out.append(word[start : run.start()])
            chars = run.group()
            out += [chars] if len(chars) == 1 else [a + b for a, b in itertools.pairwise(chars)]
            start = run.end()
        if start < len(word):
            out.append(word[start:])
    return out


def word_grams(clean: str) -> Counter[str]:
    """Words (`words`) and pairs of adjacent words."""
    words_ = words(clean)
    grams: Counter[str] = Counter("w:" + w for w in words_)
    grams.update(f"w:{a} {b}" for a, b in itertools.pairwise(words_))
    return grams


def cue_names(text: str) -> list[str]:
    """The keyword cue groups and urgency cues that fire on the raw text."""
    return ["k:" + name for name in cues(text)] + ["k:u_" + name for name in urgency_cues(text)]


def groups(
    text: str, chars: tuple[int, int] = (CHAR_MIN, CHAR_MAX)
) -> list[tuple[Counter[str], bool]]:
    """The message's feature groups: (feature counts, whether the group is TF-IDF weighted)."""
    clean = normalise(text)
    return [
        (char_grams(clean, *chars), True),
        (word_grams(clean), True),
        (Counter(cue_names(text)), False),
    ]
