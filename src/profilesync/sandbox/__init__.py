"""A faithful Canvas emulator shipped with profilesync (``profilesync sandbox``, ``demo``, end-to-end tests).

It serves the Canvas REST endpoints the avatar and observer syncs use, over real HTTP on loopback, with the
quirks ``docs/canvas-api.md`` documents: masquerade-only uploads to a separate upload host, thumbnail lag,
one-shot upload confirmation, Folio pagination, silent avatar no-ops, the request throttle, and injected
latency and faults::

    from profilesync.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(users=300, upload_mode="local", thumbnail_lag_s=0.5)) as sb:
        sb.base_url, sb.upload_base_url, sb.admin_token
        sb.state.users(); sb.state.counts(); sb.faults.outage(2.0)

The scenario file format is described in ``profilesync.sandbox.scenario``.
"""

from profilesync.sandbox.config import SandboxConfig
from profilesync.sandbox.emulator import Sandbox
from profilesync.sandbox.faults import Faults
from profilesync.sandbox.records import EmailSent, FileView, ObservationLink, PairingCode, RequestRecord, UserView
from profilesync.sandbox.state import SandboxState

__all__ = [
    "EmailSent",
    "Faults",
    "FileView",
    "ObservationLink",
    "PairingCode",
    "RequestRecord",
    "Sandbox",
    "SandboxConfig",
    "SandboxState",
    "UserView",
]
