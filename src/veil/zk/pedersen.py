"""Pedersen commitments ``C = v·G + r·H``: commit to a number now, prove facts about it later.

Hiding: for uniform ``r``, ``C`` is a uniform point whatever ``v`` is, so it reveals nothing.
Binding: opening ``C`` to two values would give ``log_G H``, which nobody knows (see
:data:`veil.zk.group.H`). Commitments add: ``commit(a, r) + commit(b, s) = commit(a+b, r+s)``,
which the range proofs use to split a value into bits and recombine them.

A commitment says nothing about *whose* value it is: for "age >= 18" to mean anything, the
verifier must get ``C`` from someone it trusts to have checked the age (a signed credential),
and the holder keeps the :class:`Opening`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from veil.errors import InputError
from veil.zk.group import G, H, N, Point, random_scalar

__all__ = ["Opening", "commit", "verify_opening"]


@dataclass(frozen=True)
class Opening:
    """What opens a commitment: the value ``v`` in ``[0, n)`` and blinding ``r`` in ``[1, n)``.

    Both are secret (the blinding hides the value; kept out of ``repr``).
    """

    value: int = field(repr=False)
    blinding: int = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("value", "blinding"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise InputError(f"{name} must be an int, got {type(v).__name__}")
        if not 0 <= self.value < N:
            raise InputError("value must be in [0, n); commit to non-negative integers")
        if not 0 < self.blinding < N:
            raise InputError("blinding must be in [1, n); a zero blinding hides nothing")

    @property
    def commitment(self) -> Point:
        """``value·G + blinding·H``."""
        return G * self.value + H * self.blinding


def commit(value: int, blinding: int | None = None) -> tuple[Point, Opening]:
    """Commit to ``value``; a fresh uniform blinding is drawn unless one is given."""
    opening = Opening(value, random_scalar() if blinding is None else blinding)
    return opening.commitment, opening


def verify_opening(commitment: Point, opening: Opening) -> bool:
    """Whether ``opening`` opens ``commitment`` (for when the holder does reveal the value)."""
    return commitment == opening.commitment
