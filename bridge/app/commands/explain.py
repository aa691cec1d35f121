"""``handoff-bridge explain ITEM``: an item's timeline, its handoffs, and why each rule fired or not.

Reads the store only (the last poll's view); no tracker is called except, once per
connector, ``whoami`` when the daemon's own account is not yet known.
"""

from __future__ import annotations

import json

from bridge.core.model import Event, ItemRef
from bridge.app.commands.status import quoted
from bridge.engine.why import next_steps
from rules.handoff import NOT_STARTED, requirement_words, trigger_names


def _event_line(ev: Event) -> str:
    parts = [f"{ev.at:%Y-%m-%d %H:%M}Z", f"{ev.kind.value:<22}", f"by {ev.actor.id if ev.actor else '-'}"]
    if ev.subject:
        parts.append(f"→ {ev.subject.id}")
    if ev.review_state:
        parts.append(ev.review_state)
    if ev.label:
        parts.append(f"label {ev.label!r}")
    if ev.text:
        first = ev.text.strip().splitlines()[0] if ev.text.strip() else ""
        parts.append(repr(first[:60]))
    parts.append(f"[{ev.id}]")
    return "  " + "  ".join(parts)


def explain(engine, ref: ItemRef) -> str:
    """Render the explanation of ``ref`` as text (UTC times; deadlines also in the receiver's zone)."""
    store = engine.store
    item = store.item(ref)
    events = store.events(ref)
    lines = []
    failures = [r for r in store.retries() if (r.item_tool, r.item_key) == (ref.tool, ref.key)]
    if item is None and not events and not failures:
        return f"{ref}: not in the store (not polled yet, or not in a watched repository, query or project)"
    for r in failures:
        if r.dead_at is not None:
            lines.append(f"{ref}: DEAD-LETTER since {r.dead_at:%Y-%m-%d %H:%M}Z after {r.tries} failed reads "
                         f"(scope {r.scope}): {r.error}")
            lines.append(f"  its events are not read until `handoff-bridge retry {ref.key}`")
        else:
            lines.append(f"{ref}: its read failed {r.tries}x (scope {r.scope}): {r.error}; "
                         f"read again alone at {r.next_try_at:%Y-%m-%d %H:%M}Z")
    if failures:
        lines.append("")
    if item:
        lines.append(f"{ref}  {item.kind.value}  {item.status}  \"{item.title}\"")
        lines.append(f"  {item.url}")
        lines.append(f"  assignees: {', '.join(a.id for a in item.assignees) or '-'}   labels: {', '.join(item.labels) or '-'}")
    bots = engine.bots()
    lines += ["", f"Timeline ({len(events)} events):"]
    for ev in events:
        lines.append(_event_line(ev) + ("   (the daemon's own: never triggers or acknowledges)" if ev.actor in bots else ""))
    engine.evaluator.refresh(set())  # load (first use)
    engine.evaluator.refresh({ref})  # walk this item again: its ended handoffs are reported too
    given = engine.evaluator.command_outcomes(ref)
    evaluation = engine.evaluate(engine.clock())
    if given:
        lines += ["", f"Commands ({len(given)}):"]
        for c, o in given:
            what = (f"{o.status.upper()} under rule {o.rule}: {o.text}" if o is not None else
                    "answered by the daemon (why, help, away)" if c.verb in ("why", "help", "unknown", "away", "back")
                    else "no rule acted on it")
            lines.append(f"  {c.at:%Y-%m-%d %H:%M}Z  {c.line!r} by {c.actor.id} [{c.event}]: {what}")
    handoffs, findings = evaluation.handoffs, evaluation.findings + evaluation.inhibited
    for rule in engine.config.rules:
        if rule.detect == "standoff":
            lines += ["", f"Rule {rule.name} (detect = standoff, min_age = {rule.min_age}):"]
            mine = [f for f in evaluation.standoffs if f.rule == rule.name and ref in f.items]
            edges = [e for e in evaluation.edges if ref in (e.item, e.on)]
            lines += [f"  wait-for edge {e.kind}: {e.waiter.id} waits on {e.holder.id if e.holder else 'nobody'} "
                      f"since {e.began:%Y-%m-%d %H:%M}Z ({e.item.key} -> {e.on.key})" for e in edges]
            for f in mine:
                lines.append(f"  FIRED {f.detect}: {f.sentence}")
                [step] = next_steps(engine, [f], [], evaluation.at)
                lines.append(f"    next: {step.line().split(': ', 1)[1]}")
            if not edges and not mine:
                lines.append("  no wait-for edge touches this item")
            continue
        if rule.detect == "promise":
            lines += ["", f"Rule {rule.name} (detect = promise, a promise with no time is due {rule.within} after it was written"
                      + (f", nudged {rule.before_due} before it is due" if rule.before_due else "") + "):"]
        else:
            lines += ["", f"Rule {rule.name} (detect = {rule.detect}, on = {trigger_names(rule.on)}, within = {rule.within}):"]
        if rule.tools and ref.tool not in rule.tools:
            lines.append(f"  does not apply: rule watches {rule.tools}, item is in {ref.tool}")
            continue
        mine = [h for h in handoffs if h.rule == rule.name and h.item == ref]
        if not mine and rule.detect == "promise":
            lines.append("  did not fire: no comment on this item promises something (questions, conditionals, quotes,"
                         " negations, hedges, past tense and other people's commitments never do)")
        elif not mine:
            lines.append("  did not fire: no event on this item passes the baton under this rule"
                         " (events by the daemon and self-handoffs never do)")
        for h in mine:
            if h.trigger == "promise":
                schedule = engine.evaluator.directory.schedule_for(h.receiver)
                owed = f" to {h.sender.id}" if h.sender else ""
                lines.append(f"  promise by {h.receiver.id}{owed} at {h.sent_at:%Y-%m-%d %H:%M}Z [{h.sent_event}]: {quoted(h.quote)}")
                due = (f"due {h.promised:%Y-%m-%d %H:%M}Z ({h.promised.astimezone(schedule.tz):%a %H:%M} {schedule.timezone})"
                       if h.promised else "no time named: due after the rule's within")
                lines.append(f"    {due}; deadline {h.deadline:%Y-%m-%d %H:%M}Z")
                lines.append(f"    state {h.state.upper()}: {h.reason}" + (f" [{h.ended_by}]" if h.ended_by else ""))
                f = next((f for f in findings if f.key == h.key), None)
                if f:
                    lines.append(f"    FIRED: finding with evidence {', '.join(f.evidence)}")
                    [step] = next_steps(engine, [f], [], evaluation.at)
                    lines.append(f"    next: {step.line().split(': ', 1)[1]}")
                continue
            if h.trigger == "incomplete":
                lacks = " and ".join(requirement_words(r) for r in h.action.split("|"))
                lines.append(f"  incomplete handoff ({h.quote}) to {h.sender.id if h.sender else 'nobody'} at "
                             f"{h.sent_at:%Y-%m-%d %H:%M}Z [{h.sent_event}]: lacks {lacks}; its sender {h.receiver.id} is asked")
                lines.append(f"    state {h.state.upper()}: {h.reason}" + (f" [{h.ended_by}]" if h.ended_by else ""))
                f = next((f for f in findings if f.key == h.key), None)
                if f:
                    lines.append(f"    FIRED: finding with evidence {', '.join(f.evidence)}")
                    [step] = next_steps(engine, [f], [], evaluation.at)
                    lines.append(f"    next: {step.line().split(': ', 1)[1]}")
                continue
            schedule = engine.evaluator.directory.schedule_for(h.receiver)
            tz = schedule.timezone
            if h.deadline == NOT_STARTED:
                lines.append(f"  handoff {h.sender.id if h.sender else '?'} → {h.receiver.id} by {h.trigger} at "
                             f"{h.sent_at:%Y-%m-%d %H:%M}Z [{h.sent_event}]")
                lines.append(f"    clock not started: the handoff lacks what the rule requires ({', '.join(rule.require)})")
                lines.append(f"    state {h.state.upper()}: {h.reason}" + (f" [{h.ended_by}]" if h.ended_by else ""))
                continue
            local = h.deadline.astimezone(schedule.tz)
            lines.append(f"  handoff {h.sender.id if h.sender else '?'} → {h.receiver.id} by {h.trigger} at {h.sent_at:%Y-%m-%d %H:%M}Z [{h.sent_event}]")
            lines.append(f"    deadline {h.deadline:%Y-%m-%d %H:%M}Z ({local:%a %H:%M} {tz}, receiver's business time)")
            lines.append(f"    state {h.state.upper()}: {h.reason}" + (f" [{h.ended_by}]" if h.ended_by else ""))
            f = next((f for f in findings if f.key == h.key), None)
            if f:
                held = " (held back: inside a standoff)" if f in evaluation.inhibited else ""
                lines.append(f"    FIRED{held}: finding with evidence {', '.join(f.evidence)}")
                inhibited = [f] if f in evaluation.inhibited else []
                [step] = next_steps(engine, [] if inhibited else [f], inhibited, evaluation.at)
                lines.append(f"    next: {step.line().split(': ', 1)[1]}")
    quiet = [f for f in engine.feedback.quiet_now(evaluation.at)
             if not (rule := next(r for r in engine.config.rules if r.name == f.rule)).tools or ref.tool in rule.tools]
    if quiet:  # rules quieted by feedback (bridge.engine.feedback): their actions are recorded only
        lines += ["", "Feedback:"] + [f"  {f.line()}" for f in quiet]
    rows = [r for r in store.outbox() if any(r.finding_key.startswith(f"{rule.name}:{ref.tool}:{ref.key}:") for rule in engine.config.rules)
            or r.finding_key.startswith(f"cmd:{ref.tool}:{ref.key}:")]
    if rows:
        lines += ["", "Actions:"]
        for r in rows:
            kind = json.loads(r.action)["kind"]
            lines.append(f"  step {r.step} {kind:<8} {r.status:<9} {r.marker}  {r.url or r.last_error or ''}")
    return "\n".join(lines)
