"""Absences and what they do to one handoff (``bridge.core.availability``): delegation, a deadline
that waits for the return, and the legs' windows. Berlin hours 09:00-17:00, Mon-Fri."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.core.availability import Absence, Availability, absence_from_dates
from bridge.core.businesstime import Duration, WorkSchedule

BERLIN = "Europe/Berlin"
SCHEDULE = WorkSchedule(BERLIN, range(5), time(9), time(17))
FOUR = Duration(seconds=4 * 3600)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SCHEDULE.tz).astimezone(timezone.utc)


def route(av: Availability, sent: datetime, holder: str = "person:ben"):
    return av.route(holder, sent, SCHEDULE.add(sent, FOUR), schedule_for=lambda i: SCHEDULE,
                    deadline_for=lambda i, t: SCHEDULE.add(t, FOUR))


def test_configured_dates_are_whole_local_days():
    a = absence_from_dates("person:ben", date(2026, 12, 21), date(2027, 1, 4), BERLIN)
    assert a.start == at("2026-12-21 00:00") and a.end == at("2027-01-05 00:00")
    assert a.last_day == date(2027, 1, 4)
    av = Availability([a])
    assert av.away_at("person:ben", at("2027-01-04 23:59")) == a
    assert av.away_at("person:ben", at("2027-01-05 00:00")) is None
    assert av.away_at("person:ben", at("2026-12-20 23:59")) is None
    assert av.away_at("person:cleo", at("2026-12-22 10:00")) is None


def test_nobody_away_leaves_the_handoff_alone():
    [leg] = route(Availability(), at("2026-11-23 15:00"))
    assert leg.deadline == at("2026-11-24 11:00") and leg.absence is None and leg.active_from is None


def test_an_absence_beginning_while_it_waits_hands_it_to_the_delegate_from_then():
    away = absence_from_dates("person:ben", date(2026, 11, 24), date(2026, 11, 25), BERLIN, delegate="person:cleo")
    ben, cleo = route(Availability([away]), at("2026-11-23 15:00"))
    assert (ben.holder, ben.deadline, ben.active_until) == ("person:ben", at("2026-11-24 11:00"), at("2026-11-24 00:00"))
    assert (cleo.holder, cleo.active_from, cleo.delegated_from) == ("person:cleo", at("2026-11-24 00:00"), "person:ben")
    assert cleo.deadline == at("2026-11-24 13:00"), "4 business hours of Cleo's from the start of the absence"


def test_without_a_delegate_the_time_left_resumes_at_the_return():
    away = absence_from_dates("person:ben", date(2026, 11, 24), date(2026, 11, 24), BERLIN)
    before, waiting = route(Availability([away]), at("2026-11-23 15:00"))
    assert before.active_until == at("2026-11-24 00:00") and before.deadline == at("2026-11-24 11:00")
    assert waiting.holder == "person:ben" and waiting.active_from == at("2026-11-24 00:00")
    assert waiting.deadline == at("2026-11-25 11:00"), "2 h were left on Mon: Wed 09:00 + 2 h"


def test_sent_during_the_absence_starts_its_clock_at_the_return():
    away = absence_from_dates("person:ben", date(2026, 11, 24), date(2026, 11, 24), BERLIN)
    [leg] = route(Availability([away]), at("2026-11-24 10:00"))
    assert leg.deadline == at("2026-11-25 13:00") and leg.active_from == at("2026-11-24 10:00")


def test_already_overdue_when_the_absence_begins_resumes_at_the_return():
    away = absence_from_dates("person:ben", date(2026, 11, 26), date(2026, 11, 26), BERLIN)
    before, waiting = route(Availability([away]), at("2026-11-23 09:00"))
    assert before.deadline == at("2026-11-23 13:00")
    assert waiting.deadline == at("2026-11-27 09:00"), "no time left: due at the first working moment back"


def test_a_delegate_away_too_is_no_delegate_and_a_chain_never_loops():
    ben = absence_from_dates("person:ben", date(2026, 11, 24), date(2026, 11, 24), BERLIN, delegate="person:cleo")
    cleo = absence_from_dates("person:cleo", date(2026, 11, 24), date(2026, 11, 24), BERLIN, delegate="person:ben")
    legs = route(Availability([ben, cleo]), at("2026-11-23 15:00"))
    assert [leg.holder for leg in legs] == ["person:ben", "person:ben"]
    assert legs[-1].deadline == at("2026-11-25 11:00")


def test_a_delegate_without_an_account_in_the_tool_cannot_hold_it():
    away = absence_from_dates("person:ben", date(2026, 11, 24), date(2026, 11, 24), BERLIN, delegate="person:cleo")
    legs = Availability([away]).route("person:ben", at("2026-11-23 15:00"), at("2026-11-24 11:00"),
                                      schedule_for=lambda i: SCHEDULE, deadline_for=lambda i, t: SCHEDULE.add(t, FOUR),
                                      can_hold=lambda i: i != "person:cleo")
    assert [leg.holder for leg in legs] == ["person:ben", "person:ben"]


def test_an_absence_needs_aware_times_in_order():
    import pytest

    with pytest.raises(ValueError):
        Absence("person:ben", at("2026-11-24 10:00"), at("2026-11-24 10:00"))
    with pytest.raises(ValueError):
        absence_from_dates("person:ben", date(2026, 11, 25), date(2026, 11, 24), BERLIN)


MOMENTS = st.integers(min_value=0, max_value=60 * 24 * 28).map(lambda m: at("2026-11-16 00:00") + timedelta(minutes=m))


@settings(max_examples=150, deadline=None)
@given(sent=MOMENTS, starts=st.lists(st.tuples(st.integers(0, 27), st.integers(0, 6), st.booleans()), max_size=3))
def test_nothing_falls_due_to_someone_away_while_their_leg_is_in_force(sent, starts):
    day0 = date(2026, 11, 16)
    absences, used = [], []
    for offset, length, delegated in starts:
        first, last = day0 + timedelta(days=offset), day0 + timedelta(days=offset + length)
        if any(first <= b and a <= last for a, b in used):
            continue  # configured absences of one person never overlap
        used.append((first, last))
        absences.append(absence_from_dates("person:ben", first, last, BERLIN,
                                           delegate="person:cleo" if delegated else None))
    av = Availability(absences)
    legs = route(av, sent)
    assert legs[0].active_from is None or legs[0].active_from == sent
    for prev, nxt in zip(legs, legs[1:]):
        assert prev.active_until == nxt.active_from, "legs follow each other without a gap"
    for leg in legs:
        if leg.active_until is None or leg.deadline < leg.active_until:  # reached while the leg is in force
            assert av.away_at(leg.holder, leg.deadline) is None, "a deadline never falls inside the holder's absence"
        if leg.holder == "person:ben" and leg.absence is not None:
            assert leg.deadline >= leg.absence.end, "a waiting deadline is at or after the return"
