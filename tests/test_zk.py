"""veil.zk: honest proofs verify; forged, replayed, altered and malformed ones never do."""

from __future__ import annotations

import hashlib
import json

import pytest
from coincurve import PublicKey
from coincurve.utils import GROUP_ORDER_INT
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.errors import InputError
from veil.ledger import InvalidProof
from veil.ledger.merkle import leaf_hash, node_hash
from veil.zk import (
    DatasetRoot,
    LoginVerifier,
    MembershipProof,
    MembershipTree,
    ProofError,
    RangeProof,
    SchnorrProof,
    canonical_record,
    commit,
    keygen,
    login_context,
    prove_at_least,
    prove_range,
    schnorr,
    verify_at_least,
    verify_membership,
    verify_opening,
    verify_range,
)
from veil.zk import rangeproof as rp
from veil.zk.group import (
    H_DOMAIN,
    IDENTITY,
    G,
    H,
    N,
    base_mul,
    decode_point,
    decode_scalar,
    encode_scalar,
)
from veil.zk.membership import record_leaf
from veil.zk.transcript import Transcript

P = 2**256 - 2**32 - 977  # secp256k1 field prime
CTX = b"test-verifier|session-1"


def _not_on_curve_x() -> bytes:
    for x in range(1, 100):
        try:
            PublicKey(b"\x02" + x.to_bytes(32, "big"))
        except ValueError:
            return x.to_bytes(32, "big")
    raise AssertionError


def _flips(data: bytes, stride: int = 1):
    """Every ``stride``-th byte of ``data`` with its low bit flipped."""
    for i in range(0, len(data), stride):
        yield data[:i] + bytes((data[i] ^ 1,)) + data[i + 1:]


def _rejected(verify, data: bytes) -> None:
    """A tampered proof must fail loudly: malformed (InputError) or not verifying (ProofError)."""
    with pytest.raises((InputError, ProofError)):
        verify(data)


def test_exported_names():
    import veil.zk

    assert sorted(veil.zk.__all__) == sorted([
        "DatasetRoot", "KeyPair", "LoginVerifier", "MembershipProof", "MembershipTree",
        "Opening", "ProofError", "RangeProof", "SchnorrProof", "canonical_record", "commit",
        "keygen", "login_context", "prove_at_least", "prove_range", "schnorr", "verify_at_least",
        "verify_membership", "verify_opening", "verify_range"])
    for name in veil.zk.__all__:
        assert hasattr(veil.zk, name)
    assert issubclass(ProofError, InvalidProof)


# --- group -------------------------------------------------------------------------------------

def test_group_order_matches_libsecp256k1():
    assert N == GROUP_ORDER_INT


def test_h_is_nothing_up_my_sleeve():
    """Recompute H independently from its documented derivation."""
    for counter in range(100):
        x = hashlib.sha256(H_DOMAIN + counter.to_bytes(4, "big")).digest()
        try:
            expected = PublicKey(b"\x02" + x).format()
            break
        except ValueError:
            continue
    assert H.to_bytes() == expected
    assert H not in (G, -G, IDENTITY)


def test_point_arithmetic_and_identity():
    a, b = 12345, N - 7
    assert G * a + G * b == base_mul(a + b)
    assert G * a - G * a == IDENTITY
    assert G * 0 == IDENTITY and G * N == IDENTITY and IDENTITY * 5 == IDENTITY
    assert G + IDENTITY == G and IDENTITY + G == G
    assert -G + G == IDENTITY
    assert H * 2 == H + H
    assert 3 * H == H * 3
    with pytest.raises(InputError, match="infinity"):
        IDENTITY.to_bytes()


def test_decode_point_is_strict():
    g = G.to_bytes()
    assert decode_point(g) == G
    uncompressed = b"\x04" + PublicKey(g).format(compressed=False)[1:]
    bad = {
        "empty": b"",
        "short": g[:-1],
        "long": g + b"\x00",
        "uncompressed": uncompressed,
        "prefix": b"\x04" + g[1:],
        "zero prefix": b"\x00" * 33,
        "off curve": b"\x02" + _not_on_curve_x(),
        "x >= p": b"\x02" + (P + 1).to_bytes(32, "big"),
    }
    for name, data in bad.items():
        with pytest.raises(InputError):
            decode_point(data, "R")
        assert name
    with pytest.raises(InputError, match="must be bytes"):
        decode_point("02" * 33)  # type: ignore[arg-type]


def test_decode_scalar_refuses_non_canonical():
    assert decode_scalar(encode_scalar(N - 1)) == N - 1
    for value in (N, N + 1, 2**256 - 1):
        with pytest.raises(InputError, match="not canonical"):
            decode_scalar(value.to_bytes(32, "big"))
    with pytest.raises(InputError, match="32 bytes"):
        decode_scalar(b"\x01" * 31)
    with pytest.raises(InputError):
        encode_scalar(N)


# --- transcript --------------------------------------------------------------------------------

def _challenge(protocol="p", version=1, items=(("a", b"bc"),)) -> int:
    t = Transcript(protocol, version)
    for label, data in items:
        t.absorb(label, data)
    return t.challenge("c")


def test_transcript_is_domain_separated_and_injective():
    base = _challenge()
    assert 0 <= base < N
    assert base == _challenge()
    assert base != _challenge(protocol="q")
    assert base != _challenge(version=2)
    assert base != _challenge(items=(("ab", b"c"),))  # moved boundary
    assert base != _challenge(items=(("a", b"b"), ("c", b"")))
    t = Transcript("p")
    t.absorb("a", b"bc")
    assert t.challenge("c") == base and t.challenge("c") != base  # each challenge chains


# --- Schnorr identification --------------------------------------------------------------------

@pytest.fixture(scope="module")
def key():
    return keygen()


def test_schnorr_honest_proof_verifies_in_every_form(key):
    proof = schnorr.prove(key.secret, context=CTX)
    schnorr.verify(key.public, proof, context=CTX)
    schnorr.verify(key.public.to_bytes(), proof.to_bytes(), context=CTX)
    assert SchnorrProof.from_json(proof.to_json()) == proof
    assert SchnorrProof.from_json(json.loads(proof.to_json())) == proof
    assert len(proof.to_bytes()) == 67
    assert str(key.secret) not in repr(key)
    assert proof != schnorr.prove(key.secret, context=CTX)  # fresh nonce every time


def test_schnorr_forgeries_fail(key):
    other = keygen()
    proof = schnorr.prove(key.secret, context=CTX)
    with pytest.raises(ProofError):  # wrong secret
        schnorr.verify(key.public, schnorr.prove(other.secret, context=CTX), context=CTX)
    with pytest.raises(ProofError):  # random response
        schnorr.verify(key.public, SchnorrProof(proof.R, (proof.s + 1) % N), context=CTX)
    with pytest.raises(ProofError):  # another key
        schnorr.verify(other.public, proof, context=CTX)
    with pytest.raises(ProofError):  # another context: no replay elsewhere
        schnorr.verify(key.public, proof, context=CTX + b"x")
    with pytest.raises(ProofError):  # swapped commitment
        schnorr.verify(key.public, SchnorrProof(G * 5, proof.s), context=CTX)
    with pytest.raises(ProofError):  # R = infinity
        schnorr.verify(key.public, SchnorrProof(IDENTITY, proof.s), context=CTX)
    # a simulated transcript (s, c chosen first) cannot be made to match the hash
    s, c = 7, 11
    R = G * s - key.public * c
    with pytest.raises(ProofError):
        schnorr.verify(key.public, SchnorrProof(R, s), context=CTX)
    # the failure message says nothing about which check failed
    with pytest.raises(InvalidProof, match=r"^the proof does not verify$") as info:
        schnorr.verify(other.public, proof, context=CTX)
    assert info.value.code == "integrity.proof"


def test_schnorr_every_flipped_byte_is_rejected(key):
    data = schnorr.prove(key.secret, context=CTX).to_bytes()
    for bad in _flips(data):
        _rejected(lambda d: schnorr.verify(key.public, d, context=CTX), bad)


def test_schnorr_malformed_inputs_get_clear_errors(key):
    proof = schnorr.prove(key.secret, context=CTX)
    data = proof.to_bytes()
    cases = {
        "truncated": data[:-1],
        "trailing": data + b"\x00",
        "no header": b"\x01",
        "version 9": b"\x01\x09" + data[2:],
        "a range proof": b"\x02" + data[1:],
        "s >= n": data[:35] + N.to_bytes(32, "big"),
        "s = 2^256 - 1": data[:35] + b"\xff" * 32,
        "R off curve": data[:2] + b"\x02" + _not_on_curve_x() + data[35:],
    }
    messages = {}
    for name, bad in cases.items():
        with pytest.raises(InputError) as info:
            schnorr.verify(key.public, bad, context=CTX)
        messages[name] = str(info.value)
    assert "truncated" in messages["truncated"]
    assert "trailing" in messages["trailing"]
    assert "veil.zk.range" in messages["a range proof"]
    assert "canonical" in messages["s >= n"]
    with pytest.raises(InputError, match="must not be empty"):
        schnorr.prove(key.secret, context=b"")
    with pytest.raises(InputError, match="must be bytes"):
        schnorr.verify(key.public, proof, context="text")  # type: ignore[arg-type]
    for secret in (0, N, -1, True):
        with pytest.raises(InputError):
            schnorr.prove(secret, context=CTX)
    with pytest.raises(InputError):
        schnorr.verify(b"\x02" + _not_on_curve_x(), proof, context=CTX)
    for doc in ("{", "[]", '{"type": "veil.zk.schnorr", "version": 1}',
                json.dumps({"type": "veil.zk.range", "version": 1, "proof": data.hex()}),
                json.dumps({"type": "veil.zk.schnorr", "version": True, "proof": data.hex()}),
                json.dumps({"type": "veil.zk.schnorr", "version": 1, "proof": "zz"})):
        with pytest.raises(InputError):
            SchnorrProof.from_json(doc)


# --- login sessions ----------------------------------------------------------------------------

class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_login_accepts_once_and_refuses_replay(key):
    verifier = LoginVerifier("veil-api")
    nonce = verifier.challenge()
    proof = schnorr.prove(key.secret, context=login_context("veil-api", nonce))
    verifier.verify(key.public, proof, nonce)
    with pytest.raises(ProofError):  # same nonce twice
        verifier.verify(key.public, proof, nonce)
    fresh = verifier.challenge()
    with pytest.raises(ProofError):  # old proof on a new nonce
        verifier.verify(key.public, proof, fresh)
    with pytest.raises(ProofError):  # never issued
        verifier.verify(key.public, proof, bytes(32))


def test_login_binds_audience_and_consumes_failed_attempts(key):
    verifier = LoginVerifier("bank")
    nonce = verifier.challenge()
    elsewhere = schnorr.prove(key.secret, context=login_context("shop", nonce))
    with pytest.raises(ProofError):
        verifier.verify(key.public, elsewhere, nonce)
    good = schnorr.prove(key.secret, context=verifier.context(nonce))
    with pytest.raises(ProofError):  # the failed attempt used the nonce up
        verifier.verify(key.public, good, nonce)
    assert verifier.outstanding() == 0


def test_login_nonces_expire_and_are_capped(key):
    clock = _Clock()
    verifier = LoginVerifier("svc", ttl=30, max_outstanding=3, clock=clock)
    nonce = verifier.challenge()
    clock.now += 31
    with pytest.raises(ProofError):
        verifier.verify(key.public, schnorr.prove(key.secret, context=verifier.context(nonce)),
                        nonce)
    nonces = [verifier.challenge() for _ in range(4)]
    assert verifier.outstanding() == 3
    with pytest.raises(ProofError):  # the oldest was dropped
        verifier.verify(key.public,
                        schnorr.prove(key.secret, context=verifier.context(nonces[0])), nonces[0])
    verifier.verify(key.public, schnorr.prove(key.secret, context=verifier.context(nonces[3])),
                    nonces[3])
    with pytest.raises(InputError):
        verifier.verify(key.public, b"", b"short")
    with pytest.raises(InputError):
        LoginVerifier("")


# --- Pedersen commitments and range proofs -----------------------------------------------------

def test_pedersen_opens_hides_and_adds():
    c1, o1 = commit(20)
    c2, o2 = commit(22)
    assert verify_opening(c1, o1) and not verify_opening(c2, o1)
    assert commit(20)[0] != c1  # fresh blinding: same value, different commitment
    summed, _ = commit(42, (o1.blinding + o2.blinding) % N)
    assert c1 + c2 == summed
    assert "20" not in repr(o1)
    for value, blinding in ((-1, 1), (N, 1), (1, 0), (1, N), (1.5, 1)):
        with pytest.raises(InputError):
            commit(value, blinding)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def adult():
    commitment, opening = commit(34)
    return commitment, opening, prove_at_least(opening, 18, context=CTX)


def test_age_proof_verifies_and_round_trips(adult):
    commitment, _, proof = adult
    verify_at_least(commitment, 18, proof, context=CTX)
    verify_at_least(commitment.to_bytes(), 18, proof.to_bytes(), context=CTX)
    assert RangeProof.from_json(proof.to_json()) == proof
    assert len(proof.to_bytes()) == rp.proof_size(7) == 938


def test_underage_cannot_prove_adult():
    commitment, opening = commit(17)
    with pytest.raises(InputError, match="below the threshold"):
        prove_at_least(opening, 18, context=CTX)
    # A cheating prover that proves the wrapped value (17 - 18) mod 2^7 = 127 gets a proof whose
    # bits recombine to 127·G + r·H, not C - 18·G: verification fails.
    t = rp._at_least_transcript(commitment, 18, 7, CTX)
    forged = rp._prove_bits(t, (17 - 18) % 128, opening.blinding, 7)
    with pytest.raises(ProofError):
        verify_at_least(commitment, 18, forged, context=CTX)
    # Nor does a proof made for an adult's commitment transfer to this one.
    adult_c, adult_o = commit(40)
    with pytest.raises(ProofError):
        verify_at_least(commitment, 18, prove_at_least(adult_o, 18, context=CTX), context=CTX)
    assert adult_c != commitment


def test_age_window_bound_is_enforced():
    _, opening = commit(18 + 127)
    prove_at_least(opening, 18, context=CTX)
    _, too_old = commit(18 + 128)
    with pytest.raises(InputError, match="outside"):
        prove_at_least(too_old, 18, context=CTX)
    prove_at_least(too_old, 18, bits=8, context=CTX)


def test_age_proof_is_bound_to_its_statement(adult):
    commitment, opening, proof = adult
    with pytest.raises(ProofError):  # a stronger claim than proved
        verify_at_least(commitment, 21, proof, context=CTX)
    with pytest.raises(ProofError):  # another window
        verify_at_least(commitment, 18, proof, bits=8, context=CTX)
    with pytest.raises(ProofError):  # another context (replay)
        verify_at_least(commitment, 18, proof, context=b"other-verifier")
    with pytest.raises(ProofError):  # another commitment
        verify_at_least(commit(34)[0], 18, proof, context=CTX)
    with pytest.raises(ProofError):  # an at-least proof is not a plain range proof
        verify_range(commitment - G * 18, proof, bits=7, context=CTX)
    cs = list(proof.commitments)
    cs[0], cs[1] = cs[1], cs[0]
    swapped = RangeProof(proof.bits, proof.challenge, tuple(cs), proof.e0, proof.z0, proof.z1)
    with pytest.raises(ProofError):
        verify_at_least(commitment, 18, swapped, context=CTX)
    shifted = list(proof.commitments)
    shifted[0] = shifted[0] + G  # claims bit 0 is one higher
    altered = RangeProof(proof.bits, proof.challenge, tuple(shifted), proof.e0, proof.z0,
                         proof.z1)
    with pytest.raises(ProofError):
        verify_at_least(commitment + G, 18, altered, context=CTX)
    with pytest.raises(ProofError):
        verify_at_least(commitment, 18, RangeProof(7, proof.challenge, proof.commitments[:6],
                                                   proof.e0, proof.z0, proof.z1), context=CTX)
    assert opening.value == 34


def test_range_proof_flipped_bytes_are_rejected(adult):
    commitment, _, proof = adult
    data = proof.to_bytes()
    for bad in _flips(data, stride=5):
        _rejected(lambda d: verify_at_least(commitment, 18, d, context=CTX), bad)


def test_range_proof_malformed_inputs_get_clear_errors(adult):
    commitment, _, proof = adult
    data = proof.to_bytes()

    def check(bad: bytes, match: str) -> None:
        with pytest.raises(InputError, match=match):
            verify_at_least(commitment, 18, bad, context=CTX)

    check(data[:-1], "truncated")
    check(data + b"\x00", "trailing")
    check(data[:2] + b"\x00" + data[3:], "bit count")
    check(data[:2] + b"\x41" + data[3:], "bit count")
    check(data[:3] + N.to_bytes(32, "big") + data[35:], "challenge is not canonical")
    z0_at = 3 + 32 + 33 + 32
    check(data[:z0_at] + (2**256 - 1).to_bytes(32, "big") + data[z0_at + 32:], "bit 0 z0")
    check(data[:35] + b"\x02" + _not_on_curve_x() + data[68:], "bit commitment 0")
    check(b"\x01" + data[1:], "veil.zk.schnorr")
    with pytest.raises(InputError):
        verify_at_least(b"\x05" * 33, 18, proof, context=CTX)
    for kwargs in ({"bits": 0}, {"bits": 65}, {"bits": 7.0}):
        with pytest.raises(InputError):
            verify_at_least(commitment, 18, proof, context=CTX, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        verify_at_least(commitment, -1, proof, context=CTX)


@settings(max_examples=15, deadline=None)
@given(value=st.integers(0, 255), threshold=st.integers(0, 255))
def test_range_and_threshold_properties(value, threshold):
    commitment, opening = commit(value)
    proof = prove_range(opening, bits=8, context=CTX)
    verify_range(commitment, proof, bits=8, context=CTX)
    if value >= threshold:
        proof = prove_at_least(opening, threshold, bits=8, context=CTX)
        verify_at_least(commitment, threshold, proof, bits=8, context=CTX)
    else:
        with pytest.raises(InputError):
            prove_at_least(opening, threshold, bits=8, context=CTX)
    if value >= 16:
        with pytest.raises(InputError):
            prove_range(opening, bits=4, context=CTX)


# --- Merkle membership -------------------------------------------------------------------------

def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, straight from the definition."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


RECORDS = [{"id": i, "name": f"patient {i}", "cohort": "A" if i % 3 else "B"} for i in range(13)]


@pytest.fixture(scope="module")
def tree():
    return MembershipTree.build(RECORDS)


def test_membership_every_size_and_index():
    for size in range(1, 18):
        records = [f"record {i}" for i in range(size)]
        t = MembershipTree.build(records)
        leaves = [record_leaf(r, t.salt(i)) for i, r in enumerate(records)]
        assert t.root == DatasetRoot(_mth(leaves), size)
        for i, record in enumerate(records):
            verify_membership(t.root, record, t.salt(i), t.prove(i))


def test_membership_rejects_wrong_record_salt_index_root(tree):
    root, proof, salt = tree.root, tree.prove(4), tree.salt(4)
    verify_membership(root, RECORDS[4], salt, proof)
    verify_membership(root, dict(reversed(RECORDS[4].items())), salt, proof.to_bytes())
    wrong = {
        "record": (root, RECORDS[5], salt, proof),
        "altered record": (root, {**RECORDS[4], "cohort": "Z"}, salt, proof),
        "salt": (root, RECORDS[4], tree.salt(5), proof),
        "index": (root, RECORDS[4], salt, tree.prove(5)),
        "root": (DatasetRoot(bytes(32), root.size), RECORDS[4], salt, proof),
        "size": (DatasetRoot(root.root, root.size + 1), RECORDS[4], salt, proof),
        "other tree": (MembershipTree.build(RECORDS).root, RECORDS[4], salt, proof),
        "moved index": (root, RECORDS[4], salt, MembershipProof(5, proof.size, proof.path)),
        "short path": (root, RECORDS[4], salt, MembershipProof(4, proof.size, proof.path[:-1])),
    }
    for name, args in wrong.items():
        with pytest.raises(ProofError):
            verify_membership(*args)
        assert name
    for bad in _flips(proof.to_bytes()):
        _rejected(lambda d: verify_membership(root, RECORDS[4], salt, d), bad)


def test_membership_malformed_inputs_get_clear_errors(tree):
    root, proof, salt = tree.root, tree.prove(0), tree.salt(0)
    data = proof.to_bytes()
    with pytest.raises(InputError, match="salt is 32 bytes"):
        verify_membership(root, RECORDS[0], salt[:-1], proof)
    with pytest.raises(InputError, match="outside a tree"):
        verify_membership(root, RECORDS[0], salt, data[:2] + (99).to_bytes(8, "big") + data[10:])
    with pytest.raises(InputError, match="truncated"):
        verify_membership(root, RECORDS[0], salt, data[:-1])
    with pytest.raises(InputError, match="trailing"):
        verify_membership(root, RECORDS[0], salt, data + b"\x00")
    with pytest.raises(InputError, match="index"):
        tree.prove(len(RECORDS))
    with pytest.raises(InputError):
        verify_membership(root, 42, salt, proof)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        DatasetRoot(b"short", 1)
    with pytest.raises(InputError):
        MembershipTree.build(["a", "b"], salts=[bytes(32)])
    assert MembershipProof.from_json(proof.to_json()) == proof
    empty = MembershipTree.build([])
    assert empty.root.size == 0
    with pytest.raises(InputError):
        empty.prove(0)


def test_membership_proof_hides_other_records(tree):
    """Siblings are salted: no unsalted hash of another record appears in a proof."""
    proof = tree.prove(0)
    guesses = {leaf_hash(canonical_record(r)) for r in RECORDS}
    guesses |= {record_leaf(r, bytes(32)) for r in RECORDS}
    assert not guesses & set(proof.path)
    same_salts = [tree.salt(i) for i in range(len(RECORDS))]
    rebuilt = MembershipTree.build(RECORDS, salts=same_salts)
    assert rebuilt.root == tree.root


@settings(max_examples=25, deadline=None)
@given(records=st.lists(st.binary(max_size=40), min_size=1, max_size=40), data=st.data())
def test_membership_property(records, data):
    t = MembershipTree.build(records)
    i = data.draw(st.integers(0, len(records) - 1))
    verify_membership(t.root, records[i], t.salt(i), MembershipProof.from_bytes(
        t.prove(i).to_bytes()))
    j = data.draw(st.integers(0, len(records) - 1))
    if records[j] != records[i]:
        with pytest.raises(ProofError):
            verify_membership(t.root, records[j], t.salt(i), t.prove(i))
