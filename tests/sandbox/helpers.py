"""Helpers for the sandbox tests: sessions, Pillow-made images and the three-step upload done by hand."""

from __future__ import annotations

import io
from typing import Any

import requests
from PIL import Image

from profilesync_sandbox import Sandbox, UserView


def api(sb: Sandbox, token: str | None = None, *, accept_json: bool = True) -> requests.Session:
    """A session that authenticates with ``token`` (the admin's by default) as a careful client would."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token or sb.admin_token}"
    if accept_json:
        session.headers["Accept"] = "application/json"
    return session


def jpeg(colour: tuple[int, int, int] = (200, 40, 40), size: int = 64) -> bytes:
    """A small real JPEG."""
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, "JPEG")
    return out.getvalue()


def student(sb: Sandbox, index: int = 0) -> UserView:
    """The index-th generated user with an SIS id."""
    return [u for u in sb.state.users() if u.sis_user_id][index]


def preflight(
    sb: Sandbox,
    session: requests.Session,
    user_id: int,
    *,
    name: str = "photo.jpg",
    size: int | None = None,
    content_type: str = "image/jpeg",
    folder: str = "profile pictures",
    on_duplicate: str = "overwrite",
) -> requests.Response:
    """Step 1, masquerading as the user (the only way an admin may upload, docs/canvas.md §12.1)."""
    data: dict[str, Any] = {
        "name": name,
        "content_type": content_type,
        "parent_folder_path": folder,
        "on_duplicate": on_duplicate,
    }
    if size is not None:
        data["size"] = size
    return session.post(f"{sb.base_url}/api/v1/users/self/files", params={"as_user_id": user_id}, data=data)


def send_bytes(
    grant: dict[str, Any], data: bytes, *, name: str = "photo.jpg", headers: dict[str, str] | None = None
) -> requests.Response:
    """Step 2: every upload_param, the file last, no token, no redirects."""
    files = {grant["file_param"]: (name, data, grant["upload_params"].get("content_type", "image/jpeg"))}
    return requests.post(
        grant["upload_url"], data=grant["upload_params"], files=files, headers=headers or {}, allow_redirects=False
    )


def upload(sb: Sandbox, session: requests.Session, user_id: int, data: bytes, **options: Any) -> dict[str, Any]:
    """All three steps; the confirmed file JSON."""
    name = options.get("name", "photo.jpg")
    grant = preflight(sb, session, user_id, size=len(data), **options)
    assert grant.status_code == 200, grant.text
    sent = send_bytes(grant.json(), data, name=name)
    if sent.status_code == 201:
        body: dict[str, Any] = sent.json()
        return body if "id" in body else session.get(body["location"]).json()
    assert sent.status_code == 302, sent.text
    confirmed = session.post(sent.headers["Location"])
    assert confirmed.status_code == 200, confirmed.text
    result: dict[str, Any] = confirmed.json()
    return result


def options(sb: Sandbox, session: requests.Session, user_id: int) -> list[dict[str, Any]]:
    response = session.get(f"{sb.base_url}/api/v1/users/{user_id}/avatars")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def token_of(opts: list[dict[str, Any]], file_id: int) -> str | None:
    """The avatar token of one uploaded file, None when it is not (yet) an option."""
    return next((o["token"] for o in opts if o["type"] == "attachment" and o["id"] == file_id), None)


def set_avatar(sb: Sandbox, session: requests.Session, user_id: int, token: str) -> requests.Response:
    return session.put(f"{sb.base_url}/api/v1/users/{user_id}", data={"user[avatar][token]": token})
