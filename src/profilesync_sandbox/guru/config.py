"""The Guru sandbox's knobs: one frozen dataclass whose defaults behave like the documented Guru API.

Where Guru's docs are silent (page size, rate limits, error bodies, the PUT answer) the defaults are the
assumptions ``profilesync.targets.guru`` states, and the knobs let tests try the other readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from profilesync_sandbox.config import EmulatorConfig

NextRel = Literal["next-page", "next"]


@dataclass(frozen=True, kw_only=True)
class GuruSandboxConfig(EmulatorConfig):
    """Everything that shapes one Guru sandbox run (``host``, ``port``, latency and faults: ``EmulatorConfig``)."""

    # -- who is in it (``seed`` makes generation reproducible)
    members: int = 30
    seed: int = 0
    inactive_rate: float = 0.1  # share of members whose user.status is not ACTIVE
    own_picture_rate: float = 0.15  # share of members who already show a picture of their own
    user: str = "admin@sandbox-school.test"  # the basic-auth user of the read/write User token
    token: str | None = None  # None: derived from the seed, so a restarted sandbox keeps its token

    # -- pagination (developer.getguru.com/docs/paging: server-chosen size, Link rel="next-page")
    page_size: int = 25
    next_rel: NextRel = "next-page"

    # -- behaviour where the docs are silent
    put_echoes_person: bool = True  # False: the PUT answers 204 with no body (clients must re-read)
    rate_limit_per_s: float = 0.0  # 0: unlimited; else a token bucket per credential, 429 + Retry-After
    max_picture_bytes: int = 5_000_000
    #: the upload answer's URL field (the seed's reading: "uploadedPictureUrl"; tests try other spellings)
    picture_answer_field: str = "uploadedPictureUrl"
    #: every error answer quotes the request's Authorization header and its decoded user:token, as a debugging
    #: proxy or a careless server may: the client must keep them out of everything it shows or stores
    echo_credentials_in_errors: bool = False

    def problems(self) -> list[str]:
        """Every problem with these values at once (an empty list when the config is usable)."""
        found = self.count_problems("members")
        if self.page_size < 1:
            found.append("page_size must be at least 1")
        if self.next_rel not in ("next-page", "next"):
            found.append("next_rel must be 'next-page' or 'next'")
        found += self.fractions_problems("inactive_rate", "own_picture_rate", "error_rate", "drop_rate")
        found += self.negative_problems("latency_ms", "rate_limit_per_s", "max_picture_bytes")
        found += self.port_problems("port")
        if ":" in self.user or not self.user:
            found.append("user must be a non-empty name without ':'")
        return found
