"""Feature flags as the API lists them: ``GET /api/v1/accounts/:account_id/features/enabled``.

``FeatureFlagsController#enabled_features`` (app/controllers/feature_flags_controller.rb) answers, to a caller who
may read the account, the names of the features on for it. The sandbox has one feature that matters:
``allow_limited_access_for_students``, on with its ``limited_access_for_students`` setting.
"""

from __future__ import annotations

from profilesync_sandbox.canvas.app import Ctx
from profilesync_sandbox.canvas.users import resolve_account
from profilesync_sandbox.routing import Route
from profilesync_sandbox.wire import Response, json_response

LIMITED_ACCESS_FEATURE = "allow_limited_access_for_students"


def enabled_features(ctx: Ctx, args: dict[str, str]) -> Response:
    """GET /api/v1/accounts/:account_id/features/enabled: feature names, for an admin of the account."""
    resolve_account(ctx, args["account_id"])
    if not ctx.perms:
        raise ctx.unauthorized()  # authorized_action(@context, @current_user, :read)
    return json_response(200, [LIMITED_ACCESS_FEATURE] if ctx.config.limited_access_for_students else [])


ROUTES = [Route("GET", "/api/v1/accounts/:account_id/features/enabled", enabled_features)]
