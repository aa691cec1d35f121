"""``[people.x] away = [...]``: valid periods load; bad ones are refused naming file, line, key and value."""

from __future__ import annotations

from datetime import date

import pytest

from bridge.config import parse_config
from bridge.core.errors import ConfigError

BASE = """
[people.ann]
timezone = "Europe/Berlin"
away = {away}
[people.cleo]
display_name = "Cleo"
"""


def load(away: str):
    return parse_config(BASE.format(away=away), source="team.toml")


def test_periods_load_as_dates_written_as_text_or_toml_dates():
    config = load('[{ from = "2026-12-21", to = "2027-01-04", delegate = "cleo" }, { from = 2027-02-01, to = 2027-02-01 }]')
    first, second = config.people["ann"].away
    assert (first.first, first.last, first.delegate) == (date(2026, 12, 21), date(2027, 1, 4), "cleo")
    assert (second.first, second.last, second.delegate) == (date(2027, 2, 1), date(2027, 2, 1), None)


@pytest.mark.parametrize("away, line", [
    ('[{ from = "2026-12-32", to = "2027-01-04" }]',
     "team.toml:4: people.ann.away[0].from: not a date, expected YYYY-MM-DD such as 2026-12-21 (got '2026-12-32')"),
    ('[{ from = "2027-01-04", to = "2026-12-21" }]',
     "team.toml:4: people.ann.away[0].to: the last day away is before the first (2027-01-04) (got '2026-12-21')"),
    ('[{ from = "2026-12-21", to = "2027-01-04", delegate = "clio" }]',
     "team.toml:4: people.ann.away[0].delegate: unknown person, did you mean 'cleo'? (got 'clio')"),
    ('[{ from = "2026-12-21", to = "2027-01-04", delegate = "ann" }]',
     "team.toml:4: people.ann.away[0].delegate: a person cannot be their own delegate (got 'ann')"),
    ('[{ from = "2026-12-21", to = "2027-01-04" },\n  { from = "2027-01-02", to = "2027-01-09" }]',
     "team.toml:5: people.ann.away[1].from: overlaps away[0] (2026-12-21 to 2027-01-04) (got '2027-01-02')"),
    ('[{ from = "2026-12-21" }]', "team.toml:4: people.ann.away[0].to: required key is missing"),
    ('[{ from = "2026-12-21", to = "2027-01-04", until = "x" }]', "team.toml:4: people.ann.away[0].until: unknown key"),
])
def test_a_bad_period_is_refused_with_file_line_key_and_value(away, line):
    with pytest.raises(ConfigError) as exc:
        load(away)
    assert any(p.startswith(line) for p in exc.value.problems), exc.value.problems
