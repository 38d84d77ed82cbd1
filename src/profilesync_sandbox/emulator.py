"""``Emulator``: the shell both emulated APIs share — validated knobs, faults, a request log, and hosts on
loopback started and stopped as a unit (``with Sandbox(...) as sb:``, ``with GuruSandbox(...) as guru:``)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from profilesync_sandbox.config import EmulatorConfig
from profilesync_sandbox.faults import Faults
from profilesync_sandbox.requestlog import RequestLog
from profilesync_sandbox.server import App, EmulatorServer, Pipeline, Throttling


class Emulator:
    """Hosts added with ``serve`` start in order (a later one failing to bind stops the earlier) and stop in
    reverse; ``started`` runs once they all listen."""

    def __init__(self, config: EmulatorConfig, *, what: str) -> None:
        problems = config.problems()
        if problems:
            raise ValueError(f"invalid {what} config: " + "; ".join(problems))
        self.faults = Faults(config)
        self.request_log = RequestLog()
        self._config = config
        self._servers: list[EmulatorServer] = []
        self._running = False

    def serve(self, app: App, port: int, throttling: Throttling | None = None) -> EmulatorServer:
        """A host for ``app`` on ``port`` behind the shared pipeline (latency, faults, the request log)."""
        pipeline = Pipeline(
            app,
            faults=self.faults,
            latency_ms=self._config.latency_ms,
            record=self.request_log.record,
            throttling=throttling,
        )
        server = EmulatorServer(pipeline, self._config.host, port)
        self._servers.append(server)
        return server

    def started(self) -> None:
        """Runs once every host listens (base URLs are known)."""

    def start(self) -> Self:
        """Bind every host and serve them on background threads."""
        if self._running:
            return self
        for index, server in enumerate(self._servers):
            try:
                server.start()
            except OSError:
                for earlier in reversed(self._servers[:index]):
                    earlier.stop()
                raise
        self._running = True
        self.started()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        if not self._running:
            return
        for server in reversed(self._servers):
            server.stop()
        self._running = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
