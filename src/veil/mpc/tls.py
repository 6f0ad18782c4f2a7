"""TLS credentials for one MPyC run: a throwaway CA and a certificate per party.

MPyC's ``--ssl`` mode runs mutual TLS: every party presents a certificate signed by a CA all
parties trust, and a connecting party checks that the peer's certificate names
``MPyC party <i>``. MPyC reads the files from ``.config/`` in its working directory:
``party_<i>.crt``, ``party_<i>.key`` and ``mpyc_ca.crt``.

Why this shape: the CA key exists only in memory while :func:`write_credentials` runs, so
nobody can issue another party certificate for the run afterwards; each party's directory holds
its own key only (0600 in a 0700 directory), so handing a directory to one organisation gives
it nothing of another's. Built from ``cryptography``'s X.509 builder with ECDSA P-256 (the
helpers of :mod:`veil.keys.tls`); no new primitive.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from veil._atomic import atomic_write
from veil.keys import tls as certs

__all__ = ["CA_FILE", "CONFIG_DIR", "cert_file", "key_file", "party_name", "write_credentials"]

CONFIG_DIR = ".config"  # MPyC's fixed location, relative to the party's working directory
CA_FILE = "mpyc_ca.crt"
_CA_NAME = "veil MPC run CA"
_BACKDATE = timedelta(minutes=5)  # tolerate clock skew between the parties' machines


def party_name(party: int) -> str:
    """The name MPyC checks in party ``party``'s certificate."""
    return f"MPyC party {party}"


def cert_file(party: int) -> str:
    return f"party_{party}.crt"


def key_file(party: int) -> str:
    return f"party_{party}.key"


def _party_certificate(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate,
                       party: int, key: ec.EllipticCurvePrivateKey,
                       days: int) -> x509.Certificate:
    """Both ends of a connection present one, so it serves as a server and a client certificate."""
    name = party_name(party)
    now = datetime.now(UTC).replace(microsecond=0)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def write_credentials(root: str | Path, parties: int, *, days: int = 1) -> list[Path]:
    """Issue a fresh CA and one certificate per party; write party ``i``'s key, certificate and
    the CA certificate into ``root/party<i>/.config/`` (directories 0700, key 0600).

    Returns the ``party<i>`` directories: party ``i`` runs with ``--tls`` set to its own one.
    """
    root = Path(root)
    ca_key = certs.new_key()
    ca_cert = certs.ca_certificate(ca_key, created=datetime.now(UTC), name=_CA_NAME)
    ca_pem = certs.pem_certificate(ca_cert)
    homes = []
    for party in range(parties):
        home = root / f"party{party}"
        config = home / CONFIG_DIR
        config.mkdir(mode=0o700, parents=True)
        home.chmod(0o700)
        key = certs.new_key()
        cert = _party_certificate(ca_key, ca_cert, party, key, days)
        files = {key_file(party): (certs.pem_private_key(key), 0o600),
                 cert_file(party): (certs.pem_certificate(cert), 0o644), CA_FILE: (ca_pem, 0o644)}
        for name, (data, mode) in files.items():  # no fsync: worthless after this run anyway
            atomic_write(config / name, data, mode=mode, durable=False)
        homes.append(home)
    return homes
