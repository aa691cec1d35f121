"""Asana's text markup (rich text, ``html_text``/``html_notes``) for what the daemon writes.

Holds ``mention``, ``escape`` (untrusted text made inert), ``literal`` (a template's own
words), ``footer`` (the marker line) and ``html_body`` (the ``<body>`` wrapper Asana
requires); the connector's methods of the same names call these. Source: Asana "Rich text".
"""

from __future__ import annotations

from xml.sax.saxutils import escape as _xml_escape

from bridge.core.model import Account

#: Characters XML-escaped beyond ``& < >``.
_XML_ENTITIES = {'"': "&quot;"}


def mention(account: Account) -> str:
    """Asana's native mention in ``html_text``: ``<a data-asana-gid="GID"/>`` (digits of the id)."""
    gid = "".join(ch for ch in account.id if ch.isdigit())
    return f'<a data-asana-gid="{gid}"/>'


def literal(text: str) -> str:
    """A template's own words, XML-escaped: the whole body goes into ``html_text``."""
    return _xml_escape(text, _XML_ENTITIES)


def escape(text: str) -> str:
    """Make untrusted text inert in Asana rich text.

    XML-escapes ``& < > "`` (so no tag, hence no ``<a data-asana-gid>`` mention or link
    can form), breaks URL schemes and ``www.`` with a zero-width space (Asana autolinks
    bare URLs), and folds newlines to spaces.
    """
    text = " ".join(str(text).split())
    text = text.replace("://", ":\u200b//").replace("www.", "www\u200b.")
    return _xml_escape(text, _XML_ENTITIES)


def footer(rule: str, marker: str) -> str:
    """``\\n\\n<em>handoff-bridge · rule NAME · hb:…</em>`` (rule name escaped)."""
    return f"\n\n<em>handoff-bridge · rule {escape(rule)} · {marker}</em>"


def html_body(text: str) -> str:
    """``<body>text</body>``: the root element every ``html_text``/``html_notes`` needs."""
    return f"<body>{text}</body>"
