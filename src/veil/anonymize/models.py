"""Privacy models: which equivalence classes of a release are acceptable.

Each model looks at a :class:`~veil.anonymize.encoding.Partition` and returns, per class,
whether it *fails*; the records of failing classes are suppressed (removed from the release)
when they fit within the suppression limit, otherwise the lattice node fails. Every model
here is monotone under generalization without suppression: a union of acceptable classes is
acceptable (sizes add up; a merged class has at least as many distinct values, and at least
the smallest entropy of its parts by concavity; the earth mover's distance is convex in the
class distribution). With suppression only k-anonymity and distinct l-diversity stay
monotone (``monotone_with_suppression``): merging an acceptable class with a failing one
keeps at least k records and l values, but can fall below an entropy or beyond a distance.
The lattice search prunes only as far as that allows.

* :class:`KAnonymity`: every class holds at least ``k`` records (Sweeney 2002).
* :class:`DistinctLDiversity`: at least ``l`` distinct sensitive values per class.
* :class:`EntropyLDiversity`: the entropy of the sensitive values per class is at least
  ``log(l)`` (Machanavajjhala et al. 2007).
* :class:`TCloseness`: the earth mover's distance between a class's sensitive distribution and
  the whole table's is at most ``t`` (Li et al. 2007), with the *equal* ground distance (every
  pair of values 1 apart: half the L1 distance) or the *hierarchical* one (values as far apart
  as the height of their lowest common ancestor in the attribute's hierarchy, over its height).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import numpy as np

from veil.anonymize.encoding import Encoded, Partition
from veil.anonymize.hierarchy import Hierarchy
from veil.errors import HierarchyError, InputError

__all__ = [
    "DistinctLDiversity",
    "EntropyLDiversity",
    "KAnonymity",
    "PrivacyModel",
    "TCloseness",
    "emd_equal",
    "emd_hierarchical",
    "memberships",
]


class PrivacyModel(Protocol):
    """What the search asks of a model."""

    monotone_with_suppression: bool

    def prepare(self, encoded: Encoded) -> None:
        """Validate against the table and cache what :meth:`fails` needs."""

    def fails(self, partition: Partition) -> np.ndarray:
        """Boolean per class: True where the class does not meet the model."""

    def describe(self) -> dict[str, object]:
        """The model's parameters, for the release's provenance."""


@dataclass
class KAnonymity:
    monotone_with_suppression: ClassVar[bool] = True
    k: int

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise InputError(f"k must be a whole number >= 1; got {self.k!r}")

    def prepare(self, encoded: Encoded) -> None:
        self.check_rows(encoded.records)

    def check_rows(self, rows: int) -> None:
        """A table of ``rows`` records can hold a class of ``k`` (known before reading it)."""
        if self.k > rows:
            raise InputError(f"k={self.k} is larger than the table's {rows} rows")

    def fails(self, partition: Partition) -> np.ndarray:
        return partition.sizes < self.k

    def describe(self) -> dict[str, object]:
        return {"model": "k-anonymity", "k": self.k}


def _check_l(value: float, name: str, *, whole: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1 or (
            whole and not float(value).is_integer()):
        kind = "a whole number" if whole else "a number"
        raise InputError(f"{name} l must be {kind} >= 1; got {value!r}")


def _sensitive(encoded: Encoded, attribute: str, model: str) -> int:
    if attribute not in encoded.sensitive:
        msg = f"{model} needs {attribute!r} among the sensitive attributes"
        raise InputError(msg)
    return len(encoded.sensitive_values[attribute])


@dataclass
class DistinctLDiversity:
    monotone_with_suppression: ClassVar[bool] = True
    attribute: str
    l: int  # noqa: E741 - the model's name for it

    def __post_init__(self) -> None:
        _check_l(self.l, "distinct l-diversity", whole=True)

    def prepare(self, encoded: Encoded) -> None:
        values = _sensitive(encoded, self.attribute, "l-diversity")
        if self.l > values:
            msg = (f"l={self.l} is more than the {values} distinct values of "
                   f"{self.attribute!r}: no class can be {self.l}-diverse")
            raise InputError(msg)

    def fails(self, partition: Partition) -> np.ndarray:
        return np.count_nonzero(partition.histogram(self.attribute), axis=1) < self.l

    def describe(self) -> dict[str, object]:
        return {"model": "distinct l-diversity", "attribute": self.attribute, "l": self.l}


@dataclass
class EntropyLDiversity:
    monotone_with_suppression: ClassVar[bool] = False
    attribute: str
    l: float  # noqa: E741

    def __post_init__(self) -> None:
        _check_l(self.l, "entropy l-diversity", whole=False)

    def prepare(self, encoded: Encoded) -> None:
        _sensitive(encoded, self.attribute, "l-diversity")

    def fails(self, partition: Partition) -> np.ndarray:
        hist = partition.histogram(self.attribute).astype(float)
        p = hist / hist.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
        return entropy < math.log(self.l) - 1e-12

    def describe(self) -> dict[str, object]:
        return {"model": "entropy l-diversity", "attribute": self.attribute, "l": self.l}


@dataclass
class TCloseness:
    monotone_with_suppression: ClassVar[bool] = False
    attribute: str
    t: float
    distance: Literal["equal", "hierarchical"] = "equal"
    hierarchy: Hierarchy | None = None
    _total: np.ndarray | None = None
    _members: list[np.ndarray] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.t, bool) or not isinstance(self.t, int | float) or not (
                0 <= self.t <= 1):
            raise InputError(f"t must be a number in [0, 1]; got {self.t!r}")
        if self.distance not in ("equal", "hierarchical"):
            raise InputError(f"t-closeness distance must be 'equal' or 'hierarchical'; "
                             f"got {self.distance!r}")
        if self.distance == "hierarchical" and self.hierarchy is None:
            raise InputError(f"hierarchical t-closeness needs a hierarchy for "
                             f"{self.attribute!r}")

    def prepare(self, encoded: Encoded) -> None:
        _sensitive(encoded, self.attribute, "t-closeness")
        totals = encoded.sensitive_totals(self.attribute)
        self._total = totals / totals.sum()
        if self.distance == "hierarchical":
            assert self.hierarchy is not None
            self._members = memberships(self.hierarchy,
                                         encoded.sensitive_values[self.attribute])

    def fails(self, partition: Partition) -> np.ndarray:
        assert self._total is not None, "prepare() first"
        hist = partition.histogram(self.attribute).astype(float)
        p = hist / hist.sum(axis=1, keepdims=True)
        if self.distance == "equal":
            return emd_equal(p, self._total) > self.t + 1e-12
        assert self._members is not None
        return emd_hierarchical(p, self._total, self._members) > self.t + 1e-12

    def describe(self) -> dict[str, object]:
        return {"model": "t-closeness", "attribute": self.attribute, "t": self.t,
                "distance": self.distance}


def emd_equal(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Earth mover's distance with every two values 1 apart: half the L1 distance, per row."""
    return 0.5 * np.abs(p - q).sum(axis=-1)


def memberships(hierarchy: Hierarchy, values: tuple[str, ...]) -> list[np.ndarray]:
    """Per level 1..height, a (values x nodes) 0/1 matrix: which node holds each value."""
    index = {v: i for i, v in enumerate(hierarchy.values)}
    missing = sum(v not in index for v in values)
    if missing:
        msg = (f"hierarchy {hierarchy.attribute!r} does not cover {missing} of the "
               f"{len(values)} sensitive value(s); add them to the hierarchy")
        raise HierarchyError(msg)
    rows = [index[v] for v in values]
    out = []
    for codes in hierarchy.level_codes()[1:]:
        mine = codes[rows]
        _, node = np.unique(mine, return_inverse=True)
        matrix = np.zeros((len(values), int(node.max()) + 1))
        matrix[np.arange(len(values)), node] = 1.0
        out.append(matrix)
    return out


def emd_hierarchical(p: np.ndarray, q: np.ndarray, members: list[np.ndarray]) -> np.ndarray:
    """Earth mover's distance under the hierarchical ground distance (Li et al. 2007, sec.
    4.2): at each internal node, the mass that must cross it, min(positive, negative extra of
    its children), costs the node's height over the hierarchy's height. Per row of ``p``."""
    height = len(members)
    extra = p - q  # the leaves' extras
    child = np.eye(p.shape[-1])  # values -> nodes of the level below (the leaves themselves)
    total = np.zeros(p.shape[:-1])
    for level, member in enumerate(members, start=1):
        # nodes of the level below -> nodes of this level
        link = (child.T @ member > 0).astype(float)
        positive = np.clip(extra, 0, None) @ link
        negative = np.clip(-extra, 0, None) @ link
        total += level / height * np.minimum(positive, negative).sum(axis=-1)
        extra = extra @ link
        child = member
    return total
