"""The emulated Canvas host: routing, authentication, masquerading and response rendering.

Handlers live in ``users``, ``uploads`` and ``observers``; each exposes a list of ``Route``s. This
module turns a request into a ``Ctx`` (who is calling, as whom, with which rights) the way
``AuthenticationMethods#load_user`` does (docs/canvas.md §1.1, §1.2), and renders answers with the §1.4 rules.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from profilesync_sandbox.canvas import errors, refusals
from profilesync_sandbox.canvas.config import SandboxConfig
from profilesync_sandbox.canvas.data import SandboxData
from profilesync_sandbox.canvas.errors import ApiError
from profilesync_sandbox.canvas.lookup import decode_segment, split_format
from profilesync_sandbox.canvas.records import DOMAIN_ROOT_ACCOUNT_ID, UserRecord
from profilesync_sandbox.routing import Route, RouteMatch, Routes
from profilesync_sandbox.wire import Params, Request, Response, encode_json, json_response, text_response

log = logging.getLogger("profilesync_sandbox")

_API_PATH = re.compile(r"^/api/")  # docs/canvas.md §1.1: only /api/ paths are API requests and get JSON errors
_ACCEPTS_JSON = re.compile(r"application/json")


@dataclass
class Ctx:
    """One request on the Canvas host, after authentication."""

    state: SandboxData
    request: Request
    params: Params
    base: str  # the scheme+host the client used; Canvas builds absolute URLs from it
    json_format: bool  # the URL ended in .json
    token: str | None
    real_user: UserRecord | None  # the token's owner
    user: UserRecord | None  # whom the request runs as (the masqueraded user, if any)
    #: the account whose rights apply: the domain root account unless a handler works on another account
    scope_account_id: int = DOMAIN_ROOT_ACCOUNT_ID

    @property
    def config(self) -> SandboxConfig:
        return self.state.config

    @property
    def masquerading(self) -> bool:
        return self.user is not None and self.real_user is not None and self.user.id != self.real_user.id

    @property
    def perms(self) -> frozenset[str]:
        """The caller's account-admin rights in ``scope_account_id`` (a masqueraded student has none).

        An admin role applies to its account and the accounts below it (``Account#account_users_for`` walks
        the account chain upward): a sub-account admin has no rights on the root account.
        """
        if self.user is None or not self.user.admin_permissions:
            return frozenset()
        account = self.state.accounts.get(self.scope_account_id)
        while account is not None:
            if account.id == self.user.admin_account_id:
                return self.user.admin_permissions
            account = self.state.accounts.get(account.parent_id) if account.parent_id is not None else None
        return frozenset()

    def can(self, permission: str) -> bool:
        return permission in self.perms

    def me(self) -> UserRecord:
        if self.user is None:
            raise errors.unauthenticated()
        return self.user

    def unauthorized(self) -> ApiError:
        return errors.unauthorized(self.config.api_auth_error_updates)

    def find_user(self, raw_id: str) -> UserRecord:
        user = self.state.find_user(raw_id, self.user)
        if user is None:
            raise errors.not_found()
        return user

    def is_admin_over(self, target: UserRecord, permission: str) -> bool:
        """An account right that also needs a superset of the target's own admin rights (docs/canvas.md §10, §11.1)."""
        return self.can(permission) and target.admin_permissions <= self.perms


Handler = Callable[[Ctx, dict[str, str]], Response]


class CanvasApp:
    """The Canvas host (``host_name = "canvas"``)."""

    host_name = "canvas"

    def __init__(self, state: SandboxData, routes: Iterable[Route[Handler]]) -> None:
        self.state = state
        # Rails answers HEAD with the GET route; path arguments arrive percent-decoded
        self._routes = Routes(routes, head_as_get=True, decode=decode_segment)

    # -- App protocol

    def match(self, request: Request) -> RouteMatch | None:
        split = split_format(request.raw_path)
        return self._routes.match(request.method, split[0]) if split is not None else None

    def token(self, request: Request) -> str | None:
        """docs/canvas.md §1.1: ``Authorization: Bearer <token>`` (exactly ``Bearer``), else the ``access_token``
        param."""
        header = request.header("authorization")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme == "Bearer" and value.strip():
                return value.strip()
        return request.params.get("access_token") or None

    def handle(self, request: Request, match: RouteMatch | None) -> Response:
        is_api = bool(_API_PATH.match(request.raw_path))
        try:
            if request.body_error:
                raise errors.bad_request(request.body_error)
            if match is None:
                if is_api:
                    raise errors.not_found()
                return text_response(404, "<html><body>Page Not Found</body></html>", "text/html; charset=utf-8")
            with self.state.lock:
                ctx = self._authenticate(request, is_api)
                if match.needs_user and ctx.user is None:
                    raise errors.unauthenticated()
                response = match.handler(ctx, match.args)
        except ApiError as exc:
            response = exc.response
        except Exception:
            log.exception("sandbox handler failed: %s %s", request.method, request.raw_path)
            with self.state.lock:
                report = self.state.next_error_report_id()
            response = json_response(500, errors.internal_error_body(report))
        return self.render(request, response)

    def fault_response(self, request: Request, status: int, body: Any) -> Response:
        """An injected failure: Canvas's error JSON unless the test supplied a body."""
        if body is None:
            with self.state.lock:
                report = self.state.next_error_report_id()
            return self.render(request, json_response(status, errors.internal_error_body(report)))
        if isinstance(body, dict | list):
            return self.render(request, json_response(status, body))
        raw = body.encode() if isinstance(body, str) else bytes(body)
        return Response(status, raw, "text/plain; charset=utf-8")

    # -- internals

    def _authenticate(self, request: Request, is_api: bool) -> Ctx:
        split = split_format(request.raw_path)
        params = request.params
        ctx = Ctx(
            state=self.state,
            request=request,
            params=params,
            base=request.base_url(self.state.canvas_base_url),
            json_format=bool(split and split[1]),
            token=None,
            real_user=None,
            user=None,
        )
        token = self.token(request)
        if token is None:
            return ctx
        user_id = self.state.tokens.get(token)
        user = self.state.user_records.get(user_id) if user_id is not None else None
        if user is None or user.workflow_state == "deleted":
            raise errors.invalid_token()
        ctx.token, ctx.real_user, ctx.user = token, user, user
        as_user_id = params.get("as_user_id")
        if is_api and as_user_id:
            ctx.user = self._masquerade(ctx, user, as_user_id)
        return ctx

    def _masquerade(self, ctx: Ctx, real: UserRecord, as_user_id: str) -> UserRecord:
        """``AuthenticationMethods#load_user``: the target must exist and ``User#can_masquerade?`` must say yes."""
        target = self.state.find_user(as_user_id, real)
        if target is None:
            raise errors.invalid_as_user_id()
        if not refusals.can_masquerade(real, target):
            # always this body and 401, whatever api_auth_error_updates says: the ordinary unauthorized body
            # means Canvas acted as the user and refused them (limited access), a different thing
            raise errors.invalid_as_user_id(refusals.merged_into_for(real, target))
        return target

    def render(self, request: Request, response: Response) -> Response:
        """Encode JSON with the docs/canvas.md §1.4 quirks: ``while(1);`` for token-less GETs, text/html for multipart
        posts."""
        if not response.is_json:
            return response
        body = encode_json(response.payload)
        split = split_format(request.raw_path)
        json_format = bool(split and split[1])
        has_token = self.token(request) is not None
        if request.method == "GET" and not has_token and not _ACCEPTS_JSON.search(request.header("accept") or ""):
            body = b"while(1);" + body
        content_type = "application/json; charset=utf-8"
        if request.multipart and not json_format:
            content_type = "text/html; charset=utf-8"  # json_as_text?: an old IE workaround, still there
        return Response(response.status, body, content_type, response.headers, close=response.close)
