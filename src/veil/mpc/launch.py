"""``joint``: run one MPC statistic with every party as its own process on localhost.

This is the simulation and test harness for :mod:`veil.mpc.party`: it writes each party's
input to that party's own private temp file, starts the ``n`` processes on free ports of
127.0.0.1 (each listens there only), waits for their JSON answers and kills every process as
soon as one fails. It keeps no clock of its own: each party's watchdog, derived from the work
(:func:`veil.mpc.programs.default_timeout`), bounds a silent peer. With ``tls=True`` the
parties talk over MPyC's mutual TLS with per-run credentials (:mod:`veil.mpc.tls`), exactly as
parties on different machines must. In a deployment each organisation runs
``python -m veil.mpc.party`` itself with the same public parameters.

Threat model: MPyC's protocols (Shamir sharing, threshold ``t = (n - 1) // 2``) keep inputs
secret from up to ``t`` colluding parties that follow the protocol (semi-honest, honest
majority). A party that deviates can make the result wrong. Callers opt in by name with
``accept_semi_honest=True``.
"""

from __future__ import annotations

import json
import math
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from veil.errors import FederationError, InputError
from veil.mpc import _inputs
from veil.mpc.precision import DEFAULT_RESOLUTION_BITS, Precision, check_bounds, choose_precision
from veil.mpc.programs import PROGRAMS
from veil.mpc.tls import write_credentials

STATISTICS = tuple(sorted(PROGRAMS))


@dataclass(frozen=True)
class Result:
    """What a joint run revealed, with the setting it ran under.

    ``value`` is the public output (for ``logreg``: the list of each hospital's scores, which in
    a deployment only that hospital sees). ``seconds`` is wall time including process start-up;
    ``compute_seconds`` the slowest party's time from "all connected" to its output; ``tls``
    whether every connection ran over TLS.
    """

    statistic: str
    value: Any
    parties: int
    precision: Precision
    seconds: float
    compute_seconds: float
    outputs: list[Any] = field(repr=False, default_factory=list)
    tls: bool = False


def joint(statistic: str, inputs: Sequence[np.ndarray | str | Path], *,
          bounds: tuple[float, float], max_rows: int | None = None,
          resolution_bits: int = DEFAULT_RESOLUTION_BITS, timeout: float | None = None,
          accept_semi_honest: bool = False, precision: Precision | None = None,
          allow_unsafe_precision: bool = False, tls: bool = False) -> Result:
    """Compute ``statistic`` over the parties' private ``inputs`` (one array or ``.npy`` path each).

    Statistics: ``count``, ``sum``, ``mean``, ``variance`` (sample, divisor ``n - 1``), ``max``,
    ``argmax`` (which party's single number is largest), ``psi_cardinality`` (size of the
    intersection of the parties' id sets), ``logreg`` (party 0: model weights then bias; others:
    feature matrices; each gets its rows' probabilities), ``mean_elementwise``.

    ``bounds`` are the public bounds of every value; ``max_rows`` the public bound on the total
    number of rows (default: the total rounded up to a power of two, which reveals its order of
    magnitude). The fixed-point setting follows :func:`~veil.mpc.precision.choose_precision`;
    a ``precision`` below it is refused unless ``allow_unsafe_precision=True``. Every party
    gives up after ``timeout`` seconds (default: derived from the work, see
    :func:`veil.mpc.programs.default_timeout`); the call raises
    :class:`~veil.errors.FederationError` as soon as any party fails or gives up, and
    :class:`~veil.errors.InputError` if any party refuses its input. ``tls`` runs the parties
    over mutual TLS (MPyC ``--ssl``) with per-run credentials removed afterwards.
    """
    if not accept_semi_honest:
        msg = ("veil.mpc runs MPyC's semi-honest, honest-majority protocols: parties that deviate "
               "can corrupt the result; pass accept_semi_honest=True to run under that model")
        raise InputError(msg)
    if statistic not in PROGRAMS:
        msg = f"unknown statistic {statistic!r}; expected one of {list(STATISTICS)}"
        raise InputError(msg)
    if isinstance(inputs, np.ndarray | str | Path) or len(inputs) < 2:
        msg = "inputs must be a list with one array or .npy path per party, at least two parties"
        raise InputError(msg)
    if timeout is not None and not (isinstance(timeout, int | float) and not isinstance(
            timeout, bool) and math.isfinite(timeout) and timeout > 0):
        msg = f"timeout must be a positive number of seconds, got {timeout!r}"
        raise InputError(msg)
    lo_hi = check_bounds(bounds)
    shapes = [_shape(x, i) for i, x in enumerate(inputs)]
    if max_rows is None:
        max_rows = 1 << max(0, sum(s[0] for s in shapes) - 1).bit_length()
    terms = shapes[0][0] - 1 if statistic == "logreg" else 1
    rule = choose_precision("mean" if statistic == "mean_elementwise" else statistic,
                            max_rows=max_rows, bounds=lo_hi, resolution_bits=resolution_bits,
                            terms=max(terms, 1))
    chosen = precision or rule
    short = chosen.frac_bits < rule.frac_bits or chosen.integer_bits < rule.integer_bits
    if short and not allow_unsafe_precision:
        msg = (f"precision {chosen} is below the rule's {rule} for {max_rows} rows and bounds "
               f"{bounds}: results may be silently wrong; pass allow_unsafe_precision=True "
               f"to run anyway")
        raise InputError(msg)
    with tempfile.TemporaryDirectory(prefix="veil-mpc-") as tmp:
        paths = []
        for i, x in enumerate(inputs):
            if isinstance(x, np.ndarray):
                _inputs.check(x, statistic, party=i, bounds=lo_hi, max_rows=max_rows)
                path = Path(tmp) / f"party{i}.npy"
                np.save(path, x, allow_pickle=False)
                path.chmod(0o600)
                x = path
            paths.append(str(x))
        extra = ["--resolution-bits", str(resolution_bits), "--terms", str(max(terms, 1)),
                 "--bit-length", str(chosen.bit_length), "--frac-bits", str(chosen.frac_bits)]
        if allow_unsafe_precision:
            extra.append("--allow-unsafe-precision")
        if timeout is not None:
            extra += ["--timeout", repr(float(timeout))]
        homes = write_credentials(tmp, len(paths)) if tls else None
        outputs, seconds = _run_parties(statistic, paths, lo_hi, max_rows, extra, homes)
    values = [o["value"] for o in outputs]
    value = values[1:] if statistic == "logreg" else values[0]
    return Result(statistic, value, len(inputs), chosen, seconds,
                  max(o["seconds"] for o in outputs), values, all(o["tls"] for o in outputs))


def _shape(x: object, party: int) -> tuple[int, ...]:
    """Public shape of a party's input; a path is read as a header only (mmap)."""
    if isinstance(x, np.ndarray):
        return x.shape if x.ndim else (1,)
    if isinstance(x, str | Path):
        try:
            return np.load(Path(x), mmap_mode="r", allow_pickle=False).shape or (1,)
        except FileNotFoundError:
            msg = f"party {party}: input file {str(x)!r} does not exist"
            raise InputError(msg) from None
        except (ValueError, OSError) as exc:
            msg = f"party {party}: input file {str(x)!r} is not a readable .npy array: {exc}"
            raise InputError(msg) from None
    msg = f"party {party}: input must be a numpy array or a .npy path, got {type(x).__name__}"
    raise InputError(msg)


def free_ports(count: int) -> list[int]:
    """Ports the OS reports free on 127.0.0.1 (held open together so they are distinct)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def party_command(party: int, peers: Sequence[str], statistic: str, path: str,
                  bounds: tuple[float, float], max_rows: int,
                  extra: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "-m", "veil.mpc.party", "--party", str(party), "--peers", *peers,
            "--statistic", statistic, "--input", path, "--bounds", repr(bounds[0]),
            repr(bounds[1]), "--max-rows", str(max_rows), *extra]


def _run_parties(statistic: str, paths: list[str], bounds: tuple[float, float], max_rows: int,
                 extra: list[str], homes: list[Path] | None) -> tuple[list[dict[str, Any]], float]:
    peers = [f"127.0.0.1:{p}" for p in free_ports(len(paths))]
    commands = [party_command(i, peers, statistic, path, bounds, max_rows,
                              [*extra, *(["--tls", str(homes[i])] if homes else [])])
                for i, path in enumerate(paths)]
    return run_commands(commands)


def run_commands(commands: Sequence[Sequence[str]]) -> tuple[list[dict[str, Any]], float]:
    """Start one process per party; return their JSON answers, or raise on the first failure.

    Driven by the processes' exit events alone: when one exits unsuccessfully every other is
    killed at once (its peers would only wait for it). A party that stays silent is ended by
    the other parties' own watchdogs.
    """
    start = time.perf_counter()
    procs: list[subprocess.Popen[str]] = []
    streams: list[tuple[str, str]] = [("", "")] * len(commands)
    exited: list[int] = []
    changed = threading.Condition()

    def drain(i: int) -> None:  # reads as it comes, so no party blocks on a full pipe
        out = procs[i].communicate()
        with changed:
            streams[i] = out
            exited.append(i)
            changed.notify()

    readers = [threading.Thread(target=drain, args=(i,), daemon=True)
               for i in range(len(commands))]
    try:
        for cmd, reader in zip(commands, readers, strict=True):
            procs.append(subprocess.Popen(list(cmd), stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
            reader.start()
        with changed:
            while len(exited) < len(procs) and all(procs[i].returncode == 0 for i in exited):
                changed.wait()
            first_failure = next((i for i in exited if procs[i].returncode != 0), None)
        seconds = time.perf_counter() - start
    finally:
        _kill(procs)
        for reader in readers[:len(procs)]:
            reader.join()
    if first_failure is not None:
        # parties killed above only waited for the one that failed; report who failed alone
        failed = [i for i, p in enumerate(procs)
                  if i == first_failure or p.returncode not in (0, -signal.SIGKILL)]
        raise _failure([_answer(i, procs[i].returncode, *streams[i]) for i in failed])
    return [_answer(i, p.returncode, *streams[i]) for i, p in enumerate(procs)], seconds


def _answer(party: int, code: int | None, out: str, err: str) -> dict[str, Any]:
    """The party's last ``{"ok": ...}`` line; progress events and other output are skipped."""
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            answer = json.loads(line)
            if "ok" in answer:
                return answer
    tail = err.strip().splitlines()[-1:] or ["no output"]
    return {"ok": False, "code": "federation",
            "message": f"party {party} exited (status {code}) without an answer: {tail[0]}"}


def _failure(answers: list[dict[str, Any]]) -> Exception:
    refused = [a for a in answers if str(a.get("code", "")).startswith("input")]
    if refused:
        return InputError("; ".join(a["message"] for a in refused))
    return FederationError("; ".join(a.get("message", "failed") for a in answers))


def _kill(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
