"""``veil report``: the privacy risk matrix and the compliance reports, as HTML, JSON and PDF."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from veil.cli.common import options, out
from veil.errors import InputError
from veil.govern.report import KINDS

_CHOICES = (*KINDS, "all")


def report(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help=f"One of {', '.join(_CHOICES)}.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the reports to.")],
    policy: Annotated[Path | None, typer.Option(
        help="A report policy (TOML) with your thresholds; default: the shipped one.")] = None,
    pdf: Annotated[bool | None, typer.Option(
        "--pdf/--no-pdf", help="Print a PDF with Chromium (default: when one is found).")] = None,
) -> None:
    """Compute reports from the workspace's catalog and ledger (no data is read) and write each
    as HTML with plots, JSON (with inclusion proofs of every cited ledger entry) and PDF."""
    from veil.govern.report import render

    if kind not in _CHOICES:
        raise InputError(f"unknown report {kind!r}; choose from {', '.join(_CHOICES)}")
    kinds = list(KINDS) if kind == "all" else [kind]
    with options(ctx).open() as ws:
        made = [ws.report(k, policy=policy) for k in kinds]
    for found in made:
        files = render.write(found, out_dir, pdf=pdf)
        counts = Counter(f.status for f in found.findings())
        statuses = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.most_common())
        out.print(f"{found.title}: {statuses or 'no findings'} -> "
                  + ", ".join(str(p) for p in files.values()))

