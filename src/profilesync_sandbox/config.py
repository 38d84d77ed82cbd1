"""The knobs every emulated host has: where it listens, how slow it is, and how often it fails at random.

``canvas.config.SandboxConfig`` and ``guru.config.GuruSandboxConfig`` extend ``EmulatorConfig``; the range
checks here are the ones both ``problems()`` lists use.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig(ABC):
    """Listening address, latency and random faults (the fields ``Faults`` and ``Emulator`` read)."""

    # -- where it listens (port 0 = an ephemeral port chosen by the OS)
    host: str = "127.0.0.1"
    port: int = 0

    # -- slept on every request, on every host, while a throttle reservation is held
    latency_ms: float = 0.0

    # -- random faults
    error_rate: float = 0.0  # share of requests answering 500/502/503 with the host's error body
    drop_rate: float = 0.0  # share of requests whose connection is closed with no response
    drop_after: bool = False  # drop after the request took effect (the response is lost) instead of before
    fault_seed: int = 0

    @abstractmethod
    def problems(self) -> list[str]:
        """Every problem with these values at once (an empty list when the config is usable)."""

    def count_problems(self, *names: str) -> list[str]:
        return [f"{name} must be 0 or more" for name in names if getattr(self, name) < 0]

    def fractions_problems(self, *names: str) -> list[str]:
        return [f"{name} must be between 0 and 1" for name in names if not 0.0 <= getattr(self, name) <= 1.0]

    def negative_problems(self, *names: str) -> list[str]:
        return [f"{name} must not be negative" for name in names if getattr(self, name) < 0]

    def port_problems(self, *names: str) -> list[str]:
        return [f"{name} must be between 0 and 65535" for name in names if not 0 <= getattr(self, name) <= 65535]
