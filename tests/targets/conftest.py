"""One harness per ``AvatarTarget`` implementation: the real adapter against its own sandbox over loopback.

A harness knows how to make the emulated users do what real users do (pick their own avatar) and how to make
the vendor lose our file, so the contract tests can be written once for every target.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pytest

from profilesync.domain import Secret
from profilesync.engine.model import RemoteUser, Uploaded
from profilesync.engine.ports import AvatarTarget
from profilesync.http import Retry
from profilesync.photos import normalise
from profilesync.targets.canvas.build import avatar_target
from profilesync.targets.canvas.target import CanvasTarget
from profilesync.targets.guru import GuruTarget, build_target
from profilesync_sandbox import Sandbox, SandboxConfig
from profilesync_sandbox.guru import GuruSandbox, GuruSandboxConfig
from profilesync_sandbox.samples import make_portrait

FAST_RETRY = Retry(attempts=2, base_delay_s=0.0, max_delay_s=0.0)


class Harness(Protocol):
    name: str  # the target_id prefix
    base_url: str
    target: AvatarTarget

    @property
    def instance(self) -> str:
        """What names the instance after the prefix: Canvas's root-account uuid, Guru's API URL."""
        ...

    def keys(self) -> list[str]:
        """Keys of active users the target lists (as the target folds them)."""
        ...

    def user_picks_own_avatar(self, user: RemoteUser) -> None: ...

    def vendor_loses(self, uploaded: Uploaded) -> None:
        """The uploaded picture/file stops existing on the target."""
        ...

    def uploads(self) -> int:
        """How many image uploads the emulator received so far."""
        ...


def image(key: str, variant: int = 0) -> bytes:
    """An upload-ready JPEG, as the executor would hand it to a target."""
    return normalise(make_portrait(key, variant=variant, size=160), size=128)


@dataclass
class CanvasHarness:
    sandbox: Sandbox
    target: CanvasTarget
    name: str = "canvas"

    @property
    def base_url(self) -> str:
        return self.sandbox.base_url

    @property
    def instance(self) -> str:
        return "root:" + self.sandbox.state.accounts[1].uuid

    def keys(self) -> list[str]:
        return sorted(u.sis_user_id for u in self.sandbox.state.users() if u.sis_user_id)

    def user_picks_own_avatar(self, user: RemoteUser) -> None:
        self.sandbox.state.user_sets_own_avatar(int(user.user_id), make_portrait("their cat", size=96))

    def vendor_loses(self, uploaded: Uploaded) -> None:
        assert uploaded.file_id is not None
        self.sandbox.state.delete_file(int(uploaded.file_id))

    def uploads(self) -> int:
        return len(self.sandbox.state.requests("upload"))


@dataclass
class GuruHarness:
    sandbox: GuruSandbox
    target: GuruTarget
    name: str = "guru"

    @property
    def base_url(self) -> str:
        return self.sandbox.base_url

    @property
    def instance(self) -> str:
        return self.sandbox.base_url

    def keys(self) -> list[str]:
        return sorted(m.email.casefold() for m in self.sandbox.state.members() if m.active)

    def user_picks_own_avatar(self, user: RemoteUser) -> None:
        self.sandbox.state.member_sets_own_picture(user.user_id, make_portrait("their cat", size=96))

    def vendor_loses(self, uploaded: Uploaded) -> None:
        assert uploaded.file_id is not None
        self.sandbox.state.delete_picture(uploaded.file_id)

    def uploads(self) -> int:
        return self.sandbox.state.counts()["POST /app/picture"]


@pytest.fixture(params=["canvas", "guru"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Each target with a fresh sandbox of a dozen users."""
    if request.param == "canvas":
        with Sandbox(SandboxConfig(users=12, missing_sis_rate=0.0)) as sb:
            target = avatar_target(sb.base_url, Secret(sb.admin_token), retry=FAST_RETRY, sleep=lambda _s: None)
            yield CanvasHarness(sb, target)
            assert sb.state.upload_auth_headers_seen == []
    else:
        with GuruSandbox(GuruSandboxConfig(members=12, page_size=5, inactive_rate=0.2)) as guru:
            target = build_target(guru.base_url, guru.user, Secret(guru.token), retry=FAST_RETRY)
            yield GuruHarness(guru, target)
            assert guru.state.put_problems == []
            assert guru.state.picture_auth_headers_seen == []
