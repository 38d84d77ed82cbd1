"""The adaptive rate gate, in fake time: how many requests it lets through, how long they wait, what a throttle does."""

from __future__ import annotations

import threading
import time

import pytest

from profilesync.rategate import RateGate


class FakeClock:
    """Time that moves only when the gate sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def gate_in_fake_time(maximum: int, clock: FakeClock, *, jitter: float | None = 1.0, **kwargs: float) -> RateGate:
    """A gate on the fake clock; ``jitter`` fixes the random spread of its pauses (None: the real spread)."""
    if jitter is None:
        return RateGate(maximum, clock=clock, sleep=clock.sleep, **kwargs)
    fixed = jitter
    return RateGate(maximum, clock=clock, sleep=clock.sleep, jitter=lambda low, high: fixed, **kwargs)


def waited_to_enter(gate: RateGate, clock: FakeClock) -> float:
    """How long, in fake time, the next request waits before the gate lets it through."""
    before = clock.now
    with gate:
        pass
    return clock.now - before


def fresh_gate(limit: int, maximum: int = 16) -> RateGate:
    """A gate whose in-flight limit has grown to ``limit``."""
    gate = RateGate(maximum)
    while gate.in_flight_limit < limit:
        gate.observe(600.0)
    return gate


# -- how many requests may be in flight -------------------------------------------------------------------


def test_rate_gate_grows_while_the_bucket_has_room() -> None:
    """Remaining above two reservations (+ margin) grows the limit by one per round of answers, to the maximum."""
    gate = RateGate(16)
    start = gate.in_flight_limit
    for _ in range(start):
        gate.observe(300.0)
    assert gate.in_flight_limit == start + 1
    for _ in range(200):
        gate.observe(600.0)
    assert gate.in_flight_limit == 16


@pytest.mark.parametrize(("remaining", "change"), [(104.0, 0), (100.0, 0), (99.0, -1), (-35.5, -1)])
def test_rate_gate_holds_or_shrinks_near_two_reservations(remaining: float, change: int) -> None:
    """Remaining between two reservations and the margin holds the limit; below two, one fewer."""
    gate = fresh_gate(11)
    gate.observe(remaining)
    assert gate.in_flight_limit == 11 + change


def test_rate_gate_settles_at_canvas_s_eleven() -> None:
    """Against a simulated Canvas bucket (hwm 600, 50 per request in flight), the limit settles at 10–11."""
    gate = RateGate(24)
    for _ in range(100):
        in_flight = gate.in_flight_limit
        gate.observe(600.0 - 50.0 * (in_flight - 1))  # the others' reservations, as the server reports them
    assert 10 <= gate.in_flight_limit <= 11


def test_rate_gate_grows_by_one_without_remaining() -> None:
    """An answer without X-Rate-Limit-Remaining allows one more in flight, up to the maximum (Guru)."""
    gate = RateGate(6)
    before = gate.in_flight_limit
    for _ in range(before):
        gate.observe(None)
    assert gate.in_flight_limit == before + 1
    for _ in range(20):
        gate.observe(None)
    assert gate.in_flight_limit == 6


def test_rate_gate_caps_requests_in_flight() -> None:
    """With a limit of one, a second thread waits until the first request leaves the gate."""
    gate = RateGate(1)
    entered = threading.Event()

    def enter_and_leave() -> None:
        with gate:
            entered.set()

    with gate:
        worker = threading.Thread(target=enter_and_leave)
        worker.start()
        assert not entered.wait(0.1)
    assert entered.wait(2.0)
    worker.join()


def test_a_fresh_gate_lets_requests_through_without_waiting() -> None:
    """With room in the gate and no pause, a request enters at once."""
    clock = FakeClock()
    gate = gate_in_fake_time(4, clock)
    assert waited_to_enter(gate, clock) == 0.0
    assert clock.slept == []


# -- pacing and throttling --------------------------------------------------------------------------------


def test_full_bucket_paces_the_lone_request() -> None:
    """Alone in flight with the bucket full of spent cost, the next request waits for it to leak room."""
    clock = FakeClock()
    gate = gate_in_fake_time(4, clock)
    with gate:
        gate.observe(20.0)
    assert waited_to_enter(gate, clock) == pytest.approx((50 + 5 - 20) / 10)  # the deficit at 10 units/s
    assert waited_to_enter(gate, clock) == 0.0  # the room has leaked: the one after goes at once


def test_throttle_with_others_in_flight_halves_and_caps_without_pausing() -> None:
    """Throttled while others are in flight: our concurrency did it, so halve it, cap it, and carry on."""
    gate = fresh_gate(8)
    held = [gate.__enter__() for _ in range(8)]
    assert gate.throttle(10.0, sent_with=held[-1]) == 0.0
    assert gate.in_flight_limit == 4
    for _ in held:
        gate.__exit__(None, None, None)
    for _ in range(150):
        gate.observe(600.0)
    assert gate.in_flight_limit == 7  # capped just below the 8 that were refused…
    for _ in range(300):
        gate.observe(600.0)
    assert gate.in_flight_limit >= 8  # …then probed upward again, once per 200 answers at the cap


def test_lone_throttle_pauses_and_backs_off() -> None:
    """Throttled with nothing else in flight: pause for the leak, growing 1.5x while it repeats, capped at 30 s."""
    clock = FakeClock()
    gate = gate_in_fake_time(16, clock)
    first = gate.throttle(0.0)
    assert first == pytest.approx(5.5)  # (50 + 5 - 0) / 10 units per second
    assert waited_to_enter(gate, clock) == pytest.approx(first)  # the pause is over: the next throttle is new
    second = gate.throttle(0.0)
    assert second == pytest.approx(5.5 * 1.5)
    assert gate.in_flight_limit == 1
    waited_to_enter(gate, clock)
    assert gate.throttle(-10_000.0) == pytest.approx(30.0)
    assert gate.throttled == 3


def test_lone_throttle_pause_is_spread_by_up_to_a_fifth() -> None:
    """The real jitter lengthens a pause by 0–20 %, so separate runs do not retry in step."""
    clock = FakeClock()
    gate = gate_in_fake_time(16, clock, jitter=None)
    assert 5.5 <= gate.throttle(0.0) <= 5.5 * 1.2


def test_throttles_during_a_pause_do_not_lengthen_it() -> None:
    """Answers throttled for requests sent before the pause began do not compound the backoff."""
    clock = FakeClock()
    gate = gate_in_fake_time(16, clock)
    first = gate.throttle(0.0)
    clock.now += 0.1
    assert gate.throttle(0.0) == pytest.approx(first - 0.1)
    assert waited_to_enter(gate, clock) == pytest.approx(first - 0.1)
    assert gate.throttled == 2


def test_success_after_throttle_restarts_the_backoff() -> None:
    """A successful answer ends the throttle streak, so the next pause starts small again."""
    clock = FakeClock()
    gate = gate_in_fake_time(16, clock)
    for _ in range(5):
        gate.throttle(45.0)
        waited_to_enter(gate, clock)
    gate.observe(600.0)
    assert gate.throttle(45.0) == pytest.approx(1.0)  # (50 + 5 - 45) / 10


def test_throttle_pauses_everyone_entering_the_gate() -> None:
    """After a lone throttle, every request entering the gate waits out what is left of the pause."""
    clock = FakeClock()
    gate = gate_in_fake_time(4, clock)
    pause = gate.throttle(53.5)
    assert pause == pytest.approx(0.15)  # (50 + 5 - 53.5) / 10
    assert waited_to_enter(gate, clock) == pytest.approx(0.15)
    assert waited_to_enter(gate, clock) == 0.0


def test_throttle_pause_is_waited_in_real_time_without_an_injected_sleep() -> None:
    """The default gate waits out a pause on its own condition, in real time."""
    gate = RateGate(4, jitter=lambda low, high: 1.0)
    pause = gate.throttle(53.5)  # 0.15 s
    started = time.monotonic()
    with gate:
        waited = time.monotonic() - started
    assert waited >= pause - 0.01


def test_a_request_sent_ahead_takes_the_next_place_before_those_waiting() -> None:
    """With the gate full and ordinary requests waiting, a request sent inside ``ahead()`` (a listing's page)
    gets the next free place."""
    gate = RateGate(1)
    order: list[str] = []
    gate.__enter__()  # the one place is taken

    def send(name: str, ahead: bool) -> None:
        if ahead:
            with gate.ahead(), gate:
                order.append(name)
        else:
            with gate:
                order.append(name)

    waiting = [threading.Thread(target=send, args=(f"write{i}", False)) for i in range(5)]
    for thread in waiting:
        thread.start()
    time.sleep(0.05)
    page = threading.Thread(target=send, args=("page", True))
    page.start()
    time.sleep(0.05)
    gate.__exit__(None, None, None)
    for thread in [*waiting, page]:
        thread.join(5)
    assert order[0] == "page" and sorted(order[1:]) == [f"write{i}" for i in range(5)]


def test_alone_in_flight_the_gate_grows_while_two_reservations_fit() -> None:
    """Alone in flight, nothing else adds cost before the next requests arrive: 101 left (room for two
    reservations) grows the limit; with another request in flight the headroom for its cost still applies."""
    alone = RateGate(16)
    start = alone.in_flight_limit
    with alone:
        for _ in range(start):
            alone.observe(101.0)
    assert alone.in_flight_limit == start + 1
    crowded = RateGate(16)
    with crowded, crowded:
        for _ in range(start):
            crowded.observe(101.0)
    assert crowded.in_flight_limit == start
