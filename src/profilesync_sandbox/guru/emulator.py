"""``GuruSandbox``: the emulated Guru API on loopback, started and stopped as a unit."""

from __future__ import annotations

from dataclasses import replace
from types import TracebackType
from typing import Any

from profilesync_sandbox.canvas.config import SandboxConfig
from profilesync_sandbox.faults import Faults
from profilesync_sandbox.guru.app import GuruApp
from profilesync_sandbox.guru.config import GuruSandboxConfig
from profilesync_sandbox.guru.state import GuruState, derived_secret
from profilesync_sandbox.server import EmulatorServer, Pipeline


class GuruSandbox:
    """A running Guru emulator.

    >>> with GuruSandbox(GuruSandboxConfig(members=40)) as guru:      # doctest: +SKIP
    ...     requests.get(f"{guru.base_url}/api/v1/members", auth=(guru.user, guru.token))
    """

    def __init__(self, config: GuruSandboxConfig | None = None, **overrides: Any) -> None:
        config = config or GuruSandboxConfig()
        if overrides:
            config = replace(config, **overrides)
        problems = config.problems()
        if problems:
            raise ValueError("invalid Guru sandbox config: " + "; ".join(problems))
        self.config = config
        self.user = config.user
        self.token = config.token or derived_secret(config.seed, "user-token")
        self.collection_id = derived_secret(config.seed, "collection-id")[:32]
        self.collection_token = derived_secret(config.seed, "collection-token")
        self.state = GuruState(config)
        # The Canvas sandbox's fault machinery, driven by the Guru knobs (scripted rules use host="guru").
        self.faults = Faults(
            SandboxConfig(
                error_rate=config.error_rate,
                drop_rate=config.drop_rate,
                drop_after=config.drop_after,
                fault_seed=config.fault_seed,
            )
        )
        app = GuruApp(
            self.state,
            user=self.user,
            token=self.token,
            collection_id=self.collection_id,
            collection_token=self.collection_token,
        )
        pipeline = Pipeline(
            app,
            faults=self.faults,
            throttle=None,
            latency_ms=config.latency_ms,
            cost=lambda _route: 0.0,
            record=self.state.record_request,
        )
        self._server = EmulatorServer(pipeline, config.host, config.port)
        self._running = False

    def start(self) -> GuruSandbox:
        """Bind the port and serve on a background thread."""
        if self._running:
            return self
        self._server.start()
        with self.state.lock:
            self.state.base_url = self._server.base_url
        self._running = True
        self.state.seed_pictures()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        if not self._running:
            return
        self._server.stop()
        self._running = False

    def __enter__(self) -> GuruSandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

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
