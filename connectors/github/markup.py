"""GitHub's text markup (GitHub Flavored Markdown) for what the daemon writes.

Holds ``mention``, ``escape`` (untrusted text made inert), ``literal`` (a template's own
words) and ``footer`` (the marker line); the connector's methods of the same names call these.
"""

from __future__ import annotations

import re

from bridge.core.model import Account

#: Markdown punctuation that starts a link, reference, emphasis, heading, list, table or HTML.
MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def mention(account: Account) -> str:
    """``@login``: GitHub's native mention of ``account`` (its id is the login)."""
    return f"@{account.id}"


def escape(text: str) -> str:
    """Make untrusted text inert in GitHub Markdown.

    Backslash-escapes Markdown punctuation (so ``#12`` does not link and ``**`` does not
    format), breaks ``@`` with a zero-width space (no mention), and breaks URL schemes
    and ``www.`` (no autolink). Newlines become spaces.
    """
    text = " ".join(text.split())
    text = MD_SPECIAL.sub(r"\\\1", text)
    text = text.replace("@", "@\u200b").replace("://", ":\u200b//").replace("www.", "www\u200b.")
    return text


def literal(text: str) -> str:
    """A template's own text is Markdown the admin wrote: kept as is."""
    return text


def footer(rule: str, marker: str) -> str:
    """The signature closing every text written: rule name and idempotency marker, small print."""
    return f"\n\n<sub>handoff-bridge · rule {rule} · {marker}</sub>"
