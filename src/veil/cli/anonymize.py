"""``veil anonymize``: a k-anonymous / l-diverse / t-close release of a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veil.anonymize.hierarchy import Hierarchy
from veil.anonymize.release import Release
from veil.cli.common import options, out, print_json
from veil.errors import InputError


def _names(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def _hierarchies(specs: list[str]) -> dict[str, Hierarchy]:
    found = {}
    for spec in specs:
        column, sep, path = spec.partition("=")
        if not sep or not column or not path:
            raise InputError(f"--hierarchy takes COLUMN=FILE (an ARX hierarchy CSV); got {spec!r}")
        found[column] = Hierarchy.read_csv(Path(path), column)
    return found


def comparison(release: Release) -> Table:
    """Utility and risk before and after, side by side."""
    before, after, use = release.risk_before, release.risk_after, release.utility
    table = Table(title="before and after")
    for column in ("measure", "original", "release"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row("records", f"{before.records:,}", f"{release.frame.height:,}")
    table.add_row("equivalence classes", f"{before.classes:,}", f"{after.classes:,}")
    table.add_row("smallest class (k)", f"{round(1 / before.prosecutor_max)}",
                  f"{release.achieved.k}")
    table.add_row("prosecutor risk, highest", f"{before.prosecutor_max:.3f}",
                  f"{after.prosecutor_max:.3f}")
    table.add_row("prosecutor risk, average", f"{before.prosecutor_average:.3f}",
                  f"{after.prosecutor_average:.3f}")
    table.add_row("records above risk threshold", f"{before.records_at_risk:.1%}",
                  f"{after.records_at_risk:.1%}")
    table.add_row("sample uniques", f"{before.sample_uniques:.1%}", f"{after.sample_uniques:.1%}")
    table.add_row("information loss (NCP)", "0.000", f"{use.ncp:.3f}")
    table.add_row("suppressed records", "0", f"{release.suppressed:,}")
    return table


def anonymize(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset to release.")],
    qi: Annotated[str | None, typer.Option(
        "--qi", help="Quasi-identifiers, comma-separated (default: the discovery "
        "classification's).")] = None,
    sensitive: Annotated[str | None, typer.Option(
        help="Sensitive attributes, comma-separated (default: the classification's).")] = None,
    k: Annotated[int | None, typer.Option(help="k-anonymity.")] = None,
    l_div: Annotated[float | None, typer.Option("--l", help="l-diversity.")] = None,
    entropy: Annotated[bool, typer.Option(help="Entropy l-diversity (else distinct).")] = False,
    t: Annotated[float | None, typer.Option(help="t-closeness.")] = None,
    hierarchical: Annotated[bool, typer.Option(
        help="t-closeness with the hierarchical distance (needs --hierarchy for the "
        "sensitive attribute).")] = False,
    suppression: Annotated[float, typer.Option(
        help="Share of records that may be suppressed (0-1).")] = 0.0,
    algorithm: Annotated[str, typer.Option(help="optimal or mondrian.")] = "optimal",
    metric: Annotated[str, typer.Option(
        help="Utility metric the optimal search minimises: loss, entropy, height, "
        "discernibility.")] = "loss",
    hierarchy: Annotated[list[str] | None, typer.Option(
        help="COLUMN=FILE: an ARX hierarchy CSV; repeat per column.")] = None,
    output: Annotated[str | None, typer.Option(help="Name of the release dataset.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Release a dataset so that it meets k-anonymity, l-diversity and/or t-closeness."""
    opts = options(ctx)
    with opts.open() as ws:
        release, version = ws.anonymize(
            dataset, _names(qi), _names(sensitive), k=k, l=l_div,
            l_kind="entropy" if entropy else "distinct", t=t,
            t_distance="hierarchical" if hierarchical else "equal",
            hierarchies=_hierarchies(hierarchy or []), suppression_limit=suppression,
            algorithm=algorithm, metric=metric, output=output)
    if as_json:
        print_json({"release": version.ref, **release.to_dict()})
        return
    out.print(f"released [bold]{version.ref}[/bold]: {release.frame.height:,} rows, "
              f"{', '.join(str(m['model']) for m in release.models)}"
              + (f", levels {release.levels}" if release.levels else ""))
    out.print(comparison(release))
