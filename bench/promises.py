"""Promise detection on a labelled corpus: precision, recall and due-time accuracy (issue 17).

Runs ``rules.promise.find_promises`` (the detector the ``promise`` rule uses, built-in English
patterns) over ``bench/promises_corpus.jsonl``: comments written in the styles of GitHub
(Markdown, ``@login``, code, ``>`` quotes), Jira (wiki markup, ``[~accountid:…]``, ``{quote}``,
``bq.``) and Asana (short plain text), each labelled ``promise`` true or false by hand, with a
``category`` (timed, untimed, question, conditional, quoted, others, negation, past, hedge,
neutral), a ``split`` (``dev``: the 248 comments written while the patterns were written;
``holdout``: 30 written after them and never tuned on) and, for most timed promises, the ``due`` a reader would take it to mean (local time).

Every comment is read as written on Monday 23 Nov 2026 10:00 Europe/Berlin by an author working
09:00-17:00 Mon-Fri with German holidays, on an item due Wednesday 25 Nov 2026; a promise
without a time falls due one business day later.

Usage::

    python bench/promises.py            # figures
    python bench/promises.py --errors   # also every misclassified comment and wrong due time

Prints precision and recall of "is this a promise", per category, and how many labelled due
times were read exactly. The goal (issue 17) is precision >= 0.95 with recall >= 0.8.
"""

from __future__ import annotations

import argparse
import json
import sys
import time as _time
from collections import Counter
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.core.businesstime import Duration, WorkSchedule  # noqa: E402
from rules.promise import find_promises  # noqa: E402

CORPUS = Path(__file__).with_name("promises_corpus.jsonl")
TZ = "Europe/Berlin"
WRITTEN = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo(TZ))
ITEM_DUE = date(2026, 11, 25)
SCHEDULE = WorkSchedule(TZ, range(5), time(9), time(17), "DE")


def load(path: Path = CORPUS) -> list[dict]:
    """The corpus rows: ``id, tool, category, promise, text`` and, for some, ``due`` (``YYYY-MM-DD HH:MM`` local)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def classify(text: str):
    """The promises ``find_promises`` finds in ``text`` under the corpus's fixed reading context."""
    return find_promises(text, written_at=WRITTEN, schedule=SCHEDULE, item_due=ITEM_DUE,
                         default_within=Duration.parse("1d"))


def measure(rows: list[dict]) -> dict:
    """Counts and ratios: ``tp, fp, fn, tn, precision, recall, due_checked, due_right`` and per-category counts."""
    tp = fp = fn = tn = due_checked = due_right = 0
    per: Counter = Counter()
    errors: list[str] = []
    for row in rows:
        found = classify(row["text"])
        said = bool(found)
        per[(row["category"], "rows")] += 1
        per[(row["category"], "said")] += said
        if said and row["promise"]:
            tp += 1
        elif said:
            fp += 1
            errors.append(f"false promise #{row['id']} [{row['category']}]: {row['text']!r} -> {found[0].action!r}")
        elif row["promise"]:
            fn += 1
            errors.append(f"missed #{row['id']} [{row['category']}]: {row['text']!r}")
        else:
            tn += 1
        if said and row["promise"] and row.get("due"):
            due_checked += 1
            read = [p.due.astimezone(ZoneInfo(TZ)).strftime("%Y-%m-%d %H:%M") for p in found]
            got = ", ".join(read)
            if row["due"] in read:
                due_right += 1
            else:
                errors.append(f"due #{row['id']}: {row['text']!r}: read {got}, labelled {row['due']}")
    return {
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "due_checked": due_checked, "due_right": due_right,
        "per_category": per, "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--errors", action="store_true", help="list every misclassified comment and wrong due time")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    rows = load(args.corpus)
    classify("I'll warm up dateparser by Friday.")
    started = _time.perf_counter()
    m = measure(rows)
    elapsed = _time.perf_counter() - started
    for split in ("dev", "holdout"):
        part = measure([r for r in rows if r.get("split", "dev") == split])
        print(f"{split}: precision {part['precision']:.3f}  recall {part['recall']:.3f}  "
              f"(tp {part['tp']}, fp {part['fp']}, fn {part['fn']}, tn {part['tn']}); "
              f"due read exactly {part['due_right']} of {part['due_checked']}")
    tools = Counter(r["tool"] for r in rows)
    print(f"corpus: {len(rows)} comments ({', '.join(f'{t} {n}' for t, n in sorted(tools.items()))}); "
          f"{sum(r['promise'] for r in rows)} labelled promises")
    print(f"precision {m['precision']:.3f}  recall {m['recall']:.3f}  "
          f"(tp {m['tp']}, fp {m['fp']}, fn {m['fn']}, tn {m['tn']})")
    print(f"due time read exactly: {m['due_right']} of {m['due_checked']} labelled")
    print(f"time: {elapsed * 1000 / len(rows):.2f} ms per comment")
    print("per category (said promise / rows):")
    for cat in sorted({c for c, _ in m["per_category"]}):
        print(f"  {cat:<12} {m['per_category'][(cat, 'said')]:>3} / {m['per_category'][(cat, 'rows')]}")
    if args.errors:
        for line in m["errors"]:
            print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
