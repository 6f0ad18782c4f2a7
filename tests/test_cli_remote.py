"""``veil --server``: the CLI's commands run on the real ``veil serve`` over TLS, printing what
they print locally and exiting with the same codes; other commands are refused by name."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyotp
import pytest

from service import EVERYTHING, PASSWORD, build_world, serve
from veil import Workspace
from veil.cli.common import keep_server_login, kept_server_login
from veil.demo.governance import ANALYST
from veil.keys import generate_key_file

SQL = "SELECT COUNT(*) FROM patients WHERE glucose_mg_dl > {}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("remote"), rows=120)


@pytest.fixture(scope="module")
def served(world):
    with serve(world) as running:
        yield running


@pytest.fixture
def remote(run, served):
    """``remote(*args)``: ``veil --server URL *args`` (the CA kept with the login)."""
    return lambda *args, check=True: run("--server", served.url, *args, check=check)


@pytest.fixture
def signed_in(world, served):
    """``signed_in(role)``: keep a login of ``u-<role>`` for the server, as ``veil login
    --server`` does (no TOTP code spent)."""
    return lambda role: keep_server_login(served.url, world.token(role), served.ca)


def _ledger(world, action: str) -> list[dict]:
    with Workspace.open(world.path, master_key=world.master) as ws:
        return [e.to_dict() for e in ws.ledger.tail(50, action)]


def test_login_keeps_a_private_token_and_logout_revokes_it(world, served, run, remote,
                                                             monkeypatch):
    monkeypatch.setenv("VEIL_PASSWORD", PASSWORD)
    done = run("login", "--server", served.url, "--ca", str(served.ca), "--user", "u-analyst",
               "--totp", world.code("analyst"))
    assert f"logged in to {served.url} as u-analyst" in done.stdout
    kept = kept_server_login(served.url)
    assert kept["ca"] == str(served.ca.resolve()) and kept["token"]
    (path,) = (Path(os.environ["XDG_CONFIG_HOME"]) / "veil" / "servers").iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    listed = json.loads(remote("datasets", "--json").stdout)  # the CA comes with the login
    with Workspace.open(world.path, master_key=world.master) as ws:
        here = [v.to_dict() | {"classification": None} for v in ws.datasets()]
    assert listed == here  # what the local command prints (classifications: `show`)

    assert "logged out" in remote("logout").stdout
    assert kept_server_login(served.url) == {}
    keep_server_login(served.url, kept["token"], served.ca)  # the revoked token, kept again
    refused = remote("datasets", check=False)
    assert refused.returncode == 5 and "not valid" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_wrong_password_is_refused_with_the_local_exit_code(world, served, run, monkeypatch):
    monkeypatch.setenv("VEIL_PASSWORD", "not the password")
    refused = run("--server", served.url, "--ca", str(served.ca), "login", "u-dpo",
                  "--totp", "000000", check=False)
    assert refused.returncode == 5
    assert "[access.auth]" in refused.stderr and kept_server_login(served.url) == {}


def test_dp_query_runs_on_the_server_and_spends_its_budget(world, remote, signed_in):
    signed_in("analyst")
    before = json.loads(remote("budget", "show", "patients", "--json").stdout)
    answer = json.loads(remote("--purpose", EVERYTHING, "query", SQL.format(101),
                               "--epsilon", "0.5", "--json").stdout)
    assert answer["spent"]["epsilon"] == pytest.approx(0.5) and not answer["cached"]
    assert answer["rows"][0]["statistic"] and "ci_low" in answer["rows"][0]
    after = json.loads(remote("budget", "show", "patients", "--json").stdout)
    assert after["spent"]["epsilon"] == pytest.approx(before["spent"]["epsilon"] + 0.5)
    assert after["queries"] == before["queries"] + 1
    logged = _ledger(world, "dp.query")[-1]
    assert (logged["actor"], logged["purpose"]) == ("u-analyst", EVERYTHING)

    table = remote("--purpose", EVERYTHING, "query", SQL.format(102), "--epsilon", "0.25")
    assert "95% intervals" in table.stdout and "spent: epsilon 0.25," in table.stdout


def test_an_overspending_query_exits_as_it_does_locally(world, served, run, remote, signed_in):
    signed_in("analyst")
    sql = SQL.format(103)
    far = remote("--purpose", EVERYTHING, "query", sql, "--epsilon", "5000", check=False)
    here = run("--workspace", str(world.path), "--key-file",
               str(world.path.with_name("master.key")), "--purpose", EVERYTHING, "query", sql,
               "--epsilon", "5000", check=False)
    assert far.returncode == here.returncode == 1
    assert "[privacy.budget]" in far.stderr and "[privacy.budget]" in here.stderr


def test_a_refused_command_exits_5_and_is_logged(world, remote, signed_in):
    signed_in("nobody")
    refused = remote("--purpose", EVERYTHING, "query", SQL.format(104), "--epsilon", "0.1",
                     check=False)
    assert refused.returncode == 5 and "[access.denied]" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _ledger(world, "access.denied")[-1]["actor"] == "u-nobody"
    signed_in("analyst")
    assert remote("audit", "log", check=False).returncode == 5  # no audit right


def test_show_models_and_the_ledger_remotely(world, remote, signed_in):
    signed_in("owner")
    shown = json.loads(remote("show", "patients", "--json").stdout)
    assert shown["subject_id"] == "patient_id" and shown["versions"] == [1]
    assert shown["classification"]["columns"]  # what discovery found at ingest
    models = json.loads(remote("models", "list", "--json").stdout)
    assert [m["name"] for m in models] == ["patients.readmitted_30d"]
    assert "Model card: patients.readmitted_30d" in remote(
        "models", "card", "patients.readmitted_30d").stdout

    signed_in("auditor")
    assert "ledger verified" in remote("audit", "verify").stdout
    head = json.loads(remote("audit", "head").stdout)
    with Workspace.open(world.path, master_key=world.master) as ws:
        assert head["size"] <= ws.ledger.size
        assert remote("audit", "pubkey").stdout.strip() == ws.ledger.key.to_bytes().hex()
    entries = json.loads(remote("audit", "log", "--limit", "3", "--action", "dp.query",
                                "--json").stdout)
    assert entries and all(e["action"] == "dp.query" for e in entries)
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)


@pytest.mark.parametrize(("args", "name"), [
    (("init",), "init"), (("user", "list"), "user"),
    (("budget", "set", "patients", "--epsilon", "1"), "budget set")])
def test_other_commands_are_refused_by_name(world, remote, signed_in, args, name):
    signed_in("owner")
    refused = remote(*args, check=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert f"`veil {name}` is not available with --server" in " ".join(refused.stderr.split())
    with Workspace.open(world.path, master_key=world.master) as ws:
        assert ws.budget("patients").budget.epsilon == 1000.0  # nothing was set anywhere


def test_without_a_login_or_a_trusted_ca(world, served, run, remote):
    missing = remote("datasets", check=False)
    assert missing.returncode == 5 and "not signed in" in missing.stderr
    keep_server_login(served.url, world.token("analyst"), None)  # no CA: the system's store
    untrusted = remote("datasets", check=False)
    assert untrusted.returncode == 1 and "not trusted" in untrusted.stderr
    plain = run("--server", "http://example.org:8443", "datasets", check=False)
    assert plain.returncode == 2 and "https://" in plain.stderr


def test_demo_serve_is_documented(run):
    shown = run("demo", "--help").stdout
    assert "--serve" in shown and "--port" in shown


def test_demo_serve_gives_the_analyst_a_working_sign_in(tmp_path):
    """What ``veil demo --serve`` does after the demo (the demo itself is left out: minutes):
    the analyst it made gets a printed password and TOTP secret that sign in to the server."""
    key = generate_key_file(tmp_path / "veil-demo.key")
    with Workspace.create(tmp_path / "veil-demo", key_file=key) as ws:
        ws.users.add(ANALYST, "a password the demo never shows")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ready = tmp_path / "ready"
    code = ("import sys; from pathlib import Path; from veil.cli.app import _serve_demo; "
            "a = sys.argv; _serve_demo(Path(a[1]), Path(a[2]), int(a[3]), Path(a[4]))")
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "veil-demo"), str(key), str(port),
         str(ready)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1", "COLUMNS": "200"})
    try:
        printed = {}
        for line in process.stdout:  # the sign-in is printed before the server starts
            word, _, rest = line.strip().partition(" ")
            if word in ("password", "TOTP"):
                printed[word] = rest.split()[-1] if word == "password" else rest.split()[1]
            if len(printed) == 2:
                break
        assert len(printed) == 2, "the sign-in was not printed"
        while not ready.exists():
            assert process.poll() is None, "the demo's server exited"
            time.sleep(0.05)
        ca = ssl.create_default_context(cafile=str(tmp_path / "veil-demo.tls" / "ca.crt"))
        signed = httpx.post(f"https://127.0.0.1:{port}/auth/login", verify=ca, json={
            "user": ANALYST, "password": printed["password"],
            "totp": pyotp.TOTP(printed["TOTP"]).now()})
        assert signed.status_code == 200 and signed.json()["principal"] == ANALYST
    finally:
        process.terminate()
        process.wait()
