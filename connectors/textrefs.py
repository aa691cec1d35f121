"""Cross-tool item references in text people already write.

Teams link work by writing it down: a Jira key in a pull request title or branch name
(``WEB-17: fix claim``, ``feature/WEB-17-claim``), a tracker URL in a description or
comment, "blocked by https://app.asana.com/0/…". :func:`find_refs` finds them, for every
connector's mapping, so the three tools read links the same way (DESIGN.md "Vocabulary":
link graph).

Recognized (hosts are not checked where the path is unambiguous, so self-hosted Jira and
the local emulators match too):

- Jira: ``<any host>/browse/KEY-1`` and, with ``bare_jira_keys``, a bare ``KEY-1`` (two or
  more capitals or digits before the dash). A bare key can be a false positive such as
  ``UTF-8``; the link graph (``bridge.links``) keeps only targets that are stored items.
- GitHub: ``https://github.com/<owner>/<repo>/issues|pull/<n>`` and the same path under
  ``/api/v3`` or any host that also contains ``/pull/`` or ``/issues/`` after ``owner/repo``.
- Asana: ``https://app.asana.com/0/<project>/<task>[/f]`` and
  ``https://app.asana.com/1/<workspace>/…/task/<task>``.

A reference is ``blocked_by`` when the words just before it, on the same line, say so
("blocked by", "blocked on", "depends on", "waiting on/for", "waits on/for"); otherwise it
is a ``mention``. Link types returned are the model's normalized ones
(``bridge.core.model.link_kind``): ``"is blocked by"`` or ``"mentions"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

from bridge.core.model import ItemRef, Tool

BLOCKED_BY_TYPE = "is blocked by"
MENTIONS_TYPE = "mentions"

_JIRA_URL = re.compile(r"https?://[^\s/]+(?:/[^\s/]+)*?/browse/([A-Z][A-Z0-9_]+-\d+)(?![\w-])")
_JIRA_KEY = re.compile(r"(?<![A-Za-z0-9.-])([A-Z][A-Z0-9_]+-[1-9]\d*)(?![A-Za-z0-9]|-\d)")
_GITHUB_URL = re.compile(
    r"https?://[^\s/]+/(?:api/v3/)?(?:repos/)?([A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]+)/(?:issues|pull|pulls)/(\d+)(?!\d)"
)
_ASANA_0 = re.compile(r"https?://app\.asana\.com/0/(\d+)/(\d+)(?:/f)?(?![\d])")
_ASANA_1 = re.compile(r"https?://app\.asana\.com/1/\d+/(?:[\w-]+/\d+/)*task/(\d+)(?!\d)")
_BLOCKING = r"(?:blocked\s+(?:by|on)|depends\s+on|depending\s+on|waiting\s+(?:on|for)|waits\s+(?:on|for))"
_BLOCKING_WORDS = re.compile(_BLOCKING + r"\W{0,3}$", re.IGNORECASE)
_SAYS_BLOCKED = re.compile(r"\b" + _BLOCKING + r"\b", re.IGNORECASE)


def says_blocked(text: str | None) -> bool:
    """Whether ``text`` says something waits ("Blocked by …", "depends on …", "waiting on/for …"),
    anywhere in it: for a title that names no item itself, such as a Jira remote link's."""
    return bool(_SAYS_BLOCKED.search(text or ""))


@dataclass(frozen=True)
class TextRef:
    """One item named in text: ``ref`` and ``link_type`` (``"is blocked by"`` or ``"mentions"``)."""

    ref: ItemRef
    link_type: str


def _link_type(text: str, start: int) -> str:
    line_start = text.rfind("\n", 0, start) + 1
    before = text[max(line_start, start - 60):start]
    # "blocked by WEB-1 and WEB-2": the words may precede an earlier reference on the line.
    before = re.sub(r"(?:[A-Z][A-Z0-9_]+-\d+|https?://\S+)\s*(?:,|and|&)?\s*", "", before)
    return BLOCKED_BY_TYPE if _BLOCKING_WORDS.search(before.rstrip()) else MENTIONS_TYPE


def find_refs(text: str | None, *, bare_jira_keys: bool = False, html: bool = False) -> list[TextRef]:
    """Items of any tool named in ``text``, in order of first appearance, each once.

    Args:
        text: plain text, wiki markup, Markdown or (``html=True``) HTML; ``None`` gives ``[]``.
        bare_jira_keys: also take ``KEY-123`` without a URL (GitHub titles, bodies, branch names).
        html: decode HTML entities and drop tags first (Asana ``html_text``/``html_notes``).

    Returns:
        ``TextRef`` list; when an item is named twice, "blocked by" wins over a mention.
        Never raises.
    """
    if not isinstance(text, str) or not text:
        return []
    if html:
        text = re.sub(r"""<a\b[^>]*?\bhref\s*=\s*["']([^"']*)["'][^>]*>""", r" \1 ", text, flags=re.IGNORECASE)
        text = unescape(re.sub(r"<[^>]+>", " ", text))
    hits: list[tuple[int, ItemRef]] = []
    jira_spans: list[tuple[int, int]] = []
    for m in _JIRA_URL.finditer(text):
        hits.append((m.start(), ItemRef(Tool.JIRA.value, m.group(1))))
        jira_spans.append(m.span())
    for m in _GITHUB_URL.finditer(text):
        repo = m.group(1).removesuffix(".git")
        hits.append((m.start(), ItemRef(Tool.GITHUB.value, f"{repo}#{int(m.group(2))}")))
    for m in _ASANA_0.finditer(text):
        if m.group(2) != "0":
            hits.append((m.start(), ItemRef(Tool.ASANA.value, m.group(2))))
    for m in _ASANA_1.finditer(text):
        hits.append((m.start(), ItemRef(Tool.ASANA.value, m.group(1))))
    if bare_jira_keys:
        for m in _JIRA_KEY.finditer(text):
            if not any(a <= m.start() < b for a, b in jira_spans):
                hits.append((m.start(), ItemRef(Tool.JIRA.value, m.group(1))))
    out: dict[ItemRef, str] = {}
    for start, ref in sorted(hits, key=lambda h: h[0]):
        kind = _link_type(text, start)
        if out.get(ref) != BLOCKED_BY_TYPE:
            out[ref] = kind
    return [TextRef(ref, kind) for ref, kind in out.items()]
