"""Canvas's error answers, byte for byte where docs/canvas.md §2 knows them.

Handlers raise ``ApiError(response)``; the Canvas app renders it like any other response.
"""

from __future__ import annotations

from typing import Any

from profilesync_sandbox.wire import Response, empty_response, json_response

WWW_AUTHENTICATE = ("WWW-Authenticate", 'Bearer realm="canvas-lms"')
NOT_FOUND_MESSAGE = "The specified resource does not exist."


class ApiError(Exception):
    """Stop the handler and answer ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def invalid_token() -> ApiError:
    """docs/canvas.md §2: a token was sent but is unknown."""
    return ApiError(json_response(401, {"errors": [{"message": "Invalid access token."}]}, [WWW_AUTHENTICATE]))


def unauthenticated() -> ApiError:
    """docs/canvas.md §2 ``require_user``: no user at all."""
    body = {"status": "unauthenticated", "errors": [{"message": "user authorization required"}]}
    return ApiError(json_response(401, body, [WWW_AUTHENTICATE]))


def unauthorized(auth_error_updates: bool) -> ApiError:
    """docs/canvas.md §2 ``render_unauthorized_action``: 401, or 403 behind the ``api_auth_error_updates`` flag."""
    body = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}
    return ApiError(json_response(403 if auth_error_updates else 401, body))


def not_found() -> ApiError:
    return ApiError(json_response(404, {"errors": [{"message": NOT_FOUND_MESSAGE}]}))


def bad_request(message: str, status: int = 400) -> ApiError:
    """``RequestError`` / ``params.require``: ``{"errors":[{"message":...}]}``."""
    return ApiError(json_response(status, {"errors": [{"message": message}]}))


def message_error(status: int, message: str) -> ApiError:
    """The files API's top-level ``{"message": ...}`` bodies (docs/canvas.md §12.2, §12.4)."""
    return ApiError(json_response(status, {"message": message}))


def validation_error(status: int, errors: dict[str, Any]) -> ApiError:
    return ApiError(json_response(status, {"errors": errors}))


def invalid_as_user_id(merged_into_user_id: int | None = None) -> ApiError:
    """``AuthenticationMethods#load_user``: always 401, ``errors`` a string, plus whom a merged user went into."""
    body: dict[str, Any] = {"errors": "Invalid as_user_id"}
    if merged_into_user_id is not None:
        body["merged_into_user_id"] = merged_into_user_id
    return ApiError(json_response(401, body))


def empty(status: int) -> ApiError:
    return ApiError(empty_response(status))


def internal_error_body(report_id: int) -> dict[str, Any]:
    return {
        "errors": [{"message": "An error occurred.", "error_code": "internal_server_error"}],
        "error_report_id": report_id,
    }
