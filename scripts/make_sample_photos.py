#!/usr/bin/env python3
"""Fill a folder with synthetic placeholder portraits named like sandbox users' SIS IDs.

Example: python scripts/make_sample_photos.py photos 5 --prefix S
(writes photos/S000001.jpg .. S000005.jpg, the sandbox's first users)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from profilesync_sandbox.samples import write_sample_photos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="where to write the photos (created if missing)")
    parser.add_argument("count", type=int, help="how many photos")
    parser.add_argument(
        "--prefix", default="S", help="key prefix before the 6-digit number, as the sandbox names users (default: S)"
    )
    parser.add_argument("--start", type=int, default=1, help="first number (default: 1)")
    parser.add_argument("--size", type=int, default=512, help="edge in pixels (default: 512)")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("count must not be negative")
    keys = (f"{args.prefix}{n:06d}" for n in range(args.start, args.start + args.count))
    written = write_sample_photos(args.folder, keys, size=args.size)
    print(f"wrote {written} sample photos to {args.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
