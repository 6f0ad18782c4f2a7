"""``veil pseudonymize``, ``veil reidentify`` and ``veil safe-harbor`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veil import Workspace
from veil.cli.app import app
from veil.demo.data import generate_patients
from veil.errors import InputError, NotFoundError
from veil.keys import generate_key_file

runner = CliRunner()


@pytest.fixture
def base(tmp_path: Path) -> list[str]:
    key = tmp_path / "k.key"
    generate_key_file(key)
    with Workspace.create(tmp_path / "ws", key_file=key) as ws:
        ws.ingest(generate_patients(200, seed=3), "patients", subject_id="patient_id",
                  classify=False)
    return ["-w", str(tmp_path / "ws"), "--key-file", str(key)]


def veil(base: list[str], *args: str):
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 0, result.output
    return result


def test_pseudonymize_then_reidentify(base):
    made = json.loads(veil(base, "pseudonymize", "patients", "--columns", "name, email",
                           "--reversible", "--json").stdout)
    assert made["dataset"] == "patients.pseudonymized" and made["provenance"]["reversible"]
    assert made["provenance"]["columns"] == ["name", "email"]
    with Workspace.open(base[1], key_file=base[3]) as ws:
        out = ws.read("patients.pseudonymized")
        original = ws.read("patients")
    tokens = out["email"].head(2).to_list()
    found = json.loads(veil(base, "reidentify", "patients.pseudonymized",
                            *tokens, "--purpose", "complaint 12", "--json").stdout)
    assert found == dict(zip(tokens, original["email"].head(2), strict=True))
    table = veil(base, "reidentify", "patients.pseudonymized", tokens[0], "--purpose", "x")
    assert original["email"][0] in table.stdout
    log = json.loads(veil(base, "audit", "log", "--action", "pseudonym.reidentify",
                          "--json").stdout)
    assert [(e["actor"], e["purpose"]) for e in log] == [("owner", "complaint 12"),
                                                         ("owner", "x")]
    plain = veil(base, "pseudonymize", "patients", "--columns", "ssn", "--output", "p2")
    assert "p2@1" in plain.stdout and "token map" not in plain.stdout


def test_reidentify_needs_a_purpose_and_known_tokens(base):
    veil(base, "pseudonymize", "patients", "--columns", "email", "--reversible")
    missing = runner.invoke(app, [*base, "reidentify", "patients.pseudonymized", "AAAA"])
    assert missing.exit_code == 2 and "--purpose" in missing.output
    default = runner.invoke(app, [*base, "reidentify", "patients.pseudonymized", "AAAA",
                                  "--purpose", "administration"])
    assert isinstance(default.exception, InputError)
    unknown = runner.invoke(app, [*base, "reidentify", "patients.pseudonymized", "AAAA",
                                  "--purpose", "audit"])
    assert isinstance(unknown.exception, NotFoundError)
    empty = runner.invoke(app, [*base, "pseudonymize", "patients", "--columns", " , "])
    assert isinstance(empty.exception, InputError)


def test_safe_harbor_command(base):
    shown = veil(base, "safe-harbor", "patients", "--output", "released", "--reference-year",
                 "2026")
    assert "released@1" in shown.stdout and "social_security_numbers" in shown.stdout
    made = json.loads(veil(base, "safe-harbor", "patients", "--output", "released",
                           "--json").stdout)
    assert made["version"] == 2 and made["provenance"]["from"] == "patients@1"
    assert "ssn" not in made["schema"] and made["provenance"]["residual"] == {}
    assert made["provenance"]["tokens"] == {"dataset": "released.tokens", "version": 2}
    verified = json.loads(veil(base, "audit", "verify", "--json").stdout)
    assert verified["ok"]


def test_pseudonym_key_rotation_from_the_cli(base):
    first = json.loads(veil(base, "pseudonymize", "patients", "--columns", "email", "--output",
                            "p1", "--json").stdout)
    assert "epoch 2 is now in use" in veil(base, "keys", "rotate-pseudonym").stdout
    second = json.loads(veil(base, "pseudonymize", "patients", "--columns", "email",
                             "--output", "p2", "--json").stdout)
    assert (first["provenance"]["epoch"], second["provenance"]["epoch"]) == (1, 2)
    with Workspace.open(base[1], key_file=base[3]) as ws:
        assert ws.read("p1")["email"][0] != ws.read("p2")["email"][0]
