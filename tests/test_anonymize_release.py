"""``anonymize``: releases that meet their models, with utility and risk, or a clear error."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from veil.anonymize.check import achieved
from veil.anonymize.hierarchy import TOP, Hierarchy
from veil.anonymize.release import anonymize, default_hierarchy
from veil.errors import HierarchyError, InputError, PrivacyModelError


def _patients(rows: int = 400, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "age": rng.integers(18, 90, rows),
        "zip": rng.choice(["02139", "02141", "02142", "10001", "10002", "94110"], rows),
        "sex": rng.choice(["F", "M"], rows),
        "visit": [date(2024, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 365, rows)],
        "diagnosis": rng.choice(["flu", "asthma", "ulcer", "cancer", "diabetes"], rows),
        "salary": rng.integers(20_000, 90_000, rows),
    })


@pytest.mark.parametrize(("settings", "limit"), [
    ({"k": 5}, 0.0),
    ({"k": 10}, 0.05),
    ({"k": 3, "l": 3}, 0.05),
    ({"k": 2, "l": 1.5, "l_kind": "entropy"}, 0.1),
    ({"k": 2, "t": 0.2}, 0.1),
])
def test_release_meets_its_models_on_the_released_rows(settings, limit) -> None:
    frame = _patients()
    release = anonymize(frame, ["age", "zip", "sex", "visit"], ["diagnosis"],
                        suppression_limit=limit, seed=1, **settings)
    qi = list(release.quasi_identifiers)
    again = achieved(release.frame, qi, ["diagnosis"], reference=frame)
    assert again.k >= settings["k"]
    if "l" in settings and settings.get("l_kind") != "entropy":
        assert again.l_distinct["diagnosis"] >= settings["l"]
    if "t" in settings:
        assert again.t["diagnosis"] <= settings["t"] + 1e-9
    assert release.suppressed <= limit * frame.height
    assert release.frame.height == frame.height - release.suppressed
    assert set(release.frame.columns) == set(frame.columns)
    assert release.risk_after.prosecutor_max <= 1 / settings["k"]
    assert release.risk_before.sample_uniques > release.risk_after.sample_uniques
    assert 0 < release.utility.ncp <= 1
    summary = release.to_dict()
    assert summary["achieved"]["k"] == again.k and summary["levels"] == release.levels


def test_release_rows_are_shuffled_and_sensitive_values_kept() -> None:
    frame = _patients()
    release = anonymize(frame, ["age", "zip", "sex"], k=5, seed=7)
    assert sorted(release.frame["salary"].to_list()) == sorted(frame["salary"].to_list())
    assert release.frame["salary"].to_list() != frame["salary"].to_list()


def test_default_hierarchies_follow_the_column_kind() -> None:
    frame = _patients()
    assert default_hierarchy(frame["age"]).generalize("30", 1).startswith("[")
    assert default_hierarchy(frame["zip"]).generalize("02139", 2) == "021**"
    assert default_hierarchy(frame["visit"]).generalize("2024-03-05", 2) == "2024"
    assert default_hierarchy(frame["sex"]).height == 1
    assert default_hierarchy(pl.Series("code", ["A1", "B2"]), "ZIP_CODE").height == 2


def test_mondrian_loses_less_than_full_domain_generalization() -> None:
    frame = _patients(1000)
    qi = ["age", "zip", "sex"]
    optimal = anonymize(frame, qi, k=5)
    local = anonymize(frame, qi, k=5, algorithm="mondrian")
    assert achieved(local.frame, qi).k >= 5
    assert local.utility.ncp < optimal.utility.ncp
    assert local.levels is None and local.search["parts"] > optimal.achieved.classes


def test_user_hierarchy_is_used_and_must_cover_the_data() -> None:
    frame = _patients()
    regions = Hierarchy.from_mapping("zip", {"02139": ["MA"], "02141": ["MA"], "02142": ["MA"],
                                             "10001": ["NY"], "10002": ["NY"],
                                             "94110": ["CA"]})
    release = anonymize(frame, ["zip", "sex"], k=20, hierarchies={"zip": regions})
    assert set(release.frame["zip"].unique().to_list()) <= {*regions.values, "MA", "NY", "CA",
                                                           TOP}
    partial = Hierarchy.flat("zip", ["02139"])
    with pytest.raises(HierarchyError, match="does not cover"):
        anonymize(frame, ["zip"], k=2, hierarchies={"zip": partial})


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"quasi_identifiers": ["height"], "k": 2}, InputError, "unknown column"),
    ({"quasi_identifiers": ["age"], "k": 10_000}, InputError, "larger than"),
    ({"quasi_identifiers": ["age"]}, InputError, "name a privacy model"),
    ({"quasi_identifiers": ["age"], "l": 2}, InputError, "sensitive attribute"),
    ({"quasi_identifiers": ["age"], "k": 2, "algorithm": "greedy"}, InputError, "algorithm"),
    ({"quasi_identifiers": ["age"], "k": 2, "algorithm": "mondrian",
      "suppression_limit": 0.1}, InputError, "suppresses nothing"),
    ({"quasi_identifiers": ["age"], "k": 2, "suppression_limit": 2}, InputError, "share"),
    ({"quasi_identifiers": ["age"], "k": 2, "metric": "fun"}, InputError, "metric"),
    ({"quasi_identifiers": ["age"], "sensitive": ["diagnosis"], "t": 0.1,
      "t_distance": "hierarchical"}, InputError, "hierarchy"),
])
def test_bad_requests_fail_closed(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        anonymize(_patients(), **kwargs)


def test_a_model_that_cannot_be_met_is_an_error_not_a_weaker_release() -> None:
    frame = _patients(50).with_columns(
        diagnosis=pl.Series(["flu"] * 45 + ["asthma"] * 5))  # entropy-l at most 1.38
    with pytest.raises(PrivacyModelError, match="no generalization meets"):
        anonymize(frame, ["age", "sex"], ["diagnosis"], k=2, l=1.5, l_kind="entropy",
                  suppression_limit=0.04)
