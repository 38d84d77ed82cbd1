"""``GuruSandbox``: the emulated Guru API on loopback, started and stopped as a unit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from profilesync_sandbox.emulator import Emulator
from profilesync_sandbox.guru.app import GuruApp
from profilesync_sandbox.guru.config import GuruSandboxConfig
from profilesync_sandbox.guru.data import derived_secret
from profilesync_sandbox.guru.state import GuruState


class GuruSandbox(Emulator):
    """A running Guru emulator.

    >>> with GuruSandbox(GuruSandboxConfig(members=40)) as guru:      # doctest: +SKIP
    ...     requests.get(f"{guru.base_url}/api/v1/members", auth=(guru.user, guru.token))
    """

    def __init__(self, config: GuruSandboxConfig | None = None, **overrides: Any) -> None:
        config = replace(config or GuruSandboxConfig(), **overrides)
        super().__init__(config, what="Guru sandbox")
        self.config = config
        self.user = config.user
        self.token = config.token or derived_secret(config.seed, "user-token")
        self.collection_id = derived_secret(config.seed, "collection-id")[:32]
        self.collection_token = derived_secret(config.seed, "collection-token")
        self.state = GuruState(config, self.request_log)
        app = GuruApp(
            self.state,
            user=self.user,
            token=self.token,
            collection_id=self.collection_id,
            collection_token=self.collection_token,
        )
        self._server = self.serve(app, config.port)  # no throttle: Guru's rate limit is the app's own 429

    def started(self) -> None:
        with self.state.lock:
            self.state.base_url = self._server.base_url
        self.state.seed_pictures()

    @property
    def base_url(self) -> str:
        """The API host, e.g. ``http://127.0.0.1:54321`` (what GURU_BASE_URL names)."""
        return self._server.base_url

    def env_snippet(self) -> str:
        """Lines for a ``.env`` file that point profilesync at this sandbox."""
        return (
            f"GURU_BASE_URL={self.base_url}\nGURU_USER={self.user}\nGURU_API_TOKEN={self.token}\n"
            "# Guru's own photo folder, photos named <email>.jpg (unset: PROFILESYNC_PHOTOS_DIR)\n"
            "#GURU_PHOTOS_DIR=./guru-photos\n"
        )
