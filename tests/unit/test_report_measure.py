"""The report's arithmetic (bridge.report.measure) on handoffs whose figures are worked out here by hand."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bridge.core.businesstime import WorkSchedule
from bridge.report.measure import (
    MIN_PERSON_PAIR,
    OTHER_PAIRS,
    HandoffFact,
    StandoffFact,
    compare,
    lane_figures,
    measure,
    p90,
    standoff_weeks,
)

UTC = timezone.utc
NINE_TO_FIVE = WorkSchedule("UTC", range(5), time(9), time(17))
MON = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday


def fact(n: int, sent: datetime, state: str = "received", ended: datetime | None = None, nudged: datetime | None = None,
         *, tool: str = "github", sender: str = "ana", receiver: str = "ben", teams=("web", "qa"), status=None) -> HandoffFact:
    return HandoffFact(key=f"h{n}", rule="review", tool=tool, item=f"acme/web#{n}", sender=sender, receiver=receiver,
                       sender_team=teams[0], receiver_team=teams[1], status_pair=status, sent_at=sent, state=state,
                       ended_at=ended, nudged_at=nudged, schedule=NINE_TO_FIVE)


def test_delay_in_business_and_wall_hours_open_censored_ended_unreceived_left_out():
    now = MON + timedelta(days=1, hours=12)  # Tue 12:00
    hs = [
        fact(1, MON + timedelta(hours=10), ended=MON + timedelta(hours=12)),                 # 2 bh, 2 h
        fact(2, MON + timedelta(hours=16), ended=MON + timedelta(days=1, hours=10)),         # 1 + 1 = 2 bh, 18 h
        fact(3, MON + timedelta(hours=9), ended=MON + timedelta(days=1, hours=11),           # 8 + 2 = 10 bh, 26 h
             nudged=MON + timedelta(hours=13)),                                              # nudge → ack 4 + 2 = 6 bh
        fact(4, MON + timedelta(days=1, hours=9), state="overdue"),                          # open: 3 bh, 3 h so far
        fact(5, MON + timedelta(hours=11), state="withdrawn", ended=MON + timedelta(hours=12)),
    ]
    f = lane_figures("all", "all", "all", None, hs, now)
    assert (f.count, f.received, f.open, f.ended_unreceived) == (4, 3, 1, 1)
    assert f.median_business_hours == pytest.approx(2.5)   # 2, 2, 3, 10
    assert f.p90_business_hours == pytest.approx(10)       # ceil(0.9 * 4) = 4th
    assert f.median_wall_hours == pytest.approx(10.5)      # 2, 3, 18, 26
    assert f.nudged_share == pytest.approx(1 / 3)
    assert f.nudge_to_ack_median == pytest.approx(6)
    assert f.open_share == pytest.approx(0.25)


def test_a_nudge_after_the_acknowledgement_does_not_count():
    h = fact(1, MON + timedelta(hours=10), ended=MON + timedelta(hours=11), nudged=MON + timedelta(hours=12))
    f = lane_figures("all", "all", "all", None, [h], MON + timedelta(days=2))
    assert f.nudged_share == 0 and f.nudge_to_ack_median is None


def test_p90_is_nearest_rank():
    assert p90([]) is None
    assert p90([5]) == 5
    assert p90(list(range(1, 11))) == 9       # ceil(9.0) = 9th
    assert p90(list(range(1, 12))) == 10      # ceil(9.9) = 10th


def test_lanes_per_kind_per_tool_and_across_tools_and_weeks():
    now = MON + timedelta(days=14)
    hs = [fact(1, MON + timedelta(hours=10), ended=MON + timedelta(hours=11)),
          fact(2, MON + timedelta(days=7, hours=10), ended=MON + timedelta(days=7, hours=13), tool="jira",
               teams=("web", None), status=("In Review", "Ready for QA"))]
    lanes, weekly = measure(hs, now, ZoneInfo("Europe/Berlin"))
    keys = {(f.kind, f.name, f.tool): f.count for f in lanes}
    assert keys[("all", "all", "all")] == 2
    assert keys[("all", "all", "github")] == 1 and keys[("all", "all", "jira")] == 1
    assert keys[("team", "web → qa", "all")] == 1 and keys[("team", "web → ?", "jira")] == 1
    # two handoffs of one pair: below MIN_PERSON_PAIR, pooled
    assert keys[("person", OTHER_PAIRS, "all")] == 2 and ("person", "ana → ben", "all") not in keys
    assert keys[("status", "In Review → Ready for QA", "all")] == 1
    assert ("status", "In Review → Ready for QA", "github") not in keys
    weeks = {(f.week.isoformat(), f.tool): f.median_business_hours for f in weekly if f.kind == "all"}
    assert weeks == {("2026-11-23", "all"): 1, ("2026-11-23", "github"): 1,
                     ("2026-11-30", "all"): 3, ("2026-11-30", "jira"): 3}


def test_compare_too_few_then_a_clear_drop_with_a_deterministic_interval():
    at = MON + timedelta(days=7)
    now = MON + timedelta(days=14)
    slow = [fact(i, MON + timedelta(days=i % 4, hours=9), ended=MON + timedelta(days=i % 4, hours=9 + 5 + i % 3))
            for i in range(8)]                                         # 5, 6 or 7 bh
    fast = [fact(10 + i, at + timedelta(days=i % 4, hours=9), ended=at + timedelta(days=i % 4, hours=10 + i % 2))
            for i in range(8)]                                         # 1 or 2 bh
    few = compare(slow[:4] + fast, now, (MON, at), (at, now))
    overall = next(c for c in few if (c.kind, c.name, c.tool) == ("all", "all", "all"))
    assert overall.verdict == "too few handoffs to tell" and overall.ci_low is None and overall.claim_met is None
    assert "too few handoffs to tell (4 before, 8 after" in overall.sentence()

    result = compare(slow + fast, now, (MON, at), (at, now))
    overall = next(c for c in result if (c.kind, c.name, c.tool) == ("all", "all", "all"))
    before = sorted([5, 6, 7, 5, 6, 7, 5, 6])
    after = sorted([1, 2] * 4)
    assert overall.before_median == pytest.approx((before[3] + before[4]) / 2)
    assert overall.after_median == pytest.approx(1.5)
    assert overall.change_hours == pytest.approx(1.5 - 6)
    assert overall.ci_low <= overall.change_hours <= overall.ci_high < 0
    assert overall.verdict == "faster" and overall.claim_met is True
    again = compare(slow + fast, now, (MON, at), (at, now))
    assert [(c.ci_low, c.ci_high) for c in again] == [(c.ci_low, c.ci_high) for c in result]


def test_standoffs_opened_and_broken_per_week():
    tz = ZoneInfo("UTC")
    s = [StandoffFact("s1", "r", "a", MON + timedelta(hours=10), MON + timedelta(hours=16)),
         StandoffFact("s2", "r", "b", MON + timedelta(days=4), MON + timedelta(days=8)),
         StandoffFact("s3", "r", "c", MON + timedelta(days=8), None)]
    weeks = {w.week.isoformat(): w for w in standoff_weeks(s, tz)}
    assert (weeks["2026-11-23"].opened, weeks["2026-11-23"].broken) == (2, 1)
    assert weeks["2026-11-23"].median_hours_to_break == pytest.approx(6)
    assert (weeks["2026-11-30"].opened, weeks["2026-11-30"].broken) == (1, 1)
    assert weeks["2026-11-30"].longest_hours_to_break == pytest.approx(96)


@pytest.mark.parametrize("values, exact", [
    # n = 3: the median of three draws from {1, 2, 3} is 1 when two or three draws are 1: 7/27, etc.
    ([1, 2, 3], {1: 7 / 27, 2: 13 / 27, 3: 7 / 27}),
    # n = 2: two draws from {1, 3}: both 1, both 3, or one of each (median 2)
    ([1, 3], {1: 1 / 4, 2: 1 / 2, 3: 1 / 4}),
    # n = 4 from {1, 2, 3, 4}: enumerated below
    ([1, 2, 3, 4], None),
])
def test_resampled_median_has_the_distribution_of_a_resample_median(values, exact):
    import itertools
    import random
    import statistics
    from collections import Counter

    from bridge.report.measure import resampled_median

    if exact is None:
        counts = Counter(statistics.median(d) for d in itertools.product(values, repeat=len(values)))
        total = len(values) ** len(values)
        exact = {k: v / total for k, v in counts.items()}
    rng = random.Random(7)
    draws = 40_000
    seen = Counter(resampled_median(values, rng) for _ in range(draws))
    assert set(seen) <= set(exact)
    for value, p in exact.items():
        assert seen[value] / draws == pytest.approx(p, abs=0.01), value


def test_person_pairs_below_the_minimum_share_one_lane_per_tool():
    now = MON + timedelta(days=7)
    hs = [fact(i, MON + timedelta(hours=9, minutes=i), ended=MON + timedelta(hours=10 + i % 2)) for i in range(MIN_PERSON_PAIR)]
    hs += [fact(10 + i, MON + timedelta(hours=9), ended=MON + timedelta(hours=12), tool="jira", sender=f"p{i}")
           for i in range(3)]
    lanes, _weekly = measure(hs, now, ZoneInfo("UTC"))
    keys = {(f.name, f.tool): f.count for f in lanes if f.kind == "person"}
    assert keys == {("ana → ben", "all"): MIN_PERSON_PAIR, ("ana → ben", "github"): MIN_PERSON_PAIR,
                    (OTHER_PAIRS, "all"): 3, (OTHER_PAIRS, "jira"): 3}
    [other] = [f for f in lanes if (f.kind, f.name, f.tool) == ("person", OTHER_PAIRS, "jira")]
    assert other.median_business_hours == pytest.approx(3)
