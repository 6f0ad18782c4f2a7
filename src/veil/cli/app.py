"""The ``veil`` command: thin shells over the Python API, so CLI and notebook behave the same."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from veil.access.scope import ADMINISTRATION
from veil.cli import (
    access,
    anonymize,
    attack,
    audit,
    dp,
    federate,
    govern,
    he,
    keys,
    mpc,
    protect,
    report,
    scan,
    synth,
    train,
    zk,
)
from veil.cli.common import Options, options, out, print_json, refuse_remote
from veil.keys import generate_key_file
from veil.workspace import DatasetVersion, Workspace

if TYPE_CHECKING:
    from veil.demo.federation import Comparison

app = typer.Typer(
    help="veil: learn from sensitive personal data without exposing the people in it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(audit.app, name="audit")
app.command()(access.login)
app.command()(access.logout)
app.add_typer(access.user_app, name="user")
app.add_typer(access.token_app, name="token")
app.add_typer(access.role_app, name="role")
app.add_typer(access.policy_app, name="policy")
app.add_typer(govern.purpose_app, name="purpose")
app.add_typer(govern.consent_app, name="consent")
app.add_typer(govern.retention_app, name="retention")
app.add_typer(govern.dsar_app, name="dsar")
app.command()(govern.lineage)
app.add_typer(keys.app, name="keys")
app.command()(scan.scan)
app.command()(protect.pseudonymize)
app.command()(protect.reidentify)
app.command(name="safe-harbor")(protect.safe_harbor)
app.command()(anonymize.anonymize)
app.command()(dp.query)
app.add_typer(dp.app, name="budget")
app.command()(train.train)
app.add_typer(train.app, name="models")
app.add_typer(synth.app, name="synth")
app.add_typer(federate.app, name="federate")
app.add_typer(he.app, name="he")
app.add_typer(mpc.app, name="mpc")
app.add_typer(zk.app, name="zk")
app.add_typer(attack.app, name="attack")
app.command()(report.report)


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Annotated[Path, typer.Option(
        "--workspace", "-w", envvar="VEIL_WORKSPACE", help="Workspace directory.")] = Path(
        "veil-workspace"),
    key_file: Annotated[Path | None, typer.Option(
        envvar="VEIL_KEY_FILE", help="Master key file (else VEIL_MASTER_KEY, VEIL_PASSPHRASE "
        "or a prompt).")] = None,
    purpose: Annotated[str, typer.Option(
        envvar="VEIL_PURPOSE", help="Why (logged; a registered purpose binds what may be "
        "used).")] = ADMINISTRATION,
    server: Annotated[str | None, typer.Option(
        help="Run the command on a veil service (https://host:8443) instead of a workspace "
        "here; sign in first with `veil login --server`.")] = None,
    ca: Annotated[Path | None, typer.Option(
        envvar="VEIL_CA", help="CA file the --server certificate must chain to (default: the "
        "one kept at login, else the system's).")] = None,
) -> None:
    """Exit codes: 0 ok, 1 other veil error, 2 bad input or unknown name, 3 key problem,
    4 integrity failure (tampering or corruption), 5 access refused or authentication failed."""
    ctx.obj = Options(workspace, key_file, purpose, server, ca)
    if server is not None:
        refuse_remote(ctx.invoked_subcommand)


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=out, transient=True)


@app.command()
def init(
    ctx: typer.Context,
    new_key_file: Annotated[Path | None, typer.Option(
        help="Generate a new master key file here and use it.")] = None,
) -> None:
    """Create a new, empty workspace."""
    opts = options(ctx)
    if new_key_file is not None:
        generate_key_file(new_key_file)
        args: dict = {"key_file": new_key_file}
    else:
        args = opts.key_args(confirm=True)
    with Workspace.create(opts.workspace, **args) as ws:
        out.print(f"created workspace {ws.path} (ledger key {ws.ledger.public_key.hex()[:16]}…)")


@app.command()
def ingest(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet file.")],
    name: Annotated[str, typer.Option(help="Dataset name.")],
    subject_id: Annotated[str, typer.Option(help="Column that identifies the data subject.")],
    fmt: Annotated[str | None, typer.Option("--format", help="csv, tsv or parquet.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Validate, fingerprint, encrypt and register a file as a new dataset version."""
    opts = options(ctx)
    with opts.open() as ws, _progress() as progress:
        progress.add_task(f"ingesting {source.name}", total=None)
        version = ws.ingest(source, name, subject_id=subject_id, format=fmt)
    if as_json:
        print_json(version.to_dict())
    else:
        out.print(f"{version.ref}: {version.rows} rows, {len(version.schema)} columns, "
                  f"fingerprint {version.fingerprint[:16]}…")


def _versions_table(versions: list[DatasetVersion]) -> Table:
    table = Table("dataset", "version", "rows", "columns", "subject id", "fingerprint",
                  "created", "state")
    for v in versions:
        table.add_row(v.dataset, str(v.version), str(v.rows), str(len(v.schema)), v.subject_id,
                      v.fingerprint[:16], v.created[:19], "shredded" if v.destroyed else "live")
    return table


@app.command()
def datasets(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List datasets with their newest version."""
    with options(ctx).open() as ws:
        found = ws.datasets()
    if as_json:
        print_json([v.to_dict() for v in found])
    else:
        out.print(_versions_table(found))


@app.command()
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    version: Annotated[int | None, typer.Option(help="Version (default: newest).")] = None,
    rows: Annotated[int, typer.Option(min=0, help="Also print the first N rows (logged as "
                                      "a read).")] = 0,
    attacks: Annotated[bool, typer.Option(
        "--attacks", help="Also list the attacks measured against this version.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Describe a dataset: its versions, schema and provenance, and with ``--attacks`` (an
    audit right) the linkage and reconstruction attacks measured against this version."""
    opts = options(ctx)
    with opts.open() as ws:
        record = ws.version(name, version)
        history = ws.versions(name)
        frame = (ws.read(name, record.version).head(rows)
                 if rows else None)
        measured = [a for a in ws.attacks(name) if a["artifact_id"] == str(record.version)
                    ] if attacks else []
    if as_json:
        data = record.to_dict() | {"versions": [v.version for v in history],
                                   "attacks": measured}
        if frame is not None:
            data["rows_preview"] = frame.to_dicts()
        print_json(data)
        return
    out.print(_versions_table(history))
    schema = Table("column", "type", title=f"{record.ref} schema")
    for column, dtype in record.schema.items():
        schema.add_row(column + (" (subject id)" if column == record.subject_id else ""), dtype)
    out.print(schema)
    out.print(f"provenance: {record.provenance}")
    for found in measured:
        out.print(attack.measured_line(found))
    if frame is not None:
        out.print(frame)


@app.command()
def destroy(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    version: Annotated[int, typer.Argument(help="Version to crypto-shred.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm; this cannot be undone.")] = False,
) -> None:
    """Crypto-shred one dataset version: its key is erased and its data is gone for good."""
    if not yes:
        typer.confirm(f"Destroy {name}@{version} for good?", abort=True)
    opts = options(ctx)
    with opts.open() as ws:
        record = ws.destroy(name, version)
    out.print(f"{record.ref} destroyed at {record.destroyed}")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8443,
    cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM); default: one "
                                              "issued from the workspace's CA.")] = None,
    key: Annotated[Path | None, typer.Option(help="Its private key (PEM).")] = None,
    plain_http: Annotated[bool, typer.Option(
        "--plain-http", help="Serve without TLS (refused unless the address is loopback).")
    ] = False,
    threads: Annotated[int, typer.Option(min=1, help="Request threads.")] = 8,
    ready: Annotated[Path | None, typer.Option(help="Write this file once listening.")] = None,
) -> None:
    """Serve the REST API and the dashboard over HTTPS (the process holds the master key;
    people sign in with password and TOTP)."""
    from veil.api.server import serve as run

    opts = options(ctx)
    with opts.open_workspace() as ws:
        master = ws._store.ring.master
    out.print(f"serving {opts.workspace} on {'http' if plain_http else 'https'}://{host}:{port}"
              + ("" if plain_http or cert else f" (CA: {opts.workspace}.tls/ca.crt)"))
    run(opts.workspace, master, host=host, port=port, cert=cert, key=key,
        plain_http=plain_http, threads=threads, ready=ready)


@app.command()
def gc(ctx: typer.Context) -> None:
    """Delete sealed files no version or model refers to (left by crashes); safe while other
    processes ingest."""
    opts = options(ctx)
    with opts.open() as ws:
        removed = ws.gc()
    out.print(f"removed {len(removed)} unreferenced vault file(s)")


@app.command()
def demo(
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Where to build the demo "
                                            "workspace.")] = Path("veil-demo"),
    patients: Annotated[int, typer.Option(min=1, help="Synthetic patients.")] = 30_000,
    seed: Annotated[int, typer.Option(help="Seed for the synthetic data.")] = 20261123,
    overwrite: Annotated[bool, typer.Option(help="Replace an earlier demo's workspace and "
                                            "sites (never a directory the demo did not "
                                            "make).")] = False,
    serve: Annotated[bool, typer.Option(
        "--serve", help="Then serve the workspace over HTTPS (REST API and dashboard) until "
        "Ctrl-C, with a sign-in for the demo's analyst.")] = False,
    port: Annotated[int, typer.Option(help="Port for --serve (on 127.0.0.1).")] = 8443,
) -> None:
    """Generate synthetic patients into a fresh workspace and run veil end to end on them.

    The clinics' site workspaces and key files go beside it, in WORKSPACE-sites, and the
    compliance reports in WORKSPACE-reports."""
    from veil.demo.pipeline import run_demo  # the demo pulls in Faker; keep other commands light

    key_file = Path(os.environ.get("VEIL_KEY_FILE") or workspace.with_suffix(".key"))
    key_file.parent.mkdir(parents=True, exist_ok=True)
    with _progress() as progress:
        summary = run_demo(workspace, patients=patients, seed=seed, overwrite=overwrite,
                           key_file=key_file, progress=progress)
    table = Table("step", "result", "seconds", title="veil demo")
    for step in summary.steps:
        table.add_row(step.name, step.result, f"{step.seconds:.2f}")
    if summary.classification:
        out.print(scan.findings_table(summary.classification, "patients: what veil found"))
    for title, text in summary.texts:
        out.print(f"[bold]{title}[/]: {text}")
    if summary.release is not None:
        out.print(anonymize.comparison(summary.release))
    for title, result in summary.statistics:
        out.print(dp.result_table(result, title))
    if summary.governance:
        governed = Table("check", "outcome",
                         title="governance: purpose, consent, access, erasure")
        for what, outcome in summary.governance:
            governed.add_row(what, outcome)
        out.print(governed)
    if summary.models:
        models = Table("readmission model", "held-out accuracy", title="DP-SGD models")
        for how, accuracy in summary.models:
            models.add_row(how, f"{accuracy:.4f}")
        out.print(models)
    if summary.synthetic is not None:
        synthetic = Table("measure", "value", title=f"DP synthetic release "
                          f"{summary.synthetic[0]}: evaluation (not DP; for the data owner)")
        for name, value in synth.summary_rows(summary.synthetic[1]):
            synthetic.add_row(name, value)
        out.print(synthetic)
    if summary.attacks:
        out.print(attack.leakage_table(summary.attacks))
    if summary.audit is not None:
        out.print(attack.audit_line(summary.audit))
    if summary.federation is not None:
        out.print(_federation_table(summary.federation))
    if summary.reports:
        reports = Table("report", "what it found", "files", title="compliance reports")
        for title, found, files in summary.reports:
            reports.add_row(title, found, ", ".join(p.name for p in files.values()))
        out.print(reports)
    out.print(table)
    out.print(f"workspace: {workspace}  key file: {key_file}  clinic sites: {summary.sites}")
    if summary.reports:
        out.print(f"reports: {next(iter(summary.reports[0][2].values())).parent}")
    if serve:
        _serve_demo(workspace, key_file, port)


def _serve_demo(workspace: Path, key_file: Path, port: int, ready: Path | None = None) -> None:
    """Serve the demo's workspace on 127.0.0.1 until Ctrl-C (``ready`` is written once it
    listens). The demo's analyst gets a fresh password and second factor, printed here
    (synthetic data; a real user enrols themselves)."""
    import secrets

    from veil.api.server import serve as run
    from veil.demo.governance import ANALYST, STUDY

    password = secrets.token_urlsafe(12)
    with Workspace.open(workspace, key_file=key_file) as ws:
        ws.users.set_password(ANALYST, password)
        enrolled = ws.users.reset_mfa(ANALYST)
        master = ws._store.ring.master
    url, ca = f"https://127.0.0.1:{port}", workspace.with_name(f"{workspace.name}.tls") / "ca.crt"
    example = "SELECT COUNT(*) FROM patients WHERE readmitted_30d = 1"
    for line in (
            "", f"serving {workspace} at {url} (dashboard {url}/ui/); trust the CA {ca}; "
            "Ctrl-C stops it.",
            f"sign in as {ANALYST} (DP queries on patients for purpose {STUDY!r}):",
            f"  password     {password}",
            f"  TOTP secret  {enrolled.secret} (an authenticator app, or: python -c "
            f"\"import pyotp; print(pyotp.TOTP('{enrolled.secret}').now())\")",
            f"  from the CLI veil login --server {url} --ca {ca} {ANALYST}",
            f"               veil --server {url} --purpose {STUDY} query '{example}' "
            "--epsilon 0.1"):
        out.print(line, markup=False, highlight=False)
    run(workspace, master, port=port, ready=ready)


def _federation_table(comparison: Comparison) -> Table:
    result = comparison.result
    table = Table("where", "held-out rows", "accuracy", "AUC",
                  title=f"federated readmission model: SecAgg+, central DP epsilon "
                        f"{result.privacy['epsilon']:g}, {len(result.rounds)} rounds")
    for site, metrics in sorted(result.rounds[-1]["per_site"].items()):
        table.add_row(f"site {site}", str(metrics["rows"]), f"{metrics['accuracy']:.4f}",
                      f"{metrics.get('auc', float('nan')):.4f}")
    table.add_row("all sites (federated, DP)", "", f"{result.accuracy:.4f}", f"{result.auc:.4f}")
    table.add_row("centralised, no privacy", "", f"{comparison.central_accuracy:.4f}",
                  f"{comparison.central_auc:.4f}")
    table.add_row("always 'not readmitted'", "", f"{comparison.majority:.4f}", "0.5000")
    return table
