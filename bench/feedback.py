"""What learning from feedback costs per cycle (issue 16): ``bridge.engine.feedback.figures``.

The engine judges every rule once per plan (each connector's cycle): three grouped queries (first
steps sent, handoffs received after their first nudge, feedback rows) over the window. This script
fills a real store (SQLite in a temp dir; ``--postgres`` also a real PostgreSQL server from the
test support) with a year of history: ``--rows`` outbox rows spread over ``--rules`` rules and 365
days (40 % first steps, 85 % of those sent), one handoff per finding (half received, some after
their nudge), and one feedback row per 10 first steps. Then it times ``figures`` at the year's end
with the 28-day window (min and median of ``--repeat`` runs), with the three indexes of migration 0006
(``ix_outbox_nudges``, ``ix_outbox_finding_step``, ``ix_handoffs_ended``) and without them.

Run (from the repository root):

    .venv/bin/python bench/feedback.py                       # 10k, 100k and 1M outbox rows (~3 min)
    .venv/bin/python bench/feedback.py --rows 100000 --postgres
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from bridge.config import parse_config  # noqa: E402
from bridge.engine.feedback import figures  # noqa: E402
from bridge.store import FeedbackRow, HandoffRow, OutboxRow, Store  # noqa: E402

END = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
WINDOW = timedelta(days=28)


def config_for(rules: int):
    text_ = "[connectors.github]\ntoken = { env = \"T\" }\nrepositories = [\"acme/web\"]\n"
    for i in range(rules):
        text_ += (f"\n[[rules]]\nname = \"rule-{i}\"\ndetect = \"handoff\"\non = [\"review_requested\"]\n"
                  "within = \"4h\"\nneed = \"review\"\nnext = \"merge\"\n"
                  "steps = [{ after = \"0h\", do = \"comment\" }, { after = \"4h\", do = \"comment\" }]\n")
    return parse_config(text_, environ={"T": "x"})


def fill(store: Store, rows: int, rules: int, seed: int = 16) -> dict:
    rnd = random.Random(seed)
    outbox, handoffs, feedback = [], [], []
    findings = 0
    n = 0
    while n < rows:
        findings += 1
        rule = f"rule-{rnd.randrange(rules)}"
        key = f"{rule}:github:acme/web#{findings}:ben:ev{findings}"
        created = END - timedelta(seconds=rnd.randrange(365 * 86400))
        steps = 1 if rnd.random() < 0.4 else rnd.randrange(2, 4)
        sent0 = created if rnd.random() < 0.85 else None
        for step in range(steps):
            if n >= rows:
                break
            status = "done" if (step == 0 and sent0) or (step and rnd.random() < 0.7) else rnd.choice(
                ["pending", "cancelled", "dry_run"])
            outbox.append(dict(key=f"{key}:{step}", marker=f"hb:{n:012x}", finding_key=key, rule=rule, step=step,
                               connector="github", action="{}", status=status, attempts=1 if status == "done" else 0,
                               created_at=created + timedelta(hours=4 * step),
                               sent_at=created + timedelta(hours=4 * step) if status == "done" else None))
            n += 1
        received = rnd.random() < 0.5
        ended = created + timedelta(hours=rnd.randrange(-8, 48))
        handoffs.append(dict(key=key, rule=rule, item_tool="github", item_key=f"acme/web#{findings}",
                             sender="github:ana", receiver="github:ben", sent_at=created - timedelta(hours=5),
                             deadline=created, state="received" if received else "closed", ended_at=ended,
                             updated_at=ended))
        if sent0 and rnd.random() < 0.1:
            feedback.append(dict(key=f"github:IC_{findings}:{rule}", rule=rule, item_tool="github",
                                 item_key=f"acme/web#{findings}", handoff_key=key,
                                 kind=rnd.choice(["wrong", "not_mine", "snooze"]), actor="github:ben",
                                 at=created + timedelta(hours=1)))
    with store.engine.begin() as conn:
        for table, values in ((OutboxRow.__table__, outbox), (HandoffRow.__table__, handoffs),
                              (FeedbackRow.__table__, feedback)):
            for i in range(0, len(values), 5000):
                conn.execute(table.insert(), values[i:i + 5000])
        conn.execute(text("ANALYZE"))
    if store.engine.dialect.name == "postgresql":  # as autovacuum would: the visibility map lets index-only scans skip the heap
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return {"outbox": len(outbox), "findings": findings, "handoffs": len(handoffs), "feedback": len(feedback)}


def timed(store: Store, config, repeat: int) -> tuple[str, dict]:
    """``"min / median"`` milliseconds of ``figures`` over ``repeat`` runs (after one warm-up)."""
    runs = []
    got = figures(store, config.rules, END, WINDOW, config.feedback_limits)
    for _ in range(repeat):
        t = time.perf_counter()
        got = figures(store, config.rules, END, WINDOW, config.feedback_limits)
        runs.append(time.perf_counter() - t)
    return f"{min(runs) * 1000:.1f} / {statistics.median(runs) * 1000:.1f}", got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="10000,100000,1000000", help="outbox rows, comma list")
    ap.add_argument("--rules", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--postgres", action="store_true", help="also on a real PostgreSQL server (tests/support)")
    args = ap.parse_args()
    config = config_for(args.rules)
    server = None
    if args.postgres:
        from tests.support.postgres import PostgresServer

        server = PostgresServer().start()
    print(f"{'db':<10} {'outbox rows':>11} {'findings':>9} {'feedback':>9} {'fill s':>7} "
          f"{'figures ms, min / median':>25} {'without 0006 indexes':>21} {'nudges in window':>17}")
    try:
        for rows in [int(x) for x in args.rows.split(",")]:
            with tempfile.TemporaryDirectory() as tmp:
                urls = [("sqlite", f"sqlite:///{tmp}/state.db")]
                if server is not None:
                    urls.append(("postgresql", server.database()))
                for db, url in urls:
                    store = Store.open(url)
                    t = time.perf_counter()
                    sizes = fill(store, rows, args.rules)
                    fill_s = time.perf_counter() - t
                    with_index, got = timed(store, config, args.repeat)
                    with store.engine.begin() as conn:
                        for index in ("ix_outbox_nudges", "ix_outbox_finding_step", "ix_handoffs_ended"):
                            conn.execute(text(f"DROP INDEX {index}"))
                        conn.execute(text("ANALYZE"))
                    without, got2 = timed(store, config, args.repeat)
                    assert {k: (v.nudges, v.acknowledged, v.wrong) for k, v in got.items()} == \
                           {k: (v.nudges, v.acknowledged, v.wrong) for k, v in got2.items()}
                    nudges = sum(f.nudges for f in got.values())
                    print(f"{db:<10} {sizes['outbox']:>11,} {sizes['findings']:>9,} {sizes['feedback']:>9,} "
                          f"{fill_s:>7.1f} {with_index:>25} {without:>21} {nudges:>17,}", flush=True)
                    store.engine.dispose()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
