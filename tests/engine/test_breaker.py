"""The circuit breaker's counting: thresholds per kind, distinct subjects, and one proof disarming it for good."""

from __future__ import annotations

from profilesync.engine.breaker import Breaker


def test_each_kind_counts_to_its_own_threshold() -> None:
    """Two kinds with their own thresholds: the lower one trips first, naming its first refusal."""
    breaker: Breaker[str] = Breaker({"permission": 3, "quota": 5})
    assert breaker.refused("quota", None, "q1") is None
    assert breaker.refused("permission", None, "p1") is None
    assert breaker.refused("permission", None, "p2") is None
    trip = breaker.refused("permission", None, "p3")
    assert trip is not None and (trip.kind, trip.threshold, trip.first) == ("permission", 3, "p1")


def test_kinds_without_a_threshold_are_never_counted() -> None:
    """A kind the rules do not name (or name with 0) never trips, however often it comes."""
    breaker: Breaker[None] = Breaker({"permission": 0})
    assert all(breaker.refused(kind, None, None) is None for kind in ("permission", "transient") for _ in range(50))


def test_the_same_subject_again_is_no_more_evidence() -> None:
    """Refusals of one subject count once; distinct subjects reach the threshold."""
    breaker: Breaker[None] = Breaker({"masquerade_refused": 2})
    assert breaker.refused("masquerade_refused", "u1", None) is None
    assert breaker.refused("masquerade_refused", "u1", None) is None
    assert breaker.refused("masquerade_refused", "u2", None) is not None


def test_a_proof_disarms_it_for_good() -> None:
    """Once something proved the permission works, no number of refusals trips the breaker."""
    breaker: Breaker[None] = Breaker({"permission": 2})
    breaker.refused("permission", None, None)
    breaker.proven()
    assert all(breaker.refused("permission", None, None) is None for _ in range(10))


def test_once_tripped_every_later_refusal_trips_too() -> None:
    """Each refusal past the threshold is the same proof: workers still in flight stop alike."""
    breaker: Breaker[None] = Breaker({"permission": 1})
    assert breaker.refused("permission", None, None) is not None
    assert breaker.refused("permission", None, None) is not None
