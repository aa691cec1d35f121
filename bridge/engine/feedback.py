"""Learning from feedback: per rule, what its nudges earned, and whether it has gone quiet (issue 16).

Holds ``RuleFeedback`` (one rule's figures over the sliding window and the verdict),
``figures`` (the counts, read from the store in three grouped queries) and ``Quieting`` (which
rules are quiet now, kept in the store across cycles and restarts, each change logged once).
The arithmetic and the settings are ``rules.feedback``; the commands that give feedback are
``rules.commands`` (they call ``Store.record_feedback``).

Counted over the window ``(now - [feedback] window, now]`` (wall time), per rule:

- **nudges**: findings of the rule whose first step (``step = 0``) went out: an outbox row in
  ``done`` with ``sent_at`` in the window (the replies to ``/hb`` commands are not nudges) (``bridge.actions.outbox.OutboxStatus``; rows still
  being reconciled by marker count once they are confirmed). A standoff's comment on each of
  its items is one nudge.
- **acknowledged**: handoffs of the rule now ``received`` whose end (``ended_at``) lies in the
  window and after their finding's first sent nudge (``handoffs`` joined with ``outbox``).
- **wrong**, **not_mine**, **snoozes**: ``feedback`` rows of the rule whose ``at`` is in the window.

A rule goes quiet when ``rules.feedback.judge`` says so (false-positive share above its
threshold with at least ``min_nudges`` nudges): its rows are planned as dry-run rows from the
next plan on (``Planner.plan(quiet=...)``), ``rule_quieted`` is logged once (a warning, with
the figures), and ``status``, ``once``, ``explain`` and ``handoff-bridge rules`` show it. When
the window slides it back under the threshold (or under ``min_nudges``) it leaves dry run and
``rule_resumed`` is logged once. A rule with ``dry_run = true`` in its config stays in dry run
regardless.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable

from bridge.actions import OutboxStatus
from bridge.core.logs import get_logger
from bridge.core.model import HandoffState
from bridge.store import Store
from rules.feedback import FeedbackSettings, Limits, judge, share_text
from rules.spec import Rule

__all__ = ["QUIET_STATE", "Quieting", "RuleFeedback", "figures"]

log = get_logger("bridge.engine.feedback")

#: ``cursors`` row (connector, scope) holding the quiet rules: ``{"rules": {name: {"since": ISO, "reason": ...}}}``.
QUIET_STATE = ("@feedback", "quiet")
#: Outbox states of a first step that went out.
SENT_NUDGE = (OutboxStatus.DONE.value,)
#: ``finding_key`` prefix of the replies to ``/hb`` commands (``Command.key``): answers, never nudges.
COMMAND_REPLY = "cmd:"


@dataclass(frozen=True)
class RuleFeedback:
    """One rule's feedback figures over the window ``(since, until]`` (aware UTC) and the verdict.

    ``quiet``: the figures pass the rule's ``limits`` (its actions are recorded only);
    ``reason``: one line saying why or why not, with the figures. ``quiet_since``: when the
    daemon switched it to dry run (``None`` while not quiet, or quiet but not yet switched by a
    cycle). ``configured_dry_run``: ``dry_run = true`` in the rule's config (dry run regardless).
    """

    rule: str
    since: datetime
    until: datetime
    nudges: int
    acknowledged: int
    wrong: int
    not_mine: int
    snoozes: int
    limits: Limits
    configured_dry_run: bool
    quiet: bool
    reason: str
    quiet_since: datetime | None = None

    @property
    def false_positives(self) -> int:
        """``wrong + not_mine``."""
        return self.wrong + self.not_mine

    @property
    def share(self) -> float | None:
        """The false-positive share ``(wrong + not_mine) / nudges``, ``None`` with no nudges."""
        return self.false_positives / self.nudges if self.nudges else None

    @property
    def dry_run(self) -> bool:
        """Whether the rule's actions are only recorded: quiet, or ``dry_run`` in its config."""
        return self.quiet or self.configured_dry_run

    def state(self) -> str:
        """``quiet``, ``dry run (config)``, ``feedback off`` or ``active``."""
        if self.quiet:
            return "quiet"
        if self.configured_dry_run:
            return "dry run (config)"
        return "active" if self.limits.enabled else "active (feedback off)"

    def line(self) -> str:
        """One line for ``status``, ``once`` and ``explain``, e.g. ``rule review-not-picked-up is quiet
        (dry run) since 2026-11-23 14:00Z: 3 of 5 nudges answered wrong or not-mine: 60% is more than 50%``."""
        since = f" since {self.quiet_since:%Y-%m-%d %H:%M}Z" if self.quiet_since else " from the next cycle"
        return f"rule {self.rule} is quiet (dry run){since}: {self.reason}"

    def to_json(self) -> dict:
        """The figures as one JSON object (ISO 8601 times, share a number or null)."""
        return {
            "rule": self.rule, "window": {"since": self.since.isoformat(), "until": self.until.isoformat()},
            "nudges": self.nudges, "acknowledged_after_nudge": self.acknowledged, "wrong": self.wrong,
            "not_mine": self.not_mine, "snoozes": self.snoozes, "false_positive_share": self.share,
            "max_false_positive_share": self.limits.max_share, "min_nudges": self.limits.min_nudges,
            "feedback_enabled": self.limits.enabled, "configured_dry_run": self.configured_dry_run,
            "quiet": self.quiet, "quiet_since": self.quiet_since.isoformat() if self.quiet_since else None,
            "state": self.state(), "reason": self.reason,
        }


def figures(store: Store, rules: list[Rule], now: datetime, window: timedelta,
            limits: Callable[[Rule], Limits] | None = None) -> dict[str, RuleFeedback]:
    """Count each rule's nudges, acknowledgements after a nudge and feedback over ``(now - window, now]``.

    Args:
        store: the opened store (read only: three grouped queries, whatever the number of rows).
        rules: the configured rules, in config order (the result keeps it).
        now: aware; the window's end.
        window: wall-clock length of the window (``[feedback] window``).
        limits: a rule's ``Limits`` (``Config.feedback_limits``); default ``[feedback]``'s defaults
            with the rule's own ``feedback`` override.

    Returns:
        rule name → ``RuleFeedback`` (``quiet_since`` unset: ``Quieting`` knows it).
    """
    limits = limits or (lambda rule: FeedbackSettings().limits(rule.feedback))
    since = now - window
    names = [r.name for r in rules]
    sent = store.first_steps_sent(names, SENT_NUDGE, since, now, not_prefix=COMMAND_REPLY) if names else {}
    acked = store.received_after_first_step(names, SENT_NUDGE, HandoffState.RECEIVED.value, since, now) if names else {}
    said = store.feedback_counts(names, since, now) if names else {}
    out: dict[str, RuleFeedback] = {}
    for rule in rules:
        kinds = said.get(rule.name, {})
        nudges, wrong, not_mine = sent.get(rule.name, 0), kinds.get("wrong", 0), kinds.get("not_mine", 0)
        lim = limits(rule)
        quiet, reason = judge(nudges, wrong, not_mine, lim)
        out[rule.name] = RuleFeedback(rule.name, since, now, nudges, acked.get(rule.name, 0), wrong, not_mine,
                                      kinds.get("snooze", 0), lim, rule.dry_run, quiet, reason)
    return out


class Quieting:
    """Which rules are quiet: judged once per plan from ``figures``, kept in the store (``QUIET_STATE``).

    Args:
        config: the validated config (``rules``, ``[feedback]``, each rule's ``feedback``).
        store: the opened store.

    ``update(now)`` is the daemon's (once per cycle, before planning): a rule that became quiet is
    logged ``rule_quieted`` once (a warning with the figures), one that came back ``rule_resumed``
    once, and the set is written to the store, so a restart or another replica taking the lead
    neither logs it again nor forgets it. ``update(now, record=False)`` (``once --dry-run``,
    ``status``, ``explain``, ``rules``) judges the same way and changes, logs and writes nothing.
    """

    def __init__(self, config, store: Store):
        self.config = config
        self.store = store
        self.quiet: frozenset[str] = frozenset()  # the rules planned as dry run (the last update's)

    def _load(self) -> dict[str, dict]:
        """rule → ``{"since": ISO, "reason": ...}`` as stored: read at each update (one row), so a
        ``once`` run beside the daemon, or a new leader, never makes it log a change twice."""
        return dict((self.store.get_cursor(*QUIET_STATE) or {}).get("rules", {}))

    def update(self, now: datetime, *, record: bool = True) -> dict[str, RuleFeedback]:
        """Judge every rule at ``now`` (aware); return rule name → ``RuleFeedback``.

        ``record``: take the result as the rules' state (log and store each change) and make
        ``self.quiet`` its quiet rules; ``False`` leaves everything as it was.
        """
        figs = figures(self.store, self.config.rules, now, self.config.feedback.window.wall(),
                       self.config.feedback_limits)
        known = self._load()
        state = dict(known)
        for name in [n for n in state if n not in figs]:
            del state[name]  # a rule no longer configured
        for name, f in figs.items():
            if f.quiet and name not in state:
                state[name] = {"since": now.isoformat(), "reason": f.reason}
                if record:
                    log.warning("rule_quieted", rule=name, nudges=f.nudges, wrong=f.wrong, not_mine=f.not_mine,
                                acknowledged=f.acknowledged, snoozes=f.snoozes,
                                false_positive_share=round(f.share or 0.0, 4), max_false_positive_share=f.limits.max_share,
                                min_nudges=f.limits.min_nudges, window=str(self.config.feedback.window),
                                reason=f.reason, hint="its actions are recorded only (dry run) until the figures "
                                                      "come back under the threshold; see `handoff-bridge rules`")
            elif not f.quiet and name in state:
                del state[name]
                if record:
                    log.info("rule_resumed", rule=name, nudges=f.nudges, wrong=f.wrong, not_mine=f.not_mine,
                             false_positive_share=round(f.share, 4) if f.share is not None else None,
                             max_false_positive_share=f.limits.max_share, min_nudges=f.limits.min_nudges,
                             reason=f.reason)
        if record:
            if state != known:
                self.store.set_cursor(*QUIET_STATE, {"rules": state}, now)
            self.quiet = frozenset(n for n, f in figs.items() if f.quiet)
            shown = state
        else:
            shown = known  # when the daemon switched it, if it did
        return {name: replace(f, quiet_since=datetime.fromisoformat(shown[name]["since"]))
                if f.quiet and name in shown else f for name, f in figs.items()}

    def quiet_now(self, now: datetime) -> list[RuleFeedback]:
        """The quiet rules at ``now`` (read only, as ``update(now, record=False)``), in config order."""
        return [f for f in self.update(now, record=False).values() if f.quiet]


def share_of(f: RuleFeedback) -> str:
    """``f``'s false-positive share as text (``"60%"``, ``"-"`` with no nudges)."""
    return share_text(f.false_positives, f.nudges)
