"""Generalization hierarchies: built, read and written in ARX's format, and checked."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from veil.anonymize.hierarchy import TOP, Hierarchy
from veil.errors import HierarchyError


def test_arx_csv_round_trip(tmp_path) -> None:
    text = "Male;*\nFemale;*\n"
    path = tmp_path / "adult_hierarchy_sex.csv"
    path.write_text(text)
    sex = Hierarchy.read_csv(path, "sex")
    assert sex.height == 1 and sex.values == ("Male", "Female")
    out = tmp_path / "out.csv"
    sex.write_csv(out)
    assert out.read_text() == text
    assert Hierarchy.read_csv(out, "sex") == sex


def test_values_with_the_delimiter_survive_a_round_trip(tmp_path) -> None:
    h = Hierarchy.from_rows("x", [("a;b", "g", TOP), ("c", "g", TOP)])
    h.write_csv(tmp_path / "x.csv")
    assert Hierarchy.read_csv(tmp_path / "x.csv", "x") == h


@pytest.mark.parametrize(("rows", "problem"), [
    ([("a", "g1", "*"), ("b", "g1", "*"), ("c", "g2")], "levels"),
    ([("a", "*"), ("a", "*")], "more than once"),
    ([("a", "g", "*"), ("b", "g", "top")], "last level"),
    ([("a", "g", "x", "*"), ("b", "g", "y", "*")], "inconsistent"),
    ([("a", "", "*")], "empty"),
    ([], "no values"),
    ([()], "row 1 is empty"),  # was an IndexError (a 500 from the service)
])
def test_malformed_hierarchies_are_refused(rows, problem) -> None:
    with pytest.raises(HierarchyError, match=problem):
        Hierarchy.from_rows("attr", rows)


def test_uncovered_values_are_counted_never_shown() -> None:
    h = Hierarchy.flat("colour", ["red", "blue"])
    with pytest.raises(HierarchyError, match=r"1 value.* 1 row.* row 2") as refused:
        h.codes(pl.Series(["red", "green"]))
    assert "green" not in refused.value.message
    with pytest.raises(HierarchyError, match="null"):
        h.codes(pl.Series(["red", None]))
    with pytest.raises(HierarchyError, match="level 2 does not exist"):
        h.level(2)


def test_interval_hierarchy_nests_and_covers_every_value() -> None:
    ages = pl.Series("age", [17, 23, 38, 39, 40, 64, 90])
    h = Hierarchy.intervals("age", ages, [5, 10, 20])
    assert h.generalize("38", 1) == "[35, 40)"
    assert h.generalize("38", 2) == "[30, 40)"
    assert h.generalize("38", 3) == "[20, 40)"
    assert h.generalize("90", 4) == TOP
    np.testing.assert_array_equal(h.codes(ages), np.arange(7))
    with pytest.raises(HierarchyError, match="multiples"):
        Hierarchy.intervals("age", ages, [5, 7])
    default = Hierarchy.intervals("age", ages)
    assert default.height >= 3  # growing widths up to the range, then *


def test_float_values_are_keyed_like_the_integers_they_equal() -> None:
    h = Hierarchy.intervals("age", pl.Series([30, 31]), [10])
    assert h.codes(pl.Series([30.0, 31.0])).tolist() == [0, 1]


def test_date_and_prefix_hierarchies() -> None:
    d = Hierarchy.dates("visit", [date(2020, 3, 4), date(2021, 12, 31)])
    assert d.rows[0] == ("2020-03-04", "2020-03", "2020", "2020s", TOP)
    assert Hierarchy.dates("visit", pl.Series(["2020-03-04"])).rows == d.rows[:1]
    with pytest.raises(HierarchyError, match="YYYY-MM-DD"):
        Hierarchy.dates("visit", pl.Series(["04/03/2020"]))
    z = Hierarchy.prefixes("zip", ["02139", "02141", "10001"])
    assert z.generalize("02139", 2) == "021**"
    assert z.generalize("02141", 3) == z.generalize("02139", 3) == "02***"
    assert z.height == 5
    with pytest.raises(HierarchyError, match="one length"):
        Hierarchy.prefixes("zip", ["0213", "02141"])


def test_domain_shares_follow_arx() -> None:
    h = Hierarchy.from_mapping("edu", {"BSc": ["Undergrad"], "BA": ["Undergrad"],
                                       "PhD": ["Grad"], "MSc": ["Grad"], "None": ["None"]})
    assert h.height == 2
    shares = h.shares()
    np.testing.assert_allclose(shares[0], [0.2] * 5)
    np.testing.assert_allclose(shares[1], [0.4, 0.4, 0.4, 0.4, 0.2])
    np.testing.assert_allclose(shares[2], [1.0] * 5)
