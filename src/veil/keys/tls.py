"""TLS certificates for a federation: a private CA and short-lived server certificates.

Composed from ``cryptography``'s X.509 builder; no new primitive. Why each choice:

- **A private CA, not self-signed server certificates**: sites pin one small CA certificate
  (``ca.crt``) once; the coordinator can then reissue server certificates (new host, expiry)
  without redistributing anything.
- **ECDSA P-256 / SHA-256**: what gRPC (BoringSSL) and every TLS 1.3 stack accept; small keys.
- **The CA key never leaves the workspace key ring** (wrapped under the master key, see
  :meth:`veil.keys.KeyRing.tls_ca_key`); only the server key is written to disk, because the
  SuperLink must read it. The CA certificate is rebuilt from the stored key on demand with a
  fixed subject, serial and validity and RFC 6979 deterministic signatures, so every issue
  yields the same ``ca.crt`` bytes and earlier server certificates keep verifying.
- **Server certificates are short-lived** (30 days by default) and carry exactly the given
  hosts as subjectAltNames (IP addresses as iPAddress entries: gRPC checks SANs, never the CN)
  and the serverAuth extended key usage, so they cannot act as a CA or a client certificate.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from veil._atomic import atomic_write
from veil.errors import InputError

__all__ = [
    "CA_NAME",
    "SERVER_DAYS",
    "TlsFiles",
    "ca_certificate",
    "fingerprint",
    "issue",
    "key_from_der",
    "key_to_der",
    "new_key",
    "pem_certificate",
    "pem_private_key",
    "server_certificate",
    "throwaway",
    "write_files",
]

CA_NAME = "veil federation CA"
CA_DAYS = 3650  # the CA only signs; its key is wrapped in the ring, so a long life is fine
SERVER_DAYS = 30
_BACKDATE = timedelta(minutes=5)  # tolerate clock skew between the coordinator and the sites
CA_FILE, CERT_FILE, KEY_FILE = "ca.crt", "server.pem", "server.key"


@dataclass(frozen=True)
class TlsFiles:
    """Where one issue wrote its files, and public facts about them (never key bytes)."""

    directory: Path
    ca_cert: Path  # give this to every SuperNode (--root-certificates)
    server_cert: Path  # the SuperLink's --ssl-certfile
    server_key: Path  # the SuperLink's --ssl-keyfile (mode 0600)
    serial: str  # the server certificate's serial, hex
    fingerprint: str  # SHA-256 of the server certificate (DER), hex
    ca_fingerprint: str
    hosts: tuple[str, ...]
    not_after: datetime

    def facts(self) -> dict[str, object]:
        """What a ledger entry records about the issue."""
        return {"serial": self.serial, "fingerprint": self.fingerprint,
                "ca_fingerprint": self.ca_fingerprint, "hosts": list(self.hosts),
                "not_after": self.not_after.isoformat(), "directory": str(self.directory)}


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_to_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    """PKCS#8 DER, unencrypted: the ring wraps it."""
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def key_from_der(der: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InputError("the stored CA key is not an EC private key")
    return key


def pem_certificate(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def pem_private_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted: gRPC cannot read an encrypted key file, so mode 0600 guards it."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def ca_certificate(key: ec.EllipticCurvePrivateKey, *, created: datetime,
                   name: str = CA_NAME) -> x509.Certificate:
    """The self-signed CA certificate of ``key``; the same key and ``created`` give the same
    bytes (serial from the public key, deterministic ECDSA)."""
    public = key.public_key()
    spki = public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    serial = int.from_bytes(hashlib.sha256(spki).digest()[:16], "big") >> 1 or 1
    start = created.astimezone(UTC).replace(microsecond=0) - _BACKDATE
    return (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    )


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or any(c.isspace() for c in host) or not host.isascii():
        raise InputError(f"{host!r} is not a host name or IP address")
    return x509.DNSName(host)


def server_certificate(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate,
                       hosts: Sequence[str], *, days: int = SERVER_DAYS,
                       key: ec.EllipticCurvePrivateKey | None = None,
                       ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A fresh server key (unless ``key``) and its certificate for ``hosts``, signed by the CA."""
    hosts = list(dict.fromkeys([hosts] if isinstance(hosts, str) else hosts))
    if not hosts:
        raise InputError("a server certificate needs at least one host name or IP address")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 397:
        raise InputError(f"server certificate validity must be 1 to 397 days; got {days!r}")
    key = key or new_key()
    now = datetime.now(UTC).replace(microsecond=0)
    end = min(now + timedelta(days=days), ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def write_files(directory: str | Path, ca_cert: x509.Certificate, cert: x509.Certificate,
                key: ec.EllipticCurvePrivateKey) -> TlsFiles:
    """Write ca.crt, server.pem (0644) and server.key (0600) into ``directory``, each
    atomically; the key is written first so a certificate never points at a missing key."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(directory / KEY_FILE, pem_private_key(key), mode=0o600)
    atomic_write(directory / CERT_FILE, pem_certificate(cert), mode=0o644)
    atomic_write(directory / CA_FILE, pem_certificate(ca_cert), mode=0o644)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    hosts = tuple(str(name.value) for name in sans)
    return TlsFiles(directory, directory / CA_FILE, directory / CERT_FILE, directory / KEY_FILE,
                    format(cert.serial_number, "x"), fingerprint(cert), fingerprint(ca_cert),
                    hosts, cert.not_valid_after_utc)


def issue(directory: str | Path, ca_key: ec.EllipticCurvePrivateKey, *, created: datetime,
          hosts: Sequence[str] = ("127.0.0.1", "localhost"), days: int = SERVER_DAYS
          ) -> TlsFiles:
    """Sign a new server certificate for ``hosts`` with ``ca_key`` and write the three files.
    ``created`` fixes the CA certificate's validity (see :func:`ca_certificate`)."""
    ca_cert = ca_certificate(ca_key, created=created)
    cert, key = server_certificate(ca_key, ca_cert, hosts, days=days)
    return write_files(directory, ca_cert, cert, key)


def throwaway(directory: str | Path, hosts: Sequence[str] = ("127.0.0.1", "localhost"),
              *, days: int = 1) -> TlsFiles:
    """Files from a fresh CA whose key is forgotten at once: for a local, one-off run."""
    return issue(directory, new_key(), created=datetime.now(UTC), hosts=hosts, days=days)
