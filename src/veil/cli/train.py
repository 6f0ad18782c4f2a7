"""``veil train`` and ``veil models``: DP-SGD models and their registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veil.cli.common import options, out, print_json
from veil.errors import NotFoundError

app = typer.Typer(help="Registered models and their model cards.", no_args_is_help=True)


def train(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset to learn from.")],
    target: Annotated[str, typer.Option(help="Column to predict (public classes).")],
    features: Annotated[str, typer.Option(help="Feature columns, comma-separated.")],
    epsilon: Annotated[float, typer.Option(help="Epsilon to spend.")],
    delta: Annotated[float, typer.Option(help="Delta to spend.")] = 1e-5,
    model: Annotated[str, typer.Option(help="logreg or mlp.")] = "mlp",
    name: Annotated[str | None, typer.Option(help="Model name.")] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the data.")] = 5,
    batch_size: Annotated[int, typer.Option(help="Expected Poisson batch size.")] = 256,
    max_grad_norm: Annotated[float, typer.Option(help="Per-example clipping norm.")] = 1.0,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 0.1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Train a classifier with DP-SGD, spending from the dataset's budget, and register it."""
    opts = options(ctx)
    columns = [c.strip() for c in features.split(",") if c.strip()]
    with opts.open() as ws:
        made = ws.train(dataset, target=target, features=columns, epsilon=epsilon, delta=delta,
                        model=model, name=name, epochs=epochs, batch_size=batch_size,
                        max_grad_norm=max_grad_norm, lr=lr)
    meta = {k: v for k, v in made.meta.items() if not k.startswith("card_")}
    if as_json:
        print_json(meta)
        return
    privacy = meta["privacy"]
    out.print(f"registered [bold]{made.name}@{made.version}[/bold]: held-out accuracy "
              f"{meta['metrics']['accuracy']:.4f}, ({privacy['epsilon']:.4g}, "
              f"{privacy['delta']:g})-DP, noise multiplier {privacy['noise_multiplier']:.4g}, "
              f"{privacy['steps']} steps")


@app.command("list")
def list_(ctx: typer.Context,
          as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every registered model version with its guarantee and metrics."""
    with options(ctx).open() as ws:
        models = ws.models()
    if as_json:
        print_json([{k: v for k, v in m.items() if not k.startswith("card_")} for m in models])
        return
    table = Table("model", "dataset", "epsilon", "delta", "accuracy", "created",
                  title="models")
    for m in models:
        table.add_row(f"{m['name']}@{m['version']}", f"{m['dataset']}@{m['dataset_version']}",
                      f"{m['privacy']['epsilon']:.4g}", f"{m['privacy']['delta']:g}",
                      f"{m['metrics']['accuracy']:.4f}", m["created"][:19])
    out.print(table)


@app.command()
def card(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int | None, typer.Option(help="Version (default: the newest).")] = None,
    html: Annotated[Path | None, typer.Option(help="Also write the HTML card here.")] = None,
) -> None:
    """Print a model's card (Markdown); optionally write its HTML version."""
    with options(ctx).open() as ws:
        found = [m for m in ws.models() if m["name"] == name
                 and (version is None or m["version"] == version)]
    if not found:
        raise NotFoundError(f"no model {name!r}" + (f" version {version}" if version else ""))
    chosen = found[-1]
    out.print(chosen["card_markdown"], markup=False)
    if html is not None:
        html.write_text(chosen["card_html"], encoding="utf-8")


@app.command()
def retrain(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Model name.")]) -> None:
    """Train a model again from the newest version of its dataset with its recorded settings
    (what an erasure marked stale is rebuilt without the erased person); spends budget."""
    with options(ctx).open() as ws:
        made = ws.retrain(name)
    out.print(f"{made.name}@{made.version}: accuracy {made.meta['metrics']['accuracy']:.4f}, "
              f"epsilon {made.meta['privacy']['epsilon']:.4g}")


@app.command()
def use(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name (every version).")],
    domain: Annotated[str, typer.Option(
        help="Where it is used (EU AI Act area), e.g. medical_device, credit_scoring, "
             "employment_recruitment, chatbot, analytics_statistics.")],
    description: Annotated[str, typer.Option(help="What it is for, in words.")],
    affected: Annotated[str, typer.Option(help="Whom its output concerns.")],
    role: Annotated[str, typer.Option(
        help="none (no effect on people), assists (a person decides) or decides.")],
    profiling: Annotated[bool, typer.Option("--profiling", help="It profiles people.")] = False,
    narrow_procedural: Annotated[bool, typer.Option(
        "--narrow-procedural", help="Only a narrow procedural or preparatory task "
                                    "(Art. 6(3)).")] = False,
    public_body: Annotated[bool, typer.Option(
        "--public-body", help="The deployer is a public body.")] = False,
) -> None:
    """Declare a model's intended use; the AI Act report classifies it from this."""
    from veil.govern.ai_act import IntendedUse, classify

    made = IntendedUse(domain, description, affected, role, profiling=profiling,  # type: ignore[arg-type]
                       narrow_procedural=narrow_procedural, public_body=public_body)
    with options(ctx).open() as ws:
        ws.declare_use(name, made)
    found = classify(made)
    out.print(f"{name}: {found.risk_class} risk ({found.reference}); "
              f"{len(found.obligations)} obligation(s)")
