"""Rendering a report: the self-contained HTML page, its charts, the JSON and its schema, the
files on disk and the printed PDF."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey
from markupsafe import escape

from _report_browser import look
from veil.errors import InputError
from veil.govern.report import charts, render
from veil.govern.report.model import (
    Cell,
    Chart,
    Evidence,
    Finding,
    Report,
    Section,
    Series,
    Table,
    level_of,
)
from veil.ledger.proofs import SignedTreeHead
from veil.ledger.signing import HeadSigner

STAGES = ("collection", "ingestion", "storage", "processing", "analytics", "model_training",
          "release", "deletion")
RISKS = ("re_identification", "membership_inference", "attribute_inference", "reconstruction",
         "leakage", "over_collection", "unauthorised_access", "purpose_creep",
         "missing_consent", "over_retention")
BANDS = {"medium": 5, "high": 10, "critical": 16}


def _hex(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


IMPACT = dict(zip(RISKS, (4, 3, 4, 4, 4, 2, 4, 3, 3, 2), strict=True))
NOT_APPLICABLE = {("collection", "membership_inference"), ("collection", "reconstruction"),
                  ("ingestion", "membership_inference"), ("deletion", "membership_inference"),
                  ("deletion", "over_collection"), ("model_training", "over_collection")}
# (stage, risk): (likelihood, impact, findings, evidence, applied); every other cell is rare
ELEVATED = {
    ("release", "re_identification"): (4, 5, ("F1",), ("E1", "E2"), "partly"),
    ("release", "reconstruction"): (3, 4, ("F1",), ("E2",), "no"),
    ("model_training", "membership_inference"): (4, 3, ("F3",), (), "no"),
    ("analytics", "attribute_inference"): (2, 4, (), ("E3",), "yes"),
    ("collection", "missing_consent"): (3, 3, ("F4",), ("E4",), "partly"),
    ("storage", "over_retention"): (3, 2, ("F5",), ("E4",), "yes"),
}
MITIGATION = {"re_identification": "release only k-anonymous views (veil anonymize)",
              "reconstruction": "answer aggregates with differential privacy (veil dp)",
              "membership_inference": "train with DP-SGD and measure with veil attack",
              "missing_consent": "check consent in force before each use (veil consent)"}


def _cells() -> tuple[Cell, ...]:
    """Every stage x risk pair but a few that do not apply; most are rare, a few are not."""
    cells = []
    for stage in STAGES:
        for risk in RISKS:
            if (stage, risk) in NOT_APPLICABLE:
                continue
            likelihood, impact, findings, evidence, applied = ELEVATED.get(
                (stage, risk), (1, IMPACT[risk], (), (), "yes"))
            cells.append(Cell(stage, risk, likelihood, impact,
                              level_of(likelihood * impact, BANDS), findings, evidence,
                              MITIGATION.get(risk, "access control and purpose binding"),
                              applied))
    return tuple(cells)


def _heatmap(cells: tuple[Cell, ...]) -> Chart:
    score = {(c.stage, c.risk): float(c.score) for c in cells}
    return Chart("matrix", "heatmap", "Privacy risk by life-cycle stage", x_label="risk",
                 y_label="stage", rows=STAGES, columns=RISKS,
                 values=tuple(tuple(score.get((s, r)) for r in RISKS) for s in STAGES))


@pytest.fixture(scope="module")
def report() -> Report:
    signer = HeadSigner(Ed25519PrivateKey.generate(), MLDSA65PrivateKey.generate())
    public = signer.public(classical_until=0).to_bytes().hex()
    head = SignedTreeHead.sign(signer, 42, bytes.fromhex(_hex("root")), "2025-06-30T12:00:00Z")
    cells = _cells()
    proof = {"kind": "inclusion", "head": head.to_dict(),
             "entry": {"seq": 17, "time": "2025-06-01T09:00:00Z", "actor": "alice",
                       "action": "release.create", "resource": "patients@3",
                       "purpose": "research", "params": {"k": 3}, "prev_hash": _hex("p"),
                       "entry_hash": _hex("e")},
             "path": [_hex("a"), _hex("b")]}
    findings_a = (
        Finding("F1", "Release patients@3 has k = 3, below the policy's k = 5", "risk",
                "A linkage attack on the quasi-identifiers re-identifies 4.2 % of people.",
                ("E1", "E2", "E5")),
        Finding("F2", "Every DP artifact is within epsilon 8", "met",
                "The largest epsilon of one artifact is 2.0.", ("E3", "E5")),
        Finding("F3", "No membership attack on model churn-v2", "not_measured",
                "Run `veil attack membership` to measure it.", ()),
    )
    findings_b = (
        Finding("F4", "Consent coverage for marketing is 91 %", "gap",
                "Below the policy's 95 %; 412 subjects lack consent in force.", ("E4",)),
        Finding("F5", "Retention rules cover 3 of 3 datasets", "info", "", ("E4",)),
    )
    sections = (
        Section("art-25", "Art. 25 Data protection by design and by default",
                "Releases and models are checked against the policy thresholds.", findings_a,
                (Table("Releases", ("release", "k", "epsilon", "linkage rate"),
                       (("patients@3", "3", "—", "4.2 %"), ("visits@1", "10", "1.0", "0.1 %"))),),
                ("epsilon", "utility")),
        Section("art-6", "Art. 6 Lawfulness and consent", "Consent in force per purpose.",
                findings_b, (), ("consent", "empty")),
    )
    evidence = (
        Evidence("E1", "ledger", "ledger #17 release.create patients@3", "k = 3 release", 17),
        Evidence("E2", "attack", "attack result #4 linkage patients@3", "rate 0.042", 18),
        Evidence("E3", "catalog", "dp artifact counts@2", "epsilon 2.0"),
        Evidence("E4", "bench", "bench consent coverage", "coverage 0.91"),
        Evidence("E5", "policy", "policy [linkage] k_min", "k_min = 5"),
    )
    chart_list = (
        _heatmap(cells),
        Chart("epsilon", "steps", "Epsilon spent on patients", "time", "epsilon spent",
              (Series("patients", ("2025-01-05T10:00:00Z", "2025-02-11T08:30:00Z",
                                   "2025-04-02T16:00:00Z", "2025-06-20T11:00:00Z"),
                      (0.5, 1.5, 3.0, 4.0)),
               Series("visits", ("2025-01-20T10:00:00Z", "2025-05-01T10:00:00Z"),
                      (1.0, 2.0))),
              limits=(("budget", 6.0),)),
        Chart("consent", "bars", "Consent coverage by purpose", "purpose", "share in force",
              (Series("coverage", ("marketing", "research", "billing"), (0.91, 0.98, 1.0)),
               Series("last year", ("marketing", "research"), (0.85, 0.97))),
              limits=(("coverage_min", 0.95),)),
        Chart("utility", "scatter", "Accuracy against epsilon", "epsilon", "accuracy",
              (Series("churn-v2", (0.5, 1.0, 4.0, 8.0), (0.61, 0.7, 0.78, 0.8)),),
              log_x=True),
        Chart("empty", "steps", "Data subject requests over time", "time", "requests"),
    )
    return Report(
        kind="gdpr", title="GDPR compliance report", workspace="clinic-research",
        generated="2025-06-30T12:00:05Z", head=head.to_dict(), public_key=public,
        policy={"source": "shipped", "sha256": _hex("policy"),
                "values": {"levels": BANDS, "linkage": {"k_min": 5}}},
        summary=("1 risk, 1 gap and 1 not measured across 5 findings.",
                 "The matrix's worst cell: release x re-identification, 20 (critical)."),
        sections=sections, evidence=evidence, charts=chart_list, matrix=cells, stages=STAGES,
        risks=RISKS, proofs={17: proof, 18: copy.deepcopy(proof) | {"path": []}},
    )


@pytest.fixture(scope="module")
def page(report: Report) -> str:
    return render.html(report)


def test_html_shows_every_finding_and_section(report: Report, page: str) -> None:
    for finding in report.findings():
        assert f'id="f-{finding.id}"' in page
        assert str(escape(finding.title)) in page
    for section in report.sections:
        assert f'id="sec-{section.id}"' in page
    assert "Ed25519 + ML-DSA-65 signature valid" in page


def test_every_internal_link_resolves(page: str) -> None:
    ids = set(re.findall(r'\sid="([^"]+)"', page))
    targets = set(re.findall(r'href="#([^"]+)"', page))
    assert {t for t in targets if t.startswith("ev-")} >= {"ev-E1", "ev-E4"}
    assert targets <= ids


def test_page_is_self_contained(page: str) -> None:
    assert "<script" not in page.lower()
    assert "http://" not in page and "https://" not in page
    assert not re.search(r'\s(src|href)="(?!#)', page)
    assert "<?xml" not in page


def test_every_chart_renders_as_svg(report: Report, page: str) -> None:
    for chart in report.charts:
        match = re.search(rf'<figure class="chart" id="chart-{chart.id}">\s*<svg', page)
        assert match, chart.id
    assert page.count('id="chart-matrix"') == 1


def test_broken_signature_is_said(report: Report) -> None:
    head = dict(report.head, size=report.head["size"] + 1)
    assert "does NOT verify" in render.html(replace(report, head=head))


def test_svg_is_deterministic_and_text_stays_text(report: Report) -> None:
    for chart in report.charts:
        first, second = charts.svg(chart), charts.svg(chart)
        assert first == second
        assert first.startswith("<svg") and first.endswith("</svg>")
        assert f"<title>{chart.title}</title>" in first
    heat = charts.svg(report.chart("matrix"))
    assert ">n/a<" in heat and ">20<" in heat and "re identification" in heat
    assert heat.count(">n/a<") == len(NOT_APPLICABLE)


def test_svg_from_many_threads_matches(report: Report) -> None:
    chart = report.chart("consent")
    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(lambda _: charts.svg(chart), range(8))) == {charts.svg(chart)}


def test_names_stay_text() -> None:
    odd = Chart("odd", "bars", "Cost in $ of <b>it</b> & more", "a_b", "$x$",
                (Series("s_1", ("x$1", "y<2"), (1.0, 2.0)),))
    out = charts.svg(odd)
    assert "&lt;b&gt;" in out and "<b>" not in out and "x$1" in out


def test_empty_chart_says_no_data() -> None:
    for kind in ("heatmap", "steps", "bars", "scatter"):
        out = charts.svg(Chart("x", kind, "Nothing yet"))  # type: ignore[arg-type]
        assert "no data yet" in out and out.startswith("<svg")


def test_json_validates(report: Report) -> None:
    data = json.loads(render.to_json(report))
    render.validate(data)
    assert data["matrix"][0]["score"] == report.matrix[0].score
    assert set(data["proofs"]) == {"17", "18"}
    assert render.schema()["$schema"].endswith("2020-12/schema")


@pytest.mark.parametrize(("break_it", "where", "says"), [
    (lambda d: d["sections"][0]["findings"][1].update(status="fine"),
     "sections/0/findings/1/status", "'fine' is not one of"),
    (lambda d: d.pop("workspace"), "(top level)", "'workspace' is a required property"),
    (lambda d: d["matrix"][3].update(level="severe"), "matrix/3/level", "severe"),
    (lambda d: d["proofs"].update({"x": d["proofs"]["17"]}), "proofs", "'x'"),
    (lambda d: d["evidence"][0].update(note="extra"), "evidence/0", "note"),
])
def test_broken_json_fails_naming_the_problem(report: Report, break_it, where: str,
                                              says: str) -> None:
    data = json.loads(render.to_json(report))
    break_it(data)
    with pytest.raises(InputError) as caught:
        render.validate(data)
    assert where in caught.value.message and says in caught.value.message


def test_write_without_pdf(report: Report, tmp_path: Path) -> None:
    paths = render.write(report, tmp_path / "out", pdf=False)
    assert set(paths) == {"html", "json"}
    assert paths["html"].name == "gdpr.html" and paths["json"].name == "gdpr.json"
    render.validate(json.loads(paths["json"].read_text()))
    assert paths["html"].read_text() == render.html(report)


def test_write_pdf_true_without_browser_fails_first(report: Report, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEIL_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert render.find_browser() is None
    with pytest.raises(InputError, match="no Chromium found"):
        render.write(report, tmp_path / "out", pdf=True)
    assert not (tmp_path / "out").exists()
    assert set(render.write(report, tmp_path / "out")) == {"html", "json"}


def test_write_prints_pdf(report: Report, tmp_path: Path) -> None:
    if render.find_browser() is None:
        pytest.skip("no Chromium to print with")
    paths = render.write(report, tmp_path, pdf=True)
    assert paths["pdf"].read_bytes().startswith(b"%PDF")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_page_in_a_browser(report: Report, tmp_path: Path) -> None:
    look(report, tmp_path, "report-sample")
