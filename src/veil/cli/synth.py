"""``veil synth``: DP synthetic releases (``veil synth NAME``) and their evaluation
(``veil synth evaluate RELEASE``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from veil._atomic import atomic_write
from veil.cli.common import options, out, print_json


class _MakeByDefault(typer.core.TyperGroup):
    """``veil synth NAME ...`` is ``veil synth make NAME ...``: a first word that is not a
    subcommand (or an option) names the dataset."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["make", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_MakeByDefault, no_args_is_help=True,
                  help="DP synthetic data: `veil synth NAME --epsilon 1` makes a synthetic "
                       "release of NAME; `veil synth evaluate RELEASE` scores it.")


def _columns(text: str | None) -> list[str] | None:
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


@app.command()
def make(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset to synthesize.")],
    epsilon: Annotated[float, typer.Option(help="Epsilon to spend.")],
    delta: Annotated[float, typer.Option(help="Delta to spend.")] = 1e-9,
    method: Annotated[str, typer.Option(help="aim (workload-adaptive) or mst (faster).")] = "aim",
    rows: Annotated[int | None, typer.Option(
        help="Rows to sample (default: the model's noisy count of people).")] = None,
    columns: Annotated[str | None, typer.Option(
        help="Columns, comma-separated (default: all the purpose allows but the subject id)."
    )] = None,
    bins: Annotated[int, typer.Option(help="Bins per numeric column (over its bounds).")] = 16,
    holdout: Annotated[float, typer.Option(
        help="Share of people held out of the fit, for the evaluation.")] = 0.2,
    output: Annotated[str | None, typer.Option(
        help="Release name (default: DATASET.synthetic).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Fit AIM or MST under (epsilon, delta)-DP, spending from the dataset's budget, and store
    the sampled table as a sealed release with its guarantee and lineage."""
    progress = Progress(TextColumn(f"{method.upper()} measuring"), BarColumn(),
                        TaskProgressColumn(), TimeElapsedColumn(), console=out, transient=True,
                        disable=as_json)
    with options(ctx).open() as ws, progress:
        task = progress.add_task("fit", total=1.0)
        made = ws.synthesize(dataset, epsilon=epsilon, delta=delta, method=method, rows=rows,
                             columns=_columns(columns), bins=bins, holdout=holdout,
                             output=output,
                             progress=lambda share: progress.update(task, completed=share))
    record = made.record
    if as_json:
        print_json({"release": record.ref, "rows": record.rows, "privacy": made.privacy,
                    "fit_seconds": made.fit_seconds, "provenance": record.provenance})
        return
    p = made.privacy
    out.print(f"stored [bold]{record.ref}[/bold]: {record.rows:,} synthetic rows of "
              f"{record.provenance['from']} by {method.upper()}, ({p['epsilon']:g}, "
              f"{p['delta']:g})-DP (rho {p['rho']:.4g}, {p['measurements']} measurements), "
              f"fitted in {made.fit_seconds:.1f} s")


@app.command()
def evaluate(
    ctx: typer.Context,
    release: Annotated[str, typer.Argument(help="Synthetic release to evaluate.")],
    target: Annotated[str | None, typer.Option(
        help="Column to predict for train-on-synthetic, test-on-real.")] = None,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write the HTML report (with plots) here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare a synthetic release with the real rows it was fitted on and the people held
    out: marginals, correlations, train-on-synthetic accuracy, closeness, exact copies and a
    membership attack. Reads real data: the figures are for the data owner, not DP."""
    from veil.synth.report import html

    with options(ctx).open() as ws:
        record = ws.version(release)
        found = ws.evaluate_synthetic(release, target=target)
    if out_file is not None:
        atomic_write(out_file, html(found, title=f"Synthetic release {record.ref}",
                                    guarantee=record.provenance["privacy"]).encode())
    if as_json:
        print_json(found.to_dict())
        return
    for name, value in summary_rows(found.summary()):
        out.print(f"{name}: {value}")
    if out_file is not None:
        out.print(f"report -> {out_file}")


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """An evaluation's headline figures as (name, value) text (the CLI and the demo print
    them)."""
    return [(name, f"{value:.4g}" if isinstance(value, float) else str(value))
            for name, value in summary.items()]
