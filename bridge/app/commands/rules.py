"""``handoff-bridge rules``: each rule's feedback figures over the sliding window, and whether it is quiet.

Reads the store only (``bridge.engine.feedback``); no tracker is called. Per rule: nudges sent
(first steps that went out), handoffs acknowledged after a nudge, ``/hb wrong``, ``/hb not-mine``
and ``/hb snooze`` feedback, the false-positive share and the rule's limits, and its state:
``active``, ``quiet`` (switched to dry run by feedback, since when and why) or ``dry run
(config)``.
"""

from __future__ import annotations

import argparse
import json
import sys

from bridge.core.clock import utcnow
from bridge.core.errors import ConfigError

HELP = "per rule: nudges sent, acknowledged after a nudge, wrong, not-mine, snoozes; which rules went quiet"
DESCRIPTION = """\
Print each configured rule's feedback figures over the sliding window ([feedback] window, wall
time, default 28d, ending now):

  NUDGES    findings whose first step went out (a comment, assignment, label or draft)
  ACKED     handoffs acknowledged after their first nudge
  WRONG     /hb wrong answers (a false alarm)          NOT-MINE  /hb not-mine or /hb reassign
  SNOOZES   /hb snooze answers                         FP SHARE  (WRONG + NOT-MINE) / NUDGES

A rule whose false-positive share is more than its max_false_positive_share, with at least
min_nudges nudges in the window, goes quiet: the daemon switches it to dry run (its actions are
recorded, never written) and logs rule_quieted once; once the window slides it back under either
limit it acts again (rule_resumed). Limits come from [feedback], overridden per rule by
[[rules]] feedback = { max_false_positive_share = 0.3, min_nudges = 10, enabled = false }.
A rule with dry_run = true stays in dry run regardless. Reads the store; no tracker is called."""


def add_parser(sub, config_arg) -> None:
    """Register ``rules`` on the CLI's subparsers (``config_arg`` adds ``--config``)."""
    p = sub.add_parser("rules", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    config_arg(p)
    p.add_argument("--json", action="store_true",
                   help="print one JSON document {window, rules: [...]} (shares as numbers, times ISO 8601)")


def run(args) -> int:
    """The ``rules`` command: exit 0, or 2 on a bad configuration (every problem on stderr)."""
    from bridge.config import load_config
    from bridge.engine.feedback import Quieting
    from bridge.store import Store

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print("\n  ".join([str(exc), *[p for p in exc.problems if p not in str(exc)]]), file=sys.stderr)
        return 2
    now = utcnow()
    figures = list(Quieting(config, Store.open(config.database_url())).update(now, record=False).values())
    print(json.dumps(to_json(config, figures), indent=2) if args.json else render_text(config, figures))
    return 0


def to_json(config, figures: list) -> dict:
    """``{"window": {...}, "feedback_enabled": bool, "rules": [RuleFeedback.to_json(), ...]}``."""
    w = config.feedback.window
    return {
        "window": {"length": str(w), "seconds": int(w.wall().total_seconds()),
                   "since": figures[0].since.isoformat() if figures else None,
                   "until": figures[0].until.isoformat() if figures else None},
        "feedback_enabled": config.feedback.enabled,
        "rules": [f.to_json() for f in figures],
    }


def render_text(config, figures: list) -> str:
    """A table, one row per rule, then one line per rule saying why it is (not) quiet."""
    from rules.feedback import percent, share_text

    if not figures:
        return "no rules configured"
    f0 = figures[0]
    head = (f"Feedback over the last {config.feedback.window} ({f0.since:%Y-%m-%d %H:%M}Z .. {f0.until:%Y-%m-%d %H:%M}Z)"
            + ("" if config.feedback.enabled else "; quieting is off ([feedback] enabled = false)"))
    width = max(4, *(len(f.rule) for f in figures))
    cols = f"{'RULE':<{width}}  NUDGES  ACKED  WRONG  NOT-MINE  SNOOZES  FP SHARE  QUIET IF           STATE"
    lines = [head, "", cols]
    for f in figures:
        limit = f">{percent(f.limits.max_share)}, >={f.limits.min_nudges} nudges"
        state = f.state().upper() if f.quiet else f.state()
        if f.quiet and f.quiet_since:
            state += f" since {f.quiet_since:%Y-%m-%d %H:%M}Z"
        lines.append(f"{f.rule:<{width}}  {f.nudges:>6}  {f.acknowledged:>5}  {f.wrong:>5}  {f.not_mine:>8}  "
                     f"{f.snoozes:>7}  {share_text(f.false_positives, f.nudges):>8}  {limit:<17}  {state}")
    lines.append("")
    for f in figures:
        lines.append(f"{f.rule}: {f.reason}" + (" -> its actions are recorded only (dry run)" if f.quiet else ""))
    return "\n".join(lines)
