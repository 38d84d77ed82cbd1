"""Scenario 6: the users listing alone, numbered pages and ``sort=id`` bookmarks, through the client's paginator."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from profilesync.domain import Secret
from profilesync.targets.canvas.client import connect
from profilesync.targets.canvas.listing import listing_params
from profilesync_sandbox import Sandbox, SandboxConfig

from .harness import Measure, counts


def listing_both_ways(args: argparse.Namespace, _workdir: Path) -> list[Measure]:
    """Scenario 6: the account listing alone at --steady-users, numbered pages and then sort=id bookmarks.

    Both go through the client's own paginator (prefetching the next page, stopping on a short or empty page),
    in this process; only the query differs. The floor is each way's own requests × latency.
    """
    config = SandboxConfig(users=args.steady_users, latency_ms=args.latency_ms, seed=4)
    measures = []
    with Sandbox(config) as sandbox:
        bookmarked = listing_params("sis_user_id")
        numbered = [p for p in bookmarked if p[0] != "sort"]
        for label, params in (
            ("6a. listing, numbered pages", numbered),
            ("6b. listing, sort=id bookmarks", bookmarked),
        ):
            api = connect(sandbox.base_url, Secret(sandbox.admin_token))
            sandbox.state.reset_counts()
            started = time.monotonic()
            pages = api.paginate("/api/v1/accounts/self/users", what="listing the account's users", params=params)
            listed = sum(len(page) for page in pages)
            wall = time.monotonic() - started
            requests_made, _, throttled = counts(sandbox)
            measure = Measure(label, listed, 0, requests_made, 0, throttled, 0, wall,
                              requests_made * args.latency_ms / 1000)  # fmt: skip
            measure.notes.append(f"{listed} users listed in {requests_made} requests")
            measures.append(measure)
            api.session.close()
    return measures
