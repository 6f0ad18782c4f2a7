"""One MPC party as its own process: ``python -m veil.mpc.party --party i --peers ... ``.

The party reads only its own private input (a ``.npy`` path), checks it locally, joins the
other parties over TCP through MPyC, runs one program from :mod:`veil.mpc.programs` and
prints one JSON line on stdout: ``{"ok": true, "value": ..., "seconds": ...}`` or
``{"ok": false, "code": ..., "message": ...}``. Exit status: 0 done, 2 input refused,
3 no result within ``--timeout`` seconds (MPyC itself waits forever for a silent peer, so a
watchdog thread ends the process), 4 any other failure.

MPyC configures its runtime from ``sys.argv`` when ``mpyc.runtime`` is first imported, so this
module rewrites ``sys.argv`` to MPyC's own flags (``-P host:port`` per party, ``-I``,
``--no-log``) and imports it only then.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

from veil.errors import InputError, VeilError
from veil.mpc import _inputs
from veil.mpc.precision import Precision, check_bounds, choose_precision
from veil.mpc.programs import PROGRAMS

EXIT_INPUT, EXIT_TIMEOUT, EXIT_ERROR = 2, 3, 4


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m veil.mpc.party", description=__doc__)
    p.add_argument("--party", type=int, required=True, help="this party's index, from 0")
    p.add_argument("--peers", nargs="+", required=True, metavar="HOST:PORT",
                   help="every party's address, in index order (this one's included)")
    p.add_argument("--statistic", required=True, choices=sorted(PROGRAMS))
    p.add_argument("--input", required=True, help="this party's private values (.npy)")
    p.add_argument("--bounds", nargs=2, type=float, required=True, metavar=("LO", "HI"))
    p.add_argument("--max-rows", type=int, required=True, help="public bound on total rows")
    p.add_argument("--resolution-bits", type=int, default=24)
    p.add_argument("--terms", type=int, default=1, help="model width d (logreg)")
    p.add_argument("--bit-length", type=int, help="override (must satisfy the rule unless "
                   "--allow-unsafe-precision)")
    p.add_argument("--frac-bits", type=int)
    p.add_argument("--allow-unsafe-precision", action="store_true")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before giving up")
    return p


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _precision(args: argparse.Namespace) -> Precision:
    bounds = check_bounds(tuple(args.bounds))
    rule = choose_precision("mean" if args.statistic == "mean_elementwise" else args.statistic,
                            max_rows=args.max_rows, bounds=bounds,
                            resolution_bits=args.resolution_bits, terms=args.terms)
    if args.bit_length is None and args.frac_bits is None:
        return rule
    given = Precision(args.bit_length or rule.bit_length, args.frac_bits or rule.frac_bits)
    short = given.frac_bits < rule.frac_bits or given.integer_bits < rule.integer_bits
    if short and not args.allow_unsafe_precision:
        msg = (f"precision {given} is below the rule's {rule} for these bounds and rows and "
               f"may give silently wrong results; pass --allow-unsafe-precision to run anyway")
        raise InputError(msg)
    return given


def _watchdog(party: int, seconds: float) -> threading.Timer:
    def expire() -> None:
        _emit({"ok": False, "code": "federation", "message":
               f"party {party}: no result within {seconds:g} s; a party did not answer"})
        os._exit(EXIT_TIMEOUT)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    timer = _watchdog(args.party, args.timeout)
    try:
        precision = _precision(args)
        bounds = (args.bounds[0], args.bounds[1])
        values = _inputs.check(_inputs.load(args.input), args.statistic, party=args.party,
                               bounds=bounds, max_rows=args.max_rows)
    except VeilError as exc:
        _emit({"ok": False, "code": exc.code, "message": exc.message})
        return EXIT_INPUT
    if not 0 <= args.party < len(args.peers) or len(args.peers) < 2:
        _emit({"ok": False, "code": "input", "message": "need --party in range and >= 2 peers"})
        return EXIT_INPUT
    sys.argv = [sys.argv[0], "--no-log", "-I", str(args.party)]
    for peer in args.peers:
        sys.argv += ["-P", peer]
    from mpyc.runtime import mpc  # configures MPyC from sys.argv, so only now

    async def run() -> tuple[Any, float]:
        await mpc.start()
        began = time.perf_counter()
        value = await PROGRAMS[args.statistic](mpc, values, precision)
        seconds = time.perf_counter() - began
        await mpc.shutdown()
        return value, seconds

    try:
        value, seconds = mpc.run(run())
    except VeilError as exc:
        _emit({"ok": False, "code": exc.code, "message": f"party {args.party}: {exc.message}"})
        return EXIT_INPUT
    except Exception as exc:  # reported to the launcher, never swallowed
        _emit({"ok": False, "code": "federation",
               "message": f"party {args.party}: {type(exc).__name__}: {exc}"})
        return EXIT_ERROR
    timer.cancel()
    _emit({"ok": True, "value": value, "seconds": seconds,
           "precision": [precision.bit_length, precision.frac_bits]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
