"""``[people.<name>] away = [{ from = "2026-12-21", to = "2027-01-04", delegate = "cleo" }]``.

``AwayPeriod`` validates one entry (dates as TOML dates or ``"YYYY-MM-DD"`` text, local to that
person's time zone: away from the start of ``from`` to the end of ``to``); ``away_problems``
makes the checks that span entries and sections, on the raw TOML data: ``to`` before ``from``,
a ``delegate`` that is no ``[people.*]`` name or is the person themselves, two periods of one
person that overlap. ``bridge.core.availability`` turns the periods into absences.
"""

from __future__ import annotations

import difflib
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, PlainSerializer, PlainValidator, WithJsonSchema

from bridge.config.problems import Problem
from bridge.core.fields import StrictModel, Text

__all__ = ["AwayPeriod", "DateField", "away_problems"]


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError("expected a date without a time, e.g. 2026-12-21")
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a date such as \"2026-12-21\"")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("not a date, expected YYYY-MM-DD such as 2026-12-21") from None


DateField = Annotated[
    date,
    PlainValidator(_date),
    PlainSerializer(lambda d: d.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-12-21"]}),
]


class AwayPeriod(StrictModel):
    """One absence of a person: from the start of ``from`` to the end of ``to`` (their zone)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    first: DateField = Field(alias="from", description="first day away (the person's time zone)")
    last: DateField = Field(alias="to", description="last day away, inclusive: back the day after")
    delegate: Text | None = Field(default=None, description="[people.*] name who receives their handoffs "
                                                             "meanwhile; none: deadlines wait for the return")


def _as_date(value: Any) -> date | None:
    try:
        return _date(value)
    except ValueError:
        return None


def away_problems(data: dict) -> list[Problem]:
    """Problems of every ``[people.*].away`` in the raw TOML ``data`` that span keys or sections."""
    problems: list[Problem] = []
    people = data.get("people") if isinstance(data.get("people"), dict) else {}
    for name, person in people.items():
        periods = person.get("away") if isinstance(person, dict) else None
        if not isinstance(periods, list):
            continue
        spans: list[tuple[int, date, date]] = []
        for i, period in enumerate(periods):
            if not isinstance(period, dict):
                continue
            where = ("people", name, "away", i)
            first, last = _as_date(period.get("from")), _as_date(period.get("to"))
            if first is not None and last is not None:
                if last < first:
                    problems.append(Problem(where + ("to",), f"the last day away is before the first ({first})",
                                            period.get("to")))
                else:
                    for j, a, b in spans:
                        if first <= b and a <= last:
                            problems.append(Problem(where + ("from",), f"overlaps away[{j}] ({a} to {b})",
                                                    period.get("from")))
                            break
                    spans.append((i, first, last))
            delegate = period.get("delegate")
            if isinstance(delegate, str) and delegate:
                if delegate == name:
                    problems.append(Problem(where + ("delegate",), "a person cannot be their own delegate", delegate))
                elif delegate not in people:
                    close = difflib.get_close_matches(delegate, list(people), n=1)
                    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(people)) or 'none'}"
                    problems.append(Problem(where + ("delegate",), f"unknown person, {hint}", delegate))
    return problems
