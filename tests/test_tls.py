"""Federation TLS: the workspace's CA (key wrapped in the ring) and short-lived server certs."""

from __future__ import annotations

import ipaddress
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from veil import Workspace
from veil.errors import InputError
from veil.keys import MasterKey, tls


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _verify(ca: x509.Certificate, cert: x509.Certificate, host: x509.GeneralName) -> None:
    store = Store([ca])
    PolicyBuilder().store(store).build_server_verifier(host).verify(cert, [])


def _ca_private_bytes(ws: Workspace) -> bytes:
    with ws._store.transaction() as now:  # the test reads the ring's internals
        der, _ = ws._store.ring.tls_ca_key(now)
    return tls.key_from_der(der).private_numbers().private_value.to_bytes(32, "big")


def test_issue_writes_a_verifiable_chain(ws: Workspace, tmp_path: Path) -> None:
    files = ws.issue_tls(tmp_path / "tls")
    ca, server = _cert(files.ca_cert), _cert(files.server_cert)

    assert ca.subject == ca.issuer
    ca.verify_directly_issued_by(ca)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign

    server.verify_directly_issued_by(ca)
    for host in (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):
        _verify(ca, server, host)
    with pytest.raises(VerificationError):
        _verify(ca, server, x509.DNSName("example.org"))
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    lifetime = server.not_valid_after_utc - datetime.now(UTC)
    assert timedelta(days=29) < lifetime <= timedelta(days=30)

    key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
    assert key.public_key() == server.public_key()
    assert stat.S_IMODE(files.server_key.stat().st_mode) == 0o600
    assert files.hosts == ("127.0.0.1", "localhost")
    assert files.fingerprint == tls.fingerprint(server)
    assert files.serial == format(server.serial_number, "x")


def test_ca_key_stays_wrapped_in_the_ring(tmp_path: Path, master_key: MasterKey) -> None:
    ws = Workspace.create(tmp_path / "ws", master_key=master_key)
    files = ws.issue_tls(tmp_path / "tls")
    secret = _ca_private_bytes(ws)
    kind, wrapped = ws._store.conn.execute(
        "SELECT kind, wrapped FROM keys WHERE key_id = 'federation-ca'").fetchone()
    assert kind == "signing"
    assert secret not in wrapped
    ws.close()
    for path in tmp_path.rglob("*"):  # workspace, WAL, head files, TLS files
        if path.is_file():
            assert secret not in path.read_bytes(), path
    assert sorted(p.name for p in files.directory.iterdir()) == [
        "ca.crt", "server.key", "server.pem"]
    assert b"PRIVATE KEY" not in files.ca_cert.read_bytes()
    assert b"PRIVATE KEY" not in files.server_cert.read_bytes()


def test_issue_is_logged_without_key_material(ws: Workspace, tmp_path: Path) -> None:
    files = ws.for_purpose("federation").issue_tls(tmp_path / "tls",
                                                   hosts=["127.0.0.1", "fl.example.org"])
    entry = ws.ledger.tail(1, action="tls.issue")[0]
    params = json.loads(entry.params)
    assert (entry.actor, entry.purpose, entry.resource) == ("owner", "federation",
                                                            "federation-ca")
    assert params["serial"] == files.serial
    assert params["fingerprint"] == files.fingerprint
    assert params["ca_fingerprint"] == files.ca_fingerprint
    assert params["hosts"] == ["127.0.0.1", "fl.example.org"]
    assert "PRIVATE" not in entry.params and "key" not in {k.lower() for k in params}
    assert ws.verify().entries == ws.ledger.size  # raises if the chain were broken


def test_reissue_keeps_the_ca(tmp_path: Path, master_key: MasterKey) -> None:
    ws = Workspace.create(tmp_path / "ws", master_key=master_key)
    first = ws.issue_tls(tmp_path / "one")
    second = ws.issue_tls(tmp_path / "two", hosts=["10.0.0.7", "::1", "node.internal"])
    assert first.ca_cert.read_bytes() == second.ca_cert.read_bytes()
    assert first.serial != second.serial
    assert first.server_key.read_bytes() != second.server_key.read_bytes()
    ca = _cert(second.ca_cert)
    _verify(ca, _cert(first.server_cert), x509.DNSName("localhost"))  # old certs still valid
    _verify(ca, _cert(second.server_cert), x509.IPAddress(ipaddress.ip_address("::1")))
    ws.close()

    other_master = MasterKey(os.urandom(32))
    with Workspace.open(tmp_path / "ws", master_key=master_key) as again:
        again.rotate_keys(master_key=other_master)  # the CA key is re-wrapped, not replaced
    with Workspace.open(tmp_path / "ws", master_key=other_master) as again:
        third = again.issue_tls(tmp_path / "three")
    assert third.ca_cert.read_bytes() == first.ca_cert.read_bytes()

    with Workspace.create(tmp_path / "elsewhere", master_key=master_key) as stranger:
        foreign = stranger.issue_tls(tmp_path / "foreign")
    assert foreign.ca_fingerprint != first.ca_fingerprint
    with pytest.raises(VerificationError):
        _verify(ca, _cert(foreign.server_cert), x509.DNSName("localhost"))


def test_reissue_overwrites_files_in_place(ws: Workspace, tmp_path: Path) -> None:
    first = ws.issue_tls(tmp_path / "tls")
    second = ws.issue_tls(tmp_path / "tls")
    assert _cert(second.server_cert).serial_number != int(first.serial, 16)
    assert sorted(p.name for p in (tmp_path / "tls").iterdir()) == [
        "ca.crt", "server.key", "server.pem"]  # no temp files left


def test_bad_requests_are_refused(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        ws.issue_tls(tmp_path / "tls", hosts=[])
    with pytest.raises(InputError):
        ws.issue_tls(tmp_path / "tls", hosts=["bad host"])
    with pytest.raises(InputError):
        ws.issue_tls(tmp_path / "tls", days=1000)
    assert ws.ledger.tail(1, action="tls.issue") == []  # a refused issue logs nothing


def test_throwaway_ca(tmp_path: Path) -> None:
    files = tls.throwaway(tmp_path / "tls")
    ca, server = _cert(files.ca_cert), _cert(files.server_cert)
    _verify(ca, server, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    assert server.not_valid_after_utc - datetime.now(UTC) <= timedelta(days=1)
    assert tls.throwaway(tmp_path / "again").ca_fingerprint != files.ca_fingerprint
