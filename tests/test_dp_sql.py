"""The DP query front ends: SQL and the builder give the same representation, and anything
that is not a DP-safe aggregate is refused with the reason."""

from __future__ import annotations

import pytest

from veil.dp.query import Aggregate, Predicate, Query
from veil.dp.sql import parse
from veil.errors import InputError


def test_sql_and_builder_agree() -> None:
    sql = parse("SELECT clinic_id, COUNT(*) AS n, AVG(glucose) FROM patients "
                "WHERE age >= 18 AND sex IN ('F', 'M') AND bmi BETWEEN 10 AND 60 "
                "GROUP BY clinic_id")
    built = (Query("patients").group_by("clinic_id").where("age", ">=", 18)
             .where("sex", "in", ["F", "M"]).where("bmi", ">=", 10).where("bmi", "<=", 60)
             .count(alias="n").mean("glucose"))
    assert sql == built
    assert sql.canonical() == built.canonical() and sql.fingerprint() == built.fingerprint()


@pytest.mark.parametrize(("sql", "aggregate"), [
    ("SELECT COUNT(x) FROM t", Aggregate("count", "x")),
    ("SELECT SUM(x) FROM t", Aggregate("sum", "x")),
    ("SELECT VARIANCE(x) FROM t", Aggregate("variance", "x")),
    ("SELECT STDDEV(x) FROM t", Aggregate("stddev", "x")),
    ("SELECT MEDIAN(x) FROM t", Aggregate("quantile", "x", quantile=0.5)),
    ("SELECT QUANTILE(x, 0.9) FROM t", Aggregate("quantile", "x", quantile=0.9)),
    ("SELECT PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY x) FROM t",
     Aggregate("quantile", "x", quantile=0.25)),
])
def test_each_aggregate_parses(sql, aggregate) -> None:
    assert parse(sql).aggregates == (aggregate,)


def test_predicates_parse_both_ways_round() -> None:
    query = parse("SELECT COUNT(*) FROM t WHERE 30 < age AND name IS NOT NULL AND x != -2.5 "
                  "AND y NOT IN (1, 2) AND z IS NULL")
    assert query.predicates == (
        Predicate("age", ">", 30), Predicate("name", "is not null"), Predicate("x", "!=", -2.5),
        Predicate("y", "not in", (1, 2)), Predicate("z", "is null"))


@pytest.mark.parametrize(("sql", "why"), [
    ("SELECT name FROM patients", "not an aggregate"),
    ("SELECT * FROM patients", "not an aggregate"),
    ("SELECT COUNT(*), ssn FROM patients", "not an aggregate"),
    ("SELECT COUNT(*) FROM a JOIN b ON a.id = b.id", "join on private tables"),
    ("SELECT COUNT(*) FROM (SELECT * FROM p) AS s", "subqueries"),
    ("SELECT COUNT(*) FROM p UNION SELECT COUNT(*) FROM q", "SELECT"),
    ("SELECT COUNT(*) FROM p WHERE a = 1 OR b = 2", "OR"),
    ("SELECT COUNT(*) FROM p GROUP BY a HAVING COUNT(*) > 5", "HAVING"),
    ("SELECT SUM(a + b) FROM p", "plain column"),
    ("SELECT COUNT(DISTINCT a) FROM p", "DISTINCT"),
    ("SELECT COUNT(*) FROM p WHERE a = b", "literal"),
    ("SELECT COUNT(*) FROM p; DROP TABLE p", "exactly one"),
    ("DELETE FROM patients", "only SELECT"),
    ("SELECT MAX(a) FROM p", "not an aggregate veil can release"),
    ("SELECT QUANTILE(a, 1.5) FROM p", "strictly between"),
    ("SELECT COUNT(*) FROM", "not valid SQL"),
    ("", "empty"),
    ("SELECT 1", "FROM"),
])
def test_unsafe_queries_are_refused_with_the_reason(sql, why) -> None:
    with pytest.raises(InputError, match=why):
        parse(sql)


def test_crafted_identifiers_are_only_names() -> None:
    """A quoted identifier is a column or dataset name like any other; execution never splices
    it into SQL, so at worst it is unknown."""
    query = parse('SELECT SUM("x; DROP TABLE p") FROM "p\'--"')
    assert query.dataset == "p'--" and query.aggregates[0].column == "x; DROP TABLE p"


def test_builder_refuses_clashing_names_and_stray_keys() -> None:
    with pytest.raises(InputError, match="both named"):
        Query("t").count().count()
    with pytest.raises(InputError, match="not grouped by"):
        Query("t").group_by("a", keys={"b": [1]})
    with pytest.raises(InputError, match="unsupported comparison"):
        Query("t").where("a", "like", "x%")
