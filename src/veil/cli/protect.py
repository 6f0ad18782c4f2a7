"""``veil pseudonymize``, ``veil reidentify`` and ``veil safe-harbor``: protected releases."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from veil.cli.common import options, out, print_json
from veil.errors import InputError
from veil.workspace import DatasetVersion


def _report(version: DatasetVersion, as_json: bool) -> None:
    if as_json:
        print_json(version.to_dict())
        return
    tokens = version.provenance.get("tokens")
    kept = f"; token map in {tokens['dataset']}@{tokens['version']}" if tokens else ""
    out.print(f"{version.ref}: {version.rows} rows, {len(version.schema)} columns from "
              f"{version.provenance['from']}{kept}")


def pseudonymize(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset to pseudonymize.")],
    columns: Annotated[str, typer.Option(help="Comma-separated columns to replace by tokens.")],
    reversible: Annotated[bool, typer.Option(
        help="Keep the token -> value map (encrypted) so `veil reidentify` can reverse "
        "tokens.")] = False,
    output: Annotated[str | None, typer.Option(
        help="Name of the new dataset (default DATASET.pseudonymized).")] = None,
    version: Annotated[int | None, typer.Option(help="Version (default: newest).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Replace columns by keyed tokens (same value, same token) in a new dataset."""
    names = [c.strip() for c in columns.split(",") if c.strip()]
    if not names:
        raise InputError("--columns needs at least one column name, e.g. --columns name,email")
    opts = options(ctx)
    with opts.open() as ws:
        made = ws.pseudonymize(dataset, names, version=version, reversible=reversible,
                               output=output)
    _report(made, as_json)


def reidentify(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="A reversible pseudonymized release.")],
    tokens: Annotated[list[str], typer.Argument(help="Tokens to look up.")],
    purpose: Annotated[str, typer.Option(help="Why re-identification is needed (logged).")],
    version: Annotated[int | None, typer.Option(help="Version (default: newest).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Look up the original values behind tokens; logged with its purpose."""
    opts = options(ctx)
    with opts.open() as ws:
        found = ws.for_purpose(purpose).reidentify(dataset, tokens, version=version)
    if as_json:
        print_json(found)
        return
    table = Table("token", "value", title=f"{dataset}: {len(found)} token(s) re-identified")
    for token, value in found.items():
        table.add_row(token, value)
    out.print(table)


def safe_harbor(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset to de-identify.")],
    output: Annotated[str | None, typer.Option(
        help="Name of the new dataset (default DATASET.safe_harbor).")] = None,
    reference_year: Annotated[int | None, typer.Option(
        help="Year ages are reckoned at (default: this year).")] = None,
    version: Annotated[int | None, typer.Option(help="Version (default: newest).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """HIPAA Safe Harbor release: drop or coarsen the 18 identifiers into a new dataset."""
    opts = options(ctx)
    with opts.open() as ws:
        made = ws.safe_harbor(dataset, version=version, output=output,
                              reference_year=reference_year)
    if not as_json:
        table = Table("column", "action", title=f"{made.ref}: Safe Harbor (45 CFR 164.514(b)(2))")
        for column, action in made.provenance["actions"].items():
            table.add_row(column, action)
        out.print(table)
    _report(made, as_json)
