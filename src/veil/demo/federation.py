"""The demo's federation: each clinic becomes a site with its own workspace, key and budget, and
the readmission model is trained across them with SecAgg+ and central (record-level) DP, then
compared with the same model trained centrally on the pooled rows without privacy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from veil.access.session import Session
from veil.federated import Federation, Privacy, SecureAggregation, Site, federate
from veil.federated.run import FederationResult
from veil.federated.site import encoding, model, split
from veil.keys import generate_key_file
from veil.workspace import Workspace

__all__ = ["NAME", "Comparison", "federate_clinics"]

NAME = "readmission-federated"  # the federation, and the model it registers
EPSILON = 3.0
ROUNDS = 40


@dataclass(frozen=True)
class Comparison:
    result: FederationResult
    central_accuracy: float  # same model, pooled rows, no privacy, same held-out rows
    central_auc: float
    majority: float  # accuracy of always predicting the commoner class


def _sites(frame: pl.DataFrame, root: Path) -> list[Site]:
    root.mkdir(parents=True, exist_ok=True)
    sites = []
    for (clinic,), rows in sorted(frame.partition_by("clinic_id", as_dict=True).items()):
        key = generate_key_file(root / f"{clinic}.key")
        with Workspace.create(root / clinic, key_file=key) as ws:
            ws.ingest(rows, "patients", subject_id="patient_id")
            ws.set_budget("patients", epsilon=5.0, delta=1e-4)
        sites.append(Site(str(clinic), str(root / clinic), "patients", str(key)))
    return sites


def _central(frame: pl.DataFrame, federation: Federation) -> tuple[float, float, float]:
    """Accuracy and AUC of the model trained on the pooled training rows (no privacy), on the
    union of the sites' held-out rows, and the majority-class accuracy there."""
    import torch
    from sklearn.metrics import roc_auc_score

    parts = [split(rows, "patient_id", federation) for _, rows in
             sorted(frame.partition_by("clinic_id", as_dict=True).items())]
    train = pl.concat([p[0] for p in parts]).sample(fraction=1.0, shuffle=True, seed=1)
    test = pl.concat([p[1] for p in parts])
    enc = encoding(federation)
    x, y = torch.from_numpy(enc.features(train)), torch.from_numpy(enc.labels(train))
    module = model(federation)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.5)
    for _ in range(10):
        for batch in torch.randperm(len(x)).split(64):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(module(x[batch]), y[batch]).backward()
            optimizer.step()
    test_y = enc.labels(test)
    with torch.no_grad():
        proba = torch.softmax(module(torch.from_numpy(enc.features(test))), dim=1).numpy()
    majority = float(max(np.mean(test_y), 1 - np.mean(test_y)))
    return (float((proba.argmax(axis=1) == test_y).mean()),
            float(roc_auc_score(test_y, proba[:, 1])), majority)


def federate_clinics(frame: pl.DataFrame, root: Path, coordinator: Session, *,
                     features: list[str], bounds: dict[str, tuple[float, float]]
                     ) -> Comparison:
    """Train the readmission model across the clinics; register it in ``coordinator``."""
    federation = Federation(
        name=NAME, sites=_sites(frame, root),
        target="readmitted_30d", features=features,
        bounds={c: bounds[c] for c in features if c in bounds},
        categories={"sex": ["F", "M"]}, model="logreg", rounds=ROUNDS, seed=7,
        strategy="fedadam", server_lr=0.5,  # Adam on the server, on the noisy mean gradient
        privacy=Privacy("central", epsilon=EPSILON, delta=1e-5, clipping_norm=1.0,
                        sample_rate=0.2),
        secure_aggregation=SecureAggregation(num_shares=3, threshold=2))
    result = federate(federation, workspace=coordinator)
    return Comparison(result, *_central(frame, federation))
