"""``veil attack``: attack the workspace's own models, releases, datasets and DP mechanisms."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from veil.cli.common import options, out, print_json
from veil.errors import InputError

app = typer.Typer(help="Attack veil's own outputs and measure the leakage against their claims.",
                  no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Version = Annotated[int | None, typer.Option(help="Version (default: the newest).")]
Seed = Annotated[int, typer.Option(help="Seed of the attacker's random choices.")]


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def _verdict(ok: bool, good: str = "within", bad: str = "EXCEEDED") -> str:
    return good if ok else f"[bold red]{bad}[/bold red]"


def _without_plot(found: dict) -> dict:
    """A recorded result for JSON output, without its (large) SVG plot."""
    return found | {"result": {k: v for k, v in found["result"].items() if k != "plot"}}


def leakage_table(results: list[tuple[str, dict]]) -> Table:
    """Membership attacks on several models side by side: AUC and TPR at low FPR with their
    intervals, and each model's DP ceiling."""
    table = Table("model", "attack", "AUC", "TPR @ 1 % FPR", "TPR @ 0.1 % FPR", "DP ceiling @ 1 %",
                  title="membership inference: measured leakage")
    for model, result in results:
        ceiling = result.get("dp_bound")
        for method, roc in result["attacks"].items():
            ci = roc["intervals"]
            table.add_row(model, method,
                          f"{roc['auc']:.3f} [{ci['auc'][0]:.3f}, {ci['auc'][1]:.3f}]",
                          f"{_pct(roc['tpr_at_fpr']['0.01'])} [{_pct(ci['tpr@0.01'][0])}, "
                          f"{_pct(ci['tpr@0.01'][1])}]",
                          f"{_pct(roc['tpr_at_fpr']['0.001'])} [{_pct(ci['tpr@0.001'][0])}, "
                          f"{_pct(ci['tpr@0.001'][1])}]",
                          _pct(ceiling["0.01"]) if ceiling else "none (no DP)")
    return table


def measured_line(found: dict) -> str:
    """One recorded linkage or reconstruction result against a dataset or release."""
    result, when = found["result"], found["recorded"][:19]
    if found["attack"] == "linkage":
        text = (f"{_pct(result['rate'])} re-identified on "
                f"{', '.join(result['quasi_identifiers'])}")
        if result["k"]:
            text += (f", highest risk {result['highest_risk']:.3f} vs 1/k "
                     f"{result['prosecutor_bound']:.3f}")
    else:
        plain, private = result["without_noise"], result["through_dp_queries"]
        text = (f"{_pct(plain['recovered_share'])} of {plain['people']} bits of "
                f"{result['secret']} without noise, {_pct(private['recovered_share'])} through "
                f"DP queries (epsilon {private['epsilon_spent']:.3g})")
    return f"measured {found['attack']} ({when}, by {found['principal']}): {text}"


def audit_line(result: dict) -> str:
    """One audit's outcome, for a person."""
    return (f"{result['mechanism']}: epsilon lower bound {result['lower_bound']:.3f} at "
            f"{100 * result['confidence']:g} % confidence vs claimed "
            f"{result['claimed_epsilon']:.3f} (ratio {result['ratio']:.2f}, "
            f"{result['samples']} samples): "
            + _verdict(result["passed"], "passed", "FAILED"))


@app.command()
def membership(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registered model to attack.")],
    version: Version = None,
    methods: Annotated[str, typer.Option(help="Attacks, comma-separated.")] = (
        "loss,lira-offline,lira-online,rmia"),
    references: Annotated[int, typer.Option(help="Reference models per set.")] = 64,
    evaluate: Annotated[int | None, typer.Option(
        help="Members (and as many non-members) scored; default: all the held-out rows.")] = None,
    seed: Seed = 0,
    as_json: Json = False,
) -> None:
    """Membership inference (loss, LiRA offline/online, RMIA) against a model, checked against
    its DP guarantee; the result goes into its model card and the ledger."""
    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    with options(ctx).open() as ws, out.status("training reference models...") as status:
        found = ws.attack(model, kind="membership", version=version, methods=chosen,
                          references=references, evaluate=evaluate, seed=seed,
                          progress=status.update)
    result = found["result"]
    if as_json:
        print_json(_without_plot(found))
        return
    out.print(leakage_table([(f"{model}@{found['artifact_id']}", result)]))
    if result["dp_bound"]:
        out.print(f"DP ceiling at epsilon {result['epsilon']:.4g}: "
                  f"{_pct(result['dp_bound']['0.01'])} at 1 % FPR, "
                  f"{_pct(result['dp_bound']['0.001'])} at 0.1 % FPR: "
                  + _verdict(result["within_bound"]))


@app.command()
def attribute(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registered model to attack.")],
    sensitive: Annotated[str, typer.Option(help="The model input to infer.")],
    version: Version = None,
    inversion: Annotated[bool, typer.Option(
        help="Model inversion: the attacker knows only the label.")] = False,
    bins: Annotated[int, typer.Option(help="Bins a numeric input is guessed in.")] = 10,
    as_json: Json = False,
) -> None:
    """Attribute inference (or model inversion) of a sensitive input of a model."""
    with options(ctx).open() as ws:
        found = ws.attack(model, kind="attribute", version=version, sensitive=sensitive,
                          mode="inversion" if inversion else "attribute", bins=bins)
    result = found["result"]
    if as_json:
        print_json(found)
        return
    for group in ("members", "non_members"):
        out.print(f"{group.replace('_', '-')}: balanced accuracy "
                  f"{result['accuracy'][group]:.3f} vs the prior's "
                  f"{result['prior_accuracy'][group]:.3f} (advantage "
                  f"{result['advantage'][group]:+.3f}, {result['rows'][group]} rows)")


@app.command()
def linkage(
    ctx: typer.Context,
    release: Annotated[str, typer.Argument(help="Release (or raw dataset) to link against.")],
    version: Version = None,
    quasi_identifiers: Annotated[str | None, typer.Option(
        help="The attacker's columns, comma-separated (default: the release's).")] = None,
    share: Annotated[float, typer.Option(help="Share of people in the register.")] = 1.0,
    exact: Annotated[bool, typer.Option(help="Exact matching only.")] = False,
    seed: Seed = 0,
    as_json: Json = False,
) -> None:
    """Re-identify a release's rows by joining a public-register-like extract to it."""
    columns = None if quasi_identifiers is None else [
        c.strip() for c in quasi_identifiers.split(",") if c.strip()]
    with options(ctx).open() as ws:
        found = ws.attack(release, kind="linkage", version=version, quasi_identifiers=columns,
                          share=share, matching="exact" if exact else "covering", seed=seed)
    result = found["result"]
    if as_json:
        print_json(found)
        return
    line = (f"{found['artifact']}@{found['artifact_id']}: {_pct(result['rate'])} of "
            f"{result['targeted']} people re-identified correctly on "
            f"{', '.join(result['quasi_identifiers'])} (unique and right: "
            f"{_pct(result['unique_rate'])}; mean {result['mean_candidates']:.1f} candidates)")
    if result["k"]:
        line += (f"; highest risk {result['highest_risk']:.3f} vs 1/k = "
                 f"{result['prosecutor_bound']:.3f}: "
                 + _verdict(result["within_bound"]))
    out.print(line)


@app.command()
def reconstruction(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset the DP queries run on.")],
    secret: Annotated[str, typer.Option(help="The secret bit column (0/1).")],
    version: Version = None,
    people: Annotated[int, typer.Option(help="People attacked (the first ones).")] = 500,
    queries: Annotated[int, typer.Option(help="Subset queries to ask at most.")] = 1000,
    epsilon_per_query: Annotated[float, typer.Option(help="Epsilon each query spends.")] = 0.01,
    seed: Seed = 0,
    as_json: Json = False,
) -> None:
    """Dinur-Nissim reconstruction of a secret bit: exact answers vs veil's DP queries (these
    spend the dataset's real budget)."""
    with options(ctx).open() as ws:
        found = ws.attack(dataset, kind="reconstruction", version=version, secret=secret,
                          people=people, queries=queries,
                          epsilon_per_query=epsilon_per_query, seed=seed)
    result = found["result"]
    if as_json:
        print_json(found)
        return
    for label, part in (("without noise", result["without_noise"]),
                        ("through DP queries", result["through_dp_queries"])):
        spent = "" if part["epsilon_spent"] is None else f", epsilon {part['epsilon_spent']:.3g}"
        out.print(f"{label}: {_pct(part['recovered_share'])} of {part['people']} bits "
                  f"recovered from {part['queries_answered']} answers{spent} (majority guess "
                  f"{_pct(part['baseline_share'])})")


def _parse(pairs: list[str]) -> dict[str, object]:
    """``key=value`` pairs, each value read as JSON when it parses (numbers, true/false), else
    as text."""
    found: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set takes key=value; got {pair!r}")
        try:
            found[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            found[key.strip()] = value
    return found


@app.command()
def audit(
    ctx: typer.Context,
    mechanism: Annotated[str, typer.Argument(
        help="query, dpsgd (one training run), dpsgd-multi-run, federated or synth.")],
    settings: Annotated[list[str] | None, typer.Option(
        "--set", help="An audit parameter as key=value (e.g. budget=1, canaries=2000).")] = None,
    as_json: Json = False,
) -> None:
    """Empirical epsilon audit of a DP mechanism: a statistically valid lower bound on the
    epsilon it spends, which must not exceed what veil claims."""
    with options(ctx).open() as ws:
        found = ws.attack(mechanism, kind="audit", **_parse(settings or []))
    if as_json:
        print_json(found)
        return
    out.print(audit_line(found["result"]))


@app.command("list")
def list_(ctx: typer.Context,
          artifact: Annotated[str | None, typer.Argument(help="Only this artifact.")] = None,
          as_json: Json = False) -> None:
    """The attack results recorded, oldest first."""
    with options(ctx).open() as ws:
        found = ws.attacks(artifact)
    if as_json:
        print_json([_without_plot(f) for f in found])
        return
    table = Table("id", "attack", "artifact", "by", "recorded", title="attack results")
    for f in found:
        table.add_row(str(f["id"]), f["attack"],
                      f"{f['artifact_kind']} {f['artifact']}@{f['artifact_id']}",
                      f["principal"], f["recorded"][:19])
    out.print(table)
