"""Sharing one version's data key with a recipient under hybrid X25519 + ML-KEM-768: known
answers (RFC 7748 and NIST's ML-KEM-768 KAT, read from cryptography-vectors), a pinned version-1
share made from bytes chosen here, tamper and wrong-key refusals with one message-less error,
context binding, the workspace side (guard, ledger, destroyed versions, the recipient reading
exactly that version, revocation) and the CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from pathlib import Path

import polars as pl
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from _vectors import kat_records
from veil import Workspace
from veil.demo.data import generate_patients
from veil.errors import (
    AccessDenied,
    InputError,
    InvalidShare,
    KeyDestroyedError,
    VaultIntegrityError,
)
from veil.govern.purposes import LawfulBasis, Purpose, SpecialCondition
from veil.keys import MasterKey
from veil.keys.share import (
    ALGORITHM,
    PRIVATE_MAGIC,
    RecipientKey,
    RecipientPublicKey,
    new_recipient,
    unwrap,
    wrap,
)
from veil.vault import Vault
from veil.workspace import sharing
from veil.workspace.fingerprint import fingerprint

MESSAGE = InvalidShare().message
SENDER = bytes(range(16))

# The pinned share is made only from bytes chosen here: the recipient's X25519 private key and
# ML-KEM-768 seed d || z, the share's ephemeral X25519 private key, the data key, sender 00..0f
# and context "veil-share-v1|kat@1"; its ML-KEM ciphertext was encapsulated once (randomised)
# to that recipient by `wrap` with the ephemeral key fixed. Shares of version 1 must keep opening.
RECIPIENT_X25519 = bytes(range(32))
RECIPIENT_MLKEM_SEED = bytes(range(32, 96))
EPHEMERAL_X25519 = bytes(range(96, 128))
PINNED_KEY = bytes(range(128, 160))
PINNED_CONTEXT = b"veil-share-v1|kat@1"
PINNED_SS = (  # the ML-KEM shared secret in the pinned share, as decapsulated when made
    "897808596436debd4aecea3fe1d7816e0793f1500a84aba895b61bece152cfd5")
PINNED_SHARE = bytes.fromhex(
    "5645494c5348523171303144a1874323cb56388b365f18b4000102030405060708090a0b0c0d0e0f00137665"
    "696c2d73686172652d76317c6b61744031675dd574ed7789310b3d2e7681f3790b466c773b1521fecf365779"
    "58371ea52f65d058fdb0aeb5330d9d065256c4b4a05d93dafa7e5c8109acc655edf2b6a32875247e14ea7343"
    "40e9284cde375571030e10367ddcfa1b27b05d72cb19d0122229e96861e3b22524a20e7a0d0e6fbeb30d7b86"
    "658bcf477f6d4c7443f203f27bf23ced4624c35ac974d800fbb16daadbd907f69d532f3aa9e2eb7420381db5"
    "b33e34d6a7c5d823b8c2f68dd82e52cd2523639186d237627a99aa830767130902a89a84f0b1e36d782200be"
    "b939684f740fcbaa25d223c2111d071decfc30db717c8ac82c20864f1c69bd3cdc5aa57613fcbd3bc47dc1c6"
    "4b7ce4ce63ca6c16f82e2931211716d17e2ed77ebde083506ec518a94b2935366a72db9b5fabfdbee228a6fd"
    "83ae44bb26795e0f470e4c51a8ee9450c02b7956a648c4ae28ec9b8d8809c0796b0ab5b7db272bf21eb140bf"
    "82ae33eab2842b4f628765db3b93c535c50a0b24b5b4e8710376cae0772a1a6226949b780f065712dd28df9f"
    "4017cc1187b54305a615aecee0da7c13b8e7f58f9108dd7cb2a126875c5e57358f32c1543cff09066a62d050"
    "12776133df28fa456a776b7ec118665c5b81e19224288612b70cf60fed0cd1a52af130a0dc6053db72137848"
    "cd958aae032b15a0fe461a64ae98c7f792e6d2d22de0b62d52205c66e3cf58a906803f0dc71ebb7df1959983"
    "76579d65aa2659d744232cb224ebe6f3b8013c0de9647fd90a33ea674598dc11bd06856f58f7b858369ca236"
    "79d2bab4fb88e9561bfa309f9b6a510b20246e1d91031e06b5bae547d39bd698f0a71753469dea766ca85de1"
    "2b4d395afccbc0658ee289ee661206d660fb892c75df25864b000ec0369479e94aeea0cfd33bb7a880d9ee8f"
    "cbe6f501f6f1f274f099406211951870e891a687bb6608d879e24c5a82883a12d60d5bb0cc241bb7daacb804"
    "fc0c78bcf153af332ac06b2f3a87f2047ca5e205bcc62f94634febb33971007cd33197ae3c6bd4a97e282fc2"
    "ec04dc105afcf8b11eb8e7697c7024e88109499652bca067ee34e75acd5f43e8d977b8167da3bee802ceee02"
    "784f9785985023a3e357cfaf484accfba0ec8c10115677338a6027c151945ce5f03256ed70d0f9256fcaaaff"
    "d1d2706bb313c9705ea696a5d1c0d094fcc031fb8e39b8292d8644a390fa03f64e353b97aae52c5aaa3bdd20"
    "4a01cdbe614e1340343526326e533130e1c7be2a7b6e4871c5f4be8d81bcad9d9df71703672e8b56e3f88e97"
    "a9589fb3eb2504147877959f60fe9ace38ab881d740020fc51a45bbfd0dd8b0a5be65d3a982747b3c522ed8b"
    "0e9c61a4b2093291354c9cdfe526c77502bc9df8688a74b3b376075bae114191a0766742e6676faef993a936"
    "9ff49a11ba1d5ca0cce77ae26040dc3e200b62f4483e19dc80e87d22b757fde57bdb860153820970054f282c"
    "b406764f1fdab4cd587cd560b5e809ec3cefede6c06579bdce31c8e93d2345d5e7e363caea850de5bcc7152f"
    "671c910dbf2f094221645942085978d891664fc07b6a429a396ede177bee09586810c16c2aeae53bcf7ca5a1"
    "5900988279fe55f3b367545911f50bf7268ff34d1846e6b27b6a795499df05161cb3a9e16968ec1a47"
)
_CONTEXT_AT = 8 + 16 + 16 + 2  # magic, recipient key id, sender id, context length


def _kat_recipient() -> RecipientKey:
    """The pinned share's recipient, from the fixed seeds above (key file layout)."""
    return RecipientKey.from_bytes(PRIVATE_MAGIC + RECIPIENT_X25519 + RECIPIENT_MLKEM_SEED)


# -- the wrap itself -------------------------------------------------------------------------
def test_x25519_known_answers() -> None:
    """RFC 7748 section 5.2, read from cryptography-vectors."""
    vectors = kat_records("asymmetric/X25519/rfc7748.txt",
                          ("INPUT_SCALAR", "INPUT_U", "OUTPUT_U"))
    assert len(vectors) == 3
    for v in vectors:
        found = X25519PrivateKey.from_private_bytes(v["INPUT_SCALAR"]).exchange(
            X25519PublicKey.from_public_bytes(v["INPUT_U"]))
        assert found == v["OUTPUT_U"]


def test_ml_kem_768_known_answers() -> None:
    """NIST's ML-KEM-768 KAT (FIPS 203), read from cryptography-vectors: a recipient key whose
    file holds the seed d || z has the KAT's encapsulation key; it decapsulates the KAT
    ciphertext to the KAT secret and a rejected ciphertext to the implicit-rejection secret."""
    vectors = kat_records("asymmetric/MLKEM/kat_MLKEM_768.rsp",
                          ("d", "z", "pk", "ct", "ss", "ct_n", "ss_n"), 25)
    assert len(vectors) == 25
    for v in vectors:
        recipient = RecipientKey.from_bytes(PRIVATE_MAGIC + RECIPIENT_X25519 + v["d"] + v["z"])
        assert recipient.public.mlkem.public_bytes_raw() == v["pk"]
        assert recipient.mlkem.decapsulate(v["ct"]) == v["ss"]
        assert recipient.mlkem.decapsulate(v["ct_n"]) == v["ss_n"]


def test_a_pinned_version_1_share_opens_and_its_parts_give_the_known_answers() -> None:
    recipient = _kat_recipient()
    public = recipient.public
    assert recipient.to_bytes() == PRIVATE_MAGIC + RECIPIENT_X25519 + RECIPIENT_MLKEM_SEED
    assert public.key_id == hashlib.sha256(public.raw).hexdigest()[:32]
    at = _CONTEXT_AT + len(PINNED_CONTEXT)
    assert PINNED_SHARE[:at] == (b"VEILSHR1" + bytes.fromhex(public.key_id) + SENDER
                                 + len(PINNED_CONTEXT).to_bytes(2, "big") + PINNED_CONTEXT)
    eph, ciphertext = PINNED_SHARE[at:at + 32], PINNED_SHARE[at + 32:at + 32 + 1088]
    ephemeral = X25519PrivateKey.from_private_bytes(EPHEMERAL_X25519)
    assert eph == ephemeral.public_key().public_bytes_raw()
    ss_x = recipient.x25519.exchange(X25519PublicKey.from_public_bytes(eph))
    assert ss_x == ephemeral.exchange(public.x25519)
    ss_m = recipient.mlkem.decapsulate(ciphertext)
    assert ss_m.hex() == PINNED_SS
    # the module docstring's protocol, redone here: these parts give the key that opens the rest
    okm = HKDF(hashes.SHA256(), 44, salt=None,
               info=b"veil-share-v1 X25519+ML-KEM-768" + PINNED_CONTEXT).derive(
        ss_m + ss_x + ciphertext + eph + public.x25519.public_bytes_raw()
        + bytes.fromhex(public.key_id))
    end = at + 32 + 1088
    assert AESGCM(okm[:32]).decrypt(okm[32:], PINNED_SHARE[end:], PINNED_SHARE[:end]) == (
        PINNED_KEY)
    opened = unwrap(PINNED_SHARE, recipient)
    assert (opened.context, opened.key, opened.sender, opened.recipient) == (
        PINNED_CONTEXT, PINNED_KEY, SENDER.hex(), public.key_id)
    assert PINNED_KEY.hex() not in repr(opened) and "x25519" not in repr(recipient)


def test_round_trip_through_strict_key_files(tmp_path: Path) -> None:
    public_path, private_path, made = new_recipient(tmp_path / "rcp")
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(private_path.parent.stat().st_mode) == 0o700
    key, public = RecipientKey.load(private_path), RecipientPublicKey.load(public_path)
    assert key.key_id == public.key_id == made.key_id
    data_key = os.urandom(32)
    share = wrap(data_key, public, b"a context", sender=SENDER)
    assert share != wrap(data_key, public, b"a context", sender=SENDER)  # fresh secrets
    opened = unwrap(share, key)
    assert (opened.context, opened.key) == (b"a context", data_key)
    with pytest.raises(InputError, match="already exists"):
        new_recipient(tmp_path / "rcp")
    raw = public_path.read_bytes()
    assert raw[:8] == b"VEILRPK1" and len(raw) == 8 + 32 + 1184
    for bad in (raw[:-1], raw + b"\0", b"VEILRPK2" + raw[8:], raw[:40] + b"\xff" * 1184):
        with pytest.raises(InputError, match=r"recipient public key|invalid ML-KEM"):
            RecipientPublicKey.from_bytes(bad)
    with pytest.raises(InputError, match="not a veil recipient private key"):
        RecipientKey.from_bytes(raw)
    with pytest.raises(InputError, match="does not exist"):
        RecipientKey.load(tmp_path / "nowhere.key")
    with pytest.raises(InputError, match="256-bit"):
        wrap(os.urandom(16), public, b"", sender=SENDER)


def test_every_changed_byte_truncation_or_extension_is_one_error() -> None:
    recipient = _kat_recipient()
    share = bytearray(PINNED_SHARE)
    variants = [PINNED_SHARE[:cut] for cut in range(len(share))]
    variants += [PINNED_SHARE + b"\0", b"VEILSHR2" + PINNED_SHARE[8:]]
    for index in range(len(share)):  # header, ephemeral key, ML-KEM ciphertext, GCM, tag
        for bit in (0x01, 0x80):
            share[index] ^= bit
            variants.append(bytes(share))
            share[index] ^= bit
    messages = set()
    for variant in variants:
        with pytest.raises(InvalidShare) as refused:
            unwrap(variant, recipient)
        messages.add(str(refused.value))
    assert messages == {MESSAGE}


def test_a_wrong_recipient_key_is_refused_even_with_one_half_right() -> None:
    recipient, other = _kat_recipient(), RecipientKey.generate()
    same_x25519 = RecipientKey(recipient.x25519, other.mlkem)
    same_mlkem = RecipientKey(other.x25519, recipient.mlkem)
    for key in (other, same_x25519, same_mlkem):
        with pytest.raises(InvalidShare):
            unwrap(PINNED_SHARE, key)
        # relabelled for that key's id: one right KEM secret alone still opens nothing
        relabelled = PINNED_SHARE[:8] + bytes.fromhex(key.key_id) + PINNED_SHARE[24:]
        with pytest.raises(InvalidShare):
            unwrap(relabelled, key)


def test_a_share_relabelled_for_another_context_fails() -> None:
    relabelled = PINNED_SHARE.replace(b"|kat@1", b"|kat@2")
    assert relabelled != PINNED_SHARE
    with pytest.raises(InvalidShare):
        unwrap(relabelled, _kat_recipient())


# -- the workspace side ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def versions() -> tuple[pl.DataFrame, pl.DataFrame]:
    return generate_patients(60, seed=1), generate_patients(40, seed=2)


@pytest.fixture
def sender(ws: Workspace, versions) -> Workspace:
    for frame in versions:  # unclassified: every column counts as "other" to the guard
        ws.ingest(frame, "patients", subject_id="patient_id", classify=False)
    return ws


@pytest.fixture
def receiver(tmp_path: Path) -> Workspace:
    with Workspace.create(tmp_path / "receiver", master_key=MasterKey(os.urandom(32))) as made:
        yield made


def test_the_recipient_reads_that_one_version_until_it_destroys_its_copy(sender, receiver):
    recipient = RecipientKey.generate()
    bundle = sender.share_key("patients", 1, recipient.public)
    accepted = receiver.accept_share(bundle, recipient, name="theirs")
    assert accepted.ref == "theirs@1" and receiver.dataset_names() == ["theirs"]
    assert accepted.fingerprint == sender.version("patients", 1).fingerprint
    assert accepted.classification is not None  # the guard knows its identifiers
    assert receiver.read("theirs").equals(sender.read("patients", 1))
    # the shared key opens version 1's sealed file and no other
    incoming = sharing.open_bundle(bundle, recipient)
    second = sender.version("patients", 2)
    with pytest.raises(VaultIntegrityError):
        Vault(sender.path / "vault").open(second.file, incoming.key, second.key_id)
    with pytest.raises(InputError, match="accepted here already"):
        receiver.accept_share(bundle, recipient, name="again")
    # revocation: destroying the accepted version crypto-shreds the recipient's copy
    assert accepted.key_id == f"shared-{incoming.offer.share_id}"
    receiver.destroy("theirs", 1)
    with pytest.raises(KeyDestroyedError):
        receiver.read("theirs")
    (wrapped,) = receiver._store.conn.execute("SELECT wrapped FROM keys WHERE key_id = ?",
                                              (accepted.key_id,)).fetchone()
    assert wrapped is None
    with pytest.raises(InputError, match="cannot be accepted again"):
        receiver.accept_share(bundle, recipient, name="again")
    assert sender.read("patients", 1).height == 60  # the sender's version is untouched


def test_both_sides_log_one_entry_with_ids_never_keys(sender, receiver):
    recipient = RecipientKey.generate()
    record = sender.version("patients", 2)
    bundle = sender.share_key("patients", 2, recipient.public)
    shared = sender.ledger.tail(1)[0]
    assert (shared.action, shared.resource, shared.actor) == ("key.share", "patients@2", "owner")
    made = shared.parameters
    assert made["algorithm"] == ALGORITHM == "X25519+ML-KEM-768/HKDF-SHA256/AES-256-GCM"
    assert (made["dataset"], made["version"], made["recipient_key_id"]) == (
        "patients", 2, recipient.key_id)
    assert made["context"].startswith(f"veil-share-v1|patients@2|{record.fingerprint}|")
    accepted = receiver.accept_share(bundle, recipient)
    took = receiver.ledger.tail(1)[0]
    assert (took.action, took.resource) == ("key.accept", accepted.ref) == (
        "key.accept", "patients@1")
    got = took.parameters
    assert (got["context"], got["share_id"], got["recipient_key_id"]) == (
        made["context"], made["share_id"], recipient.key_id)
    assert got["key_id"] == accepted.key_id == f"shared-{made['share_id']}"
    assert got["sender"] == hashlib.sha256(sender.ledger.public_key).hexdigest()[:32]
    secrets = (sharing.open_bundle(bundle, recipient).key.hex(),
               receiver._store.ring.data_key(accepted.key_id).hex())
    for workspace in (sender, receiver):
        workspace.verify()
        assert not any(s in e.params for e in workspace.ledger.entries() for s in secrets)


def test_a_changed_bundle_or_a_swapped_file_is_refused_and_writes_nothing(sender, receiver):
    recipient = RecipientKey.generate()
    bundle = sender.share_key("patients", 1, recipient.public)
    end = 12 + int.from_bytes(bundle[8:12], "big")  # the wrapped key ends, the sealed file starts
    flipped = bytearray(bundle)
    for index in [*range(end + 64), *range(end + 64, len(bundle), 61), len(bundle) - 1]:
        flipped[index] ^= 0x04
        with pytest.raises(InvalidShare):
            sharing.open_bundle(bytes(flipped), recipient)
        flipped[index] ^= 0x04
    second = (sender.path / "vault" / sender.version("patients", 2).file).read_bytes()
    before = receiver.ledger.size
    for forged in (bundle[:end] + second,  # version 2's file under version 1's share
                   bundle.replace(b"|patients@1|", b"|patients@2|", 1),
                   bundle[:-1], bundle + b"\0", bundle[:end]):
        with pytest.raises(InvalidShare, match=MESSAGE):
            receiver.accept_share(forged, recipient)
    with pytest.raises(InvalidShare):
        receiver.accept_share(bundle, RecipientKey.generate())
    assert receiver.dataset_names() == [] and receiver.ledger.size == before


def test_a_destroyed_version_is_refused_and_nothing_is_logged(sender):
    sender.destroy("patients", 1)
    before = sender.ledger.size
    with pytest.raises(KeyDestroyedError, match=r"crypto-shredded.*no key left to share"):
        sender.share_key("patients", 1, RecipientKey.generate().public)
    assert sender.ledger.size == before


def test_sharing_needs_key_admin_over_every_column_and_accepting_needs_ingest(
        sender, receiver, person):
    recipient = RecipientKey.generate()
    steward, _ = person(sender, "sam", "steward")  # ingest, raw reads; no key_admin
    with pytest.raises(AccessDenied):
        steward.share_key("patients", 1, recipient.public)
    denied = sender.ledger.tail(1)[0]
    assert (denied.action, denied.parameters["operation"]) == ("access.denied", "key_admin")
    sender.policy.allow("shredder", "key_admin", category="none")  # enough to destroy
    shredder, _ = person(sender, "kim", "shredder")
    with pytest.raises(AccessDenied):  # ... but a share hands over every column
        shredder.share_key("patients", 1, recipient.public)
    sender.policy.allow("sharer", "key_admin")
    sender.policy.assign("kim", "sharer")
    bundle = shredder.share_key("patients", 1, recipient.public)
    assert sender.ledger.tail(1)[0].actor == "kim"
    auditor, _ = person(receiver, "ava", "auditor")
    with pytest.raises(AccessDenied):
        auditor.accept_share(bundle, recipient)
    assert receiver.dataset_names() == []
    importer, _ = person(receiver, "ian", "steward")
    assert importer.accept_share(bundle, recipient).provenance["actor"] == "ian"


def test_a_purpose_that_needs_consent_cannot_share_every_row(sender):
    sender.purposes.add(Purpose(
        "trial", "a consented trial", LawfulBasis.CONSENT, {"patients": ("*",)},
        frozenset({"key_admin"}), consent_required=True, retention_days=None,
        special=SpecialCondition.EXPLICIT_CONSENT))
    with pytest.raises(InputError, match="needs consent"):
        sender.for_purpose("trial").share_key("patients", 1, RecipientKey.generate().public)


def test_cli_round_trip(run, tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("pid,zip,age\nP1,02134,41\nP2,02139,35\n")
    a, b = ("-w", "a", "--key-file", "a.key"), ("-w", "b", "--key-file", "b.key")
    run("-w", "a", "init", "--new-key-file", "a.key")
    run("-w", "b", "init", "--new-key-file", "b.key")
    run(*a, "ingest", "people.csv", "--name", "people", "--subject-id", "pid")
    made = run("keys", "recipient", "new", "rcp")
    assert RecipientPublicKey.load(tmp_path / "rcp" / "recipient.pub").key_id in made.stdout
    run(*a, "keys", "share", "people", "1", "--to", "rcp/recipient.pub", "--out", "p.share")
    took = run(*b, "keys", "accept", "p.share", "--key", "rcp/recipient.key", "--as", "theirs")
    assert "people@1 as theirs@1" in took.stdout
    with Workspace.open(tmp_path / "b", key_file=tmp_path / "b.key") as ws:
        assert ws.read("theirs").equals(pl.read_csv(tmp_path / "people.csv",
                                                    schema_overrides={"zip": pl.String}))
    run("keys", "recipient", "new", "other")
    wrong = run(*b, "keys", "accept", "p.share", "--key", "other/recipient.key", check=False)
    assert wrong.returncode == 4 and MESSAGE in wrong.stderr
    again = run(*a, "keys", "share", "people", "1", "--to", "rcp/recipient.pub", "--out",
                "p.share", check=False)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_a_share_whose_sealed_rows_disagree_with_its_context_is_refused(receiver, versions):
    """A sender holds the data key, so it could seal anything: the recipient checks the rows
    against the fingerprint and subject id the share names before registering them."""
    recipient, frame = RecipientKey.generate(), versions[0]
    key, key_id = os.urandom(32), "data-forged"
    vault = Vault(receiver.path.parent)
    sealed = (vault.root / vault.seal(frame, key, key_id)).read_bytes()
    digest = hashlib.sha256(sealed).hexdigest()
    good = sharing.Offer("forged", 1, fingerprint(frame), digest, key_id, "0" * 32, "patient_id")
    for offer in (good, dataclasses.replace(good, fingerprint="f" * 64, share_id="1" * 32),
                  dataclasses.replace(good, subject_id="nobody", share_id="2" * 32)):
        share = wrap(key, recipient.public, offer.text.encode(), sender=SENDER)
        bundle = sharing.BUNDLE_MAGIC + len(share).to_bytes(4, "big") + share + sealed
        if offer is good:
            assert receiver.accept_share(bundle, recipient).rows == frame.height
            continue
        with pytest.raises(InvalidShare):
            receiver.accept_share(bundle, recipient, name="other")
    assert receiver.dataset_names() == ["forged"]
