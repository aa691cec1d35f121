"""Say why: for each open finding, its next step, when it goes out and why it has not yet
(issue 13). Used by ``once`` and ``explain``; reads the store and the planner, writes nothing.

``next_steps(engine, findings, inhibited, now)`` → one `NextStep` per finding, oldest first.
The reasons, in the order they are checked:

- ``held back inside a standoff`` (the standoff's own comment speaks for it);
- every step planned: the last planned row's state (``sent``, ``dry run``, ``waits for the write
  budget`` when the connector's ``write_budget_per_hour`` is spent, ``waits for a fresh read``);
- the next step not due yet: when, in the receiver's zone (``due Tue 24 Nov 10:00 CET``), with
  ``adopted`` and the restarted deadline when the handoff was adopted;
- due, but outside the receiver's working hours: the next working moment in their zone;
- due, but an adopted handoff waiting its turn under ``[adoption] per_person_per_day``;
- due now (the next cycle plans it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge import actions
from bridge.actions import OutboxStatus
from bridge.actions.render import format_deadline
from rules.standoff import StandoffFinding

__all__ = ["NextStep", "next_steps"]


@dataclass(frozen=True)
class NextStep:
    """What comes next for one finding. ``step`` is the index of the rule's next step (``None``
    when every step is planned), ``do`` its action, ``due`` its time (aware UTC) or ``None``;
    ``reason`` one line in the receiver's zone."""

    finding: str
    rule: str
    item: str
    receiver: str
    step: int | None
    do: str | None
    due: datetime | None
    reason: str

    def line(self) -> str:
        what = f"step {self.step + 1} {self.do}" if self.step is not None else "every step planned"
        return f"{self.rule} {self.item} -> {self.receiver}: {what}: {self.reason}"

    def to_json(self) -> dict:
        return {"finding": self.finding, "rule": self.rule, "item": self.item, "receiver": self.receiver,
                "step": self.step, "do": self.do, "due": self.due.isoformat() if self.due else None,
                "reason": self.reason}


def next_steps(engine, findings: list, inhibited: list, now: datetime) -> list[NextStep]:
    """One `NextStep` per finding of ``findings`` and ``inhibited`` (held inside a standoff)."""
    planner = engine.planner
    planner._load(engine.store)
    rows_by_finding: dict[str, list] = {}
    for row in engine.store.outbox():
        rows_by_finding.setdefault(row.finding_key, []).append(row)
    held = {f.key for f in inhibited}
    out = []
    for f in sorted([*findings, *inhibited], key=lambda f: f.at):
        out.append(_next(engine, planner, f, rows_by_finding.get(f.key, []), f.key in held, now))
    return out


def _next(engine, planner, f, rows: list, held: bool, now: datetime) -> NextStep:
    steps = planner.steps_for(f)  # an incomplete handoff's one comment to its sender, else the rule's
    schedule = planner.directory.schedule_for(f.receiver)
    tz = schedule.timezone
    who = f.receiver.id

    def step(i, reason, due=None):
        return NextStep(f.key, f.rule, f.item.key, who, i, steps[i].do if i is not None else None, due, reason)

    if held:
        return step(None, "held back: this handoff lies inside a standoff, whose comment speaks for it")
    planned = {r.step for r in rows if r.status != OutboxStatus.CANCELLED}
    todo = [i for i in range(len(steps)) if i not in planned]
    if not todo:
        last = max((r for r in rows if r.status != OutboxStatus.CANCELLED), key=lambda r: (r.step, r.created_at))
        return step(None, _row_state(engine, last, now))
    i = todo[0]
    adopted = planner.adopted_deadline(f, now)
    base = planner.deadline_of(f, now)
    due = schedule.next_working_moment(schedule.add(base, steps[i].after))
    adopted_note = (f" (adopted: found overdue at first sight, deadline restarted to {format_deadline(adopted, tz)})"
                    if adopted is not None else "")
    pending = [r for r in rows if r.status in actions.ACTIVE]
    if pending:
        return step(i, f"step {pending[0].step + 1} is planned and {_row_state(engine, pending[0], now)}; "
                       f"this one is due {format_deadline(due, tz)}{adopted_note}", due)
    if now < due:
        return step(i, f"due {format_deadline(due, tz)} ({who}'s time){adopted_note}", due)
    if not schedule.is_working(now):
        back = schedule.next_working_moment(now)
        return step(i, f"due, waits for {who}'s working hours: {format_deadline(back, tz)}{adopted_note}", back)
    cap = engine.config.adoption.per_person_per_day
    if adopted is not None and i == 0 and planner.nudges_in_last_day(f.receiver, now) >= cap:
        times = sorted(planner._nudged.get(str(f.receiver), []))
        turn = times[-cap] + timedelta(days=1) if len(times) >= cap else now
        return step(i, f"adopted, waits its turn: {who} had {cap} first nudges of adopted handoffs in 24 h "
                       f"([adoption] per_person_per_day); next turn from {format_deadline(turn, tz)}", turn)
    return step(i, "due now: planned at the next cycle", due)


def _row_state(engine, row, now: datetime) -> str:
    """One phrase for a planned row's state."""
    if row.status == OutboxStatus.DONE:
        return f"sent {row.sent_at:%Y-%m-%d %H:%M}Z" if row.sent_at else "sent"
    if row.status == OutboxStatus.DRY_RUN:
        return "recorded only (dry run)"
    if row.status == OutboxStatus.FAILED:
        return f"refused by the tool: {row.last_error or 'no reason given'}"
    if row.status in (OutboxStatus.SENDING, OutboxStatus.UNKNOWN):
        return "its outcome is being reconciled by marker (a response was lost)"
    used = actions.writes_in_last_hour(engine.store, row.connector, now)
    budget = engine._budget(row.connector)
    if used >= budget:
        return f"waits for the write budget ({used} of {budget} writes in the last hour on {row.connector})"
    return "waits to go out (after a fresh read of the item)"
