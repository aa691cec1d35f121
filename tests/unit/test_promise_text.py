"""rules.promise.find_promises: a fixed subset of bench/promises_corpus.jsonl, and how times are read.

The bench (``bench/promises.py``) holds the figures over the whole corpus; this checks a small
fixed subset of it (one or more comments of every category, in each tool's style) so a change
that turns a question, a conditional, a quote, someone else's commitment, a negation or a past
report into a promise fails here.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bridge.core.businesstime import Duration, WorkSchedule
from rules.promise import compile_patterns, find_promises, strip_quoted

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "promises_corpus.jsonl"
BERLIN = ZoneInfo("Europe/Berlin")
SCHEDULE = WorkSchedule("Europe/Berlin", range(5), time(9), time(17), "DE")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
SUBSET = [1, 2, 5, 7, 24, 32, 33, 56, 57, 78, 95, 107, 108, 121, 128, 136, 137, 146, 147, 152, 158, 163, 174,
          178, 184, 189, 199, 205, 211, 218, 223, 229, 232, 240]


def _rows() -> dict[int, dict]:
    return {r["id"]: r for r in map(json.loads, CORPUS.read_text(encoding="utf-8").splitlines())}


def _read(text: str, **kw):
    kw.setdefault("item_due", date(2026, 11, 25))
    return find_promises(text, written_at=MONDAY_10, schedule=SCHEDULE, **kw)


@pytest.mark.parametrize("row_id", SUBSET)
def test_fixed_subset_of_the_corpus(row_id):
    row = _rows()[row_id]
    found = _read(row["text"])
    assert bool(found) is row["promise"], (row["category"], row["text"], found)
    if row["promise"] and row.get("due"):
        assert row["due"] in [p.due.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M") for p in found]


def test_the_subset_covers_every_category_and_tool():
    rows = _rows()
    assert {rows[i]["category"] for i in SUBSET} == {r["category"] for r in rows.values()}
    assert {rows[i]["tool"] for i in SUBSET} == {"github", "jira", "asana"}


def test_a_promise_names_its_action_time_and_sentence():
    [p] = _read("Thanks Olga! I'll send the import plan by Fri 15:00. Ping me if you need more.")
    assert p.action == "send the import plan"
    assert p.when == "by Fri 15:00"
    assert p.timed and p.due == datetime(2026, 11, 27, 14, 0, tzinfo=ZoneInfo("UTC"))
    assert p.sentence == "I'll send the import plan by Fri 15:00."


def test_before_their_start_date_is_read_against_the_items_due_date():
    [p] = _read("yes, we'll handle the day-one import before their start date", item_due=date(2026, 12, 2))
    assert p.due.astimezone(BERLIN) == datetime(2026, 12, 1, 17, 0, tzinfo=BERLIN)  # the working day before
    assert _read("we'll do it before their start date", item_due=None)[0].timed is False


def test_a_date_is_the_end_of_the_authors_working_day_and_holidays_count():
    # Fri 25 Dec 2026 is a German holiday (and 26 Dec a Saturday): "by 25 Dec" falls due on Thu 24 Dec.
    [p] = _read("I'll renew the certificate by 25 Dec.")
    assert p.due.astimezone(BERLIN) == datetime(2026, 12, 24, 17, 0, tzinfo=BERLIN)


def test_a_promise_without_a_time_is_due_after_the_default():
    [p] = _read("I'll take a look.", default_within=Duration.parse("2d"))
    assert not p.timed and p.when is None
    assert p.due.astimezone(BERLIN) == datetime(2026, 11, 25, 10, 0, tzinfo=BERLIN)


def test_the_authors_time_zone_reads_the_clock_time():
    ny = WorkSchedule("America/New_York", range(5), time(9), time(17), "US")
    [p] = find_promises("I'll merge it by 3pm.", written_at=MONDAY_10, schedule=ny)
    assert p.due == datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("America/New_York"))


def test_quoted_text_is_removed_before_reading():
    assert "send" not in strip_quoted("> I'll send it Friday\nok").replace("ok", "")
    assert _read('She wrote: "I\'ll send it Friday"') == []
    assert _read("{quote}I'll send it Friday{quote}") == []


def test_configured_patterns_replace_or_extend_the_english_ones():
    german = compile_patterns([r"(?i)\bich\s+(?:werde|schicke)\s+"])
    assert _read("Ich schicke den Plan bis Freitag.", patterns=german)
    assert _read("I'll send the plan by Friday.", patterns=german) == []
    both = compile_patterns(["english", r"(?i)\bich\s+werde\s+"])
    assert _read("I'll send the plan by Friday.", patterns=both)
    with pytest.raises(ValueError, match="not a regular expression"):
        compile_patterns(["(unclosed"])


def test_naive_written_at_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        find_promises("I'll do it", written_at=datetime(2026, 11, 23), schedule=SCHEDULE)
