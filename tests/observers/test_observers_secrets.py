"""The token never reaches the observers job's output or history, even when Canvas echoes it into an error."""

from __future__ import annotations

from profilesync.store import open_store

from .conftest import MakeWorld
from .families import Families


def test_refusal_echoing_the_token_is_reported_with_it_hidden(make_world: MakeWorld) -> None:
    """A link refused with a body quoting the Authorization header: the row's error shows <hidden> on stdout and
    in the run's events, never the token."""
    f = Families()
    f.parent("known@home.example.net")
    f.student("K9")
    f.row("K9", "known@home.example.net", "link")
    world = make_world(f.scenario())
    world.write_csv(f.csv_lines())
    token = world.sandbox.admin_token
    known = next(u for u in world.sandbox.state.users() if u.sis_user_id == "K9")
    echo = {"errors": [{"message": f"rejected header Authorization: Bearer {token}"}]}
    world.sandbox.faults.fail_next("PUT", rf"/observees/{known.id}$", 422, body=echo)
    result = world.cli("observers", "sync", "parents.csv", "--format", "json", expect=1)
    store = open_store(world.database_url)
    try:
        events = [event.message or "" for event in store.events()]
    finally:
        store.close()
    assert "Bearer <hidden>" in result.stdout and any("Bearer <hidden>" in message for message in events)
    assert token not in result.stdout + result.stderr + "".join(events)
    assert token.encode() not in (world.folder / "history.sqlite3").read_bytes()
