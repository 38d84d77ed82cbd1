"""A Guru emulator shipped with profilesync, beside the Canvas one (``profilesync sandbox --guru``, tests).

It serves the three steps Guru documents for bulk avatar upload (seed 001) over real HTTP on loopback —
the paginated members listing, the multipart picture upload, the person GET and whole-person PUT — plus the
public picture URLs it hands out::

    from profilesync_sandbox.guru import GuruSandbox, GuruSandboxConfig

    with GuruSandbox(GuruSandboxConfig(members=40, page_size=10, latency_ms=20)) as guru:
        guru.base_url, guru.user, guru.token          # basic auth: user + User token
        guru.state.members(); guru.state.put_problems; guru.state.counts()
        guru.faults.fail_next("PUT", r"^/api/v1/people/", 503)

Where Guru's docs are silent it behaves as ``profilesync.targets.guru`` assumes (``Link: rel="next-page"``
pagination with a server-chosen page size, 401 for bad credentials, 403 for writes with a read-only Collection
token, an optional 429 rate limit with ``Retry-After``, ``{"description": ...}`` error bodies, a PUT that echoes
the person); ``GuruSandboxConfig`` has a knob for each so tests can try the other readings.

Layout: ``config`` (knobs) → ``data`` (members, persons, pictures, PUT problems; ``state`` is the controls
tests use on it) → ``app`` (auth, routing, handlers) → ``emulator.GuruSandbox`` (one host on the shared
``profilesync_sandbox.emulator`` base: latency, faults and the request log work as for Canvas).
"""

from profilesync_sandbox.guru.config import GuruSandboxConfig
from profilesync_sandbox.guru.data import ACTIVE, INACTIVE, PutProblem
from profilesync_sandbox.guru.emulator import GuruSandbox
from profilesync_sandbox.guru.state import GuruState, MemberView

__all__ = ["ACTIVE", "INACTIVE", "GuruSandbox", "GuruSandboxConfig", "GuruState", "MemberView", "PutProblem"]
