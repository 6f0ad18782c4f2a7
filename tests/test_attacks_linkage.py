"""Linkage attacks on releases: a register joined on quasi-identifiers re-identifies raw
releases, less of a Safe Harbor release, and never more than 1/k of a k-anonymous one."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from veil import Workspace
from veil.anonymize import Hierarchy, anonymize, safe_harbor
from veil.attacks.linkage import auxiliary, decode, link, retrace, trace
from veil.demo.data import generate_patients
from veil.errors import InputError
from veil.keys import MasterKey

QI = ["birth_date", "zip_code", "sex"]


@pytest.fixture(scope="module")
def patients() -> pl.DataFrame:
    return generate_patients(2000, seed=5)


@pytest.fixture(scope="module")
def register(patients) -> pl.DataFrame:
    return auxiliary(patients, QI, "patient_id", share=0.5, seed=1)


def _raw_release(patients: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """The quasi-identifiers and a diagnosis, shuffled, without ids; and who each row is."""
    order = np.random.default_rng(3).permutation(patients.height)
    shuffled = patients[order]
    return shuffled.select(*QI, "diagnosis_code"), shuffled["patient_id"].to_list()


def test_raw_quasi_identifiers_reidentify_nearly_everyone(patients, register) -> None:
    release, truth = _raw_release(patients)
    for matching in ("exact", "covering"):
        result = link(release, register, QI, truth, matching=matching)
        assert (result.targeted, result.in_release, result.matched) == (1000, 1000, 1000)
        assert result.rate >= 0.95 and result.unique_rate >= 0.95
        assert result.unique_correct == result.unique  # a unique match on raw values is right
        assert result.smallest_class == 1 and result.within_bound is None


def test_safe_harbor_release_is_harder_to_link(patients, register) -> None:
    release, truth = _raw_release(patients)
    raw = link(release, register, QI, truth)
    harbor = safe_harbor(patients.drop("clinical_note"), reference_year=2026).frame
    assert "patient_id" not in harbor.columns and harbor["zip_code"].str.len_chars().max() == 3
    # safe_harbor keeps the source's row order: row i is patients' row i
    result = link(harbor, register, QI, patients["patient_id"])
    assert result.matched == result.targeted  # years, ZIP3 and 000 cover everyone's values
    assert result.mean_candidates > 2 * raw.mean_candidates
    assert result.rate < raw.rate - 0.3
    assert link(harbor, register, QI, patients["patient_id"], matching="exact").matched == 0


@pytest.mark.parametrize("k", [5, 10])
@pytest.mark.parametrize("algorithm", ["optimal", "mondrian"])
def test_k_anonymous_release_meets_the_prosecutor_bound(patients, register, k,
                                                        algorithm) -> None:
    source = patients.select(*QI, "diagnosis_code", "glucose_mg_dl")
    release = anonymize(source, QI, ["diagnosis_code"], k=k, algorithm=algorithm, seed=2,
                        suppression_limit=0.05 if algorithm == "optimal" else 0.0)
    truth = trace(release, patients["patient_id"])
    result = link(release.frame, register, QI, truth, k=k)
    assert result.smallest_class >= k
    assert 0 < result.rate <= 1 / k and result.highest_risk <= 1 / k
    assert result.within_bound and result.prosecutor_bound == 1 / k
    assert result.mean_candidates >= k and result.unique == 0
    # the stored release alone, traced back from its source, scores the same
    again = retrace(release.frame, patients.select("patient_id", *source.columns), QI,
                    "patient_id")
    assert None not in again
    assert link(release.frame, register, QI, again, k=k).rate == pytest.approx(result.rate)
    # a release claiming more than it has fails the check
    if algorithm == "optimal":
        assert link(release.frame, register, QI, truth, k=50).within_bound is False


def test_the_attacker_never_sees_the_truth(patients, register) -> None:
    release, truth = _raw_release(patients)
    assert register.columns == ["patient_id", *QI]
    assert "patient_id" not in release.columns
    honest = link(release, register, QI, truth)
    wrong = link(release, register, QI, list(np.random.default_rng(0).permutation(truth)))
    # what the attacker computes (candidates) does not depend on the truth; only the score does
    for field in ("matched", "unique", "mean_candidates", "release_classes"):
        assert getattr(honest, field) == getattr(wrong, field)
    assert wrong.rate < 0.01 < 0.95 < honest.rate
    text = json.dumps(honest.to_dict())
    assert "P000" not in text and register["zip_code"][0] not in text


@pytest.mark.parametrize(("raw", "released", "covered"), [
    ([date(1973, 2, 1), date(1973, 3, 1), date(1979, 1, 1), date(1980, 1, 1)], "1973-02", 1),
    ([date(1973, 2, 1), date(1973, 3, 1), date(1979, 1, 1), date(1980, 1, 1)], "1973", 2),
    ([date(1973, 2, 1), date(1973, 3, 1), date(1979, 1, 1), date(1980, 1, 1)], "1970s", 3),
    ([date(1930, 2, 1), date(1936, 12, 31), date(1937, 1, 1)], "<= 1936", 2),
    ([date(1973, 2, 1), date(1973, 3, 1)], "1973-02-01", 1),
    (["1973-02-01", "1973-03-01"], "1973", 2),  # ISO text dates are dates
    ([19, 20, 29, 30], "[20, 30)", 2),
    ([19, 20, 29, 30], "[20, 30]", 3),
    ([88, 89, 90, 104], "90+", 2),
    ([45.0, 45.5, 46.0], "45", 2),  # Safe Harbor's whole years
    ([45.0, 45.5, 46.0], "45.5", 1),
    (["02139", "02134", "02239", "0213"], "0213*", 2),
    (["02139", "02134", "02239", "0213"], "021**", 2),
    (["02139", "02134-1234", "02239"], "021", 2),  # Safe Harbor's ZIP3
    (["03601", "03612", "02139"], "000", 2),  # 036 is on the HHS list of small areas
    (["F", "M"], "*", 2),
    (["F", "M"], None, 2),
    (["F", "M"], "F", 1),
])
def test_released_values_cover_the_raw_values_veil_generalized(raw, released,
                                                               covered) -> None:
    register = pl.DataFrame({"who": [f"p{i}" for i in range(len(raw))], "q": raw})
    release = pl.DataFrame({"q": [released]}, schema={"q": pl.String})
    result = link(release, register, ["q"], ["p0"])
    assert result.matched == covered


def test_custom_hierarchy_labels_cover_through_the_hierarchy() -> None:
    regions = Hierarchy.from_mapping("city", {"Boston": ["New England"], "Salem": ["New England"],
                                              "Austin": ["South"]})
    register = pl.DataFrame({"who": ["a", "b", "c"], "city": ["Boston", "Salem", "Austin"]})
    release = pl.DataFrame({"city": ["New England", "New England"]})
    assert link(release, register, ["city"], ["a", "b"]).matched == 0
    result = link(release, register, ["city"], ["a", "b"], hierarchies={"city": regions})
    assert (result.matched, result.mean_candidates, result.rate) == (2, 2.0, pytest.approx(1 / 3))


def test_a_register_of_part_of_the_population() -> None:
    frame = pl.DataFrame({"id": range(100), "q": [i % 10 for i in range(100)]})
    some = auxiliary(frame, ["q"], "id", share=0.3, seed=4)
    assert some.height == 30 and some["id"].n_unique() == 30
    assert some.equals(auxiliary(frame, ["q"], "id", share=0.3, seed=4))
    truth = {i: i for i in range(0, 100, 2)}  # odd rows belong to nobody targeted
    result = link(frame.select("q"), some, ["q"], truth)
    assert result.in_release == (some["id"] % 2 == 0).sum()
    assert result.expected_correct == pytest.approx(result.in_release / 10)


def test_bad_arguments_are_refused(patients, register) -> None:
    release, truth = _raw_release(patients)
    with pytest.raises(InputError, match="share"):
        auxiliary(patients, QI, "patient_id", share=0)
    with pytest.raises(InputError, match="identity column"):
        auxiliary(patients, ["patient_id", "sex"], "patient_id")
    with pytest.raises(InputError, match="2000 rows"):
        link(release, register, QI, truth[:-1])
    with pytest.raises(InputError, match="matching"):
        link(release, register, QI, truth, matching="fuzzy")
    with pytest.raises(InputError, match="identity_column"):
        link(release, register.with_columns(pl.lit(1).alias("x")), QI, truth)
    with pytest.raises(InputError, match="no column"):
        link(release.drop("sex"), register, QI, truth)


def test_releases_stored_in_a_workspace(tmp_path: Path, patients) -> None:
    """How the workspace supplies the truth for its own releases (the attacker's view is the
    stored release, read back)."""
    with Workspace.create(tmp_path / "ws", master_key=MasterKey(os.urandom(32))) as ws:
        ws.ingest(patients, "patients", subject_id="patient_id")
        source = ws.read("patients")
        register = auxiliary(source, QI, "patient_id", share=0.5, seed=1)

        release, stored = ws.anonymize("patients", QI, ["diagnosis_code"], k=5,
                                       suppression_limit=0.05)
        view = ws.read(stored.dataset, stored.version)
        assert view.equals(release.frame)
        now = link(view, register, QI, trace(release, source["patient_id"]), k=5)
        later = link(view, register, QI, retrace(view, source, QI, "patient_id"), k=5)
        assert now.rate == pytest.approx(later.rate) and now.within_bound

        harbor = ws.safe_harbor("patients", reference_year=2026)
        view = ws.read(harbor.dataset, harbor.version)
        link_map = harbor.provenance["tokens"]
        truth = decode(view["patient_id"], ws.read(link_map["dataset"], link_map["version"]))
        assert truth == source["patient_id"].to_list()
        result = link(view.drop("patient_id"), register, QI, truth)
        assert now.rate < result.rate < 0.8


def test_missing_values() -> None:
    register = pl.DataFrame({"who": ["a", "b", "c"], "q": ["x", "y", None]})
    release = pl.DataFrame({"q": ["x", None, "y"]})
    # covering: a missing released value covers anyone, a missing register value is anything
    covering = link(release, register, ["q"], ["a", "c", "b"])
    assert (covering.matched, covering.mean_candidates) == (3, 7 / 3)
    exact = link(release, register, ["q"], ["a", "c", "b"], matching="exact")
    assert (exact.matched, exact.unique_correct) == (3, 3)
