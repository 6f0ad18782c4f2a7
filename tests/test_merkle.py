"""RFC 6962 / RFC 9162 Merkle tree: published vectors, a literal reference, and tampering.

Three independent anchors: the Certificate Transparency test vectors (transparency-dev/merkle
``testonly/constants.go`` and ``proof/verify_test.go``, the data behind the Go and C++ CT code),
a naive transcription of the RFC 6962 §2.1 definitions below, and hypothesis over random trees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    consistency_path,
    inclusion_path,
    leaf_hash,
    node_hash,
    root,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------------------------------------
# Naive reference: RFC 6962 §2.1, §2.1.1, §2.1.2 transcribed literally (MTH memoised by range).
# Uses hashlib directly, never the module under test.
# --------------------------------------------------------------------------------------------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """Largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Naive:
    def __init__(self, entries: list[bytes]) -> None:
        self.d = entries
        self._memo: dict[tuple[int, int], bytes] = {}

    def mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        key = (lo, hi)
        if key not in self._memo:
            n = hi - lo
            if n == 0:
                h = _sha(b"")
            elif n == 1:
                h = _sha(b"\x00" + self.d[lo])
            else:
                k = _k(n)
                h = _sha(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))
            self._memo[key] = h
        return self._memo[key]

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """PATH(m, D[lo:hi])."""
        n = hi - lo
        if n == 1:
            return []
        k = _k(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[0:n]); taken as empty for m == 0 (nothing to prove)."""
        return [] if m == 0 else self._subproof(m, 0, n, True)

    def _subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = _k(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]


# --------------------------------------------------------------------------------------------
# Helpers: a store built only from what Frontier.append returns.
# --------------------------------------------------------------------------------------------

Nodes = dict[tuple[int, int], bytes]


def build(entries: list[bytes]) -> tuple[Nodes, list[bytes]]:
    """Append every entry; return the stored nodes and the root after each size 0..n."""
    nodes: Nodes = {}
    frontier = Frontier()
    roots = [frontier.root()]
    for data in entries:
        for level, index, h in frontier.append(leaf_hash(data)):
            assert (level, index) not in nodes, "append re-emitted an existing node"
            nodes[level, index] = h
        roots.append(frontier.root())
    return nodes, roots


class Lookup:
    """A NodeLookup that only answers nodes inside the first ``size`` leaves, and counts calls."""

    def __init__(self, nodes: Nodes, size: int) -> None:
        self.nodes, self.size, self.calls = nodes, size, 0

    def __call__(self, level: int, index: int) -> bytes:
        assert (index + 1) << level <= self.size, f"node ({level}, {index}) beyond size {self.size}"
        self.calls += 1
        return self.nodes[level, index]


def entries_for(n: int, seed: int = 0) -> list[bytes]:
    """Distinct entries of varying length (including the empty one when seed == 0)."""
    def entry(i: int) -> bytes:
        if i == 0 and seed == 0:
            return b""
        return seed.to_bytes(4, "big") + i.to_bytes(2, "big") * (1 + i % 3)

    return [entry(i) for i in range(n)]


def flip(h: bytes, bit: int = 0) -> bytes:
    b = bytearray(h)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


# --------------------------------------------------------------------------------------------
# Published vectors (transparency-dev/merkle testonly/constants.go, proof/verify_test.go).
# --------------------------------------------------------------------------------------------

CT_ENTRIES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]

CT_ROOTS = [bytes.fromhex(h) for h in (  # index = tree size 0..8
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]

CT_NODES = [[bytes.fromhex(h) for h in level] for level in (  # [level][index]
    ("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",),
)]


def _n(level: int, index: int) -> bytes:
    return CT_NODES[level][index]


# compact.Tree stacks (CompactTrees in constants.go), by size 0..8.
CT_STACKS = [
    [], [_n(0, 0)], [_n(1, 0)], [_n(1, 0), _n(0, 2)], [_n(2, 0)], [_n(2, 0), _n(0, 4)],
    [_n(2, 0), _n(1, 2)], [_n(2, 0), _n(1, 2), _n(0, 6)], [_n(3, 0)],
]

# (leaf index, tree size, path); verify_test.go lists them with 1-based leaf numbers.
CT_INCLUSION = [
    (0, 8, [_n(0, 1), _n(1, 1), _n(2, 1)]),
    (5, 8, [_n(0, 4), _n(1, 3), _n(2, 0)]),
    (2, 3, [_n(1, 0)]),
    (1, 5, [_n(0, 0), _n(1, 1), _n(0, 4)]),
    (0, 1, []),
]
CT_INCLUSION_HEX = {  # the same paths as published, to pin the table above
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}

# (old size, new size, path)
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, [_n(0, 1), _n(1, 1), _n(2, 1)]),
    (6, 8, [_n(1, 2), _n(1, 3), _n(2, 0)]),
    (2, 5, [_n(1, 1), _n(0, 4)]),
    (6, 7, [_n(1, 2), _n(0, 6), _n(2, 0)]),
]
CT_CONSISTENCY_HEX = {
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
    (6, 7): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


@pytest.fixture(scope="module")
def ct_tree() -> tuple[Nodes, list[bytes]]:
    return build(CT_ENTRIES)


def test_published_tables_agree_with_the_naive_definition() -> None:
    """Pin the hardcoded tables themselves before trusting them as expectations."""
    naive = Naive(CT_ENTRIES)
    assert [naive.mth(0, n) for n in range(9)] == CT_ROOTS
    for level, row in enumerate(CT_NODES):
        for index, h in enumerate(row):
            assert naive.mth(index << level, (index + 1) << level) == h
    for index, size, path in CT_INCLUSION:
        assert naive.path(index, 0, size) == path
        if (index, size) in CT_INCLUSION_HEX:
            assert [h.hex() for h in path] == CT_INCLUSION_HEX[index, size]
    for old, new, path in CT_CONSISTENCY:
        assert naive.proof(old, new) == path
        if (old, new) in CT_CONSISTENCY_HEX:
            assert [h.hex() for h in path] == CT_CONSISTENCY_HEX[old, new]


def test_primitives_match_rfc_6962() -> None:
    assert HASH_SIZE == 32
    assert EMPTY_ROOT == CT_ROOTS[0] == hashlib.sha256(b"").digest()
    assert leaf_hash(b"") == CT_ROOTS[1] == hashlib.sha256(b"\x00").digest()
    assert node_hash(leaf_hash(b""), leaf_hash(b"\x00")) == CT_ROOTS[2]
    assert leaf_hash(bytearray(b"\x10")) == CT_NODES[0][2]


def test_published_roots(ct_tree: tuple[Nodes, list[bytes]]) -> None:
    nodes, frontier_roots = ct_tree
    assert frontier_roots == CT_ROOTS
    for size in range(9):
        assert root(Lookup(nodes, size), size) == CT_ROOTS[size]


def test_published_nodes_and_frontiers(ct_tree: tuple[Nodes, list[bytes]]) -> None:
    nodes, _ = ct_tree
    expected = {(lv, i): h for lv, row in enumerate(CT_NODES) for i, h in enumerate(row)}
    assert nodes == expected
    frontier = Frontier()
    assert list(frontier.stack()) == CT_STACKS[0]
    for size, data in enumerate(CT_ENTRIES, start=1):
        frontier.append(leaf_hash(data))
        assert frontier.size == size
        assert list(frontier.stack()) == CT_STACKS[size]
        assert list(Frontier.from_lookup(Lookup(nodes, size), size).stack()) == CT_STACKS[size]


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_published_inclusion_proofs(
    ct_tree: tuple[Nodes, list[bytes]], index: int, size: int, expected: list[bytes]
) -> None:
    nodes, _ = ct_tree
    leaf, rt = leaf_hash(CT_ENTRIES[index]), CT_ROOTS[size]
    assert inclusion_path(Lookup(nodes, size), index, size) == expected
    assert verify_inclusion(leaf, index, size, expected, rt)
    # The probes transparency-dev's verifierCheck rejects.
    probes = [
        (leaf, index - 1, size, expected, rt),
        (leaf, index + 1, size, expected, rt),
        (leaf, index ^ 2, size, expected, rt),
        (leaf, index, size * 2, expected, rt),
        (leaf, index, size // 2, expected, rt),
        (b"WrongLeaf", index, size, expected, rt),
        (leaf, index, size, expected, EMPTY_ROOT),
        (leaf, index, size, expected, SOME_HASH),
        (leaf, index, size, [*expected, b""], rt),
        (leaf, index, size, [*expected, rt], rt),
        (leaf, index, size, [b"", *expected], rt),
        (leaf, index, size, [rt, *expected], rt),
        (leaf, index, size, expected[:-1], rt),
        (leaf, index, size, [*expected[:1], SOME_HASH, *expected[1:]], rt),
    ]
    probes += [(leaf, index, size, [*expected[:i], flip(p, 3), *expected[i + 1:]], rt)
               for i, p in enumerate(expected)]
    for probe in probes:
        if probe[1:4] == (index, size, expected) and probe[0] == leaf and probe[4] == rt:
            continue  # a probe that degenerates to the genuine proof (e.g. 0 ^ 2 with size 1)
        assert not verify_inclusion(*probe), probe[1:3]


@pytest.mark.parametrize(("old", "new", "expected"), CT_CONSISTENCY)
def test_published_consistency_proofs(
    ct_tree: tuple[Nodes, list[bytes]], old: int, new: int, expected: list[bytes]
) -> None:
    nodes, _ = ct_tree
    r1, r2 = CT_ROOTS[old], CT_ROOTS[new]
    assert consistency_path(Lookup(nodes, new), old, new) == expected
    assert verify_consistency(old, new, r1, r2, expected)
    if not expected:
        return
    # The probes transparency-dev's verifierConsistencyCheck rejects.
    probes = [
        (old - 1, new, r1, r2, expected),
        (old + 1, new, r1, r2, expected),
        (old ^ 2, new, r1, r2, expected),
        (old, new * 2, r1, r2, expected),
        (old, new // 2, r1, r2, expected),
        (old, new, b"WrongRoot", r2, expected),
        (old, new, r1, b"WrongRoot", expected),
        (old, new, r2, r1, expected),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*expected, b""]),
        (old, new, r1, r2, [*expected, r1]),
        (old, new, r1, r2, [*expected, r2]),
        (old, new, r1, r2, [b"", *expected]),
        (old, new, r1, r2, [r1, *expected]),
        (old, new, r1, r2, [r2, *expected]),
        (old, new, r1, r2, [expected[0], *expected]),
        (old, new, r1, r2, expected[:-1]),
    ]
    probes += [(old, new, r1, r2, [*expected[:i], flip(p, 4), *expected[i + 1:]])
               for i, p in enumerate(expected)]
    for probe in probes:
        assert not verify_consistency(*probe), probe[:2]


def test_trivial_consistency_cases() -> None:
    """transparency-dev's TestVerifyConsistency table, with the empty tree's root pinned."""
    r1, r2 = SOME_HASH, flip(SOME_HASH)
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 1, EMPTY_ROOT, r2, [])
    assert verify_consistency(1, 1, r2, r2, [])
    assert not verify_consistency(0, 0, r1, r1, [])  # a tree of size 0 has only one root
    assert not verify_consistency(0, 1, r1, r2, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, r2, [])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert not verify_consistency(1, 0, r1, r2, [])
    assert not verify_consistency(2, 1, r1, r2, [])
    assert not verify_consistency(1, 2, r1, r2, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])


def test_inclusion_single_entry() -> None:
    h = leaf_hash(b"data")
    assert verify_inclusion(h, 0, 1, [], h)
    assert not verify_inclusion(h, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], h)
    assert not verify_inclusion(b"", 0, 1, [], b"")
    for index, size in [(0, 0), (0, 1), (1, 0), (2, 1)]:
        assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


# --------------------------------------------------------------------------------------------
# Exhaustive small trees against the naive reference.
# --------------------------------------------------------------------------------------------

SMALL = 40


@pytest.fixture(scope="module")
def small_tree() -> tuple[Naive, Nodes, list[bytes]]:
    entries = entries_for(SMALL)
    nodes, roots = build(entries)
    return Naive(entries), nodes, roots


def test_small_trees_exhaustively(small_tree: tuple[Naive, Nodes, list[bytes]]) -> None:
    naive, nodes, roots = small_tree
    for size in range(SMALL + 1):
        rt = naive.mth(0, size)
        lookup = Lookup(nodes, size)
        assert roots[size] == rt == root(lookup, size)
        assert Frontier.from_lookup(lookup, size).root() == rt
        for index in range(size):
            path = inclusion_path(lookup, index, size)
            assert path == naive.path(index, 0, size)
            assert verify_inclusion(leaf_hash(naive.d[index]), index, size, path, rt)
        for old in range(size + 1):
            path = consistency_path(lookup, old, size)
            assert path == naive.proof(old, size)
            assert verify_consistency(old, size, naive.mth(0, old), rt, path)


def test_frontier_nodes_are_exactly_the_complete_aligned_subtrees(
    small_tree: tuple[Naive, Nodes, list[bytes]],
) -> None:
    naive, nodes, _ = small_tree
    expected = {
        (level, index): naive.mth(index << level, (index + 1) << level)
        for level in range(SMALL.bit_length())
        for index in range(SMALL >> level)
    }
    assert nodes == expected


def test_lookups_are_logarithmic(small_tree: tuple[Naive, Nodes, list[bytes]]) -> None:
    _, nodes, _ = small_tree
    for size in range(1, SMALL + 1):
        bound = 2 * size.bit_length() + 2
        lookup = Lookup(nodes, size)
        root(lookup, size)
        assert lookup.calls == size.bit_count()
        for index in range(size):
            lookup = Lookup(nodes, size)
            inclusion_path(lookup, index, size)
            assert lookup.calls <= bound
        for old in range(size + 1):
            lookup = Lookup(nodes, size)
            consistency_path(lookup, old, size)
            assert lookup.calls <= bound


def test_inclusion_proof_binds_the_root_not_the_size(
    ct_tree: tuple[Nodes, list[bytes]],
) -> None:
    """RFC 9162 verification trusts the (size, root) pair of a tree head: leaf 0's path in the
    3-leaf tree also checks out as size 4 against the 3-leaf root, yet never against the real
    4-leaf root. Callers must take size and root from the same signed head."""
    nodes, _ = ct_tree
    leaf, path = leaf_hash(CT_ENTRIES[0]), inclusion_path(Lookup(nodes, 3), 0, 3)
    assert verify_inclusion(leaf, 0, 4, path, CT_ROOTS[3])
    assert not verify_inclusion(leaf, 0, 4, path, CT_ROOTS[4])


# --------------------------------------------------------------------------------------------
# Random trees (hypothesis) against the naive reference, with tampering.
# --------------------------------------------------------------------------------------------

MAX = 300


@st.composite
def trees(draw: st.DrawFn) -> tuple[Naive, Nodes, list[bytes], int]:
    total = draw(st.integers(1, MAX))
    size = draw(st.integers(1, total))
    entries = entries_for(total, seed=draw(st.integers(0, 2**32 - 1)))
    nodes, roots = build(entries)
    return Naive(entries), nodes, roots, size


@settings(max_examples=150, deadline=None)
@given(tree=trees(), data=st.data())
def test_random_inclusion(tree: tuple[Naive, Nodes, list[bytes], int], data: st.DataObject) -> None:
    naive, nodes, roots, size = tree
    total = len(naive.d)
    rt = naive.mth(0, size)
    assert roots[size] == rt == root(Lookup(nodes, size), size)
    lookup = Lookup(nodes, size)
    indices = {0, size - 1, *data.draw(st.lists(st.integers(0, size - 1), max_size=4))}
    for index in indices:
        leaf = leaf_hash(naive.d[index])
        path = inclusion_path(lookup, index, size)
        assert path == naive.path(index, 0, size)
        assert verify_inclusion(leaf, index, size, path, rt)
        # A flipped bit anywhere in the path, the leaf or the root.
        for i, p in enumerate(path):
            bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1))
            assert not verify_inclusion(leaf, index, size, [*path[:i], flip(p, bit), *path[i + 1:]],
                                        rt)
        assert not verify_inclusion(flip(leaf), index, size, path, rt)
        assert not verify_inclusion(leaf, index, size, path, flip(rt))
        # Every other index (and the ones outside the tree).
        for other in range(-1, size + 1):
            if other != index:
                assert not verify_inclusion(leaf, other, size, path, rt)
        # Another leaf of the same tree.
        if size > 1:
            assert not verify_inclusion(leaf_hash(naive.d[(index + 1) % size]), index, size, path,
                                        rt)
        # Another size, with that size's genuine root: only if the proof really is the same.
        for other in {size - 1, size + 1, size * 2, size // 2, data.draw(st.integers(0, total))}:
            if 0 <= other <= total and other != size:
                genuine = index < other and naive.path(index, 0, other) == path
                assert verify_inclusion(leaf, index, other, path, naive.mth(0, other)) == genuine
        # Truncated, extended, and reordered paths.
        if path:
            assert not verify_inclusion(leaf, index, size, path[:-1], rt)
            assert not verify_inclusion(leaf, index, size, path[1:], rt)
        assert not verify_inclusion(leaf, index, size, [*path, rt], rt)
        assert not verify_inclusion(leaf, index, size, [leaf, *path], rt)
        if len(path) > 1 and path[0] != path[1]:
            assert not verify_inclusion(leaf, index, size, [path[1], path[0], *path[2:]], rt)


@settings(max_examples=150, deadline=None)
@given(tree=trees(), data=st.data())
def test_random_consistency(
    tree: tuple[Naive, Nodes, list[bytes], int], data: st.DataObject
) -> None:
    naive, nodes, _, new = tree
    total = len(naive.d)
    r2 = naive.mth(0, new)
    lookup = Lookup(nodes, new)
    olds = {0, 1, new, new - 1, *data.draw(st.lists(st.integers(0, new), max_size=4))}
    for old in olds:
        r1 = naive.mth(0, old)
        path = consistency_path(lookup, old, new)
        assert path == naive.proof(old, new)
        assert verify_consistency(old, new, r1, r2, path)
        # Time travel, and an empty old tree that claims a root other than EMPTY_ROOT.
        if old < new:
            assert not verify_consistency(new, old, r2, r1, path)
            assert not verify_consistency(old, new, r2, r1, path)  # swapped roots
        if old == 0:
            assert not verify_consistency(0, new, SOME_HASH, r2, path)
        if old in (0, new):
            assert path == []
            continue
        assert not verify_consistency(old, new, r1, r2, [])
        # A flipped bit anywhere in the path or either root.
        for i, p in enumerate(path):
            bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1))
            assert not verify_consistency(old, new, r1, r2,
                                          [*path[:i], flip(p, bit), *path[i + 1:]])
        assert not verify_consistency(old, new, flip(r1), r2, path)
        assert not verify_consistency(old, new, r1, flip(r2), path)
        # Truncated and extended paths.
        assert not verify_consistency(old, new, r1, r2, path[:-1])
        assert not verify_consistency(old, new, r1, r2, path[1:])
        assert not verify_consistency(old, new, r1, r2, [*path, r2])
        assert not verify_consistency(old, new, r1, r2, [r1, *path])
        # Other sizes with their genuine roots: only if the proof really is the same.
        rand = (data.draw(st.integers(0, total)), data.draw(st.integers(0, total)))
        others = {(old - 1, new), (old + 1, new), (old, new + 1), (old, new - 1), (old, new * 2),
                  (old ^ 2, new), rand}
        for o2, n2 in others:
            if (o2, n2) == (old, new) or not (0 <= o2 <= total and 0 <= n2 <= total):
                continue
            genuine = o2 <= n2 and naive.proof(o2, n2) == path
            got = verify_consistency(o2, n2, naive.mth(0, o2), naive.mth(0, n2), path)
            assert got == genuine, (o2, n2)


@settings(max_examples=100, deadline=None)
@given(tree=trees(), data=st.data())
def test_frontier_round_trips(
    tree: tuple[Naive, Nodes, list[bytes], int], data: st.DataObject
) -> None:
    naive, nodes, roots, size = tree
    total = len(naive.d)
    restored = Frontier.from_lookup(Lookup(nodes, size), size)
    assert restored.size == size
    assert restored.root() == roots[size] == naive.mth(0, size)
    again = Frontier(restored.size, restored.stack())
    assert again.stack() == restored.stack()
    # Resuming from a persisted frontier emits exactly the nodes a fresh build would.
    more = data.draw(st.integers(0, total - size))
    for i in range(size, size + more):
        for level, index, h in again.append(leaf_hash(naive.d[i])):
            assert nodes[level, index] == h
    assert again.root() == naive.mth(0, size + more)
    assert again.size == size + more
    assert subtree_hash(Lookup(nodes, total), 0, total) == naive.mth(0, total)


# --------------------------------------------------------------------------------------------
# Misuse: producers raise ValueError, verifiers answer False and never raise.
# --------------------------------------------------------------------------------------------


def test_producers_reject_impossible_requests(ct_tree: tuple[Nodes, list[bytes]]) -> None:
    nodes, _ = ct_tree
    lookup = Lookup(nodes, 8)
    with pytest.raises(ValueError):
        inclusion_path(lookup, 8, 8)
    with pytest.raises(ValueError):
        inclusion_path(lookup, -1, 8)
    with pytest.raises(ValueError):
        inclusion_path(lookup, 0, 0)
    with pytest.raises(ValueError):
        consistency_path(lookup, 5, 4)
    with pytest.raises(ValueError):
        consistency_path(lookup, -1, 4)
    with pytest.raises(ValueError):
        root(lookup, -1)
    with pytest.raises(ValueError):
        subtree_hash(lookup, 2, 4)  # not aligned: would need nodes that are not stored
    with pytest.raises(ValueError):
        subtree_hash(lookup, 0, 0)
    assert subtree_hash(lookup, 4, 3) == node_hash(_n(1, 2), _n(0, 6))
    assert root(lookup, 0) == EMPTY_ROOT


def test_frontier_rejects_inconsistent_state() -> None:
    h = leaf_hash(b"x")
    with pytest.raises(ValueError):
        Frontier(3, [h])
    with pytest.raises(ValueError):
        Frontier(1, [])
    with pytest.raises(ValueError):
        Frontier(-1)
    with pytest.raises(ValueError):
        Frontier(1, [b"short"])
    with pytest.raises(ValueError):
        Frontier().append(b"short")
    assert Frontier().root() == EMPTY_ROOT
    assert Frontier(1, [bytearray(h)]).stack() == (h,)


MALFORMED: list[Callable[[], bool]] = [
    lambda: verify_inclusion(SOME_HASH, 0, 1, None, SOME_HASH),  # type: ignore[arg-type]
    lambda: verify_inclusion(SOME_HASH, 0, 1, 5, SOME_HASH),  # type: ignore[arg-type]
    lambda: verify_inclusion(SOME_HASH, 0, 2, SOME_HASH, SOME_HASH),
    lambda: verify_inclusion(SOME_HASH, 0, 2, [None], SOME_HASH),  # type: ignore[list-item]
    lambda: verify_inclusion(SOME_HASH, 0, 2, ["a" * 32], SOME_HASH),  # type: ignore[list-item]
    lambda: verify_inclusion(SOME_HASH, 0, 2, [SOME_HASH[:31]], SOME_HASH),
    lambda: verify_inclusion(SOME_HASH, 0, 2, [SOME_HASH + b"\x00"], SOME_HASH),
    lambda: verify_inclusion(None, 0, 1, [], SOME_HASH),  # type: ignore[arg-type]
    lambda: verify_inclusion(SOME_HASH, 0, 1, [], None),  # type: ignore[arg-type]
    lambda: verify_inclusion(SOME_HASH, "0", 1, [], SOME_HASH),  # type: ignore[arg-type]
    lambda: verify_inclusion(SOME_HASH, 0.0, 1, [], SOME_HASH),  # type: ignore[arg-type]
    lambda: verify_inclusion(SOME_HASH, 0, None, [], SOME_HASH),  # type: ignore[arg-type]
    lambda: verify_inclusion(SOME_HASH, -1, 1, [], SOME_HASH),
    lambda: verify_inclusion(SOME_HASH, 1, 1, [], SOME_HASH),
    lambda: verify_inclusion(SOME_HASH, 2**70, 2**71, [SOME_HASH] * 3, SOME_HASH),
    lambda: verify_consistency(1, 2, SOME_HASH, SOME_HASH, None),  # type: ignore[arg-type]
    lambda: verify_consistency(1, 2, SOME_HASH, SOME_HASH, [None]),  # type: ignore[list-item]
    lambda: verify_consistency(1, 2, SOME_HASH, SOME_HASH, [SOME_HASH[:31]]),
    lambda: verify_consistency(1, 2, None, SOME_HASH, [SOME_HASH]),  # type: ignore[arg-type]
    lambda: verify_consistency(1, 2, SOME_HASH, "x", [SOME_HASH]),  # type: ignore[arg-type]
    lambda: verify_consistency("1", 2, SOME_HASH, SOME_HASH, [SOME_HASH]),  # type: ignore[arg-type]
    lambda: verify_consistency(1, None, SOME_HASH, SOME_HASH, [SOME_HASH]),  # type: ignore[arg-type]
    lambda: verify_consistency(-1, 2, SOME_HASH, SOME_HASH, [SOME_HASH]),
    lambda: verify_consistency(3, 2, SOME_HASH, SOME_HASH, [SOME_HASH]),
    lambda: verify_consistency(1, 1, SOME_HASH[:31], SOME_HASH[:31], []),
    lambda: verify_consistency(2**70, 2**71, SOME_HASH, SOME_HASH, [SOME_HASH] * 2),
]


@pytest.mark.parametrize("call", MALFORMED)
def test_verifiers_never_raise_on_malformed_input(call: Callable[[], bool]) -> None:
    assert call() is False


def test_verifiers_accept_bytearray_hashes(ct_tree: tuple[Nodes, list[bytes]]) -> None:
    nodes, _ = ct_tree
    path = [bytearray(h) for h in inclusion_path(Lookup(nodes, 8), 5, 8)]
    assert verify_inclusion(bytearray(leaf_hash(CT_ENTRIES[5])), 5, 8, path,
                            bytearray(CT_ROOTS[8]))
    cpath = (bytearray(h) for h in consistency_path(Lookup(nodes, 8), 6, 8))
    assert verify_consistency(6, 8, bytearray(CT_ROOTS[6]), bytearray(CT_ROOTS[8]), tuple(cpath))
