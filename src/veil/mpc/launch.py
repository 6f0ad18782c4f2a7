"""``joint``: run one MPC statistic with every party as its own process on localhost.

This is the simulation and test harness for :mod:`veil.mpc.party`: it writes each party's
input to that party's own private temp file, starts the ``n`` processes on free local ports,
waits for their JSON answers and kills every process on error or timeout. In a deployment
each organisation runs ``python -m veil.mpc.party`` itself with the same public parameters.

Threat model: MPyC's protocols (Shamir sharing, threshold ``t = (n - 1) // 2``) keep inputs
secret from up to ``t`` colluding parties that follow the protocol (semi-honest, honest
majority). A party that deviates can make the result wrong. Callers opt in by name with
``accept_semi_honest=True``.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import tempfile
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

STATISTICS = tuple(sorted(PROGRAMS))
_STARTUP_GRACE_S = 10.0  # interpreter and MPyC import time, on top of the parties' timeout


@dataclass(frozen=True)
class Result:
    """What a joint run revealed, with the setting it ran under.

    ``value`` is the public output (for ``logreg``: the list of each hospital's scores, which in
    a deployment only that hospital sees). ``seconds`` is wall time including process start-up;
    ``compute_seconds`` the slowest party's time from "all connected" to its output.
    """

    statistic: str
    value: Any
    parties: int
    precision: Precision
    seconds: float
    compute_seconds: float
    outputs: list[Any] = field(repr=False, default_factory=list)


def joint(statistic: str, inputs: Sequence[np.ndarray | str | Path], *,
          bounds: tuple[float, float], max_rows: int | None = None,
          resolution_bits: int = DEFAULT_RESOLUTION_BITS, timeout: float = 60.0,
          accept_semi_honest: bool = False, precision: Precision | None = None,
          allow_unsafe_precision: bool = False) -> Result:
    """Compute ``statistic`` over the parties' private ``inputs`` (one array or ``.npy`` path each).

    Statistics: ``count``, ``sum``, ``mean``, ``variance`` (sample, divisor ``n - 1``), ``max``,
    ``argmax`` (which party's single number is largest), ``psi_cardinality`` (size of the
    intersection of the parties' id sets), ``logreg`` (party 0: model weights then bias; others:
    feature matrices; each gets its rows' probabilities), ``mean_elementwise``.

    ``bounds`` are the public bounds of every value; ``max_rows`` the public bound on the total
    number of rows (default: the total rounded up to a power of two, which reveals its order of
    magnitude). The fixed-point setting follows :func:`~veil.mpc.precision.choose_precision`;
    a ``precision`` below it is refused unless ``allow_unsafe_precision=True``. Every party
    gives up after ``timeout`` seconds; the call raises :class:`~veil.errors.FederationError`
    within about ``timeout`` plus start-up if any party fails or does not answer, and
    :class:`~veil.errors.InputError` if any party refuses its input.
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
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
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
        outputs, seconds = _run_parties(statistic, paths, lo_hi, max_rows, timeout, extra)
    values = [o["value"] for o in outputs]
    value = values[1:] if statistic == "logreg" else values[0]
    return Result(statistic, value, len(inputs), chosen, seconds,
                  max(o["seconds"] for o in outputs), values)


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
                  bounds: tuple[float, float], max_rows: int, timeout: float,
                  extra: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "-m", "veil.mpc.party", "--party", str(party), "--peers", *peers,
            "--statistic", statistic, "--input", path, "--bounds", repr(bounds[0]),
            repr(bounds[1]), "--max-rows", str(max_rows), "--timeout", repr(float(timeout)),
            *extra]


def _run_parties(statistic: str, paths: list[str], bounds: tuple[float, float], max_rows: int,
                 timeout: float, extra: list[str]) -> tuple[list[dict[str, Any]], float]:
    peers = [f"127.0.0.1:{p}" for p in free_ports(len(paths))]
    commands = [party_command(i, peers, statistic, path, bounds, max_rows, timeout, extra)
                for i, path in enumerate(paths)]
    return run_commands(commands, deadline=timeout + _STARTUP_GRACE_S)


def run_commands(commands: Sequence[Sequence[str]],
                 deadline: float) -> tuple[list[dict[str, Any]], float]:
    """Start one process per party; return their JSON answers or raise on the first failure.

    Kills every process still running when one fails or when ``deadline`` seconds pass.
    """
    start = time.perf_counter()
    procs = [subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for cmd in commands]
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = [i for i, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                _kill(procs)
                raise _failure(failed, procs)
            if all(c == 0 for c in codes):
                break
            if time.perf_counter() - start > deadline:
                silent = [i for i, c in enumerate(codes) if c is None]
                _kill(procs)
                msg = (f"parties {silent} gave no result within {deadline:g} s; every party "
                       f"was stopped")
                raise FederationError(msg)
            time.sleep(0.01)
        seconds = time.perf_counter() - start
        return [_answer(i, p) for i, p in enumerate(procs)], seconds
    finally:
        _kill(procs)


def _answer(party: int, proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate()
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not lines:
        tail = err.strip().splitlines()[-1:] or ["no output"]
        return {"ok": False, "code": "federation",
                "message": f"party {party} exited without an answer: {tail[0]}"}
    return json.loads(lines[-1])


def _failure(failed: list[int], procs: list[subprocess.Popen[str]]) -> Exception:
    answers = [_answer(i, procs[i]) for i in failed]
    refused = [a for a in answers if str(a.get("code", "")).startswith("input")]
    if refused:
        return InputError("; ".join(a["message"] for a in refused))
    return FederationError("; ".join(a.get("message", "failed") for a in answers))


def _kill(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        if p.returncode is None:
            p.wait()
