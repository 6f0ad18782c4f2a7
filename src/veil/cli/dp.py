"""``veil query`` and ``veil budget``: DP answers with error bars, and the budgets they spend."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.table import Table

from veil.cli.common import options, out, print_json
from veil.dp.budget import Remaining
from veil.dp.execute import DPResult, Settings
from veil.dp.sql import parse
from veil.errors import InputError

app = typer.Typer(help="Privacy budgets and DP settings of datasets.", no_args_is_help=True)


def _cost_text(cost: dict[str, float], accountant: str) -> str:
    if accountant == "zcdp":
        return f"rho {cost['rho']:.6g}"
    return f"epsilon {cost['epsilon']:.6g}, delta {cost['delta']:.3g}"


def _budget_table(left: Remaining) -> Table:
    data = left.to_dict()
    table = Table(title=f"privacy budget of {left.dataset}"
                  + ("" if left.principal == "*" else f" for {left.principal}"))
    for column in ("accountant", "budget", "spent", "left", "queries"):
        table.add_column(column, justify="right" if column == "queries" else "left")
    accountant = data["accountant"]
    table.add_row(accountant, _cost_text(data["budget"], accountant),
                  _cost_text(data["spent"], accountant), _cost_text(data["left"], accountant),
                  str(data["queries"]))
    return table


def query(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="SELECT <aggregates> FROM <dataset> ...")],
    dataset: Annotated[str | None, typer.Option(
        help="The dataset (must match FROM when both are given).")] = None,
    epsilon: Annotated[float | None, typer.Option(help="Epsilon to spend.")] = None,
    delta: Annotated[float | None, typer.Option(help="Delta to spend (key release).")] = None,
    rho: Annotated[float | None, typer.Option(help="zCDP rho to spend.")] = None,
    alpha: Annotated[float, typer.Option(help="Intervals hold with probability 1 - alpha.")] = (
        0.05),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Answer a differentially private query, with an interval for every number."""
    opts = options(ctx)
    parsed = parse(sql)
    if dataset is not None and dataset != parsed.dataset:
        raise InputError(f"the query reads FROM {parsed.dataset!r} but --dataset is {dataset!r}")
    with opts.open() as ws:
        result = ws.query(sql, epsilon=epsilon, delta=delta, rho=rho, alpha=alpha)
    if as_json:
        print_json(result.to_dict() | {"remaining": result.remaining, "cached": result.cached})
        return
    out.print(result_table(result, f"{parsed.dataset}"))
    remaining = result.remaining or {}
    spent = "nothing (answered from an identical earlier release)" if result.cached else (
        _cost_text(result.spent.__dict__, remaining.get("accountant", "approx")))
    out.print(f"spent: {spent}; left for {parsed.dataset}: "
              f"{_cost_text(remaining.get('left', {}), remaining.get('accountant', 'approx'))}")


def result_table(result: DPResult, title: str) -> Table:
    """Released values with their intervals at the result's alpha."""
    table = Table(title=f"{title} ({1 - result.alpha:.0%} intervals, differentially private)")
    for column in result.frame.columns:
        table.add_column(column, justify="right" if column in ("value", "ci_low", "ci_high")
                         else "left")
    for row in result.frame.iter_rows():
        table.add_row(*(_cell(v) for v in row))
    return table


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.4g}" if abs(value) < 1e4 else (
            f"{value:,.0f}")
    return "-" if value is None else str(value)


@app.command()
def show(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset.")],
    principal: Annotated[str | None, typer.Option(help="One principal's own budget.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a budget, what was spent and what is left."""
    with options(ctx).open() as ws:
        left = ws.budget(dataset, principal)
    if as_json:
        print_json(left.to_dict())
    else:
        out.print(_budget_table(left))


@app.command("set")
def set_(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset.")],
    epsilon: Annotated[float | None, typer.Option(help="Total epsilon.")] = None,
    delta: Annotated[float | None, typer.Option(help="Total delta.")] = None,
    rho: Annotated[float | None, typer.Option(help="Total zCDP rho (instead of epsilon).")] = (
        None),
    principal: Annotated[str | None, typer.Option(
        help="Set this principal's own budget (else the dataset's).")] = None,
) -> None:
    """Set the privacy budget of a dataset, or of one principal on it."""
    opts = options(ctx)
    with opts.open() as ws:
        left = ws.set_budget(dataset, epsilon=epsilon, delta=delta, rho=rho,
                             principal=principal)
    out.print(_budget_table(left))


@app.command()
def settings(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset.")],
    bounds: Annotated[list[str] | None, typer.Option(
        help="COLUMN=LOW:HIGH; values are clamped to these. Repeat per column.")] = None,
    keys: Annotated[list[str] | None, typer.Option(
        help="COLUMN=a,b,c: public grouping keys. Repeat per column.")] = None,
    max_rows: Annotated[int | None, typer.Option(
        help="Most rows one person may contribute.")] = None,
) -> None:
    """Declare a dataset's value bounds, public keys and contribution bound."""
    opts = options(ctx)
    parsed_bounds, parsed_keys = {}, {}
    for spec in bounds or []:
        column, _, span = spec.partition("=")
        low, _, high = span.partition(":")
        try:
            parsed_bounds[column] = (float(low), float(high))
        except ValueError:
            raise InputError(f"--bounds takes COLUMN=LOW:HIGH; got {spec!r}") from None
    for spec in keys or []:
        column, sep, values = spec.partition("=")
        if not sep or not values:
            raise InputError(f"--keys takes COLUMN=a,b,c; got {spec!r}")
        parsed_keys[column] = [v.strip() for v in values.split(",")]
    with opts.open() as ws:
        schema = ws.version(dataset).schema
        parsed_keys = {c: Settings.keys_from_text(c, schema.get(c, "String"), texts)
                       for c, texts in parsed_keys.items()}
        current = ws.dp_settings(dataset, bounds=parsed_bounds or None,
                                 public_keys=parsed_keys or None, max_rows_per_person=max_rows)
    print_json(current.to_dict())
