"""Joint statistics over columns that live in several veil workspaces, one per organisation.

:func:`joint_over_workspaces` is the workspace-facing layer over :func:`veil.mpc.joint`: each
party's column is read from *its own* workspace (an audited ``dataset.read`` with the caller's
purpose), checked locally, written to a private temporary ``.npy`` (a ``0700`` directory,
the file created ``0600``; removed afterwards whatever happens), and secret-shared by that
party's own process. Only the result is revealed, and it is recorded in **every** party's
ledger as one ``mpc.joint`` event on ``dataset@version`` with the statistic, the value, the
number of parties, the fixed-point precision, the wall time, the bounds and the row bound,
never any row value. If the run fails nothing is recorded (the reads stay logged: the data was
decrypted). Each ledger is its own database, so a crash between two ``record`` calls can leave
the event in some ledgers only; ``ws.record`` itself is atomic per workspace.

Everything that can be checked from the catalogs (statistic, bounds, timeout, dataset, column
and its type) is checked before any data is decrypted; values (NaN, out of bounds) are checked
after the reads and before any party process starts.

Threat model: MPyC's semi-honest, honest-majority protocols (see :mod:`veil.mpc.launch`).
Calling this function is the opt-in: it runs ``joint(..., accept_semi_honest=True)``. Here all
parties run on this machine, so whoever runs it can read every workspace anyway; the point is
the same audited code path a deployment would use, with one process per party.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from veil.access.scope import ADMINISTRATION
from veil.errors import InputError, VeilError
from veil.mpc import _inputs
from veil.mpc.launch import STATISTICS, Result, joint
from veil.mpc.precision import DEFAULT_RESOLUTION_BITS, check_bounds
from veil.workspace import Workspace

ACTION = "mpc.joint"
#: statistics whose input is one column per party (argmax and logreg need other shapes)
COLUMN_STATISTICS = ("count", "sum", "mean", "variance", "max", "mean_elementwise",
                     "psi_cardinality")
_NUMERIC = ("Int8", "Int16", "Int32", "Int64", "Int128", "UInt8", "UInt16", "UInt32", "UInt64",
            "Float32", "Float64")
_IDS = ("String", "Utf8", *_NUMERIC[:9])  # psi_cardinality: strings or ints

PartySpec = tuple[str | os.PathLike[str], str | os.PathLike[str] | None, str, str]


@dataclass(frozen=True)
class SitesResult(Result):
    """A :class:`~veil.mpc.Result` plus where it was recorded: ``(workspace, resource, seq)``."""

    records: tuple[tuple[str, str, int], ...] = ()


def joint_over_workspaces(
    statistic: str,
    parties: Sequence[PartySpec],
    *,
    bounds: tuple[float, float],
    timeout: float | None = None,
    max_rows: int | None = None,
    resolution_bits: int = DEFAULT_RESOLUTION_BITS,
    purpose: str = ADMINISTRATION,
    tls: bool = False,
) -> SitesResult:
    """Compute ``statistic`` over one column per workspace; record the result in every ledger.

    ``parties``: ``(workspace_path, key_file or None, dataset, column)`` per party, in party
    order (``None``: the key comes from ``VEIL_MASTER_KEY`` / ``VEIL_PASSPHRASE``). The newest
    version of each dataset is used. ``statistic`` is one of :data:`COLUMN_STATISTICS`;
    ``bounds``, ``max_rows``, ``resolution_bits``, ``timeout`` and ``tls`` are as for
    :func:`veil.mpc.joint`. Raises :class:`~veil.errors.InputError` for a bad statistic,
    bounds, column or value (null, NaN, out of bounds) and
    :class:`~veil.errors.FederationError` when a party fails or times out; in both cases no
    ``mpc.joint`` event is written anywhere.
    """
    specs = _check_request(statistic, parties, bounds, timeout)
    lo_hi = check_bounds(bounds)
    with ExitStack() as stack:
        opened: list[tuple[Workspace, int]] = []
        for i, (path, key_file, dataset, column) in enumerate(specs):
            label = _label(i, path, dataset, column)
            ws = stack.enter_context(_open(path, key_file, label))
            opened.append((ws, _check_column(ws, dataset, column, statistic, label)))
        # every catalog check passed: now decrypt (audited), then check the values locally
        values = []
        for i, ((ws, version), (path, _, dataset, column)) in enumerate(zip(opened, specs,
                                                                           strict=True)):
            frame = ws.for_purpose(purpose).read(dataset, version, columns=[column])
            values.append(_values(frame.to_series(), statistic, i, path, dataset, column))
        rows = max_rows if max_rows is not None else 1 << max(
            0, sum(len(v) for v in values) - 1).bit_length()
        for i, (v, (path, _, dataset, column)) in enumerate(zip(values, specs, strict=True)):
            try:
                _inputs.check(v, statistic, party=i, bounds=lo_hi, max_rows=rows)
            except InputError as exc:
                raise type(exc)(f"{_label(i, path, dataset, column)}: "
                                f"{exc.message.removeprefix(f'party {i}: ')}") from None
        result = _run(statistic, values, lo_hi, rows, resolution_bits, timeout, tls)
        refs = [f"{spec[2]}@{version}" for (_, version), spec in zip(opened, specs, strict=True)]
        records = []
        for (ws, _), (path, _, _, column), resource in zip(opened, specs, refs, strict=True):
            seq = ws.for_purpose(purpose).record(
                ACTION, resource, **_event(result, column, lo_hi, rows, resolution_bits, refs))
            records.append((str(path), resource, seq))
    return SitesResult(result.statistic, result.value, result.parties, result.precision,
                       result.seconds, result.compute_seconds, result.outputs, result.tls,
                       tuple(records))


def _check_request(statistic: object, parties: object, bounds: object,
                   timeout: object) -> list[tuple[Path, Path | None, str, str]]:
    if statistic not in COLUMN_STATISTICS:
        other = " (it needs other inputs than one column per party: use veil.mpc.joint)" if (
            statistic in STATISTICS) else ""
        msg = (f"statistic {statistic!r} cannot run over workspace columns{other}; expected one "
               f"of {list(COLUMN_STATISTICS)}")
        raise InputError(msg)
    if isinstance(parties, str | bytes) or not isinstance(parties, Sequence) or len(
            parties) < 2:
        msg = "parties must be a list of (workspace, key_file, dataset, column), at least two"
        raise InputError(msg)
    specs = []
    for i, spec in enumerate(parties):
        if not (isinstance(spec, tuple | list) and len(spec) == 4):
            msg = f"party {i}: expected (workspace, key_file, dataset, column), got {spec!r}"
            raise InputError(msg)
        path, key_file, dataset, column = spec
        if not (isinstance(dataset, str) and dataset and isinstance(column, str) and column):
            msg = f"party {i}: dataset and column must be non-empty strings, got {spec!r}"
            raise InputError(msg)
        specs.append((Path(path), None if key_file is None else Path(key_file), dataset, column))
    check_bounds(bounds)  # type: ignore[arg-type]
    if timeout is not None and (isinstance(timeout, bool) or not (
            isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0)):
        msg = f"timeout must be a positive number of seconds, got {timeout!r}"
        raise InputError(msg)
    return specs


def _label(i: int, path: Path, dataset: str, column: str) -> str:
    return f"party {i} ({path}: {dataset}.{column})"


def _open(path: Path, key_file: Path | None, label: str) -> Workspace:
    try:
        return Workspace.open(path, key_file=key_file)
    except VeilError as exc:
        raise type(exc)(f"{label}: {exc.message}") from None


def _check_column(ws: Workspace, dataset: str, column: str, statistic: str, label: str) -> int:
    """The newest version's number, once its schema shows a usable column (nothing decrypted)."""
    try:
        record = ws.version(dataset)
    except VeilError as exc:
        raise type(exc)(f"{label}: {exc.message}") from None
    if record.destroyed:
        msg = f"{label}: {record.ref} was destroyed"
        raise InputError(msg)
    if column not in record.schema:
        msg = f"{label}: {record.ref} has no column {column!r}; columns are {list(record.schema)}"
        raise InputError(msg)
    dtype = record.schema[column]
    allowed = _IDS if statistic == "psi_cardinality" else _NUMERIC
    if dtype not in allowed:
        want = "ints or strings" if statistic == "psi_cardinality" else "an int or float column"
        msg = f"{label}: {statistic} needs {want}; {record.ref}.{column} is {dtype}"
        raise InputError(msg)
    return record.version


def _values(series: Any, statistic: str, i: int, path: Path, dataset: str,
            column: str) -> np.ndarray:
    if statistic == "psi_cardinality":
        if series.null_count():
            msg = (f"{_label(i, path, dataset, column)}: {series.null_count()} null id(s); "
                   f"drop them first")
            raise InputError(msg)
        out = series.to_numpy()
        return out.astype(str) if out.dtype.kind == "O" else out
    if series.null_count() or series.dtype.is_float():
        # nulls become NaN, refused by the local check together with the other non-finite values
        return series.cast(float).to_numpy()
    return series.to_numpy()


def _run(statistic: str, values: list[np.ndarray], bounds: tuple[float, float], max_rows: int,
         resolution_bits: int, timeout: float | None, tls: bool) -> Result:
    """Write each party's values to its own 0600 file in a fresh 0700 directory; always clean."""
    tmp = tempfile.mkdtemp(prefix="veil-mpc-sites-")
    try:
        paths = []
        for i, v in enumerate(values):
            path = Path(tmp) / f"party{i}.npy"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, v, allow_pickle=False)
            paths.append(path)
        return joint(statistic, paths, bounds=bounds, max_rows=max_rows,
                     resolution_bits=resolution_bits, timeout=timeout, accept_semi_honest=True,
                     tls=tls)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _event(result: Result, column: str, bounds: tuple[float, float], max_rows: int,
           resolution_bits: int, inputs: list[str]) -> dict[str, Any]:
    """The ledger parameters: public settings and the revealed result, never a row value."""
    return {
        "statistic": result.statistic,
        "value": result.value,
        "column": column,
        "parties": result.parties,
        "inputs": inputs,
        "bounds": list(bounds),
        "max_rows": max_rows,
        "precision": {"bit_length": result.precision.bit_length,
                      "frac_bits": result.precision.frac_bits},
        "resolution_bits": resolution_bits,
        "seconds": round(result.seconds, 3),
        "model": "MPyC semi-honest, honest majority",
    }
