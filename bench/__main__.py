"""``python -m bench <area> [--quick]``: run ``bench/<area>.py``'s ``main(quick)``."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

_NOT_AREAS = {"__init__", "__main__", "_common"}


def areas() -> list[str]:
    """The benchmark areas: every module in ``bench/`` that is not infrastructure."""
    here = Path(__file__).resolve().parent
    return sorted(p.stem for p in here.glob("*.py")
                  if p.stem not in _NOT_AREAS and not p.stem.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    known = areas()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("area", help=f"which benchmark to run; one of: {', '.join(known)}")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, under a minute (smoke test)")
    args = parser.parse_args(argv)
    if args.area not in known:
        parser.error(f"unknown area {args.area!r}; available areas: {', '.join(known) or 'none'}")
    module = importlib.import_module(f"bench.{args.area}")
    module.main(quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
