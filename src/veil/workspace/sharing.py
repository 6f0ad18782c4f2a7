"""Share one dataset version with a recipient key, and accept such a share into a workspace.

A share bundle carries exactly one version: its data key, wrapped for the recipient with
:func:`veil.keys.share.wrap`, and its sealed vault file as it lies in the sender's vault::

    bundle  = "VEILSHB1" || len(share) (4, big-endian) || share || sealed vault file
    context = "veil-share-v1|<dataset>@<version>|<fingerprint>|<SHA-256 of the sealed file>
               |<vault key id>|<share id>|<subject id column>"

The context is bound into the share's KDF and authenticated, so the sealed file (by its hash),
the version it claims to be and the key id its segments are bound to cannot be swapped: any
change to any byte of the bundle is one :class:`~veil.errors.InvalidShare`. The data key opens
that one file and nothing else (every version has its own key).

Accepting decrypts the file, checks its fingerprint against the context, classifies it, and
registers it as a new version in the recipient's workspace, re-sealed under a fresh data key
with key id ``shared-<share id>``; the received key is used once and never stored. Destroying
that version (``destroy``) crypto-shreds the recipient's copy, and the ``shared-`` key id left
in the ring refuses the same share a second time. What the recipient keeps outside veil (the
bundle and its private key) can open the share again: delete both to revoke for good.

Both sides log one ledger entry (``key.share``, ``key.accept``) with ids, hashes and the
context; never a key.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from veil import __version__
from veil.access.scope import Scope
from veil.discover.table import scan_table
from veil.errors import (
    InputError,
    InvalidShare,
    KeyDestroyedError,
    NotFoundError,
    VaultIntegrityError,
)
from veil.keys import KeyRing
from veil.keys.share import ALGORITHM, RecipientKey, RecipientPublicKey, unwrap, wrap
from veil.vault import Vault
from veil.workspace import binding
from veil.workspace.catalog import DatasetVersion
from veil.workspace.fingerprint import fingerprint
from veil.workspace.store import CLASSIFY_SAMPLE, Store, check_name, summary

__all__ = ["BUNDLE_MAGIC", "SHARED_KEY_PREFIX", "Incoming", "Offer", "accept", "open_bundle",
           "share"]

BUNDLE_MAGIC = b"VEILSHB1"
CONTEXT_LABEL = "veil-share-v1"
SHARED_KEY_PREFIX = "shared-"  # ring key ids of accepted versions
_LENGTH = 4
_HEX64 = re.compile(r"[0-9a-f]{64}")
_REF = re.compile(r"([A-Za-z][A-Za-z0-9_.-]{0,63})@([1-9][0-9]{0,17})")
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_SHARE_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Offer:
    """What a share says it carries (its context)."""

    dataset: str
    version: int
    fingerprint: str
    file_sha256: str
    vault_key_id: str
    share_id: str
    subject_id: str

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"

    @property
    def text(self) -> str:
        return "|".join((CONTEXT_LABEL, self.ref, self.fingerprint, self.file_sha256,
                         self.vault_key_id, self.share_id, self.subject_id))

    @classmethod
    def parse(cls, context: bytes) -> Offer:
        """Strict inverse of :attr:`text` (the subject id, last, may hold any character);
        ``ValueError`` on anything else."""
        label, ref, digest, file_sha, key_id, share_id, subject = context.decode().split("|", 6)
        found = _REF.fullmatch(ref)
        if not (label == CONTEXT_LABEL and found and _HEX64.fullmatch(digest)
                and _HEX64.fullmatch(file_sha) and _KEY_ID.fullmatch(key_id)
                and _SHARE_ID.fullmatch(share_id) and subject):
            raise ValueError
        return cls(found[1], int(found[2]), digest, file_sha, key_id, share_id, subject)


@dataclass(frozen=True)
class Incoming:
    """An opened bundle: the offer, the data key and the sealed file it opens."""

    offer: Offer
    sender: str
    recipient: str
    key: bytes = field(repr=False)
    sealed: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        """The ring key id the accepted copy is sealed under."""
        return f"{SHARED_KEY_PREFIX}{self.offer.share_id}"


def _sender_id(store: Store) -> bytes:
    """The first 16 bytes of SHA-256 over the workspace's Ed25519 ledger public key (the key
    ``ledger.pub`` starts with; it stays the same when heads become hybrid-signed)."""
    return hashlib.sha256(store.ledger.public_key).digest()[:16]


def share(store: Store, scope: Scope, record: DatasetVersion,
          recipient: RecipientPublicKey) -> bytes:
    """A bundle that gives ``recipient`` ``record`` and nothing else; logged as ``key.share``.
    A destroyed version is refused, and so is a purpose that needs consent (a share hands over
    every row, so it cannot leave out people who did not consent)."""
    if scope.rows is not None:
        raise InputError(f"purpose {scope.purpose!r} needs consent, but a share hands over every "
                         f"row of {record.ref}; share under a purpose without a consent rule")
    with store.transaction() as now:  # the write lock: no destroy can slip in meanwhile
        current = store.version(record.dataset, record.version)
        if current.destroyed:
            raise KeyDestroyedError(f"{current.ref} was crypto-shredded on {current.destroyed}; "
                                    "there is no key left to share")
        binding.check_row(store.conn, store.ledger, "version", current.dataset, current.version)
        key = store.ring.data_key(current.key_id)
        try:
            sealed = (store.vault.root / current.file).read_bytes()
        except FileNotFoundError:
            raise VaultIntegrityError(f"vault file {current.file} is missing") from None
        offer = Offer(current.dataset, current.version, current.fingerprint,
                      hashlib.sha256(sealed).hexdigest(), current.key_id, uuid.uuid4().hex,
                      current.subject_id)
        blob = wrap(key, recipient, offer.text.encode(), sender=_sender_id(store))
        store.log(now, scope, "key.share", current.ref, dataset=current.dataset,
                  version=current.version, recipient_key_id=recipient.key_id,
                  algorithm=ALGORITHM, context=offer.text, share_id=offer.share_id,
                  key_id=current.key_id, fingerprint=current.fingerprint)
    return BUNDLE_MAGIC + len(blob).to_bytes(_LENGTH, "big") + blob + sealed


def open_bundle(bundle: bytes, recipient: RecipientKey) -> Incoming:
    """Unwrap a bundle's key and check that its sealed file is the one the share names;
    :class:`~veil.errors.InvalidShare` on anything wrong. Nothing is decrypted yet."""
    start = len(BUNDLE_MAGIC) + _LENGTH
    if not bundle.startswith(BUNDLE_MAGIC) or len(bundle) < start:
        raise InvalidShare
    end = start + int.from_bytes(bundle[len(BUNDLE_MAGIC):start], "big")
    opened = unwrap(bundle[start:end], recipient)
    sealed = bundle[end:]
    try:
        offer = Offer.parse(opened.context)
    except ValueError:
        raise InvalidShare from None
    if hashlib.sha256(sealed).hexdigest() != offer.file_sha256:
        raise InvalidShare
    return Incoming(offer, opened.sender, opened.recipient, opened.key, sealed)


def _decrypt(incoming: Incoming) -> pl.DataFrame:
    """The shared frame, authenticated by the vault's AES-GCM and checked against the
    fingerprint the share names."""
    with tempfile.TemporaryDirectory(prefix="veil-share-") as folder:
        (Path(folder) / "share.vlt").write_bytes(incoming.sealed)  # still sealed on disk
        try:
            frame = Vault(Path(folder)).open("share.vlt", incoming.key,
                                             incoming.offer.vault_key_id)
        except (VaultIntegrityError, pl.exceptions.PolarsError, OSError):
            raise InvalidShare from None  # a sender holding the key can seal anything
    if (fingerprint(frame) != incoming.offer.fingerprint
            or incoming.offer.subject_id not in frame.columns):
        raise InvalidShare
    return frame


def _unused(store: Store, key_id: str) -> None:
    """Refuse a share this workspace accepted before (even one destroyed since)."""
    try:
        store.ring.data_key(key_id)
    except NotFoundError:
        return
    except KeyDestroyedError:
        raise InputError(f"this share was accepted here before and its copy destroyed (key "
                         f"{key_id}); a revoked share cannot be accepted again") from None
    raise InputError(f"this share was accepted here already (key {key_id})")


def accept(store: Store, scope: Scope, incoming: Incoming, name: str) -> DatasetVersion:
    """Register the shared version as the next version of ``name``, re-sealed under a fresh
    data key ``shared-<share id>``; logged as ``key.accept``."""
    check_name(name, "dataset")
    _unused(store, incoming.key_id)
    frame = _decrypt(incoming)
    offer = incoming.offer
    scan = scan_table(frame, sample=CLASSIFY_SAMPLE)
    key = KeyRing.generate_data_key()
    provenance = {"source": "share", "shared": offer.ref, "share_id": offer.share_id,
                  "sender": incoming.sender, "veil": __version__, "actor": scope.principal,
                  "purpose": scope.purpose}
    with store.vault.pending():
        file = store.vault.seal(frame, key, incoming.key_id)
        try:
            with store.transaction() as now:
                _unused(store, incoming.key_id)  # again, under the write lock
                version = store.add_version(
                    name, (file, incoming.key_id, key, offer.fingerprint, scan), frame,
                    offer.subject_id, provenance, now)
                store.log(now, scope, "key.accept", f"{name}@{version}", dataset=name,
                          version=version, key_id=incoming.key_id,
                          recipient_key_id=incoming.recipient, sender=incoming.sender,
                          algorithm=ALGORITHM, context=offer.text, share_id=offer.share_id,
                          fingerprint=offer.fingerprint, rows=frame.height,
                          columns=frame.width, subject_id=offer.subject_id,
                          classification=summary(scan),
                          bind=binding.bind_version(store.conn, name, version))
        except BaseException:
            store.vault.discard(file)
            raise
    return store.version(name, version)
