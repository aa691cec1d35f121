"""Issue 17: what a promise nudge and an incomplete-handoff comment say, in GitHub's markup: the
author's words are quoted escaped (no mention, link or formatting gets through), the time named is
shown in the author's zone, and a promise with no time says none."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

from bridge.actions.render import fill_template, handoff_values
from bridge.core.model import Account, ItemRef
from connectors.github import markup
from rules.handoff import Finding, Handoff
from rules.spec import BUILTIN_TEMPLATES

GH = SimpleNamespace(mention=markup.mention, escape=markup.escape, literal=markup.literal)
REF = ItemRef("github", "acme/web#7")
OLGA, BEN = Account("github", "olga"), Account("github", "ben")
RULE = SimpleNamespace(name="promises", need="promise", next="kept")
WRITTEN = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def finding(h: Handoff) -> Finding:
    return Finding(key=h.key, rule=h.rule, detect=h.trigger, item=REF, receiver=h.receiver, at=h.deadline, handoff=h)


def text(h: Handoff, template: str) -> str:
    values = handoff_values(GH, finding(h), RULE, None, "Europe/Berlin", None)
    return fill_template(BUILTIN_TEMPLATES[template], values, GH.literal)


def promise(quote, action, promised):
    return Handoff(key="k", rule="promises", item=REF, sender=BEN, receiver=OLGA, trigger="promise", sent_at=WRITTEN,
                   sent_event="c1", deadline=promised or WRITTEN, quote=quote, action=action, promised=promised)


def test_the_nudge_names_the_day_written_the_action_and_the_time_in_the_authors_zone():
    due = datetime(2026, 11, 27, 14, 0, tzinfo=timezone.utc)
    body = text(promise("I'll send the import plan by Fri 15:00.", "send the import plan", due), "promise")
    assert body.startswith("@olga: on Mon 23 Nov you wrote you'd send the import plan by Fri 27 Nov 15:00 CET; "
                           "it is not there yet.")


def test_the_quote_cannot_mention_link_or_format():
    body = text(promise("I'll ping @ben and [click](http://x) **now**", "ping @ben", None), "promise")
    assert "@ben" not in body.replace("@\u200bben", "") and "](http" not in body and "**now**" not in body
    assert "you'd ping" in body and " by " not in body.split(";")[0], "no time named, none shown"


def test_the_incomplete_comment_names_what_is_missing():
    ask = Handoff(key="k", rule="qa", item=REF, sender=BEN, receiver=OLGA, trigger="incomplete", sent_at=WRITTEN,
                  sent_event="e1", deadline=WRITTEN, quote="status:Ready for QA", action="description|due")
    body = text(ask, "incomplete")
    assert body == ("@olga: acme/web#7 was handed over (moved to Ready for QA) without a description and a due date. "
                    "Please add a description and a due date: the receiver's clock starts when it is complete.")
