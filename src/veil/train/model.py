"""Models as the registry stores them: an architecture rebuilt from its description and
weights loaded with ``torch.load(weights_only=True)``, so a stored model can never run code."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import torch
from torch import nn

from veil.errors import InputError
from veil.train.features import Encoding

__all__ = ["ARCHITECTURES", "Model", "Split", "build", "pack", "split_of", "unpack"]

ARCHITECTURES = ("logreg", "mlp")


def build(architecture: str, inputs: int, classes: int, hidden: int = 64) -> nn.Module:
    """A model from its description: logistic regression or a one-hidden-layer MLP."""
    if architecture == "logreg":
        return nn.Linear(inputs, classes)
    if architecture == "mlp":
        return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, classes))
    raise InputError(f"unknown model {architecture!r}; use one of {list(ARCHITECTURES)} or pass "
                     "a torch module")


@dataclass(frozen=True)
class Split:
    """Which rows of the training version (positions in it) the model learnt from and which it
    held out: the ground truth a membership attack is scored against. Sealed with the
    weights, so it is as secret and as tamper-evident as they are."""

    members: np.ndarray
    held_out: np.ndarray

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, members=self.members.astype(np.int64),
                 held_out=self.held_out.astype(np.int64))
        return buffer.getvalue()


def pack(model: nn.Module, split: Split | None = None) -> pl.DataFrame:
    """The weights (and the training split, when known) as a one-row frame, for the vault."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    cells = {"state_dict": [buffer.getvalue()]}
    if split is not None:
        cells["split"] = [split.to_bytes()]
    return pl.DataFrame(cells, schema={name: pl.Binary for name in cells})


def split_of(frame: pl.DataFrame) -> Split | None:
    """The training split sealed beside the weights; None for a model registered without one
    (a federation's, or one trained before veil kept it)."""
    if "split" not in frame.columns:
        return None
    arrays = np.load(io.BytesIO(frame["split"][0]), allow_pickle=False)
    return Split(arrays["members"], arrays["held_out"])


def unpack(frame: pl.DataFrame, model: nn.Module) -> nn.Module:
    state = torch.load(io.BytesIO(frame["state_dict"][0]), weights_only=True)
    model.load_state_dict(state)
    model.eval()
    return model


@dataclass
class Model:
    """A registered model, loaded through the workspace."""

    name: str
    version: int
    module: nn.Module
    encoding: Encoding
    meta: dict[str, Any]
    split: Split | None = field(default=None, repr=False)  # kept by veil's trainer

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        with torch.no_grad():
            logits = self.module(torch.from_numpy(self.encoding.features(frame)))
            return torch.softmax(logits, dim=1).numpy()

    def predict(self, frame: pl.DataFrame) -> list[Any]:
        return [self.encoding.classes[i] for i in self.predict_proba(frame).argmax(axis=1)]
