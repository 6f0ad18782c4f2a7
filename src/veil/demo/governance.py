"""The demo's governance step: a purpose with consent, an analyst who may only run DP queries
for it, a refused raw read, and a withdrawn consent that leaves rows out of the next query."""

from __future__ import annotations

import secrets

import polars as pl
import pyotp

from veil.errors import AccessDenied
from veil.govern.purposes import LawfulBasis, Purpose, SpecialCondition
from veil.ledger import proof_from_dict, verify_inclusion
from veil.workspace import Workspace

STUDY = "readmission-study"
ANALYST = "ana"
_COLUMNS = ("clinic_id", "sex", "readmitted_30d", "glucose_mg_dl", "bmi")


def govern(owner: Workspace, dataset: str, frame: pl.DataFrame) -> list[tuple[str, str]]:
    """Run the step on ``dataset`` (whose rows are ``frame``); returns (what, outcome) lines."""
    lines = []
    owner.purposes.add(Purpose(
        STUDY, "30-day readmission statistics for the clinics' quality board",
        LawfulBasis.CONSENT, {dataset: _COLUMNS}, frozenset({"dp_query"}),
        consent_required=True, retention_days=365,
        special=SpecialCondition.EXPLICIT_CONSENT))
    ids = frame.get_column("patient_id")
    owner.consent.record(pl.DataFrame({
        "subject": ids, "purpose": STUDY, "state": "given", "at": "2026-01-15T09:00:00+00:00",
        "source": "admission form", "notice": "privacy-notice-v3"}))
    lines.append(("purpose", f"{STUDY!r}: consent basis, Art. 9(2)(a), columns "
                             f"{', '.join(_COLUMNS)}; {ids.len():,} consents recorded"))
    password = secrets.token_urlsafe(18)
    enrolled = owner.users.add(ANALYST, password)
    owner.policy.allow(ANALYST, "dp_query", dataset=dataset, purpose=STUDY)
    analyst = owner.login(ANALYST, password, pyotp.TOTP(enrolled.secret).now(), purpose=STUDY)
    lines.append(("analyst", f"{ANALYST!r} logged in (password + TOTP); one policy line: "
                             f"dp_query on {dataset!r} for {STUDY!r}, nothing else"))
    sql = f"SELECT COUNT(*) FROM {dataset} WHERE readmitted_30d = 1"  # noqa: S608 (DP SQL)  # noqa: S608 (DP SQL)
    before = analyst.query(sql, epsilon=0.25).frame["value"][0]
    lines.append(("DP query", f"readmissions ~ {before:,.0f} (epsilon 0.25, charged to "
                              f"{ANALYST!r})"))
    try:
        analyst.read(dataset, columns=["name", "ssn"])
    except AccessDenied as refused:
        lines.append(("raw read refused", str(refused)))
    withdrawn = ids.head(max(1, ids.len() // 100))
    owner.consent.record(pl.DataFrame({
        "subject": withdrawn, "purpose": STUDY, "state": "withdrawn",
        "at": "2026-06-01T12:00:00+00:00", "source": "patient portal",
        "notice": "privacy-notice-v3"}))
    analyst.query(sql, epsilon=0.25)
    left_out = owner.ledger.tail(1, "dp.query")[0].parameters["consent_left_out"]
    lines.append(("consent withdrawn", f"{withdrawn.len():,} patients withdrew; the next query "
                                       f"left {left_out:,} rows out (the ledger says so)"))
    lines += _erase(owner, ids[ids.len() // 2])
    return lines


def _erase(owner: Workspace, subject: str) -> list[tuple[str, str]]:
    """An erasure request: the receipt's inclusion proof checked with the public key alone,
    and what it flagged (DP models keep a bounded guarantee; other releases go stale)."""
    receipt = owner.requests.erase(subject)
    verify_inclusion(proof_from_dict(receipt.proof), owner.ledger.key)
    made = ", ".join(f"{d.dataset}: {d.rows} row(s) out, {len(d.shredded)} version(s) shredded"
                     for d in receipt.datasets)
    flagged = "; ".join(
        f"{f.kind} {f.name}: {f.effect}" + (f" (epsilon {f.privacy['epsilon']:g})"
                                            if f.privacy and "epsilon" in f.privacy else "")
        for f in receipt.flags) or "none"
    return [("erasure", f"request {receipt.request_id}: {made}; receipt proven in the signed "
                        f"ledger (entry {receipt.proof['entry']['seq']})"),
            ("flagged", flagged)]
