"""Canvas's id forms (docs/canvas.md §7) and the path rules that feed them.

``parse_id`` is a port of ``Api.sis_parse_id``: the whole id is stripped, ``hex:`` forms are hex-decoded, an
unknown ``sis_``/``lti_`` prefix matches nothing (404), plain digits (at most 19) are a Canvas id.
``split_format`` is the router's ``(.:format)`` rule: a trailing ``.json`` is eaten as the format, and a
``.json`` just before a ``/`` stops the id pattern, so no route matches (Canvas's ``ID_REGEX``).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

# Ruby's \w and \d are ASCII-only, hence re.ASCII.
_HEX_FORM = re.compile(r"hex:(lti_\w+|sis_\w+):((?:[0-9A-Fa-f]{2})+)", re.ASCII)
_SIS_FORM = re.compile(r"(lti_\w+|sis_\w+):(.+)", re.ASCII)
_DIGITS = re.compile(r"\d{1,19}", re.ASCII)
_UUID_FORM = re.compile(r"uuid:(.+)")

#: SIS_MAPPINGS["users"]: the prefixes a user id may carry, and the column each looks up
USER_COLUMNS = frozenset({"sis_user_id", "sis_login_id", "sis_integration_id", "lti_user_id", "lti_context_id"})


def parse_id(raw: str, columns: frozenset[str] = USER_COLUMNS) -> tuple[str, str] | None:
    """``(column, value)`` for an id in any docs/canvas.md §7 form, ``("id", digits)``, or None when it can match
    nothing."""
    text = raw.strip()
    hex_match = _HEX_FORM.fullmatch(text)
    if hex_match:
        column = hex_match.group(1)
        value = bytes.fromhex(hex_match.group(2)).decode("utf-8", errors="replace")
    elif sis_match := _SIS_FORM.fullmatch(text):
        column, value = sis_match.group(1), sis_match.group(2)
    elif _DIGITS.fullmatch(text):
        return "id", text
    elif uuid_match := _UUID_FORM.fullmatch(text):
        return "uuid", uuid_match.group(1)
    else:
        return None
    if column not in columns:
        return None  # sis_foo:... is not an error, it just finds nothing
    return column, value


def split_format(raw_path: str) -> tuple[str, bool] | None:
    """Strip a trailing ``.json`` (the format); None when a ``.json`` sits inside the path (no route)."""
    is_json = raw_path.endswith(".json")
    path = raw_path[: -len(".json")] if is_json else raw_path
    if any(segment.endswith(".json") for segment in path.split("/")):
        return None  # ID_REGEX refuses ".json" followed by "/" inside a segment, so no route matches
    return path, is_json


def decode_segment(raw: str) -> str:
    """Percent-decode one path segment; ``+`` stays ``+`` because paths are not form-decoded (docs/canvas.md §7)."""
    return unquote(raw, encoding="utf-8", errors="replace")
