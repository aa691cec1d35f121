"""The report as one self-contained HTML page: tables and inline SVG charts, no network.

``render_page(report, status)`` returns the whole document: the status table (MOVING/BLOCKED,
holder, blocker, next decision; ``status --json``'s ``items``), open standoffs, delay per lane
(a bar chart and its table), the weekly trend (a line chart and its table), nudge effectiveness,
and the before/after comparison. Charts are drawn by pygal (``js=[]``: no script is fetched; its
CSS is inlined into each ``<svg>``; its settings ``<script>`` is dropped). The page loads nothing: no script, stylesheet, font or
image from anywhere, so it opens from a file or from the daemon's ``/`` alike. Every text from a
tracker (titles, names) is HTML-escaped.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

import pygal
from pygal.style import Style

from bridge.report.measure import ALL, LANE_KINDS
from bridge.report.report import Report, summary_lines, top_lanes

_STYLE = Style(background="white", plot_background="white", font_family="sans-serif",
               colors=("#3465a4", "#cc0000", "#73d216", "#f57900", "#75507b", "#c17d11"))

_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: right; } th { text-align: left; }
th:first-child, td:first-child, td.text { text-align: left; }
.BLOCKED { color: #a40000; font-weight: bold; } .MOVING { color: #4e9a06; font-weight: bold; }
.chart { max-width: 900px; } .note { color: #555; font-size: .9em; }
"""


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _h(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def _pct(v) -> str:
    return "-" if v is None else f"{v:.0%}"


def _lane(kind: str, name: str) -> str:
    return "all handoffs" if kind == ALL else f"{kind}: {name}"


def _table(table_id: str, head: list[str], rows: list[list[str]], text_cols: int = 1) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td class="text">{c}</td>' if i < text_cols else f"<td>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows)
    return f'<table id="{table_id}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)


def _svg(chart) -> str:
    """The chart as inline SVG, without the ``<script>`` pygal writes its tooltip settings into
    (``js=[]`` loads no tooltip code, so nothing reads them): the page runs no script at all."""
    return f'<div class="chart">{_SCRIPT.sub("", chart.render(is_unicode=True))}</div>'


def _config(**kw):
    return dict(style=_STYLE, js=[], disable_xml_declaration=True, width=900, height=380,
                legend_at_bottom=True, print_values=False, **kw)


def lane_chart(report: Report) -> str | None:
    """Median and p90 business hours per team lane (or per rule when no team is set), across tools."""
    kind = "team" if any(f.kind == "team" and "?" not in f.name for f in report.lanes) else "rule"
    lanes = [f for f in report.lanes if f.kind == kind and f.tool == ALL]
    if not lanes:
        return None
    chart = pygal.Bar(**_config(title=f"Handoff delay per {kind} lane (receiver's business hours)", x_label_rotation=20))
    chart.x_labels = [f.name for f in lanes]
    chart.add("median", [f.median_business_hours for f in lanes])
    chart.add("p90", [f.p90_business_hours for f in lanes])
    return _svg(chart)


def trend_chart(report: Report) -> str | None:
    """Weekly median business hours, across tools and per tool."""
    weekly = [f for f in report.weekly if f.kind == ALL]
    weeks = sorted({f.week for f in weekly})
    if not weeks:
        return None
    chart = pygal.Line(**_config(title="Weekly trend: median handoff delay (business hours)", x_label_rotation=0))
    chart.x_labels = [w.isoformat() for w in weeks]
    for tool in [ALL, *sorted({f.tool for f in weekly} - {ALL})]:
        by_week = {f.week: f.median_business_hours for f in weekly if f.tool == tool}
        chart.add("all tools" if tool == ALL else tool, [by_week.get(w) for w in weeks])
    return _svg(chart)


def nudge_chart(report: Report) -> str | None:
    """Per week: share received only after a nudge, and nudge → acknowledgement hours."""
    weekly = [f for f in report.weekly if f.kind == ALL and f.tool == ALL]
    if not weekly:
        return None
    chart = pygal.Bar(**_config(title="Nudge effectiveness per week"))
    chart.x_labels = [f.week.isoformat() for f in weekly]
    chart.add("received after a nudge (%)", [None if f.nudged_share is None else round(100 * f.nudged_share, 1) for f in weekly])
    hours = [f.nudge_to_ack_median for f in weekly]
    # A secondary axis with no value at all breaks pygal's range; then the series shares the first.
    chart.add("nudge → ack, median business h", hours, secondary=any(v is not None for v in hours))
    return _svg(chart)


def _local(at: str | datetime | None, report: Report) -> str:
    if at is None:
        return "-"
    d = datetime.fromisoformat(at) if isinstance(at, str) else at
    return d.astimezone(report.tz).strftime("%a %d %b %H:%M")


#: Rows of the status table a page shows at most (in the status document's order: oldest wait
#: first); the rest are counted under the table. 13,367 rows made a 5 MB page of 100,000 items.
STATUS_ROWS = 500


def _status_section(report: Report, status: dict | None, limit: int = STATUS_ROWS) -> str:
    if status is None:
        return '<p class="note">status not available</p>'
    rows = []
    items = status.get("items", [])
    shown = items if not limit else items[:limit]
    for it in shown:
        link = f'<a href="{_e(it["url"])}">{_e(it["key"])}</a>' if it.get("url") else _e(it["key"])
        nxt = it.get("next")
        decision = "-" if not nxt else _e(f'{nxt["who"]} to {nxt["what"]}' + (f' by {nxt["by_local"]}' if nxt.get("by_local") else ""))
        rows.append([f'<span class="{_e(it["state"])}">{_e(it["state"])}</span>', f"{_e(it['tool'])} {link}",
                     _e(it.get("title")), _e(it["holder"]["name"]), _e("; ".join(b["text"] for b in it["blockers"]) or "-"),
                     decision])
    summary = _e(status.get("summary", {}).get("text", ""))
    if not rows:
        return f"<p>{summary}</p>"
    more = len(items) - len(shown)
    rest = (f'<p class="note" id="status-more">{more:,} more item{"s" if more != 1 else ""} wait, each newer than '
            f'these: <code>handoff-bridge status</code> lists them all.</p>' if more else "")
    return (f"<p>{summary}</p>" + _table("status", ["state", "item", "title", "holder", "blocker", "next decision"], rows, 6)
            + rest)


def render_page(report: Report, status: dict | None = None, *, title: str = "handoff-bridge report",
                top: int = 50, status_rows: int = STATUS_ROWS) -> str:
    """The whole HTML document (UTF-8 text). ``status``: ``status --json``'s document, or ``None``.
    ``top``: at most this many lanes of each kind in the tables (the busiest; ``0``: all).
    ``status_rows``: at most this many status rows, the first of the document's (oldest wait
    first), the rest counted below the table (``0``: all)."""
    parts = [f"<h1>{_e(title)}</h1>",
             f'<p class="note">At {_e(_local(report.at, report))} ({_e(report.tz.key)}). bh = the receiver\'s business hours; '
             f"h = wall-clock hours. Open handoffs count with their delay so far.</p>",
             "<ul>" + "".join(f"<li>{_e(line)}</li>" for line in summary_lines(report)) + "</ul>",
             "<h2>Status: what waits now</h2>", _status_section(report, status, status_rows)]
    parts.append("<h2>Open standoffs</h2>")
    if report.open_standoffs:
        parts.append(_table("standoffs", ["item", "rule", "standing since"],
                            [[_e(s.item), _e(s.rule), _e(_local(s.opened_at, report))] for s in report.open_standoffs], 2))
    else:
        parts.append('<p id="standoffs">none</p>')
    parts.append("<h2>Delay per lane</h2>")
    chart = lane_chart(report)
    if chart:
        parts.append(chart)
    head = ["lane", "tool", "n", "median bh", "p90 bh", "median h", "p90 h", "open", "nudged", "nudge→ack bh"]
    rows = [[_e(_lane(f.kind, f.name)), _e(f.tool), str(f.count), _h(f.median_business_hours), _h(f.p90_business_hours),
             _h(f.median_wall_hours), _h(f.p90_wall_hours), _pct(f.open_share), _pct(f.nudged_share),
             _h(f.nudge_to_ack_median)]
            for kind in LANE_KINDS for f in top_lanes(report.lanes, kind, top)[0]]
    parts.append(_table("lanes", head, rows, 2))
    parts.append("<h2>Weekly trend</h2>")
    chart = trend_chart(report)
    if chart:
        parts.append(chart)
    weekly = [[_e(f.week.isoformat()), _e(f.tool), str(f.count), _h(f.median_business_hours), _h(f.p90_business_hours),
               _h(f.median_wall_hours), _h(f.p90_wall_hours), _pct(f.open_share), _pct(f.nudged_share),
               _h(f.nudge_to_ack_median)] for f in report.weekly if f.kind == ALL]
    parts.append(_table("weekly", ["week", *head[1:]], weekly, 2))
    parts.append("<h2>Nudge effectiveness</h2>")
    chart = nudge_chart(report)
    if chart:
        parts.append(chart)
    parts.append("<h2>Standoffs per week</h2>")
    parts.append(_table("standoff-weeks", ["week", "opened", "broken", "median h to break", "longest h"],
                        [[_e(w.week.isoformat()), str(w.opened), str(w.broken), _h(w.median_hours_to_break),
                          _h(w.longest_hours_to_break)] for w in report.standoff_weeks]))
    if report.comparisons is not None:
        parts.append("<h2>Before and after</h2>")
        parts.append(f'<p class="note">Before {_e(_local(report.before[0], report))} – {_e(_local(report.before[1], report))}, '
                     f'after {_e(_local(report.after[0], report))} – {_e(_local(report.after[1], report))}: change of the '
                     f"median business-hours delay, bootstrap 95 % confidence interval.</p>")
        parts.append(_table("comparison", ["lane", "tool", "n before", "n after", "before bh", "after bh", "change h",
                                           "change %", "95 % CI", "verdict"],
                            [[_e(_lane(c.kind, c.name)), _e(c.tool), str(c.before_count), str(c.after_count),
                              _h(c.before_median), _h(c.after_median),
                              "-" if c.change_hours is None else f"{c.change_hours:+.2f}",
                              "-" if c.change_ratio is None else f"{c.change_ratio:+.0%}",
                              "-" if c.ci_low is None else f"{c.ci_low:+.2f} to {c.ci_high:+.2f}", _e(c.verdict)]
                             for kind in LANE_KINDS for c in top_lanes(report.comparisons, kind, top)[0]], 2))
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n")
