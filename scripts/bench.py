"""Benchmark profilesync against the sandbox with injected latency and Canvas's throttle.

    python3 scripts/bench.py                     # the full run (about 40 minutes); writes docs/benchmarks.md
    python3 scripts/bench.py --quick             # small sizes, a smoke test of the script itself
    python3 scripts/bench.py --only large,startup  # some scenarios (by name, below); prints, writes nothing

The sandbox runs in this process; profilesync runs as a real subprocess (a fresh interpreter per command), so
the two do not share a GIL and the client's peak memory is its own. Requests are counted by the sandbox, which
is what Canvas would charge for. The code is the package ``scripts/benchmark/`` (one module per scenario family,
``report`` renders the tables and the targets). Scenarios, by --only name:

  steady     1. steady state at --steady-users (20,000): every avatar synced, fingerprint cache warm;
             3. then one changed photo
  large      1b. steady state at --large-users (100,000): requests, wall against pages × latency, peak memory;
             7a. a whole plan with that many history records, timed beyond its listing; 7b. plan --user
  first      2. first sync: every one of --first-users (2,000) has a new photo
  pipelined  2b. first sync: --pipelined-changed (2,000) of --pipelined-users (20,000) have new photos
  throttle   5. throttle-bound first sync: --throttle-changed of --throttle-users, each request costing
             --heavy-cost, so Canvas's leaky bucket, not latency, binds
  seed       4a/4b. the seed's sequential per-user algorithm, steady and first sync (a --baseline-sample, scaled)
  listing    6a/6b. the users listing alone: numbered pages and sort=id bookmarks, through the client's paginator
  observers  8a/8b. observers sync of --observer-rows (20,000) CSV rows: a first run, then a second (steady) one
  startup    9a. profilesync --help; 9b. a no-op avatars plan --user X (best of 5, fresh interpreters), with
             the heavy modules each imported and its slowest imports (-X importtime)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the benchmark package beside this script

from benchmark.main import main

if __name__ == "__main__":
    main(__doc__ or "")
