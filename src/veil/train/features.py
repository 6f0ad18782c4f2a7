"""Turn a table into model inputs using only public facts, so preprocessing spends nothing.

A numeric feature is scaled to [0, 1] by its declared bounds (clamped); a text or categorical
feature is one-hot encoded over its declared public keys (anything else is all zeros). Bounds
and keys come from the dataset's DP settings: declared by a person (public knowledge) or
estimated under DP with ``Workspace.estimate_bounds``, which spends budget. Computing means,
ranges or categories from the private data instead would leak, so a feature without them is
refused. The target's classes are its public keys too (or False/True for a Boolean column).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from veil.dp.execute import Settings
from veil.errors import InputError

__all__ = ["Encoding", "encoding_for"]


@dataclass(frozen=True)
class Encoding:
    """How a model reads a table: per feature, bounds or categories; and the classes."""

    numeric: dict[str, tuple[float, float]]
    categorical: dict[str, list[Any]]
    target: str
    classes: list[Any]
    order: list[str]  # feature order

    @property
    def width(self) -> int:
        return sum(1 if c in self.numeric else len(self.categorical[c]) for c in self.order)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Encoding:
        return cls({c: (float(b[0]), float(b[1])) for c, b in data["numeric"].items()},
                   {c: list(v) for c, v in data["categorical"].items()}, data["target"],
                   list(data["classes"]), list(data["order"]))

    def features(self, frame: pl.DataFrame) -> np.ndarray:
        """The feature matrix (float32) of ``frame``."""
        missing = [c for c in self.order if c not in frame.columns]
        if missing:
            raise InputError(f"the table lacks feature column(s) {missing}")
        exprs: list[pl.Expr] = []
        for column in self.order:
            if column in self.numeric:
                lower, upper = self.numeric[column]
                exprs.append(((pl.col(column).cast(pl.Float64).clip(lower, upper) - lower)
                              / (upper - lower)).fill_null(0.0).alias(column))
            else:
                text = pl.col(column).cast(pl.String)
                exprs += [(text == str(k)).fill_null(False).cast(pl.Float32).alias(
                    f"{column}={k}") for k in self.categorical[column]]
        matrix = frame.select(exprs).to_numpy().astype(np.float32)
        if not np.isfinite(matrix).all():
            raise InputError("the features hold NaN or infinite values; impute or drop them")
        return matrix

    def labels(self, frame: pl.DataFrame) -> np.ndarray:
        """Class indices of the target; a value outside the declared classes is an error."""
        values = frame[self.target]
        index = {str(c): i for i, c in enumerate(self.classes)}
        strings = values.cast(pl.String)
        unknown = strings.filter(~strings.is_in(list(index)) | strings.is_null())
        if len(unknown):
            raise InputError(f"target {self.target!r} holds values outside its declared classes "
                             f"{self.classes}, such as {unknown.head(3).to_list()}")
        return strings.replace_strict(index, return_dtype=pl.Int64).to_numpy().copy()  # writable


def encoding_for(schema: Mapping[str, pl.DataType], settings: Settings, target: str,
                 features: Sequence[str]) -> Encoding:
    """The encoding of ``features`` and ``target`` from the dataset's public DP settings."""
    unknown = [c for c in (*features, target) if c not in schema]
    if unknown:
        raise InputError(f"unknown column(s) {unknown}")
    if target in features:
        raise InputError(f"the target {target!r} cannot also be a feature")
    if not features:
        raise InputError("name at least one feature")
    numeric: dict[str, tuple[float, float]] = {}
    categorical: dict[str, list[Any]] = {}
    for column in features:
        dtype = schema[column]
        if column in settings.public_keys:
            categorical[column] = list(settings.public_keys[column])
        elif dtype.is_numeric() and column in settings.bounds:
            numeric[column] = settings.bounds[column]
        elif dtype.is_numeric():
            raise InputError(f"feature {column!r} needs public bounds to be scaled: declare "
                             "them (dp_settings bounds) or estimate them under DP "
                             "(Workspace.estimate_bounds)")
        else:
            raise InputError(f"feature {column!r} is {dtype} and has no encoding: declare its "
                             "public categories (dp_settings public_keys) to one-hot encode it")
    if target in settings.public_keys:
        classes = list(settings.public_keys[target])
    elif schema[target] == pl.Boolean:
        classes = [False, True]
    else:
        raise InputError(f"declare the classes of the target {target!r} (dp_settings "
                         "public_keys); they are not read from the private data")
    if len(classes) < 2:
        raise InputError(f"the target {target!r} has one class {classes}; nothing to learn")
    return Encoding(numeric, categorical, target, classes, list(features))
