"""``Sandbox``: one emulated Canvas (API host + separate upload host) on loopback, started and stopped as a unit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from profilesync_sandbox.canvas import accounts, enrollments, features, observees, observers, pages, uploads, users
from profilesync_sandbox.canvas.app import CanvasApp
from profilesync_sandbox.canvas.config import SandboxConfig
from profilesync_sandbox.canvas.records import ALL_PERMISSIONS
from profilesync_sandbox.canvas.scenario import ADMIN_USER_ID, HELPDESK_USER_ID, build_population, load_scenario
from profilesync_sandbox.canvas.state import SandboxState
from profilesync_sandbox.canvas.throttle import Throttle, refused, throttling
from profilesync_sandbox.emulator import Emulator


class Sandbox(Emulator):
    """A running Canvas emulator.

    >>> with Sandbox(SandboxConfig(users=300)) as sb:      # doctest: +SKIP
    ...     requests.get(f"{sb.base_url}/api/v1/users/self", headers={"Authorization": f"Bearer {sb.admin_token}"})
    """

    def __init__(self, config: SandboxConfig | None = None, **overrides: Any) -> None:
        config = replace(config or SandboxConfig(), **overrides)
        scenario = load_scenario(config.scenario) if config.scenario is not None else None
        if scenario is not None and scenario.get("settings"):
            config = config.with_settings(scenario["settings"])
        super().__init__(config, what="sandbox")
        self.config = config
        population = build_population(config, scenario)
        self.state = SandboxState(config, population, self.request_log)
        self.throttle = Throttle(config)
        by_user = {user_id: token for token, user_id in population.tokens.items()}
        self.admin_token = by_user[ADMIN_USER_ID]
        self.no_masquerade_token = by_user[HELPDESK_USER_ID]  # every admin right except "Become other users"
        self.sub_account_id: int | None = None
        self.sub_account_token: str | None = None  # the admin of a sub-account (config.sub_account_users)
        if config.sub_account_users:
            self.sub_account_id = accounts.add_sub_account(self.state)
            members = [u.id for u in population.users if u.listed][: config.sub_account_users]
            accounts.move_users(self.state, members, self.sub_account_id)
            self.sub_account_token = accounts.add_sub_account_admin(self.state, self.sub_account_id)
        routes = (
            accounts.ROUTES
            + users.ROUTES
            + uploads.ROUTES
            + observers.ROUTES
            + observees.ROUTES
            + enrollments.ROUTES
            + pages.ROUTES
            + features.ROUTES
        )
        canvas = CanvasApp(self.state, routes)
        self._canvas = self.serve(
            canvas,
            config.port,
            throttling(
                self.throttle, canvas.token, config.cost_for, lambda left: refused(config.throttle_status, left)
            ),
        )
        upload_app = uploads.UploadApp(self.state)
        upload_throttling = None
        if config.upload_throttle:
            # The upload host's bucket has its own high-water mark (Canvas's own numbers otherwise).
            upload_limits = replace(
                config, throttle=True, hwm=config.upload_hwm, maximum=max(config.maximum, config.upload_hwm)
            )
            upload_throttling = throttling(
                Throttle(upload_limits), upload_app.token, config.cost_for, upload_app.refusal
            )
        self._upload = self.serve(upload_app, config.upload_port, upload_throttling)

    def started(self) -> None:
        with self.state.lock:
            self.state.canvas_base_url = self._canvas.base_url
            self.state.upload_base_url = self._upload.base_url
        self.state.seed_avatars()

    @property
    def base_url(self) -> str:
        """The Canvas host, e.g. ``http://127.0.0.1:54321``."""
        return self._canvas.base_url

    @property
    def upload_base_url(self) -> str:
        """The separate upload host (another port): the token must never go there."""
        return self._upload.base_url

    @property
    def alias_base_url(self) -> str:
        """Another spelling of the Canvas host's address (``localhost`` for ``127.0.0.1``, upper case otherwise):
        the same Canvas, as an admin may type it."""
        host = "localhost" if "://127.0.0.1:" in self.base_url else None
        if host is None:
            return self.base_url.upper()
        return self.base_url.replace("127.0.0.1", host)

    def read_less_token(self) -> str:
        """A fresh token of an admin with every right except reading users ('Users - view list' and
        'Users - manage login details'): Canvas answers 404 to its user lookups."""
        return self.state.add_admin(ALL_PERMISSIONS - {"read_roster", "manage_user_logins"}, name="Read-less Admin")

    def token_for(self, user_id: int) -> str:
        """A fresh API token that authenticates as ``user_id`` (e.g. a student's own token)."""
        return self.state.add_token(user_id)

    def env_snippet(self) -> str:
        """Lines for a ``.env`` file that point profilesync at this sandbox."""
        return f"CANVAS_BASE_URL={self.base_url}\nCANVAS_API_TOKEN={self.admin_token}\n"
