"""How Canvas names a user in a URL: its id, or a SIS field with its prefix (canvas-lms doc/api/object_ids.md)."""

from __future__ import annotations

from urllib.parse import quote

# The lookup prefix for /users/:id per match mode (canvas-lms doc/api/object_ids.md).
LOOKUP_PREFIX = {"sis_user_id": "sis_user_id:", "login_id": "sis_login_id:", "integration_id": "sis_integration_id:"}


def user_id_path(match: str, key: str) -> str | None:
    """The ``/users/:id`` form for a key (canvas-lms doc/api/object_ids.md), or None when the match field has no
    direct lookup (email)."""
    if match == "id":
        return key if key.isdigit() else None
    prefix = LOOKUP_PREFIX.get(match)
    if prefix is None:
        return None
    if key.strip().lower().endswith(".json"):
        # Canvas eats a trailing ".json" as the format, and requests turns %2E back into "." — the
        # deprecated-but-supported hex form sidesteps both (doc/api/object_ids.md: "will continue to be handled").
        return f"hex:{prefix}{key.encode('utf-8').hex()}"
    return prefix + quote(key, safe="")
