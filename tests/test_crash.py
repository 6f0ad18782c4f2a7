"""A process killed with SIGKILL in the middle of an ingest leaves the workspace consistent."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from veil import Workspace
from veil.demo import generate_patients
from veil.keys import generate_key_file

CHILD = textwrap.dedent("""
    import sys
    from veil import Workspace
    from veil.demo import generate_patients
    frame = generate_patients(40_000, seed=1)
    with Workspace.open(sys.argv[1], key_file=sys.argv[2]) as ws:
        print("ready", flush=True)
        while True:
            ws.ingest(frame, "patients", subject_id="patient_id")
""")


@pytest.mark.slow
def test_sigkill_during_ingest_keeps_earlier_versions_and_a_valid_ledger(tmp_path):
    key = generate_key_file(tmp_path / "k")
    expected = generate_patients(40_000, seed=1)
    with Workspace.create(tmp_path / "ws", key_file=key) as ws:
        ws.ingest(expected.head(100), "patients", subject_id="patient_id")
    rng = random.Random(5)
    for _ in range(5):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "ws"), str(key)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.8))
        child.send_signal(signal.SIGKILL)
        child.wait()
        with Workspace.open(tmp_path / "ws", key_file=key) as ws:  # checks the signed head
            assert ws.verify().entries == ws.ledger.size
            versions = ws.versions("patients")
            assert ws.read("patients", 1).equals(expected.head(100))
            for v in versions[1:]:
                assert v.fingerprint == versions[-1].fingerprint
            newest = expected if len(versions) > 1 else expected.head(100)
            assert ws.read("patients").equals(newest)  # the newest committed version is whole
            sealed = {p.name for p in (ws.path / "vault").glob("*.vlt")}
            assert {v.file for v in versions} <= sealed  # orphans possible, losses not
    assert len(versions) > 2
