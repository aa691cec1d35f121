"""``handoff-bridge report`` on a store the real engine filled (GitHub emulator, stepping clock)."""

from __future__ import annotations

import json

import pytest

from bridge.app.cli import main
from tests.support.world import TOKEN, World, berlin


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    w = World(tmp_path)
    try:
        w.open_pr_with_review_request()                       # Mon 09:05 ana → ben, deadline 13:05
        w.run_until("2026-11-23 14:00")                       # nudged at 13:05
        w.emu.submit_review("acme/web", 12, "ben-o", "APPROVED", at=berlin("2026-11-23 15:05"))
        w.run_until("2026-11-23 17:00")
    finally:
        w.close()
    path = tmp_path / "config.toml"
    path.write_text(w.config_text)
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    return path


def test_report_prints_tables_json_and_writes_the_page(config_file, tmp_path, capsys):
    assert main(["report", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "All handoffs:" in out and "Delay per person lane" in out and "review-not-picked-up" in out
    assert main(["report", "--config", str(config_file), "--json", "--since", "2026-11-23",
                 "--compare-at", "2026-11-23 12:00", "--html", str(tmp_path / "page.html")]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["handoffs"] == 1 and doc["timezone"] == "Europe/Berlin"
    [lane] = [f for f in doc["lanes"] if (f["kind"], f["tool"]) == ("all", "all")]
    # 09:05 → 15:05 Berlin, received after the nudge at 13:15 (the first cycle after 13:05): 1 h 50 min later
    assert (lane["received"], lane["median_business_hours"], lane["nudged_share"]) == (1, 6.0, 1.0)
    assert lane["nudge_to_ack_median"] == pytest.approx(1 + 50 / 60, abs=1e-3)
    [overall] = [c for c in doc["comparison"]["lanes"] if (c["kind"], c["tool"]) == ("all", "all")]
    assert overall["verdict"] == "too few handoffs to tell"
    assert "wrote" in captured.err and (tmp_path / "page.html").read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("args, message", [
    (["--since", "23/11/2026"], "--since: not a date '23/11/2026'"),
    (["--compare-at", "2026-11-23", "--before", "2026-11-01..2026-11-10", "--after", "2026-11-10..2026-11-20"],
     "not both"),
    (["--before", "2026-11-01..2026-11-10"], "give both --before and --after"),
    (["--before", "2026-11-01", "--after", "2026-11-10..2026-11-20"], "--before: expected DATE..DATE"),
])
def test_report_refuses_bad_dates_and_windows_with_exit_2(config_file, capsys, args, message):
    assert main(["report", "--config", str(config_file), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
