"""A real Flower deployment on this machine: one SuperLink and one SuperNode process per site,
TLS on every connection, the veil apps loaded by name from the installed package.

``deploy(federation)`` issues TLS files (from the coordinator workspace's federation CA, or a
throwaway CA), starts ``flower-superlink`` and one ``flower-supernode`` per site (node config
``site=<index>``: which entry of ``sites`` it is), submits the run with ``flwr run`` and the
federation as JSON in the run config, waits for the ServerApp's result file
(:func:`write_result`) and stops every process, whatever happened. Each process runs in its own
process group and logs to ``<workdir>/logs``; a process that dies, a site that rejects the
SuperLink's certificate, a failed run or a timeout raises
:class:`~veil.errors.FederationError` with the tail of the log that says why.

The Flower CLI and daemons keep their state under ``<workdir>/flwr`` (``FLWR_HOME``), never in
the user's home; telemetry and update checks are off, and nothing is fetched at run time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import numpy as np

from veil._atomic import atomic_file, atomic_write
from veil.errors import FederationError
from veil.federated.apps import Recorder
from veil.federated.config import Federation

__all__ = ["Cluster", "deploy", "read_result", "write_result"]

RESULT_FORMAT = 1
CONNECTION = "veil"  # the SuperLink connection's name in FLWR_HOME/config.toml
_TAIL = 4_000  # characters of a log quoted in an error
_STATUS_EVERY = 8.0  # seconds between `flwr ls` calls while waiting for the result


# -- the result file: the ServerApp hands the Recorder to the caller ------------------------
def _plain(value: Any) -> Any:
    """Flower records and numpy values as plain JSON data."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def _weights_path(path: Path) -> Path:
    return path.with_name(path.name + ".npz")


def write_result(path: str, recorder: Recorder) -> None:
    """Write ``recorder`` to ``path`` (JSON: rounds, seconds, error as type and message) and
    its weights to ``<path>.npz``, each atomically; the JSON last, so a reader that sees it
    sees the weights it names (by SHA-256)."""
    target = Path(path)
    data: dict[str, Any] = {"format": RESULT_FORMAT, "rounds": _plain(recorder.rounds),
                            "seconds": float(recorder.seconds), "weights": None, "error": None}
    if recorder.weights is not None:
        weights = [np.asarray(w) for w in recorder.weights]
        npz = _weights_path(target)
        with atomic_file(npz, mode=0o600) as handle:
            np.savez(handle, *weights)
        data["weights"] = {"file": npz.name, "count": len(weights),
                           "sha256": hashlib.sha256(npz.read_bytes()).hexdigest()}
    if recorder.error is not None:
        error = recorder.error
        data["error"] = {"type": type(error).__name__, "message": str(error)}
    atomic_write(target, json.dumps(data, indent=1).encode("utf-8"), mode=0o600)


def read_result(path: str | Path) -> Recorder:
    """The :class:`Recorder` that :func:`write_result` wrote; an error comes back as a
    :class:`FederationError` with the original message (its type named when it was not one)."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FederationError(f"cannot read the federated run's result {source}: {exc}"
                              ) from None
    if data.get("format") != RESULT_FORMAT:
        raise FederationError(f"{source} is not a veil federated result (format "
                              f"{data.get('format')!r})")
    recorder = Recorder(rounds=list(data["rounds"]), seconds=float(data["seconds"]))
    if data.get("weights"):
        npz = source.with_name(data["weights"]["file"])
        raw = npz.read_bytes() if npz.exists() else b""
        if hashlib.sha256(raw).hexdigest() != data["weights"]["sha256"]:
            raise FederationError(f"the weights file {npz} is missing or does not match the "
                                  "result that names it")
        with np.load(npz, allow_pickle=False) as arrays:
            recorder.weights = [arrays[f"arr_{i}"] for i in range(data["weights"]["count"])]
    if data.get("error"):
        error = data["error"]
        message = error["message"]
        if error["type"] != "FederationError":
            message = f"{error['type']}: {message}"
        recorder.error = FederationError(message)
    return recorder


# -- processes --------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it; taken again at once, rarely lost)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, size: int = _TAIL) -> str:
    try:
        text = path.read_bytes()[-size:].decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return text.strip() or "(empty log)"


def _why(log: Path) -> str:
    text = _tail(log, 200_000)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text.lower():
        return "it could not verify the SuperLink's TLS certificate (signed by another CA?)"
    return "it stopped"


class Cluster:
    """Flower processes on localhost that share a ``FLWR_HOME`` under ``workdir``; closing
    it (or leaving the ``with`` block) stops them all: SIGTERM to each process group, then
    SIGKILL to what is left after ``grace`` seconds."""

    def __init__(self, workdir: str | Path, *, grace: float = 10.0) -> None:
        self.workdir = Path(workdir)
        self.grace = grace
        self.home = self.workdir / "flwr"
        self.logs = self.workdir / "logs"
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.bin = Path(sys.executable).parent
        self.env = {**os.environ, "FLWR_HOME": str(self.home), "FLWR_TELEMETRY_ENABLED": "0",
                    "FLWR_DISABLE_UPDATE_CHECK": "1", "PYTHONUNBUFFERED": "1",
                    # the daemons start flower-superexec, flwr-serverapp, ... by name
                    "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._files: list[IO[bytes]] = []
        self.address: str | None = None
        self.ca_cert: Path | None = None

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _command(self, name: str) -> str:
        found = shutil.which(name, path=str(self.bin)) or shutil.which(name)
        if found is None:
            raise FederationError(f"{name} is not installed (pip install flwr)")
        return found

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def spawn(self, name: str, command: Sequence[str]) -> subprocess.Popen[bytes]:
        handle = self.log(name).open("ab")
        self._files.append(handle)
        process = subprocess.Popen([self._command(command[0]), *command[1:]], env=self.env,
                                   cwd=self.workdir, stdout=handle, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes[name] = process
        return process

    def start_superlink(self, ca_cert: Path, server_cert: Path, server_key: Path, *,
                        timeout: float = 60.0) -> str:
        """Start the SuperLink (Fleet, Control and ServerAppIo APIs on one TLS port), wait
        until ``/health`` answers over TLS verified with ``ca_cert``, write the CLI's
        connection config and return its address."""
        port = free_port()
        self.spawn("superlink", [
            "flower-superlink", "--ssl-ca-certfile", str(ca_cert),
            "--ssl-certfile", str(server_cert), "--ssl-keyfile", str(server_key),
            "--host", "127.0.0.1", "--port", str(port), "--database",
            str(self.workdir / "superlink.db"), "--disable-runtime-dependency-installation"])
        context = ssl.create_default_context(cafile=str(ca_cert))
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/health",
                                            context=context, timeout=1) as reply:
                    if reply.status == 200:
                        break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise FederationError(f"the SuperLink did not become healthy within "
                                      f"{timeout:g} s:\n{_tail(self.log('superlink'))}")
            time.sleep(0.1)
        self.address, self.ca_cert = f"127.0.0.1:{port}", Path(ca_cert)
        (self.home / "config.toml").write_text(
            f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
            f"address = {json.dumps(self.address)}\n"
            f"root-certificates = {json.dumps(str(ca_cert))}\n", encoding="utf-8")
        return self.address

    def start_supernode(self, index: int, root_certificates: str | Path, *,
                        superlink: str | None = None) -> subprocess.Popen[bytes]:
        """Start site ``index``'s SuperNode, trusting only ``root_certificates``."""
        address = superlink or self.address
        if address is None:
            raise FederationError("start the SuperLink first")
        return self.spawn(f"supernode-{index}", [
            "flower-supernode", "--superlink", address,
            "--root-certificates", str(root_certificates),
            "--host", "127.0.0.1", "--port", str(free_port()),
            "--node-config", f"site={int(index)}"])

    def check(self) -> None:
        """Raise if any process has exited, quoting its log."""
        for name, process in self.processes.items():
            code = process.poll()
            if code is not None:
                why = _why(self.log(name)) if name.startswith("supernode") else "it stopped"
                raise FederationError(f"{name} exited with code {code}: {why}. Its log ends:\n"
                                      f"{_tail(self.log(name))}")

    def flwr(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run the ``flwr`` CLI against this cluster's SuperLink."""
        try:
            return subprocess.run([self._command("flwr"), *args], env=self.env,
                                  cwd=self.workdir, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise FederationError(f"`flwr {' '.join(args[:2])}` did not answer within "
                                  f"{timeout:g} s") from None

    def close(self) -> None:
        for process in reversed(list(self.processes.values())):
            _signal(process, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for process in reversed(list(self.processes.values())):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            _signal(process, signal.SIGKILL)  # also children left in the group
            process.wait()
        for handle in self._files:
            handle.close()
        self._files.clear()


def _signal(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)  # its own session: the daemon and what it started


# -- the run ----------------------------------------------------------------------------------
_APP = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "veil-federation"
version = "1.0.0"
description = "veil's federated apps (installed package; this app only names them)"
dependencies = []

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "veil"

[tool.flwr.app.components]
serverapp = "veil.federated.flower_app:server"
clientapp = "veil.federated.flower_app:client"

[tool.flwr.app.config]
federation = ""
result-path = ""
join-timeout = 60.0
"""


def _absolute(federation: Federation) -> Federation:
    """Site paths made absolute: the apps run in other processes and directories."""
    sites = [replace(s, workspace=str(Path(s.workspace).resolve()),
                     key_file=None if s.key_file is None else str(Path(s.key_file).resolve()))
             for s in federation.sites]
    return replace(federation, sites=sites)


def _tls(directory: Path, source: Any) -> tuple[Path, Path, Path]:
    """(ca.crt, server.pem, server.key): issued by a workspace's CA, taken from a directory
    that holds them, or from a throwaway CA."""
    from veil.keys import tls

    if source is None:
        files = tls.throwaway(directory)
    elif isinstance(source, (str, os.PathLike)):
        given = Path(source)
        paths = (given / tls.CA_FILE, given / tls.CERT_FILE, given / tls.KEY_FILE)
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise FederationError(f"{given} lacks the TLS files {missing}")
        return paths
    else:
        files = source.for_purpose("federation").issue_tls(directory)
    return files.ca_cert, files.server_cert, files.server_key


def deploy(federation: Federation, *, workspace: Any = None, workdir: str | Path | None = None,
           join_timeout: float = 60.0, run_timeout: float = 600.0, tls_from: Any = None,
           verbose: bool = False) -> Recorder:
    """Run ``federation`` as a Flower deployment on this machine and return what the server
    recorded. TLS files come from ``tls_from`` (a :class:`~veil.Workspace`, whose federation
    CA signs a new server certificate, or a directory holding ``ca.crt``, ``server.pem`` and
    ``server.key``), else from ``workspace``, else from a throwaway CA. State and logs live in
    ``workdir``; a temporary one is removed afterwards unless ``verbose``."""
    federation.check()
    federation = _absolute(federation)
    made = workdir is None
    root = Path(tempfile.mkdtemp(prefix="veil-deploy-")) if made else Path(workdir)
    root.mkdir(parents=True, exist_ok=True)
    try:
        with Cluster(root) as cluster:
            return _run(cluster, federation, tls_from if tls_from is not None else workspace,
                        join_timeout, run_timeout, verbose)
    finally:
        if verbose:
            print(f"veil deploy: state and logs kept in {root}", file=sys.stderr)
        elif made:
            shutil.rmtree(root, ignore_errors=True)


def _say(verbose: bool, started: float, text: str) -> None:
    if verbose:
        print(f"veil deploy [{time.monotonic() - started:6.1f} s] {text}", file=sys.stderr)


def _run(cluster: Cluster, federation: Federation, tls_source: Any, join_timeout: float,
         run_timeout: float, verbose: bool) -> Recorder:
    started = time.monotonic()
    root = cluster.workdir
    ca_cert, server_cert, server_key = _tls(root / "tls", tls_source)
    app = root / "app"
    app.mkdir(exist_ok=True)
    (app / "pyproject.toml").write_text(_APP, encoding="utf-8")
    result = root / "result.json"
    for stale in (result, _weights_path(result)):
        stale.unlink(missing_ok=True)
    # a TOML file, not key=value pairs: the JSON travels as one TOML basic string
    # (json.dumps escapes are valid TOML escapes), whatever quotes the definition holds
    config = root / "run-config.toml"
    config.write_text(f"federation = {json.dumps(json.dumps(federation.to_dict()))}\n"
                      f"result-path = {json.dumps(str(result))}\n"
                      f"join-timeout = {float(join_timeout)!r}\n", encoding="utf-8")

    address = cluster.start_superlink(ca_cert, server_cert, server_key)
    _say(verbose, started, f"SuperLink healthy at {address}")
    for index in range(len(federation.sites)):
        cluster.start_supernode(index, ca_cert)
    submitted = cluster.flwr("run", str(app), CONNECTION, "--format", "json",
                             "--run-config", str(config))
    try:
        run_id = int(json.loads(submitted.stdout)["run-id"])
    except (ValueError, KeyError, TypeError):
        cluster.check()
        raise FederationError("`flwr run` did not start the run:\n"
                              f"{(submitted.stdout + submitted.stderr).strip()[-_TAIL:]}"
                              ) from None
    _say(verbose, started, f"run {run_id} submitted to {len(federation.sites)} SuperNodes")
    # the ServerApp waits join_timeout for the sites itself; this bounds the whole run
    deadline = time.monotonic() + run_timeout + join_timeout
    asked = 0.0
    status = ""
    while not result.exists():
        cluster.check()
        # the CLI costs ~1 s of CPU a call and the ServerApp writes its result even when the
        # run fails, so the status is only asked now and then, for a run that died outright
        if time.monotonic() - asked > _STATUS_EVERY:
            asked = time.monotonic()
            status = _status(cluster, run_id)
            if status.startswith("finished") and not result.exists():
                time.sleep(0.5)  # the file is written before the run is marked finished
                if result.exists():
                    break
                raise FederationError(f"run {run_id} ended {status!r} without a result; its "
                                      f"log ends:\n{_run_log(cluster, run_id)}")
        if time.monotonic() > deadline:
            raise FederationError(f"run {run_id} did not finish within {run_timeout:g} s "
                                  f"(status {status or 'unknown'!r}); its log ends:\n"
                                  f"{_run_log(cluster, run_id)}")
        time.sleep(0.2)
    recorder = read_result(result)
    _say(verbose, started, f"run {run_id} done: {len(recorder.rounds)} round(s)"
         + (f", error: {recorder.error}" if recorder.error else ""))
    return recorder


def _status(cluster: Cluster, run_id: int) -> str:
    listed = cluster.flwr("ls", CONNECTION, "--run-id", str(run_id), "--format", "json")
    try:
        return str(json.loads(listed.stdout)["runs"][0]["status"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _run_log(cluster: Cluster, run_id: int) -> str:
    shown = cluster.flwr("log", str(run_id), CONNECTION, "--show", timeout=30.0)
    return (shown.stdout + shown.stderr).strip()[-_TAIL:] or "(no log)"
