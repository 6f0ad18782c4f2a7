"""``veil demo --overwrite`` deletes only what the demo made; site keys live outside the
coordinator's workspace."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from veil import Workspace
from veil.demo import federation, pipeline
from veil.keys import generate_key_file

KEPT_STEPS = ("generate synthetic patients", "create workspace", "federated learning")


class _SitesMade(Exception):
    """Ends the federated step once the site workspaces exist (no training in these tests)."""


@pytest.fixture
def short_demo(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The demo with only the steps that make directories; returns where sites were made."""
    roots: list[Path] = []

    def run(self, name, action, progress) -> None:
        if name in KEPT_STEPS:
            with contextlib.suppress(_SitesMade):
                action()

    def sites_only(frame, root, coordinator, **_):
        roots.append(root.resolve())
        federation._sites(frame, root)
        raise _SitesMade

    monkeypatch.setattr(pipeline.DemoSummary, "run", run)
    monkeypatch.setattr(pipeline, "federate_clinics", sites_only)
    return roots


def _tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file()}


def test_demo_marks_its_directories_and_keeps_site_keys_outside(run, tmp_path,
                                                                 short_demo) -> None:
    run("demo", "--workspace", "demo", "--patients", "300")
    ws, sites = tmp_path / "demo", tmp_path / "demo-sites"
    assert short_demo == [sites]
    assert (ws / pipeline.MARKER).is_file() and (sites / pipeline.MARKER).is_file()
    assert not list(ws.rglob("*.key")) and not (ws / "federation").exists()
    assert sorted(p.name for p in sites.glob("*.key")) == ["C01.key", "C02.key", "C03.key"]
    assert (tmp_path / "demo.key").is_file()

    (ws / "left-by-the-last-run").write_text("x")
    refused = run("demo", "--workspace", "demo", "--patients", "300", check=False)
    assert refused.returncode == 2 and "pass --overwrite" in refused.stderr
    assert (ws / "left-by-the-last-run").exists()
    run("demo", "--workspace", "demo", "--patients", "300", "--overwrite")
    assert not (ws / "left-by-the-last-run").exists() and (ws / pipeline.MARKER).is_file()
    assert (sites / pipeline.MARKER).is_file()


def _ordinary_workspace(path: Path) -> None:
    key = generate_key_file(path.with_suffix(".key"))
    Workspace.create(path, key_file=key).close()


@pytest.mark.parametrize("what", ["workspace", "directory", "file", "sites-workspace"])
def test_overwrite_refuses_what_the_demo_did_not_make(run, tmp_path, short_demo, what) -> None:
    target = tmp_path / "target"
    if what == "workspace":
        _ordinary_workspace(target)
    elif what == "directory":
        target.mkdir()
        (target / "thesis.tex").write_text("years of work")
    elif what == "file":
        target.write_text("years of work")
    else:  # the demo's own workspace, but a stranger's directory where its sites would go
        run("demo", "--workspace", "target", "--patients", "300")
        shutil.rmtree(tmp_path / "target-sites")
        _ordinary_workspace(tmp_path / "target-sites")
    before = {p: _tree(p) if p.is_dir() else p.read_bytes()
              for p in (target, tmp_path / "target-sites") if p.exists()}
    refused = run("demo", "--workspace", "target", "--overwrite", check=False)
    assert refused.returncode == 2
    assert "is not a directory veil demo made" in refused.stderr
    assert refused.stderr.count("\n") == 1  # one line, no traceback
    assert {p: _tree(p) if p.is_dir() else p.read_bytes() for p in before} == before
    assert short_demo == ([tmp_path / "target-sites"] if what == "sites-workspace" else [])
