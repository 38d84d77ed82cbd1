"""Scenario 4: the seed's sequential per-user algorithm on the same sandbox (a sample, scaled linearly)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from profilesync_sandbox import Sandbox, SandboxConfig

from .harness import Measure, counts, keys_of, write_photos


def baseline(args: argparse.Namespace, workdir: Path) -> list[Measure]:
    """Scenario 4: the seed's sequential algorithm, on a sample, scaled linearly.

    Per user every night: one lookup (GET /users/:id). Per upload: folders, quota, preflight (as the
    user), the upload, confirm, avatar options, PUT. Strictly one request at a time.
    """
    results = []
    for label, users, new in (("4a. seed: steady state", args.steady_users, False),
                              ("4b. seed: first sync", args.first_users, True)):  # fmt: skip
        config = SandboxConfig(users=users, latency_ms=args.latency_ms, upload_mode="local", seed=3)
        with Sandbox(config) as sandbox:
            people = keys_of(sandbox)
            sample = people[: max(1, int(len(people) * args.baseline_sample))]
            photos = write_photos(workdir / f"seed-{new}", [k for _, k in sample])
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {sandbox.admin_token}"
            sandbox.state.reset_counts()
            started = time.monotonic()
            list(_seed_listing(session, sandbox.base_url))
            listing_wall = time.monotonic() - started
            listing_api = len(sandbox.state.requests("canvas"))
            sandbox.state.reset_counts()
            started = time.monotonic()
            for user_id, key in sample:
                session.get(f"{sandbox.base_url}/api/v1/users/{user_id}")
                if new:
                    _seed_upload(session, sandbox, user_id, photos[key])
            per_user_wall = (time.monotonic() - started) / len(sample)
            api, uploads, throttled = counts(sandbox)
            scale = len(people) / len(sample)
        measure = Measure(label, len(people), len(people) if new else 0, listing_api + round(api * scale),
                          round(uploads * scale), round(throttled * scale), 0,
                          listing_wall + per_user_wall * len(people), 0.0)  # fmt: skip
        measure.notes.append(f"measured on {len(sample)} users ({args.baseline_sample:.0%}), scaled linearly")
        results.append(measure)
    return results


def _seed_listing(session: requests.Session, base_url: str) -> Iterable[dict[str, Any]]:
    url: str | None = f"{base_url}/api/v1/accounts/self/users?per_page=100"
    while url:
        response = session.get(url)
        page = response.json()
        if not page:
            return
        yield from page
        url = response.links.get("next", {}).get("url")


def _seed_upload(session: requests.Session, sandbox: Sandbox, user_id: int, data: bytes) -> None:
    base = sandbox.base_url
    session.get(f"{base}/api/v1/users/{user_id}/folders")
    session.get(f"{base}/api/v1/users/{user_id}/files/quota")
    pre = session.post(
        f"{base}/api/v1/users/self/files?as_user_id={user_id}",
        data={"name": f"{user_id}.jpg", "size": len(data), "content_type": "image/jpeg",
              "parent_folder_path": "profile pictures"},
    ).json()  # fmt: skip
    upload = requests.post(pre["upload_url"], data=pre["upload_params"],
                           files={pre["file_param"]: ("p.jpg", data, "image/jpeg")}, allow_redirects=False)  # fmt: skip
    confirmed = session.post(upload.headers["Location"]).json()
    options = session.get(f"{base}/api/v1/users/{user_id}/avatars").json()
    token = next(o["token"] for o in options if o.get("id") == confirmed["id"])
    session.put(f"{base}/api/v1/users/{quote(str(user_id))}", data={"user[avatar][token]": token})
