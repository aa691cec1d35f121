"""Learning from feedback: the settings and the arithmetic that quiets a noisy rule (issue 16).

Holds ``FeedbackSettings`` (the ``[feedback]`` section), ``FeedbackOverride`` (a rule's own
``feedback = { ... }``), ``Limits`` (the two merged for one rule) and ``judge`` (is a rule
quiet, and why). Pure: the counting is ``bridge.engine.feedback``, which reads the store.

A rule's **false-positive share** is ``(wrong + not_mine) / nudges`` over the sliding window
(wall time): ``nudges`` are the rule's first steps that went out, ``wrong`` and ``not_mine`` the
``/hb wrong`` and ``/hb not-mine`` (or ``/hb reassign``) commands on its findings. A rule whose
share is **more than** ``max_false_positive_share`` with **at least** ``min_nudges`` nudges in
the window is *quiet*: its actions are only recorded (dry run) until the window slides it back
under the threshold (or under ``min_nudges``). The comparison is exact decimal arithmetic on
the value as written (3 of 10 is not more than ``0.3``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from pydantic import Field, field_validator

from bridge.core.fields import DurationField, StrictModel

__all__ = ["FeedbackOverride", "FeedbackSettings", "Limits", "judge", "percent", "share_text"]


class FeedbackSettings(StrictModel):
    """``[feedback]``: when a rule whose nudges people keep calling wrong goes quiet by itself."""

    enabled: bool = Field(default=True, description="false: no rule is ever quieted by feedback")
    window: DurationField = Field(default="28d", validate_default=True,
                                  description="wall clock: the sliding window nudges and feedback are counted over")
    max_false_positive_share: float = Field(
        default=0.5, ge=0, le=1,
        description="a rule goes quiet (dry run) when more than this share of its nudges in the window were "
                    "answered /hb wrong or /hb not-mine")
    min_nudges: int = Field(default=5, ge=1, description="a rule with fewer nudges in the window never goes quiet")

    @field_validator("window")
    @classmethod
    def _positive(cls, value):
        if value.wall().total_seconds() <= 0:
            raise ValueError("must be longer than 0s")
        return value

    def limits(self, override: "FeedbackOverride | None" = None) -> "Limits":
        """These settings with a rule's ``override`` applied key by key."""
        o = override or FeedbackOverride()
        return Limits(
            enabled=self.enabled and (o.enabled if o.enabled is not None else True),
            max_share=o.max_false_positive_share if o.max_false_positive_share is not None
            else self.max_false_positive_share,
            min_nudges=o.min_nudges if o.min_nudges is not None else self.min_nudges,
        )


class FeedbackOverride(StrictModel):
    """``[[rules]] feedback = { ... }``: this rule's own limits; a key left out takes ``[feedback]``'s.

    The window is ``[feedback] window`` for every rule. ``enabled = false`` keeps this rule out of
    quieting (``[feedback] enabled = false`` wins over ``true`` here).
    """

    enabled: bool | None = Field(default=None, description="false: this rule is never quieted by feedback")
    max_false_positive_share: float | None = Field(default=None, ge=0, le=1,
                                                   description="this rule's threshold (default [feedback]'s)")
    min_nudges: int | None = Field(default=None, ge=1, description="this rule's minimum of nudges (default [feedback]'s)")


@dataclass(frozen=True)
class Limits:
    """One rule's effective limits: ``max_share`` in [0, 1], ``min_nudges`` >= 1."""

    enabled: bool
    max_share: float
    min_nudges: int


def _exact(value: float) -> Fraction:
    """``value`` as the decimal it was written as (``0.3`` is 3/10, not its binary neighbour)."""
    return Fraction(repr(float(value)))


def judge(nudges: int, wrong: int, not_mine: int, limits: Limits) -> tuple[bool, str]:
    """Return ``(quiet, reason)`` for a rule with these counts in the window.

    Args:
        nudges: first steps sent in the window (>= 0).
        wrong, not_mine: ``/hb wrong`` and ``/hb not-mine`` feedback in the window (>= 0).
        limits: the rule's ``Limits``.

    ``reason`` is one line with the figures, e.g. ``"3 of 5 nudges answered wrong or not-mine:
    60% is more than 50% (at least 5 nudges)"``.
    """
    false = wrong + not_mine
    if not limits.enabled:
        return False, "feedback quieting is off for this rule"
    if nudges < limits.min_nudges:
        return False, (f"{nudges} nudge{'s' if nudges != 1 else ''} in the window, fewer than "
                       f"min_nudges = {limits.min_nudges}")
    figures = f"{false} of {nudges} nudges answered wrong or not-mine: {share_text(false, nudges)}"
    if Fraction(false, nudges) > _exact(limits.max_share):
        return True, f"{figures} is more than {percent(limits.max_share)} (at least {limits.min_nudges} nudges)"
    return False, f"{figures} is not more than {percent(limits.max_share)}"


def share_text(false: int, nudges: int) -> str:
    """``"60%"`` (``false / nudges`` rounded to a whole percent, one decimal under 10 %); ``"-"`` with no nudges."""
    if nudges == 0:
        return "-"
    return percent(false / nudges)


def percent(value: float) -> str:
    """``0.5`` → ``"50%"`` (whole percent; one decimal under 10 %, e.g. ``"2.5%"``)."""
    p = value * 100
    return f"{p:.1f}%" if 0 < p < 10 and round(p, 1) != round(p) else f"{round(p)}%"
