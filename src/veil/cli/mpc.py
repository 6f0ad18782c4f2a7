"""``veil mpc``: joint statistics across organisations by secure multiparty computation (MPyC)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from veil.cli.common import options, out, print_json
from veil.errors import InputError

app = typer.Typer(
    help="Joint statistics across organisations by secure multiparty computation (MPyC): one "
         "process per party, only the result is revealed. Semi-honest, honest-majority model: "
         "up to (n - 1) // 2 colluding parties that follow the protocol learn nothing more; "
         "a party that deviates can corrupt the result.",
    no_args_is_help=True,
)

PARTY_HELP = ("One party: WORKSPACE,DATASET,COLUMN[,KEY_FILE] (comma-separated; the key file "
              "defaults to the root --key-file, else VEIL_MASTER_KEY / VEIL_PASSPHRASE). "
              "Repeat once per party, in party order.")


@app.callback()
def _group() -> None:
    """Joint statistics by secure multiparty computation."""


JOINT_HELP = ("Compute one statistic jointly over every party's private values; print only the "
              "result.\n\nWith --party, each party's column is read from its own workspace (an "
              "audited read) and the result is recorded as an mpc.joint event in every party's "
              "ledger. With --input, each party is a plain .npy file and nothing is logged.")


@app.command("joint", help=JOINT_HELP)
def joint_(
    ctx: typer.Context,
    statistic: Annotated[str, typer.Argument(
        help="count, sum, mean, variance, max, mean_elementwise or psi_cardinality (with "
             "--input also argmax and logreg).")],
    bounds: Annotated[tuple[float, float], typer.Option(
        metavar="LO HI", help="Public bounds of every value (required; values outside are "
                              "refused).")],
    party: Annotated[list[str] | None, typer.Option(
        "--party", "-p", metavar="WS,DATASET,COLUMN[,KEY]", help=PARTY_HELP)] = None,
    inputs: Annotated[list[Path] | None, typer.Option(
        "--input", "-i", metavar="FILE.npy",
        help="A party's values as a .npy file (no workspace, nothing logged); repeat per "
             "party.")] = None,
    max_rows: Annotated[int | None, typer.Option(
        min=1, help="Public bound on the total rows (default: the total rounded up to a power "
                    "of two).")] = None,
    resolution_bits: Annotated[int, typer.Option(
        min=1, max=128, help="Significant bits kept by the fixed-point setting.")] = 24,
    timeout: Annotated[float | None, typer.Option(
        min=0.001, help="Seconds each party waits before giving up (default: derived from the "
                        "statistic, rows and parties).")] = None,
    tls: Annotated[bool, typer.Option(
        "--tls", help="Connect the parties by mutual TLS with per-run certificates, as "
                      "parties on different machines must.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    if bool(party) == bool(inputs):
        msg = ("give the parties either as --party WS,DATASET,COLUMN[,KEY] (workspaces) or as "
               "--input FILE.npy (plain files), at least two, not both")
        raise InputError(msg)
    records: list[dict[str, Any]] = []
    if party:
        from veil.mpc.sites import joint_over_workspaces

        opts = options(ctx)
        result = joint_over_workspaces(
            statistic, [_party(spec, opts.key_file) for spec in party], bounds=bounds,
            timeout=timeout, max_rows=max_rows, resolution_bits=resolution_bits,
            purpose=opts.purpose, tls=tls)
        records = [{"workspace": ws, "resource": resource, "seq": seq}
                   for ws, resource, seq in result.records]
    else:
        from veil.mpc import joint

        result = joint(statistic, list(inputs or []), bounds=bounds, max_rows=max_rows,
                       resolution_bits=resolution_bits, timeout=timeout,
                       accept_semi_honest=True, tls=tls)
    data = {
        "statistic": result.statistic,
        "value": result.value,
        "parties": result.parties,
        "precision": {"bit_length": result.precision.bit_length,
                      "frac_bits": result.precision.frac_bits},
        "seconds": result.seconds,
        "compute_seconds": result.compute_seconds,
        "bounds": list(bounds),
        "model": "MPyC semi-honest, honest majority",
        "tls": result.tls,
        "recorded": records,
    }
    if as_json:
        print_json(data)
        return
    value = f"{result.value:.10g}" if isinstance(result.value, float) else str(result.value)
    out.print(f"{result.statistic} = {value} over {result.parties} parties", markup=False)
    out.print(f"precision: {result.precision.bit_length} bits, {result.precision.frac_bits} "
              f"fractional; {result.seconds:.2f} s (compute {result.compute_seconds:.2f} s); "
              f"bounds [{bounds[0]:g}, {bounds[1]:g}]", markup=False)
    out.print(f"model: MPyC semi-honest, honest majority; only this result was revealed"
              f"{'; parties connected by TLS' if result.tls else ''}", markup=False)
    for r in records:
        out.print(f"recorded in {r['workspace']}: {r['resource']}, ledger entry {r['seq']}",
                  markup=False)


def _party(spec: str, default_key: Path | None) -> tuple[str, Path | None, str, str]:
    fields = [f.strip() for f in spec.split(",")]
    if len(fields) not in (3, 4) or not all(fields):
        msg = (f"--party {spec!r}: expected WORKSPACE,DATASET,COLUMN or "
               f"WORKSPACE,DATASET,COLUMN,KEY_FILE (no empty fields, no commas in paths)")
        raise InputError(msg)
    key = Path(fields[3]) if len(fields) == 4 else default_key
    return fields[0], key, fields[1], fields[2]
