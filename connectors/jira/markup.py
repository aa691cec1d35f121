"""Jira's text markup (wiki markup, written through REST v2) for what the daemon writes.

Holds ``mention`` (Cloud and Data Center forms), ``escape`` (untrusted text made inert),
``literal`` (a template's own words) and ``footer`` (the marker line); the connector's
methods of the same names call these. Source: Atlassian "Text Formatting Notation Help".
"""

from __future__ import annotations

import re

from bridge.core.model import Account

#: Wiki markup characters that start a mention, link, macro, emphasis, image or emoticon.
WIKI_SPECIAL = re.compile(r"([\\\[\]{}*_?\-+^~|!#()])")


def mention(account: Account, *, cloud: bool) -> str:
    """Cloud ``[~accountid:ID]``; Data Center ``[~username]``."""
    return f"[~accountid:{account.id}]" if cloud else f"[~{account.id}]"


def escape(text: str) -> str:
    """Make untrusted text inert in Jira wiki markup.

    Newlines become spaces (no ``h1.``/``bq.``/list lines), every wiki special character
    (``\\ [ ] { } * _ ? - + ^ ~ | ! # ( )``) is backslash-escaped (no ``[~mention]``,
    ``[text|url]`` link, ``{code}``/``{color}`` macro, ``*bold*``, ``_italic_``,
    ``-strike-``, ``!image!``, ``(y)`` emoticon), and URL schemes are broken with a
    zero-width space (no autolink).
    """
    text = " ".join(str(text).split())
    text = WIKI_SPECIAL.sub(r"\\\1", text)
    return text.replace("://", ":\u200b//").replace("www.", "www\u200b.")


def literal(text: str) -> str:
    """A template's own words are wiki markup the admin wrote: kept as is."""
    return text


def footer(rule: str, marker: str) -> str:
    """``\\n\\n----\\n{color:#6b778c}handoff-bridge · rule <rule> · hb:…{color}``: a rule
    line then small grey print carrying the marker (rule name escaped)."""
    return f"\n\n----\n{{color:#6b778c}}handoff\\-bridge · rule {escape(rule)} · {marker}{{color}}"
