"""A process killed with SIGKILL in the middle of an ingest leaves the workspace consistent.

The child reports each instrumented point of an ingest on stdout and stops there; the test
kills it at exactly that point, so where it dies never depends on how fast the machine is.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from veil import Workspace
from veil.demo import generate_patients
from veil.keys import generate_key_file

ROWS = 5_000
# Where the child stops, in the order an ingest reaches them, and whether the new version is
# committed there: "written" is inside the vault file's atomic write (the temp file is full,
# not yet renamed), "sealed" after the vault file is in place, "committed" after the catalog
# transaction (before the ledger head file is published), "published" after that.
POINTS = {"written": False, "sealed": False, "committed": True, "published": True}

CHILD = textwrap.dedent("""
    import sys
    from contextlib import contextmanager

    from veil import Workspace
    from veil.demo import generate_patients
    from veil.ledger import Ledger
    from veil.vault import store

    target = sys.argv[3]

    def reached(point):
        print(point, flush=True)
        if point == target:
            sys.stdin.readline()  # the parent kills this process here

    write_file, seal, publish = store.atomic_file, store.Vault.seal, Ledger.publish_head

    @contextmanager
    def atomic_file(path, **kwargs):
        with write_file(path, **kwargs) as handle:
            yield handle
            reached("written")

    def sealed(self, *args, **kwargs):
        name = seal(self, *args, **kwargs)
        reached("sealed")
        return name

    def published(self):
        reached("committed")
        publish(self)
        reached("published")

    frame = generate_patients(int(sys.argv[4]), seed=1)
    with Workspace.open(sys.argv[1], key_file=sys.argv[2]) as ws:
        store.atomic_file, store.Vault.seal, Ledger.publish_head = atomic_file, sealed, published
        print("ready", flush=True)
        ws.ingest(frame, "patients", subject_id="patient_id")
""")


def _kill_at(point: str, workspace: str, key: str) -> list[str]:
    """Run one ingest in a child, SIGKILL it where it reports ``point``; return its reports."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, workspace, key, point, str(ROWS)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    reports = []
    try:
        while not reports or reports[-1] != point:
            line = child.stdout.readline()
            assert line, f"the child ended without reaching {point!r}; it reported {reports}"
            reports.append(line.strip())
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    return reports


@pytest.mark.slow
def test_sigkill_during_ingest_keeps_earlier_versions_and_a_valid_ledger(tmp_path):
    key = generate_key_file(tmp_path / "k")
    expected = generate_patients(ROWS, seed=1)
    with Workspace.create(tmp_path / "ws", key_file=key) as ws:
        ws.ingest(expected.head(100), "patients", subject_id="patient_id")
    committed = 1
    for point in [*POINTS, *POINTS]:  # every point twice: a crash after a crash too
        reports = _kill_at(point, str(tmp_path / "ws"), str(key))
        assert reports[0] == "ready"
        committed += POINTS[point]
        with Workspace.open(tmp_path / "ws", key_file=key) as ws:  # checks the signed head
            assert ws.verify().entries == ws.ledger.size
            versions = ws.versions("patients")
            assert len(versions) == committed  # nothing lost, nothing half-registered
            assert ws.read("patients", 1).equals(expected.head(100))
            for v in versions[1:]:  # every committed version reads back whole
                assert v.fingerprint == versions[-1].fingerprint
                assert ws.read("patients", v.version).equals(expected)
            sealed = {p.name for p in (ws.path / "vault").glob("*.vlt")}
            assert {v.file for v in versions} <= sealed  # orphans possible, losses not
            ingests = [e for e in ws.ledger.entries() if e.action == "dataset.ingest"]
            assert [e.resource for e in ingests] == [v.ref for v in versions]
