"""veil.mpc: joint statistics equal plaintext, the precision rule holds, failures are loud."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from veil.errors import FederationError, InputError
from veil.mpc import Precision, choose_precision, joint, launch
from veil.mpc.launch import free_ports, party_command, run_commands
from veil.mpc.party import main as party_main
from veil.mpc.programs import FLOOR_SECONDS, default_timeout
from veil.mpc.tls import write_credentials

B = (0.0, 100.0)
RTOL = 2.0**-20  # documented: about 2**-(resolution_bits - 2) relative, resolution_bits = 24


def _parts(n_parties: int, rows: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(*B, rows + 7 * i) for i in range(n_parties)]


def _run(statistic: str, inputs: list, **kw: object):
    """Under the default, work-derived party timeout: a busy machine must not trip it."""
    kw.setdefault("bounds", B)
    return joint(statistic, inputs, accept_semi_honest=True, **kw)


@pytest.mark.parametrize("n_parties", [3, 5])
def test_mean_and_variance_equal_plaintext(n_parties: int) -> None:
    parts = _parts(n_parties, 400)
    pooled = np.concatenate(parts)
    mean = _run("mean", parts)
    assert mean.parties == n_parties
    assert mean.value == pytest.approx(pooled.mean(), rel=RTOL)
    var = _run("variance", parts)
    assert var.value == pytest.approx(pooled.var(ddof=1), rel=RTOL)


def test_count_sum_max_argmax_three_parties() -> None:
    parts = _parts(3, 300, seed=1)
    pooled = np.concatenate(parts)
    assert _run("count", parts).value == len(pooled)
    assert _run("sum", parts).value == pytest.approx(pooled.sum(), rel=RTOL)
    assert _run("max", parts).value == pytest.approx(pooled.max(), abs=2.0**-20)
    scalars = [np.array([40.5]), np.array([77.25]), np.array([12.0])]
    assert _run("argmax", scalars).value == 1


@pytest.mark.parametrize("n_parties", [3, 5])
def test_psi_cardinality_counts_the_common_ids(n_parties: int) -> None:
    sets = [np.array([f"id{k}" for k in range(5 * i, 5 * i + 40)]) for i in range(n_parties)]
    expected = len(set.intersection(*(set(s.tolist()) for s in sets)))
    dup = np.concatenate([sets[0], sets[0][:5]])  # duplicates inside one set count once
    assert _run("psi_cardinality", [dup, *sets[1:]]).value == expected > 0


def test_logreg_inference_matches_plaintext() -> None:
    rng = np.random.default_rng(2)
    w, b = np.array([0.8, -1.5, 0.3]), 0.25
    hospitals = [rng.uniform(-3, 3, (20, 3)), rng.uniform(-3, 3, (15, 3))]
    res = _run("logreg", [np.append(w, b), *hospitals], bounds=(-3.0, 3.0))
    for got, x in zip(res.value, hospitals, strict=True):
        want = 1 / (1 + np.exp(-(x @ w + b)))
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert res.outputs[0] is None  # the model owner learns no scores


def test_precision_rule_makes_1_over_n_representable() -> None:
    p = choose_precision("mean", max_rows=131072, bounds=B)
    assert 2.0**-p.frac_bits * 131072 <= 2.0**-24  # 1/n keeps 24 significant bits
    assert p.integer_bits >= np.log2(131072 * 100)  # the sum cannot overflow
    with pytest.raises(InputError, match="no fixed-point setting fits"):
        choose_precision("variance", max_rows=2**40, bounds=(-1e70, 1e70))


@pytest.mark.slow
def test_mean_of_100k_values_right_where_secfxp_64_16_is_wrong() -> None:
    rng = np.random.default_rng(3)
    pooled = rng.uniform(*B, 100_000)
    parts = np.array_split(pooled, 3)
    veil = _run("mean_elementwise", parts)
    assert veil.value == pytest.approx(pooled.mean(), rel=RTOL)
    assert _run("mean", parts).value == pytest.approx(pooled.mean(), rel=RTOL)
    naive = _run("mean_elementwise", parts, precision=Precision(64, 16),
                 allow_unsafe_precision=True)
    assert abs(naive.value - pooled.mean()) > 10  # 1/100000 rounds to 2**-16: about 76
    with pytest.raises(InputError, match="allow_unsafe_precision"):
        _run("mean", parts, precision=Precision(64, 16))


def _party_files(tmp_path: Path, count: int) -> list[str]:
    paths = []
    for i in range(count):
        paths.append(str(tmp_path / f"p{i}.npy"))
        np.save(paths[-1], np.arange(5.0) + i)
    return paths


def test_silent_party_makes_the_others_give_up(tmp_path: Path) -> None:
    peers = [f"127.0.0.1:{p}" for p in free_ports(3)]
    commands = [party_command(i, peers, "mean", path, B, 64, ["--timeout", "3"])
                for i, path in enumerate(_party_files(tmp_path, 2))]
    commands.append([sys.executable, "-c", "import time; time.sleep(3600)"])  # never answers
    with pytest.raises(FederationError, match=r"no result within 3 s; a party did not answer"):
        run_commands(commands)  # the real parties' watchdogs end it; the sleeper is killed


def test_a_party_that_dies_fails_the_run_without_waiting_for_watchdogs(tmp_path: Path) -> None:
    peers = [f"127.0.0.1:{p}" for p in free_ports(3)]
    # a watchdog this long would hang the test: only the exit event can end the run
    commands = [party_command(i, peers, "mean", path, B, 64, ["--timeout", "86400"])
                for i, path in enumerate(_party_files(tmp_path, 2))]
    commands.append([sys.executable, "-c", "import sys; sys.exit('lost its disk')"])
    with pytest.raises(FederationError, match=r"party 2 exited \(status 1\) without an answer: "
                                              r"lost its disk") as caught:
        run_commands(commands)
    assert "party 0" not in str(caught.value)  # the parties killed for it are not blamed


def test_default_timeout_grows_with_the_work() -> None:
    assert default_timeout("mean", max_rows=2**20, parties=3) == FLOOR_SECONDS
    small = default_timeout("psi_cardinality", max_rows=256, parties=3)
    assert FLOOR_SECONDS < small < default_timeout("psi_cardinality", max_rows=256, parties=5)
    assert small < default_timeout("psi_cardinality", max_rows=4096, parties=3)
    assert default_timeout("logreg", max_rows=64, parties=3, terms=8) > default_timeout(
        "logreg", max_rows=64, parties=3, terms=2)


def test_integer_valued_model_and_features_do_not_deadlock() -> None:
    """MPyC flags an all-integer array integral on its sender only; the parties then ran
    different protocols and waited for each other until the watchdog."""
    w, b = np.array([1.0, -2.0, 0.0]), 1.0
    hospitals = [np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]]), np.array([[2.0, 1.0, 0.0]])]
    res = _run("logreg", [np.append(w, b), *hospitals], bounds=(-3.0, 3.0))
    for got, x in zip(res.value, hospitals, strict=True):
        np.testing.assert_allclose(got, 1 / (1 + np.exp(-(x @ w + b))), atol=1e-5)


def _listening_sockets(port: int) -> list[str]:
    """Local addresses (hex, as the kernel writes them) of every socket listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.append(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_a_party_listens_on_its_own_address_only(tmp_path: Path) -> None:
    peers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    port = int(peers[1].rsplit(":", 1)[1])
    # party 1 listens for party 0, which never comes: it waits there until it is killed
    command = party_command(1, peers, "mean", _party_files(tmp_path, 1)[0], B, 64)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        event = json.loads(proc.stdout.readline())  # synchronise on the party's own report
        assert event == {"event": "listening", "addresses": [["127.0.0.1", port]]}
        assert _listening_sockets(port) == ["0100007F"]  # 127.0.0.1, and no 0.0.0.0 or ::
    finally:
        proc.kill()
        proc.wait()


def test_tls_run_gives_the_plaintext_result_and_leaves_no_key(monkeypatch, tmp_path) -> None:
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    modes: dict[str, int] = {}

    def watch(root: Path, parties: int) -> list[Path]:
        homes = write_credentials(root, parties)
        for path in Path(root).rglob("*"):
            modes[path.relative_to(root).as_posix()] = stat.S_IMODE(path.stat().st_mode)
        return homes

    monkeypatch.setattr(launch, "write_credentials", watch)
    parts = _parts(3, 50, seed=4)
    plain, secure = _run("sum", parts), _run("sum", parts, tls=True)
    assert (plain.tls, secure.tls) == (False, True)
    assert secure.value == plain.value == pytest.approx(np.concatenate(parts).sum(), rel=RTOL)
    assert _run("mean", parts, tls=True).value == pytest.approx(np.concatenate(parts).mean(),
                                                                rel=RTOL)
    assert {k: v for k, v in modes.items() if k.endswith(".key")} == {
        f"party{i}/.config/party_{i}.key": 0o600 for i in range(3)}  # each its own key only
    assert modes["party0"] == modes["party0/.config"] == 0o700
    assert not any(private.iterdir())  # keys and inputs are gone


def test_a_certificate_from_another_run_is_refused(tmp_path: Path) -> None:
    peers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    mine, theirs = write_credentials(tmp_path / "a", 2), write_credentials(tmp_path / "b", 2)
    homes = [mine[0], theirs[1]]  # party 1 holds a certificate of a CA party 0 never trusted
    commands = [party_command(i, peers, "sum", path, B, 64,
                              ["--timeout", "5", "--tls", str(homes[i])])
                for i, path in enumerate(_party_files(tmp_path, 2))]
    with pytest.raises(FederationError, match="no result within 5 s"):
        run_commands(commands)  # MPyC retries the handshake until the watchdog


def test_plaintext_beyond_this_machine_is_refused(tmp_path: Path, capsys) -> None:
    [path] = _party_files(tmp_path, 1)
    args = ["--party", "0", "--peers", "127.0.0.1:9", "192.0.2.7:9", "--statistic", "sum",
            "--input", path, "--bounds", "0", "100", "--max-rows", "64"]
    assert party_main(args) == 2
    answer = json.loads(capsys.readouterr().out)
    assert answer["code"] == "input" and "--tls" in answer["message"]
    assert "192.0.2.7:9" in answer["message"]
    assert party_main([*args, "--tls", str(tmp_path)]) == 2  # and TLS needs this party's files
    assert "lacks party_0.crt, party_0.key, mpyc_ca.crt" in capsys.readouterr().out
    # a refused run leaves no watchdog behind (one would end this process when it fired)
    assert not [t for t in threading.enumerate()
                if isinstance(t, threading.Timer) and t.is_alive() and not t.finished.is_set()]


@pytest.mark.parametrize(("bad", "match"), [
    (np.array([1.0, np.nan]), "NaN"),
    (np.array([1.0, 250.0]), "outside the declared bounds"),
    (np.array(["a", "b"]), "int or float"),
    (np.array([True, False]), "int or float"),
    (np.array([]), "empty"),
    ([1.0, 2.0], "numpy array"),
])
def test_malformed_inputs_are_refused(bad: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        _run("mean", [np.array([1.0, 2.0]), bad, np.array([3.0])])


def test_a_party_refusing_its_file_fails_everyone(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.npy", tmp_path / "bad.npy"
    np.save(good, np.array([1.0, 2.0]))
    np.save(bad, np.array([1.0, np.inf]))
    with pytest.raises(InputError, match=r"party 1: .*NaN or infinite"):
        _run("sum", [good, bad, good], max_rows=16, timeout=86400)  # ends on the exit event


def test_semi_honest_model_must_be_accepted_by_name() -> None:
    with pytest.raises(InputError, match="accept_semi_honest=True"):
        joint("mean", _parts(3, 5), bounds=B)
