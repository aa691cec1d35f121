"""The answers to ``/hb`` commands (``rules.commands``): one reply per command comment.

``answers(engine, evaluation, now)`` → ``[(first command, rule, answer)]`` for every command
comment of ``evaluation.commands``; the planner turns each into one outbox row keyed by the
comment (``Planner.plan_replies``), so a comment is answered exactly once. The answer joins one
sentence per command of the comment, in order:

- a verb a rule applied (``received``, ``snooze``, ``not-mine``, ``reassign``, ``wrong``,
  ``mute``, ``unmute``): what it changed, from ``rules.handoff._apply_command``'s outcome merged
  over the rules (``rules.commands.merge``); a refusal says who can;
- ``why``: what ``explain`` says of the item in brief: its open handoffs (who, since when, the
  deadline in the receiver's zone, or the snooze), its open findings with their next step
  (``bridge.engine.why``);
- ``help`` and unknown verbs: the list of commands;
- a verb no rule acted on: "nothing here for me to act on".
"""

from __future__ import annotations

from datetime import datetime

from bridge.actions.render import format_deadline
from bridge.engine import why
from rules import commands as commands_rule

__all__ = ["answers"]

#: The rule name a reply's footer and outbox row carry when it concerns no rule.
COMMANDS_RULE = "commands"


def answers(engine, ev, now: datetime) -> list[tuple[commands_rule.Command, str, str, tuple]]:
    """``(command, rule, answer, notify)`` per command comment of ``ev`` (an ``Evaluation``) not yet
    answered (the planner skips those planned; see the module docstring)."""
    out = []
    for given, outcomes in ev.commands:
        rule = next((o.rule for o in outcomes if o is not None and o.status == "applied"), None) or \
            next((o.rule for o in outcomes if o is not None), COMMANDS_RULE)
        parts = [_answer(engine, ev, c, o, now, several=len(given) > 1) for c, o in zip(given, outcomes)]
        notify = tuple(dict.fromkeys(a for o in outcomes if o is not None and o.status == "applied" for a in o.notify
                                     if a != given[0].actor))
        out.append((given[0], rule, " ".join(p for p in parts if p), notify))
    return out


def _answer(engine, ev, c: commands_rule.Command, o: commands_rule.Outcome | None, now: datetime,
            several: bool = False) -> str:
    prefix = f"/hb {c.verb}: " if several and c.verb != "unknown" else ""
    if c.verb == "help":
        return commands_rule.help_text()
    if c.verb == "unknown":
        return f"I do not know `{c.line}`. " + commands_rule.help_text()
    if c.verb == "why":
        return prefix + _why(engine, ev, c, now)
    extra = getattr(engine, "command_answer", None)  # verbs answered outside the rules (availability)
    if o is None and extra is not None:
        said = extra(c, now)
        if said:
            return prefix + said
    if o is None:
        return prefix + "nothing here for me to act on."
    return prefix + o.text


def _why(engine, ev, c: commands_rule.Command, now: datetime) -> str:
    """A short ``explain`` of ``c.item``: open handoffs, then findings with their next step."""
    directory = engine.evaluator.directory
    item = c.item
    lines = []
    for h in sorted((h for h in ev.handoffs if h.item == item and h.ended_at is None), key=lambda h: h.sent_at):
        tz = directory.schedule_for(h.receiver).timezone
        who = engine.evaluator.name(h.receiver)
        sender = engine.evaluator.name(h.sender) if h.sender else "someone"
        if h.not_before is not None and h.not_before > now:
            when = f"snoozed until {format_deadline(h.not_before, tz)}"
        else:
            when = f"due {format_deadline(h.deadline, tz)}" if h.deadline > now else f"overdue since {format_deadline(h.deadline, tz)}"
        lines.append(f"{sender} handed it to {who} ({h.trigger}, rule {h.rule}) on {format_deadline(h.sent_at, tz)}; {when}.")
    findings = [f for f in ev.findings if f.item == item]
    held = [f for f in ev.inhibited if f.item == item]
    standoffs = [f for f in ev.standoffs if item in getattr(f, "items", (f.item,))]
    for step in why.next_steps(engine, [*findings, *standoffs], held, now):
        lines.append(f"Next ({step.rule}): {step.do + ', ' if step.do else ''}{step.reason}.")
    if item in ev.snoozed:
        lines.append(f"Snoozed until {ev.snoozed[item]:%Y-%m-%d %H:%M} UTC.")
    if not lines:
        return "nothing here waits on anyone that I know of; no rule has anything to do on this item."
    return " ".join(lines)
