"""Promise detection: a commitment its author wrote in a comment or description, with a time.

Pure and pattern-based (no remote model, no I/O). ``find_promises(text, ...)`` returns every
``PromiseText`` in one text; ``rules.promise_walk`` (the ``promise`` detector) turns them into
obligations of the author.

How a text is read:

1. Quoted text is removed first: Markdown/e-mail quotes (lines starting ``>``), Jira ``{quote}``
   and ``bq.`` blocks, code blocks (GitHub ```` ``` ````, Jira ``{code}``/``{noformat}``), and
   anything between quotation marks (``"…"``, ``“…”``, ``'…'`` after a colon). What someone else
   wrote is never the author's promise.
2. The rest is split into sentences (``.``, ``!``, ``?``, ``;`` and line breaks; times such as
   ``15:00`` and abbreviations such as ``e.g.`` do not split).
3. A sentence is a promise when a commitment pattern matches it (``BUILTIN_PATTERNS``: a first
   person subject, ``I``/``we``, with ``will``/``'ll``/``shall``/``am going to``/``plan to``/
   ``promise to``…, or a subjectless ``Will send …`` at the start of the sentence) and no
   exclusion applies. Precision matters more than recall (a promise that was not one is a false
   nudge), so these are never promises:

   - questions (the sentence ends with ``?``, or starts with can/could/would/will/shall you…);
   - conditionals (``if``, ``unless``, ``once``, ``as soon as``, ``when``, ``provided``,
     ``assuming``, ``depending on``, ``in case``…);
   - negations of the commitment (``won't``, ``will not``, ``can't``, ``never``, ``not going to``);
   - hedges (``try``, ``maybe``, ``probably``, ``might``, ``hopefully``, ``I think``…);
   - past and reported speech (``I said I'd…``, ``was going to``, ``would have``, ``'d``);
   - other people's commitments (``Bob will…``, ``you'll…``, ``they're going to…``): only the
     author's own first person counts.

4. The time is read from the sentence (``TIME_PHRASE``) and parsed with ``dateparser`` 1.5 in the
   author's time zone, relative to the moment the text was written, preferring the future, then
   placed in the author's business calendar (``bridge.core.businesstime.WorkSchedule``):

   - a date without a time of day ("by Friday", "on 27 Nov", "tomorrow") is the end of the
     author's working hours that day (the last working day on or before it when it is not one);
   - "EOD"/"end of day"/"COB" is the end of working hours (today unless a day is named);
     "EOW"/"end of (the) week"/"this week" the end of the week's last working day, "next week"
     the end of next week's last working day;
   - "before <a day>" is the end of the last working day before that day;
   - "before their start date", "before the due date", "before the deadline", "before launch"…
     (``DUE_WORDS``) are resolved against the item's due date: the end of the last working day
     before it (a due moment with a time is used as it is);
   - a promise with no time ("I'll send the plan") is due ``default_within`` of the author's
     business time after it was written (``PromiseText.timed`` is then ``False``).

``patterns`` replaces the built-in commitment patterns; the name ``"english"`` in the list stands
for ``BUILTIN_PATTERNS`` (``[promises] patterns = ["english", "(?i)\\\\bich werde\\\\b"]``). Each
pattern is a Python regular expression searched in one sentence; where it ends, the promised
action begins. The exclusions above always apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Iterable, Sequence

from dataclasses import replace
from typing import Any, Callable

from pydantic import Field, field_validator

from bridge.core.businesstime import Duration, WorkSchedule
from bridge.core.fields import StrictModel
from bridge.core.model import Account, Event, EventKind, HandoffState, ItemRef, ItemSnapshot
from rules import commands as cmds
from rules.handoff import PROMISE, Handoff, ItemWalk

__all__ = [
    "BUILTIN_PATTERNS",
    "DUE_WORDS",
    "KEEP_KINDS",
    "PromiseSettings",
    "PromiseText",
    "compile_patterns",
    "find_promises",
    "owed_to",
    "strip_quoted",
    "walk_item",
]

_UTC = timezone.utc

#: The built-in English commitment patterns (the name ``"english"`` in ``[promises] patterns``).
BUILTIN_PATTERNS: tuple[str, ...] = (
    # I'll / we'll / I will / we shall / I am going to / we're going to, then the action
    r"(?i)\b(?:i|we)\s*(?:'ll|’ll|\s+will|\s+shall)\s+(?:definitely\s+|also\s+|then\s+|personally\s+|still\s+)?",
    r"(?i)\b(?:i\s*(?:'m|’m|\s+am)|we\s*(?:'re|’re|\s+are))\s+going\s+to\s+",
    r"(?i)\b(?:i|we)\s+(?:plan|intend|promise|commit|aim|expect|undertake)\s+to\s+",
    r"(?i)\b(?:i|we)\s+(?:can|will)\s+(?:have|get)\s+(?=\S.*\b(?:ready|done|finished|over|across|sorted|to you|out)\b)",
    # chat style without a subject, at the start of a sentence: "Will send it by Fri", "On it, will fix today"
    # "ETA Friday", "Expect a draft PR by 27 Nov": the author's own estimate
    r"(?i)^(?:eta\b:?\s*|expect\s+(?=(?:it|a|an|the|my|our|this|that|them)\b))",
    r"(?i)^(?:(?:ok|okay|sure|yes|yep|ack|noted|got it|on it|sounds good|thanks|ty)\W+)*will\s+(?!you\b|they\b|he\b|she\b|it\b|this\b|that\b|there\b)",
)

#: Phrases that mean the item's due date (read against ``ItemSnapshot.due``).
DUE_WORDS = (r"(?:their|the|his|her|our|your|its)?\s*(?:start(?:\s+date)?|first\s+day|due\s+date|deadline|"
             r"go[- ]live|launch|release|kick-?off|cut-?over|onboarding(?:\s+date)?)")

_QUESTION_START = re.compile(
    r"^(?:\W*)(?:can|could|would|will|shall|should|do|does|did|is|are|am|may|might|have|has|when|what|who|"
    r"where|why|how|which|any\s+chance|is\s+it\s+ok)\b[^.]*\b(?:you|we|i|they|he|she|someone|anyone|it)\b", re.I)
_CONDITIONAL = re.compile(
    r"\b(?:if|unless|once|as\s+soon\s+as|when|whenever|provided|providing|assuming|depending\s+on|"
    r"in\s+case|otherwise|or\s+else|only\s+after|as\s+long\s+as|should\s+(?:they|we|you|it|legal|the))\b", re.I)
_NEGATION = re.compile(
    r"\b(?:(?:i|we)\s*(?:won't|won’t|will\s+not|shall\s+not|can't|can’t|cannot|can\s+not|'ll\s+not|’ll\s+not|"
    r"will\s+never|'ll\s+never|’ll\s+never|am\s+not|'m\s+not|’m\s+not|are\s+not|'re\s+not|’re\s+not|"
    r"aren't|don't|do\s+not|no\s+longer)|not\s+going\s+to|never\s+going\s+to|no\s+way)\b", re.I)
_HEDGE = re.compile(
    r"\b(?:try|trying|attempt|maybe|perhaps|probably|possibly|might|may|hopefully|hope|i\s+think|i\s+guess|"
    r"i\s+believe|not\s+sure|likely|unlikely|ideally|if\s+possible|would\s+like|wanted\s+to|want\s+to|"
    r"could|should|tbd|tentatively)\b", re.I)
_PAST = re.compile(
    r"\b(?:said|told|wrote|mentioned|promised|thought|was\s+going\s+to|were\s+going\s+to|would\s+have|"
    r"'d|’d|had\s+planned|had\s+promised|already|last\s+(?:week|time|month)|yesterday|earlier|ago|"
    r"(?:i|we)\s+(?:sent|did|fixed|handled|published|shipped|delivered|finished|completed|merged|uploaded|"
    r"posted|added|updated|wrote|made|'ve|’ve)\b)", re.I)
#: Third person subjects right before a modal: "Bob will", "legal will", "you'll", "they are going to".
_OTHERS = re.compile(r"\b(?:you|they|he|she|it|someone|somebody|nobody|everyone|team|@\w+)\s*(?:'ll|’ll|will|are\s+going|is\s+going|'re\s+going)\b", re.I)

_DAY = (r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|"
        r"sat(?:urday)?|sun(?:day)?)\.?")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_CLOCK = r"(?:\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d{2}(?:\s*h)?|noon|midday|midnight)"
_ZONE = r"(?:\s*(?:cet|cest|utc|gmt|est|edt|pst|pdt|bst|ist|z))?"
_DATE = (rf"(?:{_DAY}(?:,?\s+(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?(?![:.]?\d)(?:\s+{_MONTH})?)?|\d{{4}}-\d{{2}}-\d{{2}}|"
         rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?|"
         rf"\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|the\s+\d{{1,2}}(?:st|nd|rd|th)|today|tomorrow|tmrw|tmr|tonight|"
         rf"(?:next|this|coming)\s+{_DAY}|day\s+after\s+tomorrow)")
_PART = r"(?:morning|afternoon|evening|lunch(?:time)?|eod|cob|eob|end\s+of\s+(?:the\s+)?(?:day|business(?:\s+day)?))"
_WEEK = r"(?:eow|end\s+of\s+(?:the\s+)?week|this\s+week|next\s+week|end\s+of\s+next\s+week|early\s+next\s+week)"
_MONTH_END = r"(?:eom|end\s+of\s+(?:the\s+)?month|this\s+month|next\s+month)"
_RELATIVE = r"(?:in\s+(?:an?|one|two|three|four|five|\d+)\s+(?:min(?:ute)?s?|hours?|hrs?|days?|weeks?))"
_LATER = r"(?:later\s+today|by\s+the\s+end\s+of\s+(?:the\s+)?(?:day|week|month)|within\s+(?:the\s+)?(?:hour|day|week))"

#: One time expression: an optional preposition, then a date, a part of the day, a clock time…
TIME_PHRASE = re.compile(
    rf"(?P<prep>\b(?:by|before|until|till|no\s+later\s+than|on|at|for|around|first\s+thing|first\s+thing\s+on|"
    rf"latest\s+by|end\s+of|ahead\s+of|prior\s+to)\s+)?"
    rf"(?P<phrase>\b(?:{DUE_WORDS}(?:\s+(?:on\s+)?{_DATE})?|{_LATER}|{_WEEK}|{_MONTH_END}|{_RELATIVE}|"
    rf"(?:{_DATE})(?:[\s,]+(?:at\s+|by\s+|before\s+|around\s+)?(?:{_CLOCK}{_ZONE}|{_PART}))?|"
    rf"{_PART}(?:\s+(?:on\s+)?{_DATE})?|{_CLOCK}{_ZONE}(?:\s+(?:on\s+)?{_DATE})?))\b",
    re.I,
)
_HAS_CLOCK = re.compile(rf"{_CLOCK}|\b(?:morning|afternoon|evening|lunch(?:time)?|tonight)\b|{_RELATIVE}", re.I)
_EOD = re.compile(r"\b(?:eod|cob|eob|end\s+of\s+(?:the\s+)?(?:day|business(?:\s+day)?)|later\s+today)\b", re.I)
_DUE_ONLY = re.compile(rf"^{DUE_WORDS}$", re.I)


@dataclass(frozen=True)
class PromiseText:
    """One commitment found in a text.

    ``sentence``: the sentence as written (plain text, whitespace collapsed), the evidence a
    nudge quotes. ``action``: what was promised ("send the import plan"), without its time.
    ``when``: the time expression as written ("by Friday 15:00"), or ``None``. ``due``: aware
    UTC, when the promise falls due (see the module docstring for how it is read). ``timed``:
    the text named a time (else ``due`` is the configured default).
    """

    sentence: str
    action: str
    when: str | None
    due: datetime
    timed: bool


def compile_patterns(patterns: Iterable[str] | None = None) -> tuple[re.Pattern, ...]:
    """Compile commitment patterns; ``None`` or the name ``"english"`` gives ``BUILTIN_PATTERNS``.

    Raises:
        ValueError: a pattern is not a valid regular expression (the message names it).
    """
    out: list[re.Pattern] = []
    for p in (patterns if patterns is not None else ("english",)):
        if p == "english":
            out.extend(_builtin())
            continue
        try:
            out.append(re.compile(p))
        except re.error as exc:
            raise ValueError(f"not a regular expression: {p!r} ({exc})") from exc
    return tuple(out)


@lru_cache(maxsize=1)
def _builtin() -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p) for p in BUILTIN_PATTERNS)


_QUOTED_BLOCKS = (
    re.compile(r"```.*?(?:```|\Z)", re.S),
    re.compile(r"\{(code|noformat|quote)(?::[^}]*)?\}.*?(?:\{\1\}|\Z)", re.S | re.I),
    re.compile(r"<blockquote\b.*?(?:</blockquote>|\Z)", re.S | re.I),
    re.compile(r"^\s*(?:>|bq\.).*$", re.M),
    re.compile(r"^\s*on\s.{3,80}\bwrote:\s*$", re.M | re.I),
    re.compile(r"[\"“”„][^\"“”„\n]{1,400}[\"“”]"),
    re.compile(r"(?<=:)\s*['‘][^'’\n]{1,400}['’]"),
    re.compile(r"`[^`\n]*`"),
)


def strip_quoted(text: str) -> str:
    """``text`` without what it quotes (quote blocks, code, text between quotation marks) or HTML tags."""
    for pattern in _QUOTED_BLOCKS:
        text = pattern.sub(" ", text)
    return re.sub(r"<[^>]+>", " ", text)


_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\bvs)(?<!\bapprox)(?<=[.!?;])\s+|\n+|(?<=[!?])(?=\S)", re.I)


def sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (whitespace collapsed; empty ones dropped)."""
    return [s for s in (" ".join(part.split()) for part in _SENTENCE_END.split(text)) if s]


def find_promises(
    text: str | None,
    *,
    written_at: datetime,
    schedule: WorkSchedule,
    item_due: datetime | date | None = None,
    default_within: Duration = Duration.parse("1d"),
    patterns: Sequence[re.Pattern] | None = None,
) -> list[PromiseText]:
    """Return every promise in ``text``, in order.

    Args:
        text: a comment or description as a tool stores it (plain text, Markdown, Jira wiki
            markup or Asana's plain ``text``); ``None`` or empty gives ``[]``.
        written_at: aware, when the author wrote it (the base of "tomorrow", "next week").
        schedule: the author's ``WorkSchedule``: time zone for reading the text, business
            calendar for "by Friday" (end of working hours) and for ``default_within``.
        item_due: ``ItemSnapshot.due`` of the item the text is on ("before their start date").
        default_within: business time after ``written_at`` at which a promise without a time falls due.
        patterns: compiled commitment patterns (``compile_patterns``); default ``BUILTIN_PATTERNS``.

    Raises:
        ValueError: ``written_at`` is naive.
    """
    if written_at.tzinfo is None:
        raise ValueError("written_at must be timezone-aware")
    if not text:
        return []
    pats = patterns if patterns is not None else _builtin()
    out = []
    for sentence in sentences(strip_quoted(text)):
        action = _commitment(sentence, pats)
        if action is None:
            continue
        due, when = _due(sentence, written_at, schedule, item_due)
        timed = due is not None
        if due is None:
            due = schedule.add(written_at, default_within)
        if when:
            action = " ".join(action.replace(when, " ").split())
        action = re.sub(r"[\s,;:.!-]+$", "", action)
        action = re.sub(r"\s+(?:and|but|so|then|by|on|at|before)$", "", action, flags=re.I)
        out.append(PromiseText(sentence=sentence, action=action, when=when, due=due.astimezone(_UTC), timed=timed))
    return out


def _commitment(sentence: str, patterns: Sequence[re.Pattern]) -> str | None:
    """The promised action when ``sentence`` is a commitment of its author, else ``None``."""
    s = sentence.strip()
    if s.endswith("?") or _QUESTION_START.search(s):
        return None
    for p in patterns:
        m = p.search(s)
        if m is None:
            continue
        before, after = s[:m.start()], s[m.end():]
        if _CONDITIONAL.search(s) or _NEGATION.search(s) or _HEDGE.search(s) or _PAST.search(before + " " + m.group(0)):
            return None
        if _OTHERS.search(before[-40:]):
            return None
        if re.match(r"(?i)\s*(?:not|never|no)\b", after) or _PAST.match(after):
            return None
        if not re.search(r"[A-Za-z]", after) or re.fullmatch(r"(?i)\s*do(?:\s+(?:it|that|so|this))?\W*", after):
            return None  # "Will do." acknowledges what came before; it names nothing to do
        return after.strip()
    return None


def _due(sentence: str, written_at: datetime, schedule: WorkSchedule, item_due) -> tuple[datetime | None, str | None]:
    """(when the sentence's time expression falls due, the expression as written)."""
    for m in TIME_PHRASE.finditer(sentence):
        prep = (m.group("prep") or "").strip().casefold()
        phrase = m.group("phrase")
        at = _resolve(prep, phrase, written_at, schedule, item_due)
        if at is not None and (prep.startswith("first thing") or re.match(r"\s*first\s+thing\b", sentence[m.end():], re.I)):
            local = at.astimezone(schedule.tz)  # "first thing tomorrow": the first working hour
            at = datetime.combine(local.date(), schedule.start, schedule.tz) + timedelta(hours=1)
        if at is not None:
            return at, m.group(0).strip()
    return None, None


def _local_end(schedule: WorkSchedule, day: date) -> datetime:
    """The end of working hours on ``day``, or on the last working day before it."""
    for _ in range(31):
        if schedule.is_working_date(day):
            break
        day -= timedelta(days=1)
    return datetime.combine(day, schedule.end, schedule.tz)


def _working_day_before(schedule: WorkSchedule, day: date) -> date:
    day -= timedelta(days=1)
    for _ in range(31):
        if schedule.is_working_date(day):
            return day
        day -= timedelta(days=1)
    return day


def _week_end(schedule: WorkSchedule, day: date) -> datetime:
    return _local_end(schedule, day + timedelta(days=6 - day.weekday()))


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekday(name: str) -> int:
    return _WEEKDAYS.index(name.casefold()[:3])


def _settings(schedule: WorkSchedule, local: datetime) -> dict:
    """dateparser settings: the author's zone, relative to when they wrote, preferring the future."""
    return {
        "TIMEZONE": schedule.timezone,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": local.replace(tzinfo=None),
        "DATE_ORDER": "DMY",
    }


def _resolve(prep: str, phrase: str, written_at: datetime, schedule: WorkSchedule, item_due) -> datetime | None:
    import dateparser  # imported on first use: it takes ~0.3 s to load its language data

    local = written_at.astimezone(schedule.tz)
    p = " ".join(phrase.casefold().split())
    before = prep in ("before", "ahead of", "prior to")
    due_word = re.match(rf"^{DUE_WORDS}", p)
    if due_word and due_word.group(0).strip():
        rest = p[due_word.end():].strip()
        rest = re.sub(r"^on\s+", "", rest)
        if rest:  # "their start on Wed": the day is named
            phrase, p = rest, rest
        elif item_due is not None and prep in ("before", "by", "until", "ahead of", "prior to", "on", "for", "no later than"):
            if isinstance(item_due, datetime):
                return item_due.astimezone(schedule.tz) if before or prep != "on" else item_due.astimezone(schedule.tz)
            day = _working_day_before(schedule, item_due) if before else item_due
            return _local_end(schedule, day)
        else:
            return None
    if re.fullmatch(_WEEK, p, re.I):
        start = local.date()
        if "next" in p:
            start += timedelta(days=7 - start.weekday())
        if p.startswith("early"):
            return _local_end(schedule, start + timedelta(days=1))
        return _week_end(schedule, start)
    if re.fullmatch(_MONTH_END, p, re.I):
        first = local.date().replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
        if "next" in p:
            nxt = (nxt + timedelta(days=32)).replace(day=1)
        return _local_end(schedule, nxt - timedelta(days=1))
    if re.fullmatch(_LATER, p, re.I):
        if p.endswith("week"):
            return _week_end(schedule, local.date())
        if p.endswith("month"):
            return _resolve("", "end of month", written_at, schedule, item_due)
        if "within" in p:
            return None
        return _local_end(schedule, local.date())
    eod = bool(_EOD.search(p))
    text = _EOD.sub(" ", p)
    text = re.sub(r"\b(?:tmrw|tmr)\b", "tomorrow", text)
    next_day = re.fullmatch(rf"next\s+({_DAY})", text)
    if next_day:  # "next Tuesday" said on a Monday: the Tuesday of next week, not tomorrow
        wanted = _weekday(next_day.group(1))
        monday = local.date() + timedelta(days=7 - local.weekday())
        day = monday + timedelta(days=wanted)
        return _local_end(schedule, _working_day_before(schedule, day) if before else day)
    text = re.sub(r"\b(?:this|coming)\s+", "", text)
    if re.search(r"\b(?:tonight|evening)\b", text):  # "tonight": by the end of that calendar day
        text = re.sub(r"\b(?:tonight|evening)\b", "", text).strip() or "today"
        parsed = dateparser.parse(text, languages=["en"], settings=_settings(schedule, local))
        if parsed is None:
            return None
        return datetime.combine(parsed.astimezone(schedule.tz).date(), time(23, 59), schedule.tz)
    if re.fullmatch(r"(?:morning|afternoon)", text):
        text = f"today {text}"
    text = re.sub(r"\blunch(?:time)?\b", "12:00", text)
    text = re.sub(r"\bmidday\b", "noon", text)
    text = " ".join(text.split())
    if not text:
        day = local.date()
        return _local_end(schedule, day) if eod else None
    parsed = dateparser.parse(text, languages=["en"], settings=_settings(schedule, local))
    if parsed is None:
        return None
    parsed = parsed.astimezone(schedule.tz)
    if parsed < local - timedelta(minutes=1) and not _HAS_CLOCK.search(text):
        return None  # a day in the past ("on Monday" said on Tuesday as a report) is no due time
    if _HAS_CLOCK.search(text) and not eod:
        if re.search(r"\bmorning\b", text):
            parsed = datetime.combine(parsed.date(), time(12, 0), schedule.tz)
        elif re.search(r"\bafternoon\b", text):
            parsed = _local_end(schedule, parsed.date())
        return parsed
    if before:
        return _local_end(schedule, _working_day_before(schedule, parsed.date()))
    return _local_end(schedule, parsed.date())


# --------------------------------------------------------------------------- the promise detector

#: What the author does that keeps their promise: on the item or an item linked to it as the same work.
KEEP_KINDS = frozenset({EventKind.COMMENTED, EventKind.STATUS_CHANGED, EventKind.CLOSED, EventKind.COMMITTED,
                        EventKind.REVIEWED})


class PromiseSettings(StrictModel):
    """``[promises]``: how promises are read from comments (the ``promise`` rules use it).

    ``patterns``: commitment patterns (Python regular expressions, searched in one sentence;
    where a match ends the promised action begins). Default ``["english"]``, the built-in English
    patterns (``BUILTIN_PATTERNS``); a list replaces them, and may name ``"english"`` among its own.
    Questions, conditionals, quotes, negations, hedges, past tense and other people's commitments
    are never promises, whatever the patterns (see ``rules.promise``).
    """

    patterns: list[str] = Field(default_factory=lambda: ["english"], min_length=1,
                                description='commitment regexes; "english" = the built-in English patterns')

    @field_validator("patterns")
    @classmethod
    def _compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            compile_patterns([pattern])  # ValueError names the pattern
        return value

    def compiled(self) -> tuple[re.Pattern, ...]:
        return _compiled(tuple(self.patterns))


@lru_cache(maxsize=16)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    return compile_patterns(patterns)


Identity = Callable[[Account | None], str | None]


def owed_to(ev: Event, earlier: list[Event], snapshot: ItemSnapshot | None, *, bots: set[Account],
            who: Identity) -> Account | None:
    """Whom the promise in ``ev`` is owed to: the first person it mentions, else the author of
    the comment it answers (the last earlier comment by someone else), else the item's holder
    (its first assignee who is not the author), else whoever opened the item; ``None`` when
    nobody is known. Never the author
    or the daemon."""
    author = who(ev.actor)
    for m in ev.mentions:
        if m not in bots and who(m) != author:
            return m
    for e in reversed(earlier):
        if e.kind == EventKind.COMMENTED and e.actor is not None and e.actor not in bots and who(e.actor) != author:
            return e.actor
    if snapshot is not None:
        for a in (*snapshot.assignees, *((snapshot.author,) if snapshot.author else ())):
            if a not in bots and who(a) != author:
                return a
    return None


def description_event(ref: ItemRef, evs: list[Event], snapshot: ItemSnapshot | None) -> Event | None:
    """The item's current description as a comment of whoever wrote it, for promise detection: by
    the actor of its last ``description_changed`` event at that time, else by the item's author
    at its creation; ``None`` when there is no description or no known writer. Its id,
    ``description:<event id or "created">``, is no stored event."""
    if snapshot is None or not snapshot.description:
        return None
    edits = [e for e in evs if e.kind == EventKind.DESCRIPTION_CHANGED and e.actor is not None]
    if edits:
        last = edits[-1]
        return Event(ref.tool, f"description:{last.id}", ref, last.at, EventKind.COMMENTED, actor=last.actor,
                     text=snapshot.description)
    if snapshot.author is None or snapshot.created_at is None:
        return None
    return Event(ref.tool, "description:created", ref, snapshot.created_at, EventKind.COMMENTED, actor=snapshot.author,
                 text=snapshot.description)


def walk_item(
    rule: Any,
    ref: ItemRef,
    evs: list[Event],
    snapshot: ItemSnapshot | None,
    *,
    bots: set[Account],
    schedule_for: Callable[[Account], WorkSchedule],
    who: Identity = lambda a: str(a) if a is not None else None,
    patterns: Sequence[re.Pattern] | None = None,
    linked_events: Iterable[Event] = (),
    commands: bool = False,
) -> ItemWalk:
    """Walk one item's events (oldest first) for one ``promise`` rule: each comment (and the item's
    description, see :func:`description_event`) that promises something opens an obligation of its author (a ``Handoff`` with ``trigger =
    "promise"``: ``receiver`` the author, ``sender`` whom it is owed to, see :func:`owed_to`).

    One obligation per comment: its first promise. Its ``deadline`` is the promised time read
    in the author's schedule (``schedule_for``), less the rule's ``before_due`` business time
    (never before the comment); without a time, ``rule.within`` after it was written.

    Kept (``received``) by the author's own later activity (``KEEP_KINDS``: a comment, a status
    move, closing, a commit, a review) on the item or on an item linked to it as the same work
    (``linked_events``), or by a linked item being closed; ended (``closed``) when someone else
    closes the item. Other people's activity never keeps it; the daemon's never counts.

    With ``commands`` (``rules.commands``), a comment carrying ``/hb`` commands is no activity and
    promises nothing; ``/hb kept`` by the author or by the person it is owed to keeps every open
    promise on the item (``ItemWalk.outcomes`` says what each ``kept`` did).
    """
    open_: dict[str, Handoff] = {}
    outcomes: list[cmds.Outcome] = []
    done: list[Handoff] = []
    due = snapshot.due if snapshot is not None else None
    author_of = {}
    described = description_event(ref, evs, snapshot)
    if described is not None:
        evs = sorted([*evs, described], key=lambda e: e.at)

    def keep(h: Handoff, ev: Event, state: HandoffState, reason: str) -> None:
        done.append(replace(h, state=state, ended_at=ev.at, ended_by=ev.id, reason=reason))
        open_.pop(h.key, None)

    for i, ev in enumerate(evs):
        if ev.actor is None or ev.actor in bots:
            continue
        actor = who(ev.actor)
        given = cmds.commands_of(ev, bots) if commands else []
        if given:
            for c in given:
                if c.verb != "kept":
                    continue
                mine = [h for h in open_.values() if actor in (author_of[h.key], who(h.sender))]
                for h in mine:
                    keep(h, ev, HandoffState.RECEIVED, f"kept, said {ev.actor.id} (/hb kept) at {ev.at:%Y-%m-%d %H:%M}Z")
                if mine:
                    outcomes.append(cmds.Outcome(c, rule.name, "applied", "marked kept: " + "; ".join(
                        f"\u201c{h.quote}\u201d" for h in mine) + ".", mine[0].key))
                elif open_:
                    outcomes.append(cmds.Outcome(c, rule.name, "refused", "only its author or the person it was made "
                                                                          "to can mark a promise kept."))
                else:
                    outcomes.append(cmds.Outcome(c, rule.name, "noop", "no open promise here."))
            continue
        for h in list(open_.values()):
            if ev.at < h.sent_at or ev.id == h.sent_event or ev is described:  # the description is read, not activity
                continue
            if actor == author_of[h.key] and ev.kind in KEEP_KINDS:
                keep(h, ev, HandoffState.RECEIVED,
                     f"kept: {ev.actor.id} {ev.kind.value.replace('_', ' ')} at {ev.at:%Y-%m-%d %H:%M}Z")
            elif ev.kind == EventKind.CLOSED:
                keep(h, ev, HandoffState.CLOSED, f"item closed by {ev.actor.id}")
        if ev.kind != EventKind.COMMENTED or not ev.text:
            continue
        schedule = schedule_for(ev.actor)
        found = find_promises(ev.text, written_at=ev.at, schedule=schedule, item_due=due,
                              default_within=rule.within or Duration.parse("1d"), patterns=patterns)
        if not found:
            continue
        p = found[0]
        deadline = p.due
        if getattr(rule, "before_due", None):
            deadline = max(ev.at, schedule.subtract(p.due, rule.before_due))
        key = f"{rule.name}:{ref.tool}:{ref.key}:{ev.actor.id}:{ev.id}"
        author_of[key] = actor
        open_[key] = Handoff(key=key, rule=rule.name, item=ref, sender=owed_to(ev, evs[:i], snapshot, bots=bots, who=who),
                             receiver=ev.actor, trigger=PROMISE, sent_at=ev.at, sent_event=ev.id, deadline=deadline,
                             quote=p.sentence, action=p.action, promised=p.due if p.timed else None)
    if open_:
        for ev in sorted((e for e in linked_events if e.actor is not None and e.actor not in bots), key=lambda e: e.at):
            for h in list(open_.values()):
                if ev.at < h.sent_at:
                    continue
                if who(ev.actor) == author_of[h.key] and ev.kind in KEEP_KINDS:
                    keep(h, ev, HandoffState.RECEIVED, f"kept on the linked item {ev.item}: {ev.actor.id} "
                                                       f"{ev.kind.value.replace('_', ' ')} at {ev.at:%Y-%m-%d %H:%M}Z")
                elif ev.kind == EventKind.CLOSED:
                    keep(h, ev, HandoffState.RECEIVED, f"kept: the linked item {ev.item} was closed at {ev.at:%Y-%m-%d %H:%M}Z")
    still = tuple((h, (h.sent_event,) + tuple(e.id for e in evs if e.at >= h.sent_at and e.id != h.sent_event))
                  for h in open_.values())
    return ItemWalk(done=tuple(done), open=still, outcomes=tuple(outcomes))
