"""``veil federate``: check a federation definition, and train it across the sites."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veil.cli.common import options, out, print_json

app = typer.Typer(help="Federated learning across sites (Flower, SecAgg+, DP).",
                  no_args_is_help=True)

Definition = Annotated[Path, typer.Argument(help="Federation definition (TOML).")]


@app.command()
def check(definition: Definition,
          as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Check a definition and show what each site would spend; touches no site."""
    from veil.federated import load
    from veil.federated.privacy import plan

    federation = load(definition)
    spend = plan(federation)
    if as_json:
        print_json({"federation": federation.name, "sites": [s.name for s in federation.sites],
                    "privacy": spend})
        return
    out.print(f"[bold]{federation.name}[/bold]: {len(federation.sites)} sites, "
              f"{federation.rounds} rounds of {federation.strategy}, secure aggregation "
              f"{'SecAgg+' if federation.secure_aggregation.enabled else 'off'}")
    if spend:
        out.print(f"each site spends ({spend['epsilon']:g}, {spend['delta']:g})-DP per "
                  f"{spend['unit']} ({spend['mode']}); noise multiplier "
                  f"{spend['noise_multiplier']:.4g}")
    else:
        out.print("no differential privacy: the model carries no guarantee")


@app.command()
def run(
    ctx: typer.Context,
    definition: Definition,
    engine: Annotated[str, typer.Option(help="simulation or deployment (SuperLink + "
                                             "SuperNodes with TLS).")] = "simulation",
    name: Annotated[str | None, typer.Option(help="Model name (default: the federation's).")
                    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Train across the sites and register the global model in this workspace."""
    from veil.federated import federate, load

    federation = load(definition)
    opts = options(ctx)
    with opts.open() as ws:
        result = federate(federation, workspace=ws, name=name,
                          engine=engine)  # type: ignore[arg-type]
    if as_json:
        print_json({"rounds": result.rounds, "privacy": result.privacy,
                    "model": f"{result.model.name}@{result.model.version}",
                    "seconds": result.seconds})
        return
    table = Table("round", "sites", "accuracy", "AUC", "seconds", "excluded",
                  title=f"federation {federation.name}")
    for entry in result.rounds:
        table.add_row(str(entry["round"]), str(entry["sites"]),
                      f"{entry.get('accuracy', float('nan')):.4f}",
                      f"{entry.get('auc', float('nan')):.4f}", f"{entry.get('seconds', 0):.2f}",
                      "; ".join(e["reason"] for e in entry["excluded"]) or "-")
    out.print(table)
    out.print(f"registered [bold]{result.model.name}@{result.model.version}[/bold]"
              + (f", ({result.privacy['epsilon']:g}, {result.privacy['delta']:g})-DP per "
                 f"{result.privacy['unit']}" if result.privacy else ", no DP guarantee"))


@app.command()
def tls(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Where to write ca.crt, server.pem and "
                                                   "server.key (0600).")],
    host: Annotated[list[str] | None, typer.Option(
        "--host", help="Name or IP the SuperLink is reached at (repeat).")] = None,
    days: Annotated[int, typer.Option(help="Server certificate lifetime.")] = 30,
) -> None:
    """Issue the SuperLink's TLS certificate from this workspace's federation CA (its key
    stays wrapped in the key ring); give ca.crt to every site."""
    opts = options(ctx)
    with opts.open() as ws:
        files = ws.issue_tls(directory, hosts=host or ("127.0.0.1", "localhost"), days=days)
    out.print(f"server certificate {files.fingerprint[:16]}… for {', '.join(files.hosts)} "
              f"until {files.not_after}; CA {files.ca_fingerprint[:16]}… in {directory}")
