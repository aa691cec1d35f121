"""A bounded chaos test (issue 12, "a chaos test of our own"): the real ``handoff-bridge run``
process against the three emulators in this process, in real time, under at least 200 injected
faults (429 with Retry-After, 5xx, responses slower than the client timeout, lost responses on
reads and on every kind of write) and 5 ``kill -9`` (every other one within ~5 ms of a write
reaching an emulator), then a quiet period. Afterwards: per item exactly one object per marker,
every overdue handoff nudged, no acknowledged item written to after its acknowledgement, every
fact the emulators hold present in the store, no traceback in the daemon's log.

The harness is ``bench/chaos.py`` (the same code runs at 1,000 faults and 20 kills there, with
the figures in ``bench/README.md``). Here: 60 items, a 75 s fault phase and an 80 s quiet
period, so that a row left ``sending`` or ``unknown`` by the last kill or lost response passes
its grace period (60 s: ``bridge.actions.grace_for_timeout``) and its marker lookup inside the
quiet period. About 2.7 minutes.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]  # the real daemon process in real time

REPO = Path(__file__).resolve().parents[2]


def _harness():
    spec = importlib.util.spec_from_file_location("bench_chaos", REPO / "bench" / "chaos.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_the_daemon_under_200_faults_and_5_kills_keeps_every_invariant():
    chaos = _harness()
    report = chaos.run(items=60, faults=200, kills=5, seed=7, fault_seconds=75.0, quiet_seconds=80.0)
    summary = json.dumps({k: v for k, v in report.items() if k not in ("after_ack",)}, indent=1, default=str)
    # The run really was chaotic: every fault was injected, enough of them met a request, and
    # every kill happened (the daemon was started again each time).
    assert report["faults_injected"] == 200, summary
    assert report["faults_hit"] >= 50, summary
    assert report["kills"] == 5 and report["daemon_starts"] >= 6, summary
    assert report["written"] >= 40, "the daemon wrote nudges and drafts at all\n" + summary
    # The invariants.
    assert report["duplicates"] == 0, summary
    assert report["nudged_after_ack"] == 0, summary
    assert report["overdue_never_nudged"] == 0, summary
    assert report["missing_facts"] == 0, summary
    assert report["tracebacks"] == 0, summary
    assert report["broken"] == [], summary
