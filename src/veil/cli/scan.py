"""``veil scan``: what personal data a file holds, column by column; needs no workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from veil.cli.common import out, print_json
from veil.discover.hipaa import safe_harbor_report
from veil.discover.table import TableScan, scan_file


def findings_table(scan: dict[str, Any], title: str) -> Table:
    """The per-column verdicts of a scan (as stored by ``TableScan.to_dict``)."""
    table = Table(title=title)
    table.add_column("column", overflow="fold")
    table.add_column("category", no_wrap=True)
    table.add_column("entity", overflow="fold")
    table.add_column("conf.", justify="right")
    table.add_column("evidence", overflow="fold")
    for found in scan["columns"]:
        evidence = found["evidence"]
        why = evidence.get("reason", "")
        if evidence.get("contained"):
            why += f" (contains {', '.join(sorted(evidence['contained']))})"
        table.add_row(found["column"], found["category"], found["entity"] or "",
                      f"{found['confidence']:.2f}", why)
    return table


def scan(
    source: Annotated[Path, typer.Argument(help="CSV, TSV, Parquet, JSON lines or text file.")],
    sample: Annotated[int, typer.Option(min=1, help="Rows to read and scan.")] = 10_000,
    full: Annotated[bool, typer.Option(help="Scan every cell instead of a sample.")] = False,
    json_out: Annotated[Path | None, typer.Option(help="Also write the findings as JSON.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Find and classify personal data: direct and quasi-identifiers, sensitive attributes."""
    result: TableScan = scan_file(source, sample=None if full else sample)
    data = result.to_dict() | {"safe_harbor": safe_harbor_report(result).to_dict()}
    if json_out is not None:
        json_out.write_text(json.dumps(data, indent=2, default=str) + "\n")
    if as_json:
        print_json(data)
        return
    scope = "every row" if not result.sampled else f"{result.scanned_rows:,} rows (sampled)"
    out.print(findings_table(data, f"{source.name}: {scope}, {result.seconds:.2f} s"))
    if result.qi_risk:
        risk = Table("quasi-identifiers", "rows unique on them", "classes",
                     title="re-identification risk")
        for entry in result.qi_risk[:5]:
            risk.add_row(", ".join(entry.columns), f"{entry.unique_share:.1%}",
                         f"{entry.classes:,}")
        out.print(risk)
    harbor = data["safe_harbor"]
    present = ", ".join(p["identifier"] for p in harbor["present"]) or "none"
    out.print(f"HIPAA Safe Harbor identifiers present: {present}")
    for warning in result.warnings:
        out.print(f"[yellow]warning[/]: {warning}")
