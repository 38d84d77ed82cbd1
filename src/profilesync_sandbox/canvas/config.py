"""The sandbox's knobs: one frozen dataclass, every field with a default that behaves like a stock Canvas.

Section numbers refer to ``docs/canvas.md``. The defaults follow that spec (throttle on with Canvas's
own numbers, the 50 MB user quota, avatars service on with the ``enabled`` setting); the fault knobs are off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from profilesync_sandbox.config import EmulatorConfig

UploadMode = Literal["instfs", "local"]
AvatarsSetting = Literal["enabled", "enabled_pending", "sis_only", "disabled"]

AVATARS_SETTINGS: tuple[str, ...] = ("enabled", "enabled_pending", "sis_only", "disabled")
UPLOAD_MODES: tuple[str, ...] = ("instfs", "local")


@dataclass(frozen=True, kw_only=True)
class SandboxConfig(EmulatorConfig):
    """Everything that shapes one sandbox run (hosts, population, Canvas settings, throttle, faults).

    ``host``, ``port``, ``latency_ms`` (slept on both hosts) and the random faults come from ``EmulatorConfig``.
    """

    upload_port: int = 0  # the upload host's own port (0: ephemeral)

    # -- who is in it: ``users`` generated users, or a scenario (a JSON file or an already-parsed mapping;
    #    see profilesync_sandbox.canvas.scenario for the format). ``seed`` makes generation reproducible.
    users: int = 50
    scenario: Path | Mapping[str, Any] | None = None
    seed: int = 0
    # share of generated students with no enrollment (pairing codes fail, docs/canvas.md §14.2)
    unenrolled_rate: float = 0.05
    missing_sis_rate: float = 0.0  # share of generated users without an SIS id
    tricky_sis_ids: bool = False  # give some generated users SIS ids with '/', ' ', '+', '.json' (docs/canvas.md §7)
    admin_token: str | None = None  # None: derived from the seed, so a restarted sandbox keeps its token
    # the first N generated users also belong to a sub-account that has an admin of its own
    # (Sandbox.sub_account_token): that admin lists them but, as in Canvas, can never upload or set avatars
    sub_account_users: int = 0

    # -- timing
    thumbnail_lag_s: float = 0.0  # a confirmed image stays out of /avatars this long (docs/canvas.md §10)
    upload_expiry_s: float = 1800.0  # the upload policy / token lifetime (docs/canvas.md §12.2: 30 minutes)

    # -- uploads (docs/canvas.md §12)
    upload_mode: UploadMode = "instfs"
    instfs_body_ids: bool = True  # inst-fs 201 body carries the file JSON (id, uuid...) besides location
    default_quota: int = 52_428_800  # docs/canvas.md §13: 50 MB

    # -- avatars (docs/canvas.md §9, §10, §11)
    avatars_service_enabled: bool = True  # False: the avatar_url key is absent from user JSON
    # The first N generated users (lowest ids, so first in a sort=id listing) have an earlier login in a partner
    # root account whose avatars service is off: Canvas omits avatar_url for them alone (User#account).
    foreign_home_users: int = 0
    avatars_setting: AvatarsSetting = "enabled"
    gravatar_enabled: bool = False  # list a gravatar option first in /avatars
    cdn_host: str | None = None  # serve the no-avatar fallback from this host instead of the Canvas host
    external_avatar_url_pattern: str = r"^https://[a-zA-Z0-9.-]+\.instructure\.com/"  # docs/canvas.md §11.2
    # deleting/overwriting a file clears an avatar that showed it (docs/canvas.md §12.5)
    clear_avatar_on_delete: bool = True
    # Share of users with a second "profile pictures" folder ("my files/Old Files/profile pictures", holding a
    # picture of theirs) made before "my files/profile pictures": User#profile_pics_folder takes the first
    # one anywhere, so avatars come from there, not from where a path preflight puts the upload.
    two_profile_folders_rate: float = 0.0
    users_can_edit_name: bool = True

    # -- errors and auth (docs/canvas.md §1.2, §2)
    api_auth_error_updates: bool = False  # permission errors answer 403 instead of 401
    # "Limited access for students" on (the root account's allow_limited_access_for_students feature and the
    # account setting): students' own file uploads are refused (docs/canvas-behaviours.md)
    limited_access_for_students: bool = False

    # -- throttle (docs/canvas.md §4)
    throttle: bool = True
    hwm: float = 600.0
    maximum: float = 800.0
    outflow: float = 10.0
    up_front_cost: float = 50.0
    # Canvas charges CPU + DB seconds; its own docs show ~0.03–0.04 per request (docs/canvas.md §4.2, §6), so 0.05.
    request_cost: float | Mapping[str, float] = 0.05  # or per route key ("GET /api/v1/users/:id"), plus "default"
    throttle_status: Literal[403, 429] = 403
    # The upload host's own throttle, per client address (off by default). In ``local`` mode it is Canvas's
    # RequestThrottle: ``/files_api`` carries no token, so the bucket is ``ip:<address>``
    # (app/middleware/request_throttle.rb#client_identifiers) and the answer its 403 "Rate Limit Exceeded"
    # (#rate_limit_exceeded). In ``instfs`` mode the answer is ``upload_throttle_status`` with Retry-After.
    upload_throttle: bool = False
    upload_hwm: float = 150.0  # with the 50 reserved per upload in flight: two at a time
    upload_throttle_status: Literal[429, 503] = 429

    # -- time zone of rendered user timestamps (docs/canvas.md §1.4: offsets, not always Z)
    utc_offset_minutes: int = -420

    def problems(self) -> list[str]:
        """Every problem with these values at once (an empty list when the config is usable)."""
        found = self.count_problems("users", "sub_account_users", "foreign_home_users")
        if self.upload_mode not in UPLOAD_MODES:
            found.append(f"upload_mode must be one of {', '.join(UPLOAD_MODES)}")
        if self.avatars_setting not in AVATARS_SETTINGS:
            found.append(f"avatars_setting must be one of {', '.join(AVATARS_SETTINGS)}")
        if self.throttle_status not in (403, 429):
            found.append("throttle_status must be 403 or 429")
        if self.upload_throttle_status not in (429, 503):
            found.append("upload_throttle_status must be 429 or 503")
        found += self.fractions_problems(
            "error_rate", "drop_rate", "unenrolled_rate", "missing_sis_rate", "two_profile_folders_rate"
        )
        found += self.negative_problems("latency_ms", "thumbnail_lag_s", "outflow", "up_front_cost", "default_quota")
        if self.maximum < self.hwm:
            found.append("maximum must be at least hwm")
        found += self.port_problems("port", "upload_port")
        return found

    def cost_for(self, route_key: str | None) -> float:
        """The deterministic request cost charged to the throttle bucket for one route (docs/canvas.md §4.4)."""
        if isinstance(self.request_cost, int | float):
            return float(self.request_cost)
        if route_key is not None and route_key in self.request_cost:
            return float(self.request_cost[route_key])
        return float(self.request_cost.get("default", 1.0))

    def with_settings(self, settings: Mapping[str, Any]) -> SandboxConfig:
        """A copy with a scenario's ``settings`` applied (unknown or structural keys are refused)."""
        allowed = {f.name for f in fields(self)} - {"scenario", "host", "port", "upload_port"}
        unknown = sorted(set(settings) - allowed)
        if unknown:
            raise ValueError(f"unknown scenario settings: {', '.join(unknown)}")
        return replace(self, **dict(settings))
