"""Templates → text: what the daemon writes into a tool, in that tool's markup.

Holds ``fill_template`` (``{name}`` placeholders), ``format_deadline`` (a deadline in the
receiver's own zone), and the placeholder values of a handoff step (``handoff_values``,
``plain_values`` for titles) and of a standoff or ownerless step (``StandoffText``). Every
value goes through the connector's markup (``connectors.base.Connector``): ``mention`` for
people, ``escape`` for untrusted text (titles, rule wording), ``literal`` for the template's
own words and URLs; ``footer`` (the rule's name and the marker) ends every text written.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from bridge.core.model import Account, ItemRef, ItemSnapshot
from bridge.core.people import Directory
from rules import standoff as standoff_rule
from rules.handoff import INCOMPLETE, PROMISE, Finding, requirement_words
from connectors.base import Connector
from rules.spec import Rule
from rules.standoff import StandoffFinding

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def format_deadline(at: datetime, tz: str) -> str:
    """``Tue 24 Nov 15:00 CET``: the deadline in the receiver's own time zone (``tz``, an IANA name)."""
    local = at.astimezone(ZoneInfo(tz))
    return f"{local:%a %d %b %H:%M} {local.tzname()}"


def fill_template(template: str, values: dict[str, str], literal: Callable[[str], str] = lambda text: text) -> str:
    """Fill ``{name}`` placeholders (names were validated with the config).

    ``values`` are already in the tool's markup (native mentions, escaped titles); the
    template's own text between placeholders goes through ``literal`` (the connector's
    ``literal``, e.g. XML escaping for Asana's ``html_text``). An unknown name stays as written.
    """
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(template):
        out.append(literal(template[pos:m.start()]))
        out.append(values.get(m.group(1), literal(m.group(0))))
        pos = m.end()
    out.append(literal(template[pos:]))
    return "".join(out)


def format_day(at: datetime, tz: str) -> str:
    """``Mon 23 Nov``: the day of ``at`` in the zone ``tz`` (an IANA name)."""
    return f"{at.astimezone(ZoneInfo(tz)):%a %d %b}"


def handed_phrase(trigger: str) -> str:
    """How a handoff's trigger reads in a sentence: ``moved to Ready for QA``, ``assigned``."""
    if trigger.startswith("status:"):
        return f"moved to {trigger[len('status:'):]}"
    if trigger.startswith("label:"):
        return f"labelled {trigger[len('label:'):]}"
    return {"review_requested": "review requested", "assigned": "assigned"}.get(trigger, trigger)


def handoff_values(conn: Connector, finding: Finding, rule: Rule, item: ItemSnapshot | None, tz: str,
                   to_account: Account | None, deadline: datetime | None = None) -> dict[str, str]:
    """Placeholder values of an overdue handoff's step, in ``conn``'s markup.

    ``tz``: the receiver's zone (for ``{deadline}`` and ``{since}``, the day the handoff was
    sent); ``to_account``: the step's ``to`` in the item's tool (``{to}``), if any;
    ``deadline``: the deadline to name (default the finding's; an adopted handoff's restarted one).
    """
    h = finding.handoff
    promise = {}
    if h.trigger == PROMISE:  # the author owes it (receiver); its words are untrusted text
        promise = {
            "promise": conn.escape(h.action),
            "when": (conn.literal(" by ") + format_deadline(h.promised, tz)) if h.promised else "",
            "written": format_day(h.sent_at, tz),
            "quote": conn.escape(h.quote),
            "deadline": format_deadline(h.promised or finding.at, tz),
        }
    if h.trigger == INCOMPLETE:  # receiver: the sender who owes what is missing
        words = [requirement_words(r) for r in h.action.split("|")]
        promise = {
            "missing": conn.escape(", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]),
            "handed": conn.escape(handed_phrase(h.quote)),
            "sender": conn.mention(h.sender) if h.sender else "nobody",
        }
    return {
        "since": format_day(finding.handoff.sent_at, tz),
        "receiver": conn.mention(finding.receiver),
        "sender": conn.escape(finding.handoff.sender.id) if finding.handoff.sender else "someone",
        "need": conn.escape(rule.need),
        "item": finding.item.key,
        "title": conn.escape(item.title) if item else "",
        "deadline": format_deadline(deadline or finding.at, tz),
        "next": conn.escape(rule.next),
        "url": conn.literal(item.url) if item else "",
        "rule": rule.name,
        "to": conn.mention(to_account) if to_account else "",
        "promise": "", "when": "", "written": "", "quote": "", "missing": "", "handed": "",
        "team": conn.escape(h.team),
        **promise,
    }


def plain_values(values: dict[str, str], finding: Finding, rule: Rule, item: ItemSnapshot | None,
                 to_account: Account | None) -> dict[str, str]:
    """``values`` for a title: plain text in every tool (no markup, no mentions), each on one line;
    people by their account id."""
    def flat(text: str) -> str:
        return " ".join(text.split())

    return {**values, "receiver": finding.receiver.id, "to": to_account.id if to_account else "",
            "sender": finding.handoff.sender.id if finding.handoff.sender else "someone",
            "need": flat(rule.need), "next": flat(rule.next), "title": flat(item.title) if item else "",
            "promise": flat(finding.handoff.action), "quote": flat(finding.handoff.quote),
            "url": item.url if item else ""}


class StandoffText:
    """The words of a standoff or ownerless finding on one of its items, in ``conn``'s markup.

    People are named by their native mention in the item's tool when the ``directory`` knows
    their account there, else by name; Asana items by their quoted title, others by key.
    """

    def __init__(self, conn, ref: ItemRef, directory: Directory, items):
        self.conn = conn
        self.ref = ref
        self.directory = directory
        self.items = items

    def person(self, account: Account | None) -> str:
        if account is None:
            return "nobody"
        identity = self.directory.identity(account)
        native = self.directory.account_for_identity(identity, self.ref.tool)
        return self.conn.mention(native) if native is not None else self.conn.escape(self.directory.name(identity))

    def label(self, r: ItemRef) -> str:
        snap = self.items.get(r)
        if r.tool == "asana" and snap is not None:
            return self.conn.literal("\u201c") + self.conn.escape(snap.title) + self.conn.literal("\u201d")
        return self.conn.escape(r.key)

    def plain_label(self, r: ItemRef) -> str:
        return self.items[r].title if r.tool == "asana" and r in self.items else r.key

    def values(self, f: StandoffFinding, rule: Rule, item: ItemSnapshot | None, deadline: datetime, tz: str) -> dict[str, str]:
        """Placeholder values of a step on ``item`` (``{cycle}``, ``{decision}``, ``{blocker}``, …)."""
        conn, lit = self.conn, self.conn.literal
        cycle = lit(", and ").join(
            f"{self.person(e.waiter)}{lit(' waits on ')}{self.person(e.holder)}{lit(' for ')}"
            + standoff_rule.fill(standoff_rule.need_of(e), self.label, lit)
            for e in f.edges
        )
        blocker_item = self.items.get(f.breaks.on)
        return {
            "receiver": self.person(f.receiver),
            "decider": self.person(f.receiver),
            "decision": standoff_rule.fill(standoff_rule.decision_of(f.breaks), self.label, lit),
            "cycle": cycle,
            "blocker": self.label(f.breaks.on) + (lit(" (") + lit(blocker_item.url) + lit(")") if blocker_item else ""),
            "item": self.label(self.ref),
            "title": conn.escape(item.title) if item else "",
            "url": lit(item.url) if item else "",
            "deadline": format_deadline(deadline, tz),
            "rule": rule.name,
            "need": conn.escape(rule.need or ""),
            "next": conn.escape(rule.next or ""),
            "sender": "", "to": "",
        }

    def plain_decision(self, f: StandoffFinding) -> str:
        """``{decision}`` for a title: items by plain title or key."""
        return standoff_rule.fill(standoff_rule.decision_of(f.breaks), self.plain_label)


def away_values(conn: Connector, finding: Finding, directory: Directory) -> dict[str, str]:
    """``{away}`` and ``{until}`` of a delegated handoff's step (``Handoff.delegated_from``): the
    away person by name, escaped (a mention would notify them), and their last day away in their
    own zone (``Mon 4 Jan``); empty when the handoff is not delegated."""
    h = finding.handoff
    if h.delegated_from is None:
        return {"away": "", "until": ""}
    identity = directory.identity(h.delegated_from)
    until = ""
    if h.away_until is not None:
        local = (h.away_until - timedelta(microseconds=1)).astimezone(directory.schedule_for(h.delegated_from).tz)
        until = f"{local:%a} {local.day} {local:%b}"
    return {"away": conn.escape(directory.name(identity)), "until": conn.literal(until)}
