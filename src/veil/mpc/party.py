"""One MPC party as its own process: ``python -m veil.mpc.party --party i --peers ... ``.

The party reads only its own private input (a ``.npy`` path), checks it locally, joins the
other parties over TCP through MPyC, runs one program from :mod:`veil.mpc.programs` and
prints its answer as the last JSON line on stdout: ``{"ok": true, "value": ..., "seconds":
..., "tls": ...}`` or ``{"ok": false, "code": ..., "message": ...}``. Before that it may print
progress events, ``{"event": "listening", "addresses": [[host, port], ...]}`` once its socket
is open. Exit status: 0 done, 2 input refused, 3 no result within ``--timeout`` seconds (MPyC
itself waits forever for a silent peer, so a watchdog thread ends the process), 4 any other
failure. The default timeout grows with the work (:func:`veil.mpc.programs.default_timeout`),
so a slow or busy machine does not trip it.

Network: the party listens on its own address from ``--peers`` only (MPyC 0.11 would listen on
every interface). Over loopback the parties talk in plaintext; when any peer is elsewhere the
party refuses to run without ``--tls DIR``, a directory laid out by
:func:`veil.mpc.tls.write_credentials` (MPyC's ``--ssl``: mutual TLS under a per-run CA).

MPyC configures its runtime from ``sys.argv`` when ``mpyc.runtime`` is first imported, so this
module rewrites ``sys.argv`` to MPyC's own flags (``-P host:port`` per party, ``-I``,
``--no-log``, ``--ssl``) and imports it only then.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from veil.errors import InputError, VeilError
from veil.mpc import _inputs, tls
from veil.mpc.precision import Precision, check_bounds, choose_precision
from veil.mpc.programs import PROGRAMS, default_timeout

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
    p.add_argument("--timeout", type=float, help="seconds before giving up (default: "
                   "derived from the statistic, rows and parties)")
    p.add_argument("--tls", metavar="DIR", help="run MPyC over mutual TLS with the files "
                   "under DIR/.config (required when a peer is not on this machine)")
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


def _host(peer: str) -> str:
    """``host`` of ``host:port`` (an IPv6 host may come in brackets)."""
    return peer.rsplit(":", 1)[0].removeprefix("[").removesuffix("]")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _check_network(args: argparse.Namespace) -> None:
    """Refuse plaintext beyond this machine, and TLS without this party's files."""
    if not 0 <= args.party < len(args.peers) or len(args.peers) < 2:
        raise InputError("need --party in range and >= 2 peers")
    if args.tls is None:
        remote = [peer for peer in args.peers if not _loopback(_host(peer))]
        if remote:
            msg = (f"peers {remote} are not on this machine: MPC shares would cross the network "
                   f"in plaintext; pass --tls DIR (see veil.mpc.tls.write_credentials)")
            raise InputError(msg)
        return
    config = Path(args.tls) / tls.CONFIG_DIR
    missing = [name for name in (tls.cert_file(args.party), tls.key_file(args.party),
                                 tls.CA_FILE) if not (config / name).is_file()]
    if missing:
        raise InputError(f"--tls {args.tls}: {config} lacks {', '.join(missing)}")


def _listen_on(loop: asyncio.AbstractEventLoop, host: str) -> None:
    """MPyC 0.11 opens its server with ``create_server(factory, port=...)``, which listens on
    every interface; hand it this party's own host so nothing else can reach the port, and
    report the bound addresses (tests and operators synchronise on that line)."""
    create_server = loop.create_server

    async def bound(*args: Any, **kwargs: Any) -> Any:
        server = await create_server(*args, host=host, **kwargs)
        _emit({"event": "listening",
               "addresses": [list(s.getsockname()[:2]) for s in server.sockets]})
        return server

    loop.create_server = bound  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    timeout = args.timeout if args.timeout is not None else default_timeout(
        args.statistic, max_rows=args.max_rows, parties=len(args.peers), terms=args.terms)
    timer = _watchdog(args.party, timeout)
    try:
        return _run(args)
    finally:  # whatever the outcome: a watchdog left running would end its process later
        timer.cancel()


def _run(args: argparse.Namespace) -> int:
    """One party's run, reported as one JSON line (see :func:`main`)."""
    try:
        precision = _precision(args)
        bounds = (args.bounds[0], args.bounds[1])
        values = _inputs.check(_inputs.load(args.input), args.statistic, party=args.party,
                               bounds=bounds, max_rows=args.max_rows)
        _check_network(args)
    except VeilError as exc:
        _emit({"ok": False, "code": exc.code, "message": exc.message})
        return EXIT_INPUT
    sys.argv = [sys.argv[0], "--no-log", "-I", str(args.party)]
    for peer in args.peers:
        sys.argv += ["-P", peer]
    if args.tls is not None:
        sys.argv.append("--ssl")
        os.chdir(args.tls)  # MPyC reads .config/ from the working directory; input is loaded
    from mpyc.runtime import mpc  # configures MPyC from sys.argv, so only now

    _listen_on(mpc._loop, _host(args.peers[args.party]))

    async def run() -> tuple[Any, float, bool]:
        await mpc.start()
        secure = all(p.protocol.transport.get_extra_info("ssl_object") is not None
                     for p in mpc.parties if p.pid != mpc.pid)
        began = time.perf_counter()
        value = await PROGRAMS[args.statistic](mpc, values, precision)
        seconds = time.perf_counter() - began
        await mpc.shutdown()
        return value, seconds, secure

    try:
        value, seconds, secure = mpc.run(run())
    except VeilError as exc:
        _emit({"ok": False, "code": exc.code, "message": f"party {args.party}: {exc.message}"})
        return EXIT_INPUT
    except Exception as exc:  # reported to the launcher, never swallowed
        _emit({"ok": False, "code": "federation",
               "message": f"party {args.party}: {type(exc).__name__}: {exc}"})
        return EXIT_ERROR
    _emit({"ok": True, "value": value, "seconds": seconds, "tls": secure,
           "precision": [precision.bit_length, precision.frac_bits]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
