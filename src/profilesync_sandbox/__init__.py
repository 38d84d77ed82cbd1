"""A faithful Canvas emulator shipped with profilesync (``profilesync sandbox``, ``demo``, end-to-end tests).

It serves the Canvas REST endpoints the avatar and observer syncs use, over real HTTP on loopback, with the
quirks ``docs/canvas.md`` documents: masquerade-only uploads to a separate upload host, thumbnail lag,
one-shot upload confirmation, Folio pagination, silent avatar no-ops, the request throttle, and injected
latency and faults::

    from profilesync_sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(users=300, upload_mode="local", thumbnail_lag_s=0.5)) as sb:
        sb.base_url, sb.upload_base_url, sb.admin_token, sb.no_masquerade_token
        sb.state.users(); sb.state.counts(); sb.faults.outage(2.0)
        sb.faults.kill_on("PUT", r"^/api/v1/users/\\d+$", proc.pid, when="after", nth=40)  # kill -9 a CLI process

Emulated (docs/canvas.md sections): auth, masquerading and error bodies (§1, §2); pagination (§3); the
throttle (§4); user JSON visibility (§5); listing and search (§6); id forms (§7); show and profile (§8);
avatar URLs, options and updates (§9-§11); uploads in inst-fs and local styles, confirm, duplicates, file
JSON, folders (§12); quota (§13); observers, pairing codes and create-user (§14).
Not emulated: S3-style uploads and ``no_redirect``, upload from URL, ``success_include[]``, the folders and
file-listing endpoints, user renames beyond name/short_name/sortable_name, LTI id forms, sessions (only
tokens), trust relationships, self-registration, and ``Accept: application/json+canvas-string-ids``.

Layout: ``canvas/`` (the Canvas emulator, ``Sandbox``) and ``guru/`` (the Guru emulator, ``GuruSandbox``) side
by side on the base they share: ``emulator`` (the shell: validate, serve hosts, start/stop as a unit), ``config``
(listening, latency and fault knobs), ``server`` (HTTP and the per-request pipeline: faults, a host's throttle,
latency, the request log), ``routing``, ``wire`` (requests, responses, multipart), ``faults``, ``requestlog``.
``command`` is ``profilesync sandbox``; ``samples`` the sample-photo generator. Nothing here imports ``profilesync``.
"""

from profilesync_sandbox.canvas.config import SandboxConfig
from profilesync_sandbox.canvas.emulator import Sandbox
from profilesync_sandbox.canvas.records import (
    EmailSent,
    FileView,
    ObservationLink,
    PairingCode,
    UserView,
)
from profilesync_sandbox.canvas.state import SandboxState
from profilesync_sandbox.faults import Faults
from profilesync_sandbox.requestlog import RequestRecord

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
