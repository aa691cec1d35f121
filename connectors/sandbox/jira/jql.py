"""The emulator's JQL: the parser of the subset the connector sends, and the search it runs.

Holds :class:`Jql` (a parsed query), :func:`parse_jql` (text -> :class:`Jql`, or a 400
:class:`JiraError` naming the unsupported part, worded like Jira's) and :func:`search`
(a query run against a :class:`JiraState`). The subset: ``project = KEY``,
``project in (A, B)``, ``key = X``, ``updated``/``created`` compared with
``"yyyy-MM-dd[ HH:mm]"``, ``AND``, ``ORDER BY updated|created|key [ASC|DESC]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

from connectors.sandbox.jira.state import Issue, JiraError, JiraState

_JQL_HELP = ('supported: project = KEY, project in (A, B), key = X, '
             'updated >=|>|<=|< "yyyy-MM-dd[ HH:mm]", AND, '
             'ORDER BY updated|created|key [ASC|DESC]')
_TOKEN_RE = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|'
                       r'(?P<op>>=|<=|!=|=|>|<|\(|\)|,)|(?P<word>[^\s=<>!(),"\']+))')


@dataclass
class Jql:
    """A parsed JQL query of the emulator's subset.

    ``clauses``: list of ``(field, op, value)`` ANDed together, where field is
    ``project`` (op ``=``/``in``, value a key or list of keys), ``key`` (op ``=``) or
    ``updated``/``created`` (op ``>=``, ``>``, ``<=``, ``<``, value an aware UTC datetime).
    ``order``: list of ``(field, descending)``.
    """

    clauses: list[tuple[str, str, Any]]
    order: list[tuple[str, bool]]


def parse_jql(jql: str, tz: str = "UTC") -> Jql:
    """Parse ``jql``; date literals are minutes in zone ``tz``.

    Raises:
        JiraError: 400 naming the unsupported or malformed part.
    """
    toks: list[tuple[str, str]] = []
    pos, text = 0, jql or ""
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise JiraError(400, f"Error in the JQL Query: the character at position {pos} "
                                 f"is not expected ({_JQL_HELP}).")
        kind = m.lastgroup or "word"
        val = m.group(kind)
        if kind == "str":
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        toks.append((kind, val))
        pos = m.end()
    i = 0

    def peek(k: int = 0) -> tuple[str, str] | None:
        return toks[i + k] if i + k < len(toks) else None

    def unsupported(start: int, end: int | None = None) -> JiraError:
        part = " ".join(t[1] if t[0] != "str" else f'"{t[1]}"' for t in toks[start:end])
        return JiraError(400, f"The emulator does not support this JQL: '{part}' ({_JQL_HELP}).")

    clauses: list[tuple[str, str, Any]] = []
    order: list[tuple[str, bool]] = []
    while i < len(toks):
        t = peek()
        assert t is not None
        if t[0] == "word" and t[1].lower() == "order" and (peek(1) or ("", ""))[1].lower() == "by":
            i += 2
            while i < len(toks):
                start = i
                f = toks[i][1].lower()
                if f == "issuekey":
                    f = "key"
                if toks[i][0] != "word" or f not in ("updated", "created", "key"):
                    raise unsupported(start, start + 1)
                i += 1
                desc = False
                if peek() and peek()[1].lower() in ("asc", "desc"):  # type: ignore[index]
                    desc = toks[i][1].lower() == "desc"
                    i += 1
                order.append((f, desc))
                if peek() and peek()[1] == ",":  # type: ignore[index]
                    i += 1
                    continue
                if i < len(toks):
                    raise unsupported(i)
            break
        if clauses:
            if t[0] == "word" and t[1].lower() == "and":
                i += 1
            else:
                raise unsupported(i, i + 1)
        start = i
        f, op = peek(), peek(1)
        if f is None or op is None or f[0] == "op":
            raise JiraError(400, f"Error in the JQL Query: Expecting a field name at the end "
                                 f"of the query ({_JQL_HELP}).")
        name = f[1].lower()
        name = "key" if name == "issuekey" else name
        i += 2
        if name == "project" and op[1] == "=" and peek():
            clauses.append(("project", "in", [toks[i][1]]))
            i += 1
        elif name == "project" and op[1].lower() == "in" and peek() and peek()[1] == "(":  # type: ignore[index]
            i += 1
            keys = []
            while peek() and peek()[1] != ")":  # type: ignore[index]
                if toks[i][1] != ",":
                    keys.append(toks[i][1])
                i += 1
            if not peek():
                raise JiraError(400, "Error in the JQL Query: Expecting ')' before the end "
                                     "of the query.")
            i += 1
            clauses.append(("project", "in", keys))
        elif name == "key" and op[1] == "=" and peek():
            clauses.append(("key", "=", toks[i][1]))
            i += 1
        elif name in ("updated", "created") and op[1] in (">=", ">", "<=", "<") and peek():
            lit = toks[i][1]
            m = re.fullmatch(r"(\d{4})[-/](\d{2})[-/](\d{2})(?:\s+(\d{1,2}):(\d{2}))?", lit)
            if not m:
                raise JiraError(400, f"Date value '{lit}' for field '{name}' is invalid. Valid "
                                     "formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', "
                                     "'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. "
                                     "'-5d', '4w 2d'.")
            y, mo, d, hh, mm = (int(x) if x else 0 for x in m.groups())
            local = datetime(y, mo, d, hh, mm, tzinfo=ZoneInfo(tz))
            clauses.append((name, op[1], local.astimezone(timezone.utc)))
            i += 1
        else:
            raise unsupported(start, min(start + 3, len(toks)))
    return Jql(clauses, order)


def search(state: JiraState, jql: str, tz: str) -> list[Issue]:
    """The issues ``jql`` selects from ``state``, in its ``ORDER BY`` (default ``key DESC``);
    date literals are read in zone ``tz``. Call under ``state._lock``.

    Raises:
        JiraError: 400 for JQL :func:`parse_jql` rejects, or naming a project or key that
            does not exist (as Jira answers).
    """
    q = parse_jql(jql, tz)
    issues = list(state._issues.values())
    for fld, op, val in q.clauses:
        if fld == "project":
            for k in val:
                if k not in state._projects:
                    raise JiraError(400, f"The value '{k}' does not exist for the field "
                                         "'project'.")
            keys = set(val)
            issues = [i for i in issues if i.project in keys]
        elif fld == "key":
            if val not in state._issues:
                raise JiraError(400, f"An issue with key '{val}' does not exist for field "
                                     "'key'.")
            issues = [i for i in issues if i.key == val]
        else:
            cmp = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b,
                   "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}[op]
            issues = [i for i in issues if cmp(getattr(i, fld), val)]
    order = q.order or [("key", True)]
    for fld, desc in reversed(order):
        keyf: Callable[[Issue], Any]
        if fld == "key":
            keyf = lambda i: (i.project, int(i.key.rsplit("-", 1)[1]))  # noqa: E731
        else:
            keyf = lambda i, f=fld: getattr(i, f)  # type: ignore[misc] # noqa: E731
        issues.sort(key=keyf, reverse=desc)
    return issues
