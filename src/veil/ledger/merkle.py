"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and an append-only frontier (pure, no I/O).

This composes SHA-256 into the Certificate Transparency tree exactly as the RFCs define it, so
any third-party CT verifier can check veil's audit ledger:

* leaf hash     ``SHA-256(0x00 || data)``            RFC 6962 §2.1, RFC 9162 §2.1.1
* interior hash ``SHA-256(0x01 || left || right)``   RFC 6962 §2.1, RFC 9162 §2.1.1
* empty tree    ``SHA-256()``                         RFC 6962 §2.1, RFC 9162 §2.1.1

The distinct 0x00/0x01 prefixes give leaves and interior nodes separate domains, which is what
stops a second-preimage attack that passes an interior node off as a leaf (RFC 6962 §2.1).

Storage model. A log keeps, for every *complete, aligned* perfect subtree, its hash::

    node(level, index) = MTH(D[index * 2**level : (index + 1) * 2**level])

level 0 being the leaf hashes. The functions here never touch storage: they take a
:data:`NodeLookup` callable and ask it only for nodes that exist in a tree of the given size,
O(log n) of them per root or proof. :class:`Frontier` produces exactly those nodes as leaves are
appended, so a store can persist what ``append`` returns and serve it back through a lookup.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "NodeLookup",
    "consistency_path",
    "inclusion_path",
    "leaf_hash",
    "node_hash",
    "root",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Bytes in every hash here: SHA-256 output, the hash RFC 6962 fixes for CT logs."""

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

NodeLookup = Callable[[int, int], bytes]
"""``(level, index) -> hash`` of the complete aligned subtree covering leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 returns leaf hashes."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one log entry (RFC 6962 §2.1, RFC 9162 §2.1.1)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: an interior node (RFC 6962 §2.1, RFC 9162 §2.1.1)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


EMPTY_ROOT: bytes = _sha256(b"").digest()
"""MTH({}) = SHA-256 of the empty string: the root of a tree with no leaves (RFC 6962 §2.1)."""


def _fold(hashes: list[bytes]) -> bytes:
    """Combine the roots of consecutive perfect subtrees (largest first) into their MTH.

    MTH(D[n]) = H(MTH(D[0:k]) || MTH(D[k:n])) with k the largest power of two below n (RFC 6962
    §2.1), so the decomposition of n into descending powers of two folds from the right.
    """
    h = hashes[-1]
    for i in range(len(hashes) - 2, -1, -1):
        h = _sha256(_NODE_PREFIX + hashes[i] + h).digest()
    return h


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (``n > 1``): RFC 6962 §2.1's k."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(lookup: NodeLookup, start: int, size: int) -> bytes:
    """MTH(D[start:start+size]) from stored nodes, with O(log size) lookups.

    Serves the ranges the RFC 6962 §2.1 recursion produces, whose ``start`` is a multiple of the
    largest power of two <= ``size``: the range is then a run of complete aligned subtrees of
    descending size, one lookup each, folded right to left. Raises ``ValueError`` for a range
    that cannot be built from aligned nodes; whatever ``lookup`` raises for a missing node
    propagates.
    """
    if size < 1 or start < 0:
        raise ValueError(f"subtree range must be non-empty and non-negative, got {start}+{size}")
    if start & ((1 << (size.bit_length() - 1)) - 1):
        raise ValueError(f"subtree range {start}+{size} is not aligned to its largest subtree")
    hashes: list[bytes] = []
    pos, rem = start, size
    while rem:
        level = rem.bit_length() - 1
        hashes.append(lookup(level, pos >> level))
        pos += 1 << level
        rem -= 1 << level
    return _fold(hashes)


def root(lookup: NodeLookup, size: int) -> bytes:
    """MTH of the first ``size`` leaves (RFC 6962 §2.1); :data:`EMPTY_ROOT` when ``size == 0``."""
    if size < 0:
        raise ValueError(f"tree size must be non-negative, got {size}")
    if size == 0:
        return EMPTY_ROOT
    return subtree_hash(lookup, 0, size)


def inclusion_path(lookup: NodeLookup, index: int, size: int) -> list[bytes]:
    """Audit path PATH(m, D[n]) for leaf ``index`` in the tree of ``size`` leaves.

    RFC 6962 §2.1.1 (RFC 9162 §2.1.3.1): for n > 1 and k the largest power of two < n,
    PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) if m < k, else PATH(m - k, D[k:n]) : MTH(D[0:k]).
    Returned leaf-side first, as verifiers consume it. Raises ``ValueError`` unless
    ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    siblings: list[bytes] = []
    start, n, m = 0, size, index
    while n > 1:
        k = _split(n)
        if m < k:
            siblings.append(subtree_hash(lookup, start + k, n - k))
            n = k
        else:
            siblings.append(subtree_hash(lookup, start, k))
            start += k
            m -= k
            n -= k
    siblings.reverse()
    return siblings


def consistency_path(lookup: NodeLookup, old_size: int, new_size: int) -> list[bytes]:
    """Consistency proof PROOF(m, D[n]) that the first ``old_size`` leaves are a prefix.

    RFC 6962 §2.1.2 (RFC 9162 §2.1.4.1): PROOF(m, D[n]) = SUBPROOF(m, D[n], true), where
    SUBPROOF(m, D[m], true) = {}, SUBPROOF(m, D[m], false) = {MTH(D[m])}, and for m < n with k the
    largest power of two < n: SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) if m <= k, else
    SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]). Empty when ``old_size`` is 0 or ``new_size``
    (nothing to prove). Raises ``ValueError`` unless ``0 <= old_size <= new_size``.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"cannot prove size {old_size} consistent with size {new_size}")
    if old_size in (0, new_size):
        return []
    siblings: list[bytes] = []
    start, n, m, whole = 0, new_size, old_size, True
    while m != n:
        k = _split(n)
        if m <= k:
            siblings.append(subtree_hash(lookup, start + k, n - k))
            n = k
        else:
            siblings.append(subtree_hash(lookup, start, k))
            start += k
            m -= k
            n -= k
            whole = False
    if not whole:
        siblings.append(subtree_hash(lookup, start, m))
    siblings.reverse()
    return siblings


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_hash_list(path: object) -> list[bytes] | None:
    """The path as a list of hashes, or None if it is not a sequence of 32-byte strings."""
    if isinstance(path, str | bytes | bytearray):
        return None
    try:
        items = list(path)  # type: ignore[call-overload]
    except TypeError:
        return None
    if not all(_is_hash(h) for h in items):
        return None
    return [bytes(h) for h in items]


def _inclusion_path_length(index: int, size: int) -> int:
    """Length of PATH(index, D[size]): siblings below where the leaf's route leaves the right
    edge, plus one per left sibling along that edge (``0 <= index < size``)."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes
) -> bool:
    """Whether ``path`` proves leaf hash ``leaf`` sits at ``index`` in the tree with that root.

    RFC 9162 §2.1.3.2, step for step, plus an explicit check of the path length. Never raises:
    any malformed input (index outside the tree, wrong path length, a hash that is not 32
    bytes, non-sequence path) is simply not a proof, so the answer is False. The size/root pair
    must come from a trusted tree head: the proof binds the leaf to that root, not the size.
    """
    hashes = _as_hash_list(path)
    if hashes is None or not (_is_size(index) and _is_size(size)) or not 0 <= index < size:
        return False
    if not (_is_hash(leaf) and _is_hash(expected_root)):
        return False
    if len(hashes) != _inclusion_path_length(index, size):
        return False
    sha, prefix = _sha256, _NODE_PREFIX
    fn, sn, r = index, size - 1, bytes(leaf)
    for p in hashes:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha(prefix + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = sha(prefix + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(r, bytes(expected_root))


def _consistency_path_length(old_size: int, new_size: int) -> int:
    """Length of PROOF(old, D[new]) for ``0 < old < new``: the inclusion path of leaf old - 1,
    minus the levels inside old's own largest right-edge subtree, plus that subtree's root unless
    the old tree is itself a perfect subtree (then its root is the old root, not sent)."""
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length()
    border = ((old_size - 1) >> inner).bit_count()
    shift = (old_size & -old_size).bit_length() - 1
    seed = 0 if old_size == 1 << shift else 1
    return seed + inner - shift + border


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """Whether ``path`` proves the tree (old_size, old_root) is a prefix of (new_size, new_root).

    RFC 9162 §2.1.4.2, step for step, plus an explicit check of the path length. Trivial cases
    (which the RFC leaves to the caller): equal sizes need an empty path and equal roots; an empty
    old tree needs an empty path and ``old_root == EMPTY_ROOT`` (the only root a tree of size 0
    has). Never raises: malformed input (old_size > new_size, negative sizes, wrong path length,
    hashes that are not 32 bytes) is False.
    """
    hashes = _as_hash_list(path)
    if hashes is None or not (_is_size(old_size) and _is_size(new_size)):
        return False
    if not 0 <= old_size <= new_size or not (_is_hash(old_root) and _is_hash(new_root)):
        return False
    old_root, new_root = bytes(old_root), bytes(new_root)
    if old_size == 0 and not hmac.compare_digest(old_root, EMPTY_ROOT):
        return False
    if old_size == new_size:
        return not hashes and hmac.compare_digest(old_root, new_root)
    if old_size == 0:
        return not hashes
    if len(hashes) != _consistency_path_length(old_size, new_size):
        return False
    # 1-2. A non-empty path; an old tree that is a perfect subtree is its own first node.
    if not hashes:
        return False
    if old_size & (old_size - 1) == 0:
        hashes.insert(0, old_root)
    # 3-4. Skip the levels inside the old tree's last complete subtree.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5-6. Rebuild both roots from the shared seed.
    sha, prefix = _sha256, _NODE_PREFIX
    fr = sr = hashes[0]
    for c in hashes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = sha(prefix + c + fr).digest()
            sr = sha(prefix + c + sr).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = sha(prefix + sr + c).digest()
        fn >>= 1
        sn >>= 1
    # 7.
    return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)


class Frontier:
    """Right edge of the tree (the stack of complete subtree roots) for O(log n) amortised appends.

    A tree of n leaves is the concatenation of perfect subtrees, one per set bit of n, largest
    first (RFC 6962 §2.1's split rule applied down the right edge). Keeping only their roots is
    enough to append, to compute the root, and to emit every newly completed node for storage.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self, size: int = 0, stack: Sequence[bytes] = ()) -> None:
        """Resume from a persisted ``(size, stack)``; the stack must hold popcount(size) hashes."""
        if not _is_size(size) or size < 0:
            raise ValueError(f"tree size must be a non-negative integer, got {size!r}")
        hashes = _as_hash_list(stack)
        if hashes is None:
            raise ValueError("frontier stack must be a sequence of 32-byte hashes")
        if len(hashes) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} complete subtrees on its right "
                f"edge, got {len(hashes)}"
            )
        self._size = size
        self._stack = hashes

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def stack(self) -> tuple[bytes, ...]:
        """Roots of the complete subtrees, largest first: what to persist to resume later."""
        return tuple(self._stack)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return the newly completed nodes as ``(level, index, hash)``.

        The leaf itself comes first (level 0), then one interior node per trailing one-bit of the
        old size, bottom-up: exactly the nodes a store must add to serve :data:`NodeLookup`.
        """
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, got {len(leaf)}")
        n = self._size
        self._size = n + 1
        h = bytes(leaf)
        created = [(0, n, h)]
        if n & 1:
            stack, sha, prefix = self._stack, _sha256, _NODE_PREFIX
            level = 0
            while n & 1:
                h = sha(prefix + stack.pop() + h).digest()
                level += 1
                n >>= 1
                created.append((level, n, h))
            stack.append(h)
        else:
            self._stack.append(h)
        return created

    def root(self) -> bytes:
        """MTH of all leaves so far, from the stack alone; :data:`EMPTY_ROOT` if empty."""
        if not self._stack:
            return EMPTY_ROOT
        return _fold(self._stack)

    @classmethod
    def from_lookup(cls, lookup: NodeLookup, size: int) -> Frontier:
        """Rebuild the frontier of a stored tree of ``size`` leaves with popcount(size) lookups."""
        if not _is_size(size) or size < 0:
            raise ValueError(f"tree size must be a non-negative integer, got {size!r}")
        stack: list[bytes] = []
        pos, rem = 0, size
        while rem:
            level = rem.bit_length() - 1
            stack.append(lookup(level, pos >> level))
            pos += 1 << level
            rem -= 1 << level
        return cls(size, stack)
