"""Every key a workspace holds, and what a quantum computer would do to each.

Data recorded today can be decrypted by whoever breaks its key exchange later ("harvest now,
decrypt later"), and a signature scheme that falls lets anyone forge the audit trail auditors
keep. So the inventory says, for each key and for each algorithm the platform's computations
use, whether it survives a cryptographically relevant quantum computer:

- ``safe``: symmetric keys and hashes (Grover's search at most halves their strength, so 256-bit
  keys keep 128 bits) and lattice schemes (ML-DSA, ML-KEM, CKKS);
- ``exposed``: factoring and discrete logarithms (RSA-like Paillier, elliptic curves: Ed25519,
  ECDSA, X25519/ECDH, secp256k1), which Shor's algorithm solves;
- ``hybrid``: a classical and a post-quantum scheme combined, safe while either part holds.

One table, :data:`ALGORITHMS`, states each algorithm's family and exposure once; every row
looks its algorithm up there, and an algorithm missing from it counts as exposed until someone
reviews it (fail closed). The inventory reads names, kinds and dates only: never key bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any

from veil.govern.consent import SNAPSHOTS
from veil.keys.ring import ML_DSA_KEY_ID, SIGNING_KEY_ID, TLS_CA_KEY_ID, KeyRing
from veil.keys.share import ALGORITHM as SHARE_ALGORITHM
from veil.workspace.sharing import SHARED_KEY_PREFIX
from veil.workspace.store import Store

__all__ = ["ALGORITHMS", "EXPOSED", "HYBRID", "OPERATIONS", "SAFE", "KeyInfo", "Rule",
           "Summary", "inventory", "rule", "summary", "table"]

SAFE, EXPOSED, HYBRID = "safe", "exposed", "hybrid: safe while either part holds"
OPERATIONS = "used by operations"  # where the platform's computations use an algorithm
RECIPIENT_ALGORITHM = "X25519+ML-KEM-768"
HYBRID_SIGNATURE = "Ed25519 + ML-DSA-65"


@dataclass(frozen=True)
class Rule:
    """What an algorithm is and how it fares against a quantum computer, and why."""

    family: str  # symmetric, classical-signature, classical-kem, hybrid-signature,
    # hybrid-kem, lattice or factoring/discrete-log
    exposure: str
    why: str


_SHOR = "Shor's algorithm solves elliptic-curve discrete logs"
_HYBRID_KEM = Rule("hybrid-kem", HYBRID, "the key is derived from both X25519 and ML-KEM-768 "
                   "(FIPS 203) secrets: recorded traffic stays sealed while either holds")
ALGORITHMS: Mapping[str, Rule] = MappingProxyType({
    "AES-256-GCM": Rule("symmetric", SAFE, "Grover's search at most halves a key's strength: "
                        "a 256-bit key keeps 128 bits"),
    "HMAC-SHA256": Rule("symmetric", SAFE, "a keyed hash with a 256-bit key: Grover leaves "
                        "128 bits"),
    "HMAC-SHA1 (TOTP)": Rule("symmetric", SAFE, "a 160-bit HMAC key: Grover leaves 80 bits, "
                             "and each code lives 30 s"),
    "Argon2id": Rule("symmetric", SAFE, "a memory-hard hash: Grover at most square-roots the "
                     "guessing work, so the passphrase's strength decides"),
    "SHA-256": Rule("symmetric", SAFE, "hashes of 256-bit random secrets: preimages stay out "
                    "of reach"),
    "SHA-256 Merkle tree": Rule("symmetric", SAFE, "salted hash commitments: no "
                                "number-theoretic assumption"),
    "Ed25519": Rule("classical-signature", EXPOSED, f"{_SHOR}: the public key gives the "
                    "private key, so tree heads could be forged"),
    "ECDSA P-256": Rule("classical-signature", EXPOSED, f"{_SHOR}: the CA key could be "
                        "recovered and certificates forged"),
    "ML-DSA-65": Rule("lattice", SAFE, "FIPS 204 module-lattice signature: no known quantum "
                      "attack"),
    HYBRID_SIGNATURE: Rule("hybrid-signature", HYBRID, "a head is accepted only with both "
                           "signatures: a forger must break both schemes"),
    RECIPIENT_ALGORITHM: _HYBRID_KEM,
    SHARE_ALGORITHM: _HYBRID_KEM,
    "Paillier": Rule("factoring/discrete-log", EXPOSED, "Shor factors the modulus: recorded "
                     "ciphertexts could be decrypted"),
    "CKKS (RLWE)": Rule("lattice", SAFE, "ring learning with errors: no known quantum attack "
                        "beyond generic speed-ups"),
    "secp256k1 Schnorr/Pedersen": Rule("factoring/discrete-log", EXPOSED, f"{_SHOR}: proofs "
                                       "could be forged and commitments opened to other "
                                       "values (they stay hiding)"),
    "SecAgg+ (ECDH P-384, Shamir)": Rule("classical-kem", EXPOSED, "pairwise mask keys come "
                                         f"from ECDH P-384 ({_SHOR}): a recorded round could "
                                         "be unmasked, one site's update at a time"),
    "Shamir over TLS 1.3 (ECDHE)": Rule("classical-kem", EXPOSED, "shares are "
                                        "information-theoretic, but travel over TLS whose "
                                        "ECDHE key exchange a recording could break later"),
    "TLS 1.3 (ECDHE, ECDSA P-256)": Rule("classical-kem", EXPOSED, "ECDHE (X25519 or P-256) "
                                         "key exchange: recorded sessions could be decrypted "
                                         "later; OpenSSL 3.0 offers no hybrid group"),
})
UNKNOWN = Rule("unknown", EXPOSED, "not in veil's algorithm table: counted as exposed until "
               "someone reviews it")


def rule(algorithm: str) -> Rule:
    """``algorithm``'s rule; an unknown one fails closed (exposed)."""
    return ALGORITHMS.get(algorithm, UNKNOWN)


@dataclass(frozen=True)
class KeyInfo:
    """One key (or, ``where`` :data:`OPERATIONS`, one algorithm the platform's computations use,
    with ``uses`` ledger entries of them). Family and exposure come from :data:`ALGORITHMS`."""

    name: str
    where: str  # ring, catalog, file, passphrase, sent or OPERATIONS
    purpose: str
    algorithm: str
    note: str = ""
    created: str | None = None
    destroyed: str | None = None
    uses: int | None = None  # ledger entries of the operation; None when not logged

    @property
    def family(self) -> str:
        return rule(self.algorithm).family

    @property
    def quantum_exposure(self) -> str:
        return rule(self.algorithm).exposure

    @property
    def why(self) -> str:
        return rule(self.algorithm).why

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"family": self.family, "quantum_exposure": self.quantum_exposure,
                               "why": self.why}


# ledger actions of each computation: (name, algorithm, purpose, actions counted)
_OPERATIONS = (
    ("paillier", "Paillier", "encrypted sums and means across parties (veil he paillier)",
     ("he.paillier.encrypt",)),
    ("ckks", "CKKS (RLWE)", "encrypted inference on a registered model (veil he)",
     ("he.evaluate",)),
    ("zk-proofs", "secp256k1 Schnorr/Pedersen", "Schnorr log-in and range proofs (veil zk); "
     "run by the prover, not logged", ()),
    ("zk-membership", "SHA-256 Merkle tree", "membership proofs over a committed dataset",
     ("zk.commit", "zk.prove")),
    ("secure-aggregation", "SecAgg+ (ECDH P-384, Shamir)", "federated runs joined; "
     "updates masked when SecAgg+ is on", ("federated.train", "federated.spend")),
    ("mpc", "Shamir over TLS 1.3 (ECDHE)", "joint statistics across organisations (MPyC)",
     ("mpc.joint",)),
    ("tls", "TLS 1.3 (ECDHE, ECDSA P-256)", "veil serve, federation and MPC transport",
     ("tls.issue",)),
)


def inventory(store: Store) -> list[KeyInfo]:
    """The keys of ``store``'s workspace (the master key, the ring's keys with their dates,
    credentials in the catalog, TLS server keys issued, data keys shared out) and the
    algorithms its operations use, with how often the ledger recorded each. Read-only."""
    return [_master(store), *_ring(store), *_credentials(store), *_tls_servers(store),
            *_shares(store), *_operations(store)]


def _master(store: Store) -> KeyInfo:
    kdf = KeyRing.stored_kdf(store.conn)
    row = store.conn.execute("SELECT time FROM ledger WHERE action IN ('workspace.create', "
                             "'keys.rotate') ORDER BY seq DESC LIMIT 1").fetchone()
    made = row[0] if row else None
    if kdf is None:
        return KeyInfo("master", "file", "wraps every ring key and sealed secret", "AES-256-GCM",
                       "a 256-bit key from a key file or VEIL_MASTER_KEY",
                       created=made)
    return KeyInfo("master", "passphrase", "wraps every ring key and sealed secret", "Argon2id",
                   f"stretched from a passphrase (m={kdf.memory_cost} KiB, t={kdf.time_cost}); "
                   "wraps with AES-256-GCM", created=made)


def _sealed(store: Store) -> dict[str, str]:
    """Data key id -> what it seals."""
    sql = ("SELECT v.key_id, 'seals dataset ' || d.name || '@' || v.version FROM versions v "  # noqa: S608 - a constant table name
           "JOIN datasets d USING (dataset_id) "
           "UNION ALL SELECT key_id, 'seals model ' || name || '@' || version FROM models "
           f"UNION ALL SELECT key_id, 'seals consent snapshot ' || purpose FROM {SNAPSHOTS}")
    return dict(store.conn.execute(sql))


def _ring(store: Store) -> list[KeyInfo]:
    rows = store.conn.execute(
        "SELECT key_id, kind, created, destroyed FROM keys ORDER BY created, key_id").fetchall()
    hybrid = any(k == ML_DSA_KEY_ID and gone is None for k, _, _, gone in rows)
    sealed = _sealed(store)
    named = {
        SIGNING_KEY_ID: (HYBRID_SIGNATURE, f"signs ledger tree heads with {ML_DSA_KEY_ID}")
        if hybrid else ("Ed25519", "signs ledger tree heads"),
        ML_DSA_KEY_ID: ("ML-DSA-65", f"signs ledger tree heads with {SIGNING_KEY_ID}"),
        TLS_CA_KEY_ID: ("ECDSA P-256", "federation CA: signs TLS server certificates"),
    }
    found = []
    for key_id, kind, created, destroyed in rows:
        if key_id in named:
            algorithm, purpose = named[key_id]
        elif kind == "pseudonym":
            algorithm, purpose = "HMAC-SHA256", "keyed pseudonym tokens"
        elif kind == "data":
            algorithm, purpose = "AES-256-GCM", sealed.get(key_id, "seals a vault file")
        else:
            algorithm, purpose = kind, f"a {kind} key"
        note = (f"an accepted share, received under {RECIPIENT_ALGORITHM} and re-sealed here"
                if key_id.startswith(SHARED_KEY_PREFIX) else "")
        found.append(KeyInfo(key_id, "ring", purpose, algorithm, note, created, destroyed))
    return found


def _credentials(store: Store) -> list[KeyInfo]:
    """Second factors, passwords and API tokens of live principals, one row per kind."""
    totp, passwords = store.conn.execute(
        "SELECT COUNT(totp_wrapped), COUNT(password_hash) FROM principals "
        "WHERE disabled IS NULL").fetchone()
    (tokens,) = store.conn.execute(
        "SELECT COUNT(*) FROM api_tokens WHERE revoked IS NULL").fetchone()
    found = [
        (totp, KeyInfo("totp-seeds", "catalog", f"{totp} user(s)' second factor",
                       "HMAC-SHA1 (TOTP)", "sealed under the master key with AES-256-GCM")),
        (passwords, KeyInfo("password-hashes", "catalog", f"{passwords} user(s)' passwords",
                            "Argon2id")),
        (tokens, KeyInfo("api-tokens", "catalog", f"{tokens} unrevoked API or sign-in "
                         "token(s)", "SHA-256", "stored as hashes of 256-bit random tokens"))]
    return [info for count, info in found if count]


def _entries(store: Store, action: str) -> list[tuple[int, str, str, dict[str, Any]]]:
    return [(seq, time, resource, json.loads(params)) for seq, time, resource, params
            in store.conn.execute("SELECT seq, time, resource, params FROM ledger "
                                  "WHERE action = ? ORDER BY seq", (action,))]


def _tls_servers(store: Store) -> list[KeyInfo]:
    """Server keys written out by ``issue_tls`` (the ledger keeps where, never the key)."""
    return [KeyInfo(f"tls-server-{p['serial'][:12]}", "file",
                    f"TLS server key for {', '.join(p['hosts'])}", "ECDSA P-256",
                    f"{p['directory']}/server.key, certificate until {p['not_after'][:10]}",
                    created=time)
            for _, time, _, p in _entries(store, "tls.issue")]


def _shares(store: Store) -> list[KeyInfo]:
    """Data keys sent to recipients (``key.share``), and the recipient keys, kept outside
    veil, that opened the shares accepted here (``key.accept``). An entry without its
    algorithm reads as an unknown one: exposed."""
    sent = [KeyInfo(f"share-{seq}", "sent", f"{resource}'s key, sent to recipient "
                    f"{p.get('recipient_key_id', '(unrecorded)')}",
                    p.get("algorithm", "(unrecorded)"), f"share id {p.get('share_id', '-')}",
                    created=time)
            for seq, time, resource, p in _entries(store, "key.share")]
    opened: dict[str, list[str]] = {}
    for _, time, _, p in _entries(store, "key.accept"):
        opened.setdefault(p.get("recipient_key_id", "(unrecorded)"), []).append(time)
    return [*sent, *(KeyInfo(f"recipient-{key_id}", "file", f"opened {len(times)} share(s) "
                             "accepted here", RECIPIENT_ALGORITHM,
                             "the recipient's private key file, kept outside veil",
                             created=times[0])
                     for key_id, times in opened.items())]


def _operations(store: Store) -> list[KeyInfo]:
    actions = sorted({a for *_, counted in _OPERATIONS for a in counted})
    counts = dict(store.conn.execute(
        f"SELECT action, COUNT(*) FROM ledger WHERE action IN ({', '.join('?' * len(actions))})"  # noqa: S608
        " GROUP BY action", actions))
    return [KeyInfo(name, OPERATIONS, purpose, algorithm,
                    uses=sum(counts.get(a, 0) for a in counted) if counted else None)
            for name, algorithm, purpose, counted in _OPERATIONS]


@dataclass(frozen=True)
class Summary:
    """Live keys held, counted by exposure; how many exposed algorithms the ledger shows were
    used here; and a one-line verdict."""

    safe: int
    exposed: int
    hybrid: int
    destroyed: int
    exposed_operations: int
    verdict: str


def summary(found: Sequence[KeyInfo]) -> Summary:
    """Count by exposure; the verdict names what is exposed: keys held, and algorithms the
    ledger shows were used here (an exposed algorithm nobody ran here is listed, not blamed)."""
    live = [k for k in found if k.destroyed is None]
    held = Counter(k.quantum_exposure for k in live if k.where != OPERATIONS)
    exposed = [f"{k.name} ({k.algorithm})" for k in live
               if k.where != OPERATIONS and k.quantum_exposure == EXPOSED]
    ran = [f"{k.name} ({k.uses}x)" for k in live
           if k.where == OPERATIONS and k.quantum_exposure == EXPOSED and k.uses]
    if not exposed and not ran:
        verdict = ("quantum-ready: every key held is symmetric, post-quantum or hybrid, and no "
                   "exposed algorithm ran here")
    else:
        verdict = "not quantum-ready: " + "; ".join(
            ([f"exposed keys held: {', '.join(exposed)}"] if exposed else [])
            + ([f"exposed algorithms used: {', '.join(ran)}"] if ran else []))
    return Summary(held[SAFE], held[EXPOSED], held[HYBRID], len(found) - len(live), len(ran),
                   verdict)


def table(found: Sequence[KeyInfo], *, operations: bool
          ) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Columns and text rows of the keys held (or, ``operations``, of the algorithms the
    operations use), as the CLI and the reports show them ("hybrid" short for :data:`HYBRID`)."""
    def exposure(k: KeyInfo) -> str:
        return "hybrid" if k.quantum_exposure == HYBRID else k.quantum_exposure

    if operations:
        return (("operation", "algorithm", "family", "quantum", "purpose", "ledger entries"),
                [(k.name, k.algorithm, k.family, exposure(k), k.purpose,
                  "not logged" if k.uses is None else str(k.uses))
                 for k in found if k.where == OPERATIONS])
    return (("key", "where", "algorithm", "family", "quantum", "purpose", "created",
             "destroyed"),
            [(k.name, k.where, k.algorithm, k.family, exposure(k),
              f"{k.purpose} ({k.note})" if k.note else k.purpose, (k.created or "-")[:10],
              (k.destroyed or "-")[:10])
             for k in found if k.where != OPERATIONS])
