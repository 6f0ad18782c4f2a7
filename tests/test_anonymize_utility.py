"""Utility of a release, by hand on a six-row table; classification accuracy on a synthetic one."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from veil.anonymize.hierarchy import TOP, Hierarchy
from veil.anonymize.utility import (
    UtilityReport,
    accuracy_report,
    classification_accuracy,
    covered,
    generalization_height,
    utility,
)
from veil.errors import HierarchyError, InputError

QI = ["age", "sex"]
AGES = [23, 27, 35, 38, 52, 58]


@pytest.fixture
def original() -> pl.DataFrame:
    return pl.DataFrame({"age": AGES, "sex": ["M", "F"] * 3, "disease": ["flu"] * 6})


@pytest.fixture
def hierarchies() -> dict[str, Hierarchy]:
    # age: raw, [20, 30) ..., [20, 40) ..., *  (height 3); sex: raw, *  (height 1)
    return {"age": Hierarchy.intervals("age", AGES, [10, 20], origin=20),
            "sex": Hierarchy.flat("sex", ["M", "F"])}


def release(age: list[str], sex: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"age": age, "sex": sex})


NONE = pl.Series([False] * 6)
DECADES = ["[20, 30)", "[20, 30)", "[30, 40)", "[30, 40)", "[50, 60)", "[50, 60)"]


def test_raw_data_loses_nothing(original: pl.DataFrame, hierarchies: dict[str, Hierarchy]
                                ) -> None:
    raw = release([str(a) for a in AGES], original["sex"].to_list())
    report = utility(original, raw, NONE, QI, hierarchies, k=1, levels=[0, 0])
    assert report.ncp == 0.0
    assert report.non_uniform_entropy == 0.0
    assert report.classes == 6
    assert report.discernibility == 6.0
    assert report.average_class_size == 1.0
    assert report.normalized_average_class_size == 1.0
    assert report.generalization_height == 0.0


def test_everything_hidden_loses_everything(original: pl.DataFrame,
                                            hierarchies: dict[str, Hierarchy]) -> None:
    report = utility(original, release([TOP] * 6, [TOP] * 6), NONE, QI, hierarchies,
                     levels=[3, 1])
    assert report.ncp == 1.0
    assert report.classes == 1
    assert report.discernibility == 36.0
    # -log2 P(age | *) = log2 6 per record; sex is half M, half F: 1 bit per record
    assert report.non_uniform_entropy == pytest.approx(6 * math.log2(6) + 6)
    assert report.generalization_height == 1.0
    assert report.normalized_average_class_size is None  # no k given


def test_one_level_by_hand(original: pl.DataFrame, hierarchies: dict[str, Hierarchy]) -> None:
    report = utility(original, release(DECADES, [TOP] * 6), NONE, QI, hierarchies,
                     k=2, levels=[1, 1])
    # age spans 23..58 (35); the decades cover 23-27, 35-38, 52-58: 4 + 4 + 3 + 3 + 6 + 6;
    # sex at * costs 1 per cell; 12 cells in all
    assert report.ncp == pytest.approx((26 / 35 + 6) / 12)
    assert report.discernibility == 3 * 2**2
    assert report.average_class_size == 2.0
    assert report.normalized_average_class_size == 1.0
    assert report.non_uniform_entropy == pytest.approx(6 + 6)  # 1 bit per cell
    assert report.generalization_height == pytest.approx((1 + 1) / (3 + 1))
    assert report.suppressed_records == 0
    assert set(report.to_dict()) == set(UtilityReport.__dataclass_fields__)


def test_suppressed_records_cost_the_most(original: pl.DataFrame,
                                          hierarchies: dict[str, Hierarchy]) -> None:
    suppressed = pl.Series([False] * 4 + [True] * 2)
    # the cells of suppressed records are ignored, whatever they hold
    cells = release([*DECADES[:4], "junk", "junk"], [TOP] * 6)
    report = utility(original, cells, suppressed, QI, hierarchies, k=2)
    assert report.suppressed_records == 2
    assert report.classes == 2
    assert report.discernibility == 2**2 + 2**2 + 2 * 6
    assert report.ncp == pytest.approx((14 / 35 + 4 + 2 * 2) / 12)
    assert report.non_uniform_entropy == pytest.approx(4 + 2 * math.log2(6) + 6)
    assert report.generalization_height is None


def test_everything_suppressed(original: pl.DataFrame, hierarchies: dict[str, Hierarchy]
                               ) -> None:
    report = utility(original, release([TOP] * 6, [TOP] * 6), pl.Series([True] * 6), QI,
                     hierarchies, k=2)
    assert (report.classes, report.ncp, report.discernibility) == (0, 1.0, 36.0)
    assert report.average_class_size is None
    assert report.normalized_average_class_size is None


@pytest.mark.parametrize("with_hierarchy", [True, False])
def test_mondrian_intervals(original: pl.DataFrame, hierarchies: dict[str, Hierarchy],
                            with_hierarchy: bool) -> None:
    cells = release(["[23, 27]"] * 2 + ["[35, 38]"] * 2 + ["[52, 58]"] * 2,
                    original["sex"].to_list())
    given = hierarchies if with_hierarchy else {"sex": hierarchies["sex"]}
    report = utility(original, cells, NONE, QI, given)
    assert report.ncp == pytest.approx(26 / 35 / 12)
    assert report.non_uniform_entropy == pytest.approx(6.0)
    assert report.classes == 6


def test_categorical_hierarchy() -> None:
    region = Hierarchy.from_mapping("city", {"Paris": ["France"], "Lyon": ["France"],
                                             "Rome": ["Italy"], "Milan": ["Italy"]})
    original = pl.DataFrame({"city": ["Paris", "Lyon", "Rome", "Rome"]})
    cells = pl.DataFrame({"city": ["France", "France", "Rome", "Rome"]})
    report = utility(original, cells, pl.Series([False] * 4), ["city"], {"city": region})
    # France covers 2 of 4 cities: (2 - 1) / (4 - 1); the raw cells cost 0
    assert report.ncp == pytest.approx(2 * (1 / 3) / 4)
    assert report.non_uniform_entropy == pytest.approx(2.0)  # Paris | France: 1 of 2
    assert report.discernibility == 2**2 + 2**2


def test_covered_takes_every_level_a_value_appears_at() -> None:
    hierarchy = Hierarchy.from_mapping("c", {"Asia": ["Asia"], "China": ["Asia"],
                                             "Chad": ["Africa"]})
    pairs = covered("c", ["Asia", TOP, "Chad", "[1, 2]"], ["Asia", "China", "Chad"],
                    hierarchy=hierarchy)
    got = {v: set(pairs.filter(pl.col("released") == v)["raw"]) for v in pairs["released"]}
    assert got == {"Asia": {"Asia", "China"}, TOP: {"Asia", "China", "Chad"},
                   "Chad": {"Chad"}, "[1, 2]": {"[1, 2]"}}  # not numeric: itself
    arx = Hierarchy.from_rows("c", [("x", "ANY"), ("y", "ANY")])
    assert set(covered("c", ["ANY"], ["x", "y", "z"], hierarchy=arx)["raw"]) == {"x", "y", "z"}
    numbers = covered("n", ["[2, 3.5]", "[9, 9]"], ["1", "2", "3.5", "4"], numeric=True)
    assert numbers["raw"].to_list() == ["2", "3.5"]  # [9, 9] covers nothing


def test_generalization_height_checks_levels(hierarchies: dict[str, Hierarchy]) -> None:
    assert generalization_height([2, 0], hierarchies, QI) == pytest.approx(0.5)
    with pytest.raises(InputError, match="outside"):
        generalization_height([4, 0], hierarchies, QI)
    with pytest.raises(InputError, match="one level per"):
        generalization_height([1], hierarchies, QI)
    with pytest.raises(InputError, match="needs a hierarchy"):
        generalization_height([1, 1], {"age": hierarchies["age"]}, QI)


def test_fails_closed(original: pl.DataFrame, hierarchies: dict[str, Hierarchy]) -> None:
    good = release(DECADES, [TOP] * 6)
    wrong = release(["[20, 30)"] * 6, [TOP] * 6)  # does not cover 35, 38, 52, 58
    with pytest.raises(InputError, match="do not cover"):
        utility(original, wrong, NONE, QI, hierarchies)
    with pytest.raises(InputError, match="do not cover"):
        utility(original, release(["junk"] * 6, [TOP] * 6), NONE, QI, hierarchies)
    with pytest.raises(InputError, match="same height"):
        utility(original, good.head(5), NONE, QI, hierarchies)
    with pytest.raises(InputError, match="not columns of the generalized"):
        utility(original, good.drop("sex"), NONE, QI, hierarchies)
    with pytest.raises(InputError, match="Boolean"):
        utility(original, good, pl.Series([0] * 6), QI, hierarchies)
    with pytest.raises(InputError, match="k must be"):
        utility(original, good, NONE, QI, hierarchies, k=0)
    with pytest.raises(InputError, match="null cells"):
        utility(original, release([None] * 6, [TOP] * 6), NONE, QI, hierarchies)
    with pytest.raises(HierarchyError, match="does not cover"):
        utility(original.with_columns(pl.Series("age", [99] * 6)), good, NONE, QI,
                hierarchies)


def synthetic(n: int = 400, seed: int = 1) -> pl.DataFrame:
    """``y`` is ``x``'s half (a, b versus c, d) with one label in ten flipped; ``z`` is noise."""
    rng = np.random.default_rng(seed)
    x = rng.choice(["a", "b", "c", "d"], n)
    y = np.isin(x, ["a", "b"]) ^ (rng.random(n) < 0.1)
    return pl.DataFrame({"x": x, "z": rng.integers(0, 5, n), "y": np.where(y, "yes", "no")})


def test_accuracy_follows_the_informative_feature() -> None:
    table = synthetic()
    learnt = classification_accuracy(table, ["x", "z"], "y", seed=3)
    assert learnt > 0.8
    hidden = table.with_columns(pl.lit(TOP).alias("x"))
    assert classification_accuracy(hidden, ["x", "z"], "y", seed=3) < 0.7
    assert classification_accuracy(table, ["x", "z"], "y", seed=3) == learnt  # seeded

    suppressed = pl.Series([i % 10 == 0 for i in range(table.height)])
    report = accuracy_report(table, hidden.select("x", "z"), suppressed, ["x", "z"], "y",
                             seed=3)
    assert report["original"] == learnt
    assert report["release"] is not None and report["release"] < 0.7
    assert report["relative"] == pytest.approx(report["release"] / learnt)


def test_accuracy_fails_closed() -> None:
    table = synthetic(40)
    with pytest.raises(InputError, match="not in the table"):
        classification_accuracy(table, ["x", "w"], "y")
    with pytest.raises(InputError, match="fewer than two classes"):
        classification_accuracy(table.with_columns(pl.lit("no").alias("y")), ["x"], "y")
    with pytest.raises(InputError, match="single record"):
        classification_accuracy(table.with_columns(
            pl.when(pl.int_range(40) == 0).then(pl.lit("odd")).otherwise("y").alias("y")),
            ["x"], "y")
    with pytest.raises(InputError, match="too few rows"):
        classification_accuracy(table.head(4).with_columns(
            pl.Series("y", ["yes", "no", "yes", "no"])), ["x"], "y", test_share=0.25)
    with pytest.raises(InputError, match="also listed"):
        classification_accuracy(table, ["x", "y"], "y")
    with pytest.raises(InputError, match="test_share"):
        classification_accuracy(table, ["x"], "y", test_share=1.0)
    with pytest.raises(InputError, match="not columns of the generalized"):
        accuracy_report(table, table.select("x"), pl.Series([False] * 40), ["x", "z"], "y")
    everything_but_two = pl.Series([i > 1 for i in range(40)])
    with pytest.raises(InputError, match="in the release"):
        accuracy_report(table, table, everything_but_two, ["x"], "y")
