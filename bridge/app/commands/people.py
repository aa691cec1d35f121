"""``handoff-bridge people``: who is mapped to whom, which accounts nobody owns, which entries never matched.

Reads the config and the store only; no tracker is called. The accounts seen are those the
polls reported (``Store.accounts``: display name, e-mail, last poll that saw them) plus every
account that acted in a stored event (``Store.event_accounts``), each with its event count.
The daemon's own accounts (learnt by ``whoami``) are listed apart, never as unmapped.
"""

from __future__ import annotations

from datetime import datetime, timezone

from bridge.core.model import Account
from bridge.core.people import Directory, PeopleReport, SeenAccount

WHOAMI = "@whoami"  # as bridge.engine.WHOAMI (not imported: this command needs no engine)


def _aware(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def _account(text: str) -> Account:
    tool, _, ident = text.partition(":")  # Jira account ids may hold ':' themselves
    return Account(tool, ident)


def _last_acted(store) -> dict[str, datetime]:
    """``"tool:id"`` of every event actor → when it last acted."""
    from sqlalchemy import func
    from sqlmodel import select

    from bridge.store import EventRow

    with store.session() as s:
        q = select(EventRow.actor, func.max(EventRow.at)).where(EventRow.actor.is_not(None)).group_by(EventRow.actor)
        return {actor: _aware(at) for actor, at in s.exec(q)}


def seen_accounts(store) -> list[SeenAccount]:
    """Every account the store has seen: from polls (with name, e-mail) and from events (with counts)."""
    counts = store.event_accounts()
    acted = _last_acted(store)
    out: dict[Account, SeenAccount] = {}
    for row in store.accounts():
        acct = Account(row.tool, row.id)
        out[acct] = SeenAccount(acct, row.display_name, row.email, _aware(row.last_seen), counts.get(str(acct), 0))
    for text, n in counts.items():
        acct = _account(text)
        if acct not in out:
            out[acct] = SeenAccount(acct, None, None, acted.get(text), n)
    return sorted(out.values(), key=lambda s: (s.account.tool, s.account.id))


def bot_accounts(config, store) -> set[Account]:
    """The daemon's own accounts as stored by ``whoami`` (no tracker call)."""
    out = set()
    for name, section in config.connectors.items():
        known = store.get_cursor(name, WHOAMI)
        if known and known.get("id"):
            out.add(Account(getattr(section, "tool", None) or name, known["id"]))
    return out


def people_report(config, store) -> tuple[PeopleReport, list[SeenAccount]]:
    """``Directory.report`` over every account seen, and the daemon's own accounts seen apart."""
    seen = seen_accounts(store)
    bots = bot_accounts(config, store)
    report = Directory(config).report(seen)
    own = [s for s in report.unmapped if s.account in bots]
    report.unmapped = [s for s in report.unmapped if s.account not in bots]
    return report, own


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M}Z" if at else "-"


def render_text(config, report: PeopleReport, own: list[SeenAccount] = ()) -> str:
    """Three sections: mapped people, accounts seen but unmapped, config entries that never matched."""
    lines = [f"Mapped people ({len(report.mapped)}):"]
    for name, accounts in report.mapped.items():
        person = config.people.get(name)
        shown = f"{name} ({person.display_name})" if person and person.display_name else name
        lines.append(f"  {shown}: " + ", ".join(f"{a} ({how})" for a, how in accounts))
    if not report.mapped:
        lines.append("  none")
    lines += ["", f"Accounts seen but not mapped ({len(report.unmapped)}):"]
    for s in report.unmapped:
        lines.append(f"  {s.account}  {s.display_name or '-'}  {s.email or '-'}  "
                     f"{s.events} event{'s' if s.events != 1 else ''}  last seen {_when(s.last_seen)}")
    if not report.unmapped:
        lines.append("  none")
    lines += ["", f"Config entries that never matched ({len(report.never_matched)}):"]
    for name, why in report.never_matched:
        lines.append(f"  {name}: {why}")
    if not report.never_matched:
        lines.append("  none")
    if own:
        lines += ["", "The daemon's own accounts: " + ", ".join(f"{s.account} ({s.events} events)" for s in own)]
    return "\n".join(lines)


def to_json(config, report: PeopleReport, own: list[SeenAccount] = ()) -> dict:
    """One document with the three sections (ISO 8601 times)."""
    def seen(s: SeenAccount) -> dict:
        return {"account": str(s.account), "tool": s.account.tool, "id": s.account.id,
                "display_name": s.display_name, "email": s.email, "events": s.events,
                "last_seen": s.last_seen.isoformat() if s.last_seen else None}

    return {
        "mapped": {
            name: {
                "display_name": config.people[name].display_name if name in config.people else None,
                "accounts": [{"account": str(a), "how": how} for a, how in accounts],
            }
            for name, accounts in report.mapped.items()
        },
        "unmapped": [seen(s) for s in report.unmapped],
        "never_matched": [{"person": name, "reason": why} for name, why in report.never_matched],
        "own": [seen(s) for s in own],
    }
