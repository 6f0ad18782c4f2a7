"""``veil demo``: the whole governed path on synthetic patients, step by step.

Each capability adds its step here, so the demo always shows what veil can do end to end.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from rich.progress import Progress

from veil.access.session import Session
from veil.anonymize.release import Release
from veil.demo.data import DIAGNOSIS_CODES, ETHNICITIES, generate_patients
from veil.demo.federation import NAME as FEDERATED_MODEL
from veil.demo.federation import Comparison, federate_clinics
from veil.demo.governance import ANALYST, STUDY, govern
from veil.discover.analyzer import analyze
from veil.discover.entities import Category
from veil.discover.redact import Operator, redact_text
from veil.dp.execute import DPResult
from veil.errors import InputError, VaultIntegrityError
from veil.govern.ai_act import IntendedUse
from veil.keys import generate_key_file
from veil.ledger import verify_inclusion
from veil.train.features import Encoding
from veil.workspace import Workspace, fingerprint

if TYPE_CHECKING:
    from veil.attacks.membership import MembershipResult

DATASET = "patients"
REFERENCES = 16  # reference models per set in the demo's membership attacks
PURPOSE = "demo"
MARKER = ".veil-demo"
"""A file the demo writes into each directory it makes; ``--overwrite`` deletes nothing else."""
# Public bounds of the lab values (clinical ranges, not read from the data).
BOUNDS = {"glucose_mg_dl": (40.0, 450.0), "bmi": (10.0, 70.0), "hba1c_pct": (3.0, 15.0),
          "systolic_bp": (60.0, 250.0), "cholesterol_mg_dl": (80.0, 400.0)}
SYNTH_METHOD = "aim"
SYNTH_COLUMNS = ("clinic_id", "sex", "ethnicity", "diagnosis_code", *BOUNDS, "readmitted_30d")


@dataclass(frozen=True)
class Baseline:
    """The readmission model trained without privacy on an 80/20 split, for comparison only
    (never registered): its accuracy, and its membership attack beside the DP model's."""

    accuracy: float
    attack: MembershipResult


def baseline(frame: pl.DataFrame, encoding: Encoding, *, epochs: int = 5,
             references: int = REFERENCES) -> Baseline:
    """Train the baseline with the DP models' recipe (SGD, lr 0.5, batches of 256) but no
    clipping or noise, and attack it as :meth:`Session.attack` attacks a registered one."""
    import torch

    from veil.attacks.membership import membership
    from veil.attacks.references import Recipe
    from veil.train.model import build

    rows = frame.sample(fraction=1.0, shuffle=True, seed=7)
    x, y = encoding.features(rows), np.array(encoding.labels(rows))
    cut = int(len(x) * 0.8)
    model = build("mlp", x.shape[1], len(encoding.classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    features, labels = torch.from_numpy(x[:cut]), torch.from_numpy(y[:cut])
    for _ in range(epochs):
        for batch in torch.randperm(cut).split(256):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(features[batch]), labels[batch]).backward()
            optimizer.step()
    with torch.no_grad():
        predicted = model(torch.from_numpy(x[cut:])).argmax(dim=1).numpy()

    def query(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(rows)).numpy()

    recipe = Recipe((x.shape[1], 64, len(encoding.classes)), epochs, 256, 0.5, "sgd")
    attacked = membership(query, recipe, (x[:cut], y[:cut]), (x[cut:], y[cut:]),
                          references=references, bootstrap=100)
    return Baseline(float((predicted == y[cut:]).mean()), attacked)


@dataclass(frozen=True)
class Step:
    name: str
    result: str
    seconds: float


@dataclass
class DemoSummary:
    workspace: Path
    sites: Path
    steps: list[Step] = field(default_factory=list)
    classification: dict[str, Any] | None = None
    texts: list[tuple[str, str]] = field(default_factory=list)
    release: Release | None = None
    statistics: list[tuple[str, DPResult]] = field(default_factory=list)
    models: list[tuple[str, float]] = field(default_factory=list)  # (how trained, accuracy)
    attacks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (model, result)
    audit: dict[str, Any] | None = None  # the DP query mechanism's epsilon audit
    federation: Comparison | None = None
    encrypted_risk: tuple[str, float, float] | None = None  # patient, HE risk, plaintext risk
    secure_mean: tuple[float, float] | None = None  # MPC result, plaintext
    governance: list[tuple[str, str]] = field(default_factory=list)  # (what, outcome)
    reports: list[tuple[str, str, dict[str, Path]]] = field(default_factory=list)  # title,
    # what it found, files written
    synthetic: tuple[str, dict[str, Any]] | None = None  # release, its evaluation's summary

    def run(self, name: str, action: Callable[[], str], progress: Progress | None) -> None:
        task = progress.add_task(name, total=None) if progress else None
        start = time.perf_counter()
        result = action()
        self.steps.append(Step(name, result, time.perf_counter() - start))
        if progress is not None and task is not None:
            progress.remove_task(task)


def sites_path(workspace: Path) -> Path:
    """Where the clinics' workspaces and key files go: beside the coordinator's workspace, as
    separate organisations' would be, never inside it (its owner must not hold their keys)."""
    return workspace.with_name(f"{workspace.name}-sites")


def reports_path(workspace: Path) -> Path:
    """Where the demo writes its compliance reports: beside the workspace, not inside it."""
    return workspace.with_name(f"{workspace.name}-reports")


def _mark(directory: Path) -> None:
    directory.mkdir(mode=0o700, exist_ok=True)
    (directory / MARKER).write_text("made by `veil demo`; `veil demo --overwrite` deletes this "
                                    "directory\n")


def _made_by_demo(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and (path / MARKER).is_file()


def _fresh(path: Path, overwrite: bool) -> None:
    """Clear an earlier demo's directories, only with ``overwrite`` and only when every one of
    them carries the demo's marker; otherwise refuse before deleting anything."""
    found = [p for p in (path, sites_path(path), reports_path(path))
             if p.exists() or p.is_symlink()]
    strangers = [p for p in found if not _made_by_demo(p)]
    if strangers:
        msg = (f"{strangers[0]} exists and is not a directory veil demo made (it has no "
               f"{MARKER} marker); refusing to touch it: delete it yourself or choose another "
               f"--workspace")
        raise InputError(msg)
    if found and not overwrite:
        msg = f"{found[0]} holds an earlier demo; pass --overwrite to replace it"
        raise InputError(msg)
    for directory in found:
        shutil.rmtree(directory)


def run_demo(
    path: Path,
    *,
    patients: int = 30_000,
    seed: int = 20261123,
    overwrite: bool = False,
    key_file: Path,
    progress: Progress | None = None,
) -> DemoSummary:
    """Generate, protect and audit a synthetic patient table in a new workspace at ``path``; the
    clinics' site workspaces go to :func:`sites_path`. ``overwrite`` replaces an earlier demo's
    directories and nothing else (see :data:`MARKER`)."""
    _fresh(path, overwrite)
    summary = DemoSummary(path, sites_path(path))
    frame = None
    plain: Baseline | None = None
    owner: Workspace | None = None
    ws: Session | None = None  # the owner acting for the demo's purpose

    def generate() -> str:
        nonlocal frame
        frame = generate_patients(patients, seed=seed)
        clinics = frame.get_column("clinic_id").n_unique()
        return f"{frame.height:,} patients, {clinics} clinics, {frame.width} columns"

    def create() -> str:
        nonlocal owner, ws
        made = "reused" if key_file.exists() else "new"
        if made == "new":
            generate_key_file(key_file)
        owner = Workspace.create(path, key_file=key_file)
        ws = owner.for_purpose(PURPOSE)
        _mark(path)
        return f"{path} ({made} master key file {key_file.name})"

    def ingest() -> str:
        version = ws.ingest(frame, DATASET, subject_id="patient_id")
        return f"{version.ref} sealed and classified, fingerprint {version.fingerprint[:16]}…"

    def discover() -> str:
        summary.classification = ws.version(DATASET).classification
        found = summary.classification or {"columns": []}
        counts = Counter(c["category"] for c in found["columns"])
        note = frame.get_column("clinical_note")[0]
        pseudonyms = ws.pseudonymizer()
        summary.texts += [("clinical note", note), ("pseudonymized", redact_text(
            note, analyze(note), operator=Operator.PSEUDONYMIZE, pseudonymizer=pseudonyms))]
        return (f"{counts[Category.DIRECT_IDENTIFIER]} direct identifiers, "
                f"{counts[Category.QUASI_IDENTIFIER]} quasi-identifiers, "
                f"{counts[Category.SENSITIVE]} sensitive columns")

    def read_back() -> str:
        back = ws.read(DATASET)
        if fingerprint(back) != fingerprint(frame):
            raise VaultIntegrityError("the demo table read back differs from what was ingested")
        return f"{back.height:,} rows decrypted, fingerprint re-checked"

    def release() -> str:
        summary.release, stored = ws.anonymize(DATASET, k=5, suppression_limit=0.05)
        made = summary.release
        return (f"{stored.ref}: k=5 over {len(made.quasi_identifiers)} quasi-identifiers, "
                f"levels {made.levels}, {made.suppressed:,} suppressed, "
                f"information loss (NCP) {made.utility.ncp:.3f}")

    def statistics() -> str:
        clinics = sorted(frame.get_column("clinic_id").unique().to_list())
        ws.dp_settings(DATASET, bounds=BOUNDS, public_keys={
            "clinic_id": clinics, "sex": ["F", "M"], "readmitted_30d": [0, 1]})
        ws.set_budget(DATASET, epsilon=12.0, delta=1e-4)
        for title, sql in (
                ("patients per clinic",
                 "SELECT clinic_id, COUNT(*) AS patients FROM patients GROUP BY clinic_id"),
                ("mean glucose (mg/dL)", "SELECT AVG(glucose_mg_dl) FROM patients"),
                ("median BMI", "SELECT MEDIAN(bmi) FROM patients")):
            summary.statistics.append((title, ws.query(sql, epsilon=0.5)))
        left = ws.budget(DATASET)
        return (f"{len(summary.statistics)} DP queries at epsilon 0.5 each; epsilon "
                f"{left.left.epsilon:g} of {left.budget.epsilon:g} left")

    def governance() -> str:
        summary.governance = govern(owner, DATASET, frame)
        return (f"purpose {STUDY!r} with consent, analyst {ANALYST!r} limited to DP queries, "
                f"an erasure request; {len(summary.governance)} checks shown below")

    def models() -> str:
        features = [*BOUNDS, "sex", "clinic_id"]
        for epsilon in (1.0, 8.0):
            made = ws.train(DATASET, target="readmitted_30d", features=features, epsilon=epsilon,
                            delta=1e-5, name=f"readmission-eps{epsilon:g}", epochs=5, lr=0.5)
            summary.models.append((f"DP-SGD, epsilon {epsilon:g}",
                                   made.meta["metrics"]["accuracy"]))
        nonlocal plain
        plain = baseline(frame, made.encoding)
        summary.models.append(("no privacy (baseline, not released)", plain.accuracy))
        for epsilon in (1.0, 8.0):  # what the AI Act report classifies them by
            ws.declare_use(f"readmission-eps{epsilon:g}", IntendedUse(
                "medical_device", "30-day readmission risk shown to discharge planners",
                "patients discharged from the clinics", "assists"))
        left = ws.budget(DATASET)
        return (f"readmission model at epsilon 1 and 8, registered with model cards; epsilon "
                f"{left.left.epsilon:g} of {left.budget.epsilon:g} left")

    def synthetic() -> str:
        ws.dp_settings(DATASET, public_keys={"ethnicity": ETHNICITIES,
                                             "diagnosis_code": DIAGNOSIS_CODES})
        made = ws.synthesize(DATASET, epsilon=1.0, delta=1e-9, method=SYNTH_METHOD,
                             columns=SYNTH_COLUMNS, seed=seed)
        found = ws.evaluate_synthetic(made.record.dataset, target="readmitted_30d")
        summary.synthetic = (made.record.ref, found.summary())
        left = ws.budget(DATASET)
        return (f"{made.record.ref}: {made.record.rows:,} rows by {SYNTH_METHOD.upper()} at "
                f"epsilon 1 ({made.privacy['measurements']} measurements, fitted in "
                f"{made.fit_seconds:.0f} s); epsilon {left.left.epsilon:g} of "
                f"{left.budget.epsilon:g} left")

    def attacks() -> str:
        assert plain is not None  # the models step trained the baseline
        attacked = ws.attack("readmission-eps1", kind="membership", references=REFERENCES,
                             bootstrap=100)["result"]
        summary.attacks = [("no privacy (baseline)", plain.attack.to_dict()),
                           ("DP-SGD, epsilon 1", attacked)]
        summary.audit = ws.attack("query", kind="audit", samples=100_000)["result"]
        best = {how: max(r["tpr_at_fpr"]["0.01"] for r in result["attacks"].values())
                for how, result in summary.attacks}
        return (f"membership inference (loss, LiRA, RMIA; {REFERENCES} references): best TPR "
                f"at 1 % FPR {100 * best['no privacy (baseline)']:.2f} % without privacy, "
                f"{100 * best['DP-SGD, epsilon 1']:.2f} % at epsilon 1 (ceiling "
                f"{100 * attacked['dp_bound']['0.01']:.2f} %); DP count audit: epsilon >= "
                f"{summary.audit['lower_bound']:.3f} of {summary.audit['claimed_epsilon']:g}")

    def federated() -> str:
        _mark(summary.sites)
        summary.federation = federate_clinics(
            frame, summary.sites, ws, features=[*BOUNDS, "sex"], bounds=BOUNDS)
        made = summary.federation.result
        return (f"{len(made.federation.sites)} clinic sites, {len(made.rounds)} rounds, SecAgg+ "
                f"and central DP (epsilon {made.privacy['epsilon']:g} per site); accuracy "
                f"{made.accuracy:.4f} vs {summary.federation.central_accuracy:.4f} centralised")

    def encrypted_score() -> str:
        from veil.he import Client
        from veil.he.service import evaluate_registered

        model = ws.model(FEDERATED_MODEL)
        patient = frame.head(1)
        client = Client()  # the patient's side: the secret key never leaves it
        batch = client.encrypt(model.encoding.features(patient))
        scores = evaluate_registered(ws, FEDERATED_MODEL, client.public_context(), batch)
        risk = float(client.probabilities(scores)[0, 1])
        plain = float(model.predict_proba(patient)[0, 1])
        summary.encrypted_risk = (patient.item(0, "patient_id"), risk, plain)
        return (f"patient {patient.item(0, 'patient_id')}: readmission risk {risk:.4f} computed "
                f"on CKKS ciphertexts (plaintext {plain:.4f}, |difference| "
                f"{abs(risk - plain):.1e})")

    def secure_average() -> str:
        from veil.mpc.sites import joint_over_workspaces

        assert summary.federation is not None  # the federated step made the sites
        parties = [(site.workspace, site.key_file, "patients", "glucose_mg_dl")
                   for site in summary.federation.result.federation.sites]
        made = joint_over_workspaces("mean", parties, bounds=BOUNDS["glucose_mg_dl"],
                                     purpose=PURPOSE)
        plain = float(frame.get_column("glucose_mg_dl").mean())  # type: ignore[arg-type]
        summary.secure_mean = (float(made.value), plain)
        return (f"mean glucose over {made.parties} clinics' sites by MPC: {made.value:.3f} "
                f"mg/dL (plaintext {plain:.3f}); each site saw only its own rows")

    def reports() -> str:
        from veil.govern.report import KINDS, render

        folder = reports_path(path)
        _mark(folder)
        for kind in KINDS:
            made = ws.report(kind)
            counts = Counter(f.status for f in made.findings())
            found = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.most_common())
            if made.matrix:
                levels = Counter(c.level for c in made.matrix)
                found = ", ".join(f"{levels[x]} {x}" for x in ("critical", "high", "medium",
                                                               "low") if levels[x]) + (
                    f" cells; {found}" if found else " cells")
            summary.reports.append((made.title, found, render.write(made, folder)))
        written = sum(len(files) for _, _, files in summary.reports)
        return f"{len(KINDS)} reports, {written} files (HTML, JSON, PDF) in {folder}"

    def audit() -> str:
        result = ws.verify()
        ingest_seq = next(e.seq for e in ws.ledger.entries() if e.action == "dataset.ingest")
        verify_inclusion(ws.ledger.prove_inclusion(ingest_seq), ws.ledger.key)
        return (f"{result.entries} entries verified; ingest entry {ingest_seq} proven with "
                "the public key alone")

    try:
        for name, action in [("generate synthetic patients", generate),
                             ("create workspace", create), ("ingest + encrypt", ingest),
                             ("discover personal data", discover), ("read back", read_back),
                             ("anonymize a release", release),
                             ("DP statistics", statistics), ("DP-SGD models", models),
                             ("DP synthetic patients", synthetic),
                             ("attack our own models", attacks),
                             ("purpose, consent, access, erasure", governance),
                             ("federated learning", federated),
                             ("encrypted risk score (HE)", encrypted_score),
                             ("secure average (MPC)", secure_average),
                             ("verify audit ledger", audit),
                             ("compliance reports", reports)]:
            summary.run(name, action, progress)
    finally:
        if owner is not None:
            owner.close()
    return summary
