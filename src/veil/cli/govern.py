"""``veil purpose``, ``veil consent`` and ``veil retention``: why data may be used, with whose
consent, and for how long."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from veil.cli.common import options, out, print_json
from veil.errors import InputError
from veil.govern.purposes import Purpose
from veil.govern.retention import Retention

purpose_app = typer.Typer(help="The purposes personal data may be used for.",
                          no_args_is_help=True)
consent_app = typer.Typer(help="Consent per subject and purpose.", no_args_is_help=True)
retention_app = typer.Typer(help="How long data is kept, and enforcing it.", no_args_is_help=True)


# -- purposes ------------------------------------------------------------------------------------
@purpose_app.command("add")
def purpose_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A short name sessions use, e.g. readmission-study.")],
    description: Annotated[str, typer.Option(help="What it is for, in words.")],
    basis: Annotated[str, typer.Option(
        help="GDPR Art. 6 basis: consent, contract, legal_obligation, vital_interests, "
             "public_task or legitimate_interests.")],
    dataset: Annotated[list[str], typer.Option(
        help="DATASET=col,col,category:quasi_identifier or DATASET=* ; repeatable.")],
    operations: Annotated[str, typer.Option(help="Comma-separated, e.g. dp_query,dp_train.")],
    consent_required: Annotated[bool, typer.Option(
        "--consent-required", help="Use only subjects whose consent is in force.")] = False,
    retention_days: Annotated[int | None, typer.Option()] = None,
    special: Annotated[str | None, typer.Option(
        help="GDPR Art. 9(2) condition when sensitive columns are used.")] = None,
) -> None:
    """Register a purpose; refused when it breaks the GDPR's rules (an Art. 9 condition for
    sensitive data, consent for a consent basis)."""
    datasets: dict[str, tuple[str, ...]] = {}
    for spec in dataset:
        table, sep, columns = spec.partition("=")
        if not sep or not columns.strip():
            raise InputError(f"--dataset takes DATASET=col,col or DATASET=*; got {spec!r}")
        datasets[table.strip()] = tuple(c.strip() for c in columns.split(",") if c.strip())
    made = Purpose(name, description, basis, datasets,
                   frozenset(o.strip() for o in operations.split(",") if o.strip()),
                   consent_required=consent_required, retention_days=retention_days,
                   special=special)
    with options(ctx).open() as ws:
        ws.purposes.add(made)
    out.print(f"purpose {name} registered ({made.basis}; "
              f"{'consent required' if made.consent_required else 'no consent required'})")


@purpose_app.command("list")
def purpose_list(ctx: typer.Context,
                 as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    with options(ctx).open() as ws:
        found = ws.purposes.list()
    if as_json:
        print_json([p.to_dict() for p in found])
        return
    table = Table("name", "basis", "Art. 9", "datasets", "operations", "consent", "ends")
    for p in found:
        table.add_row(p.name, str(p.basis), str(p.special or ""),
                      "; ".join(f"{d}={','.join(c)}" for d, c in p.datasets.items()),
                      ",".join(sorted(p.operations)), "yes" if p.consent_required else "no",
                      p.ends or "")
    out.print(table)


@purpose_app.command("end")
def purpose_end(ctx: typer.Context, name: Annotated[str, typer.Argument()],
                on: Annotated[str, typer.Option(help="ISO date or time it ends.")]) -> None:
    """End a purpose: nothing may be done for it afterwards."""
    with options(ctx).open() as ws:
        ws.purposes.end(name, on=on)
    out.print(f"purpose {name} ends on {on}")


# -- consent -------------------------------------------------------------------------------------
@consent_app.command("import")
def consent_import(ctx: typer.Context, path: Annotated[Path, typer.Argument(
        help="CSV or Parquet with subject, purpose, state, at, source, notice.")]) -> None:
    """Record consent events in bulk; subjects found in no dataset are kept and reported."""
    with options(ctx).open() as ws:
        report = ws.consent.import_file(path)
    _consent_report(report)


def _consent_command(state: str) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        subject: Annotated[str, typer.Argument(help="The subject's id.")],
        purpose: Annotated[str, typer.Argument(help="A registered purpose.")],
        source: Annotated[str, typer.Option(help="Where it came from (form, call, portal).")],
        notice: Annotated[str, typer.Option(help="Version of the privacy notice shown.")],
    ) -> None:
        with options(ctx).open() as ws:
            record = ws.consent.give if state == "given" else ws.consent.withdraw
            report = record(subject, purpose, source=source, notice=notice)
        _consent_report(report)

    command.__doc__ = ("Record that a subject gave consent for a purpose." if state == "given"
                       else "Record a withdrawal: every later operation leaves the subject out.")
    return command


consent_app.command("give")(_consent_command("given"))
consent_app.command("withdraw")(_consent_command("withdrawn"))


@consent_app.command("show")
def consent_show(ctx: typer.Context, subject: Annotated[str, typer.Argument()],
                 purpose: Annotated[str | None, typer.Option()] = None,
                 as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A subject's consent history (logged: it is personal data)."""
    with options(ctx).open() as ws:
        events = ws.consent.history(subject, purpose)
    if as_json:
        print_json([e.__dict__ for e in events])
        return
    table = Table("purpose", "state", "at", "source", "notice", "recorded")
    for e in events:
        table.add_row(e.purpose, e.state, str(e.at)[:19], e.source or "", e.notice or "",
                      str(e.recorded)[:19])
    out.print(table)


def _consent_report(report: Any) -> None:
    out.print(f"{report.events} consent event(s) for {report.subjects} subject(s) recorded"
              + (f"; {report.unknown} subject(s) not found in the purposes' datasets (kept)"
                 if report.unknown else ""))


# -- retention -----------------------------------------------------------------------------------
@retention_app.command("set")
def retention_set(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument()],
    keep_versions_days: Annotated[int | None, typer.Option(
        help="Crypto-shred versions older than this (never the newest).")] = None,
    date_column: Annotated[str | None, typer.Option(help="A date column of the rows.")] = None,
    keep_rows_days: Annotated[int | None, typer.Option(
        help="Keep rows while DATE_COLUMN is within this many days.")] = None,
    until_purpose: Annotated[str | None, typer.Option(
        help="Keep everything until this purpose ends, then shred it all.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Drop the policy.")] = False,
) -> None:
    """Set (or --clear) a dataset's retention policy."""
    policy = None if clear else Retention(keep_versions_days, date_column, keep_rows_days,
                                          until_purpose)
    with options(ctx).open() as ws:
        ws.retention.set(dataset, policy)
    out.print(f"retention of {dataset}: {policy.to_dict() if policy else 'none'}")


@retention_app.command("show")
def retention_show(ctx: typer.Context, dataset: Annotated[str, typer.Argument()]) -> None:
    with options(ctx).open() as ws:
        policy = ws.retention.get(dataset)
    print_json(policy.to_dict() if policy else None)


@retention_app.command("enforce")
def retention_enforce(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would go.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Apply every retention policy (idempotent; safe to run from cron)."""
    with options(ctx).open() as ws:
        report = ws.retention.enforce(dry_run=dry_run)
    if as_json:
        print_json(json.loads(json.dumps(report, default=lambda o: o.__dict__)))
        return
    table = Table("dataset", "expired rows", "new version", "shredded", "why",
                  title="would go (dry run)" if dry_run else "enforced")
    for d in report.datasets:
        table.add_row(d.dataset, str(d.expired_rows), str(d.new_version or ""),
                      ",".join(map(str, d.shredded)), "; ".join(d.reasons))
    out.print(table)


# -- data subject requests and lineage -----------------------------------------------------------
dsar_app = typer.Typer(help="Data subject requests: access, erasure, rectification.",
                       no_args_is_help=True)


@dsar_app.command("access")
def dsar_access(ctx: typer.Context, subject: Annotated[str, typer.Argument()],
                folder: Annotated[Path, typer.Option(
                    "--out", help="Folder for the JSON and CSV export.")]) -> None:
    """Export everything held about a subject (GDPR Art. 15, CCPA right to know)."""
    with options(ctx).open() as ws:
        report = ws.requests.access(subject, out_dir=folder)
    rows = sum(f.height for v in report.rows.values() for f in v.values())
    out.print(f"request {report.request_id}: {rows} row(s) in "
                      f"{len(report.rows)} dataset(s), {len(report.consents)} consent "
                      f"event(s), {len(report.artifacts)} derived artifact(s); written: "
                      + ", ".join(p.name for p in report.files))


@dsar_app.command("erase")
def dsar_erase(ctx: typer.Context, subject: Annotated[str, typer.Argument()],
               receipt: Annotated[Path | None, typer.Option(
                   help="Write the receipt (with its ledger proof) here.")] = None,
               yes: Annotated[bool, typer.Option("--yes", help="Confirm.")] = False) -> None:
    """Erase a subject everywhere (GDPR Art. 17, CCPA delete): new versions without them,
    the old ones crypto-shredded, derived artifacts flagged; prints the receipt."""
    if not yes:
        typer.confirm("Erase this subject from every dataset for good?", abort=True)
    with options(ctx).open() as ws:
        made = ws.requests.erase(subject)
    if receipt is not None:
        receipt.write_text(json.dumps(made.to_dict(), indent=2, default=str) + "\n")
    if not made.held:
        out.print(f"request {made.request_id}: nothing held about this subject")
        return
    table = Table("dataset", "rows removed", "new version", "shredded",
                  title=f"erasure {made.request_id} (ledger entry {made.proof['entry']['seq']})")
    for d in made.datasets:
        table.add_row(d.dataset, str(d.rows), ",".join(d.made), ",".join(d.shredded))
    out.print(table)
    for flag in made.flags:
        out.print(f"flagged {flag.kind} {flag.name} {flag.id}: {flag.effect}")


@dsar_app.command("rectify")
def dsar_rectify(ctx: typer.Context, subject: Annotated[str, typer.Argument()],
                 dataset: Annotated[str, typer.Argument()],
                 set_: Annotated[list[str], typer.Option("--set", help="COLUMN=VALUE")]) -> None:
    """Correct a subject's rows as a new version (GDPR Art. 16)."""
    changes = {}
    for spec in set_:
        column, sep, value = spec.partition("=")
        if not sep:
            raise InputError(f"--set takes COLUMN=VALUE; got a value without '=' for {column!r}")
        changes[column] = json.loads(value) if _json(value) else value
    with options(ctx).open() as ws:
        made = ws.requests.rectify(subject, dataset, changes)
    out.print(f"request {made.request_id}: {made.version} made, {made.rows} row(s), "
                      f"columns {', '.join(made.columns)}")


@dsar_app.command("status")
def dsar_status(ctx: typer.Context, request_id: Annotated[str, typer.Argument()]) -> None:
    with options(ctx).open() as ws:
        print_json(ws.requests.status(request_id).to_dict())


def lineage(ctx: typer.Context,
            name: Annotated[str, typer.Argument(help="A dataset, release or model.")],
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Where a dataset, release or model came from, and what was derived from it."""
    with options(ctx).open() as ws:
        found = ws.lineage(name)
    if as_json:
        print_json(found.to_dict())
        return
    table = Table("artifact", "kind", "id", "from", title=f"lineage of {name}")
    for artifact in (*found.artifacts, *found.derived):
        table.add_row(artifact.name, artifact.kind, artifact.id,
                      ", ".join(source.ref for source in artifact.sources))
    out.print(table)


def _json(text: str) -> bool:
    """A number, true/false/null stay typed; anything else is text."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
