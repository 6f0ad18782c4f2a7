"""Re-identification risk, by hand: prosecutor, journalist with a population, marketer."""

from __future__ import annotations

import polars as pl
import pytest

from veil.anonymize.hierarchy import TOP, Hierarchy
from veil.anonymize.risk import RiskReport, reidentification_risk, risk_of_table
from veil.errors import InputError

QI = ["city", "sex"]
HIERARCHIES = {
    "city": Hierarchy.from_mapping("city", {"Paris": ["France"], "Lyon": ["France"],
                                            "Rome": ["Italy"], "Milan": ["Italy"]}),
    "sex": Hierarchy.flat("sex", ["M", "F"]),
}

# the source: classes France/M (5), France/F (3), Italy/M (1), Italy/F (1); the last two
# records are suppressed
ORIGINAL = pl.DataFrame({
    "city": ["Paris"] * 3 + ["Lyon"] * 2 + ["Paris"] * 3 + ["Rome", "Milan", "Milan", "Lyon"],
    "sex": ["M"] * 5 + ["F"] * 3 + ["M", "F", "M", "F"],
})
RELEASE = pl.DataFrame({
    "city": ["France"] * 8 + ["Italy"] * 2 + [TOP] * 2,
    "sex": ["M"] * 5 + ["F"] * 3 + ["M", "F"] + [TOP] * 2,
})
SUPPRESSED = pl.Series([False] * 10 + [True] * 2)
# the source and six more people: France/F matches 6, Italy/M 5, Italy/F 2
POPULATION = pl.concat([ORIGINAL, pl.DataFrame({
    "city": ["Rome"] * 3 + ["Milan"] + ["Paris"] * 2, "sex": ["M"] * 3 + ["F"] * 3})])


def test_prosecutor_by_hand() -> None:
    report = reidentification_risk(RELEASE, SUPPRESSED, QI, hierarchies=HIERARCHIES)
    assert (report.records, report.suppressed_records, report.classes) == (10, 2, 4)
    assert report.prosecutor_max == 1.0  # 1 / the smallest class
    assert report.prosecutor_average == pytest.approx(4 / 10)
    assert report.records_at_risk == pytest.approx(5 / 10)  # classes of 3, 1, 1 are below 5
    assert report.sample_uniques == pytest.approx(2 / 10)
    # without a population the release is its own: journalist = prosecutor
    assert report.population == "release"
    assert report.population_records == 10
    assert report.journalist_max == report.prosecutor_max
    assert report.journalist_records_at_risk == report.records_at_risk
    assert report.marketer == pytest.approx(report.prosecutor_average)
    assert (report.highest_risk, report.average_risk) == (1.0, pytest.approx(0.4))
    assert set(report.to_dict()) == set(RiskReport.__dataclass_fields__)


def test_threshold() -> None:
    at = reidentification_risk(RELEASE, SUPPRESSED, QI, threshold=0.25)
    assert at.records_at_risk == pytest.approx(5 / 10)  # 1/3 > 0.25, 1/5 is not
    assert reidentification_risk(RELEASE, SUPPRESSED, QI, threshold=1).records_at_risk == 0
    for bad in (0, 1.5, True):
        with pytest.raises(InputError, match="threshold"):
            reidentification_risk(RELEASE, SUPPRESSED, QI, threshold=bad)


def test_journalist_with_a_larger_population() -> None:
    report = reidentification_risk(RELEASE, SUPPRESSED, QI, hierarchies=HIERARCHIES,
                                   population=POPULATION)
    assert report.population == "given"
    assert report.population_records == 18
    # F = 5, 6, 5, 2 for classes of f = 5, 3, 1, 1
    assert report.journalist_max == pytest.approx(1 / 2)
    assert report.journalist_max < report.prosecutor_max
    assert report.journalist_records_at_risk == pytest.approx(1 / 10)  # only Italy/F
    assert report.marketer == pytest.approx((5 / 5 + 3 / 6 + 1 / 5 + 1 / 2) / 10)
    assert report.marketer <= report.prosecutor_average
    assert report.highest_risk == report.prosecutor_max  # the conservative headline


def test_population_of_the_source_itself_counts_suppressed_people() -> None:
    report = reidentification_risk(RELEASE, SUPPRESSED, QI, hierarchies=HIERARCHIES,
                                   population=ORIGINAL)
    # the suppressed Milan/M and Lyon/F still hide Italy/M and France/F
    assert report.marketer == pytest.approx((5 / 5 + 3 / 4 + 1 / 2 + 1 / 1) / 10)
    assert report.journalist_max == 1.0


def test_star_and_mondrian_intervals_cover_the_population() -> None:
    release = pl.DataFrame({"age": ["[20, 30]", "[20, 30]", "41"], "city": [TOP, TOP, "Oslo"]})
    population = pl.DataFrame({"age": [22, 28, 25, 31, 41, 41],
                               "city": ["Berlin", "Rome", "Oslo", "Rome", "Oslo", "Rome"]})
    report = reidentification_risk(release, pl.Series([False] * 3), ["age", "city"],
                                   population=population)
    # [20, 30] x * matches 22, 28, 25 (any city, Berlin too); 41 x Oslo matches one
    assert report.marketer == pytest.approx((2 / 3 + 1 / 1) / 3)
    assert report.journalist_max == 1.0
    cities = {"city": Hierarchy.from_mapping("city", {"Rome": ["Italy"], "Oslo": ["Norway"]})}
    assert reidentification_risk(release, pl.Series([False] * 3), ["age", "city"],
                                 hierarchies=cities, population=population) == report


def test_population_must_hold_the_release() -> None:
    with pytest.raises(InputError, match="not a superset"):
        reidentification_risk(RELEASE, SUPPRESSED, QI, hierarchies=HIERARCHIES,
                              population=ORIGINAL.head(6))
    with pytest.raises(InputError, match="not columns of the population"):
        reidentification_risk(RELEASE, SUPPRESSED, QI, population=ORIGINAL.drop("sex"))
    with pytest.raises(InputError, match="null values"):
        reidentification_risk(RELEASE, SUPPRESSED, QI, hierarchies=HIERARCHIES,
                              population=POPULATION.with_columns(pl.lit(None).alias("sex")))


def test_bad_release() -> None:
    with pytest.raises(InputError, match="one per row"):
        reidentification_risk(RELEASE, SUPPRESSED.head(5), QI)
    with pytest.raises(InputError, match="Boolean"):
        reidentification_risk(RELEASE, SUPPRESSED.cast(pl.Int8), QI)
    with pytest.raises(InputError, match="not columns of the generalized"):
        reidentification_risk(RELEASE, SUPPRESSED, ["city", "zip"])
    with pytest.raises(InputError, match="more than once"):
        reidentification_risk(RELEASE, SUPPRESSED, ["city", "city"])
    with pytest.raises(InputError, match="null cells"):
        reidentification_risk(RELEASE.with_columns(pl.lit(None).alias("sex")), SUPPRESSED, QI)


def test_everything_suppressed_exposes_no_one() -> None:
    report = reidentification_risk(RELEASE, pl.Series([True] * 12), QI)
    assert (report.records, report.classes, report.suppressed_records) == (0, 0, 12)
    assert report.highest_risk == report.marketer == report.sample_uniques == 0.0


def test_risk_before_and_after() -> None:
    before = risk_of_table(ORIGINAL, QI)
    # Paris/M 3, Lyon/M 2, Paris/F 3 and four people alone in their class
    assert (before.records, before.classes) == (12, 7)
    assert before.prosecutor_max == 1.0
    assert before.sample_uniques == pytest.approx(4 / 12)
    assert before.records_at_risk == 1.0
    after = reidentification_risk(RELEASE, SUPPRESSED, QI)
    assert after.average_risk < before.average_risk
    assert risk_of_table(pl.DataFrame({"a": [1, None, None]}), ["a"]).classes == 2
