"""AsanaConnector.poll under faults (issue 12): every exception that leaves it is one of ours,
and a read that fails part-way keeps what was read (the next poll goes on from there)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Response, request

from bridge.core import errors
from bridge.core.model import EventKind
from tests.connectors.test_asana_client import ADA, P1, T0, Store, clock, connector, emu, paths, poll  # noqa: F401

__all__ = ["clock", "emu"]  # the fixtures


@pytest.mark.parametrize("body", [b'{"data": [{"gid": "1', b"<html>Bad Gateway</html>", b'"a string"'])
def test_an_unreadable_events_answer_is_a_transient_error(emu, clock, body):
    emu.create_task(P1, ADA, "Contract", at=T0 - timedelta(hours=1))

    def garbage():
        if request.path.endswith("/events"):
            return Response(body, 200, content_type="application/json")
        return None

    emu.app.before_request(garbage)
    with pytest.raises(errors.TransientError) as caught:
        connector(emu, clock).poll(P1, None)
    assert "asana" in str(caught.value) and "2/1200" not in str(caught.value)


def test_a_story_read_that_fails_keeps_the_tasks_read_and_the_next_poll_reads_only_the_rest(emu, clock):
    gids = [emu.create_task(P1, ADA, f"t{i}", at=T0 - timedelta(hours=1)) for i in range(3)]
    conn, store = connector(emu, clock), Store()
    poll(conn, store)
    clock.advance(timedelta(minutes=5))
    for gid in gids:
        emu.comment(gid, ADA, f"about {gid}")
    emu.faults.add("GET", f"/tasks/{gids[1]}/stories", "status", status=500)
    first = poll(conn, store, emu=emu)
    assert isinstance(first.stopped_by, errors.TransientError)
    read = {e.item.key for e in first.events if e.kind == EventKind.COMMENTED}
    assert read and gids[1] not in read
    assert gids[1] in store.cursors[P1]["pending"], "the task not read waits in the cursor"
    emu.reset_requests()
    second = poll(conn, store, emu=emu)
    assert second.stopped_by is None
    story_reads = [p for m, p, s in paths(emu) if p.endswith("/stories")]
    assert sorted(story_reads) == sorted(f"/tasks/{g}/stories" for g in gids if g not in read), \
        "only the tasks not read before are read again"
    assert {e.item.key for e in store.events.values() if e.kind == EventKind.COMMENTED} == set(gids)
