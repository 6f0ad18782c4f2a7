"""The SQL front end: ``SELECT <aggregates> FROM <dataset> [WHERE ...] [GROUP BY ...]``.

sqlglot parses the text; this module walks the tree and accepts only what has a DP meaning,
turning it into a :class:`~veil.dp.query.Query`. Everything else is refused with the reason:
selecting raw columns, joins, subqueries, set operations, HAVING, window functions, functions
of columns. Identifiers are never spliced into another query (execution is Polars expressions
on a validated column list), so a crafted name can at worst be an unknown column.

Aggregates: ``COUNT(*)``, ``COUNT(col)``, ``SUM``, ``AVG``, ``VARIANCE``/``VAR_SAMP``/
``VAR_POP``, ``STDDEV``/``STDDEV_SAMP``/``STDDEV_POP``, ``MEDIAN``, ``QUANTILE(col, q)``
(also ``PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY col)``). Predicates: comparisons with
literals, ``IN``, ``IS [NOT] NULL``, ``BETWEEN``, joined by ``AND``. Grouping columns may be
selected beside the aggregates.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

from veil.dp.query import Aggregate, Predicate, Query
from veil.errors import InputError

__all__ = ["parse"]

_COMPARE = {exp.EQ: "=", exp.NEQ: "!=", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


@lru_cache(maxsize=1024)
def parse(sql: str) -> Query:
    """The query ``sql`` asks, or :class:`InputError` saying why it is not a DP aggregate."""
    if not isinstance(sql, str) or not sql.strip():
        raise InputError("the query is empty")
    try:
        statements = sqlglot.parse(sql)
    except sqlglot.errors.ParseError as exc:
        raise InputError(f"the query is not valid SQL: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1 or statements[0] is None:
        raise InputError("send exactly one SELECT statement")
    tree = statements[0]
    if not isinstance(tree, exp.Select):
        raise InputError(f"only SELECT queries are answered; got {type(tree).__name__.upper()}")
    for clause, why in (("joins", "a join on private tables"), ("having", "HAVING"),
                        ("windows", "a window"), ("distinct", "SELECT DISTINCT"),
                        ("limit", "LIMIT"), ("order", "ORDER BY"), ("with", "WITH")):
        if tree.args.get(clause):
            raise InputError(f"{why} is not supported in a DP query")
    if any(isinstance(node, exp.Subquery | exp.Union) for node in tree.walk()):
        raise InputError("subqueries and set operations are not supported in a DP query")
    query = Query(_dataset(tree))
    group = [_column(g, "GROUP BY") for g in (tree.args.get("group") or exp.Group()).expressions]
    if group:
        query = query.group_by(*group)
    where = tree.args.get("where")
    if where is not None:
        for predicate in _conjuncts(where.this):
            query = query.where(predicate.column, predicate.op, predicate.value)
    for item in tree.expressions:
        alias = item.alias if isinstance(item, exp.Alias) else None
        node = item.this if isinstance(item, exp.Alias) else item
        if isinstance(node, exp.Column) and node.name in group:
            continue  # the group keys, released with the aggregates anyway
        if isinstance(node, exp.Star | exp.Column):
            shown = node.sql()
            msg = (f"{shown!r} is not an aggregate: a DP query releases only aggregates "
                   "(COUNT, SUM, AVG, VARIANCE, STDDEV, MEDIAN, QUANTILE) and its GROUP BY "
                   "columns")
            raise InputError(msg)
        query = query._add(_aggregate(node, alias or None))
    if not query.aggregates:
        raise InputError("the query selects no aggregate")
    return query


def _dataset(tree: exp.Select) -> str:
    source = tree.args.get("from_") or tree.args.get("from")
    if source is None:
        raise InputError("the query needs FROM <dataset>")
    table = source.this
    if not isinstance(table, exp.Table) or table.args.get("db") or table.args.get("catalog"):
        raise InputError("FROM must name one dataset")
    return table.name


def _column(node: exp.Expression, where: str) -> str:
    if not isinstance(node, exp.Column) or node.table:
        raise InputError(f"{where} takes plain column names; got {node.sql()!r}")
    return node.name


def _literal(node: exp.Expression) -> Any:
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -_literal(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(node, exp.Boolean):
        return node.this
    raise InputError(f"comparisons are with literal values; got {node.sql()!r}")


def _conjuncts(node: exp.Expression) -> list[Predicate]:
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    if isinstance(node, exp.Or):
        raise InputError("OR in WHERE is not supported; use IN, or separate queries")
    if isinstance(node, exp.Not) and isinstance(node.this, exp.Is):
        return [Predicate(_column(node.this.this, "IS NOT NULL"), "is not null")]
    if isinstance(node, exp.Is):
        return [Predicate(_column(node.this, "IS NULL"), "is null")]
    if isinstance(node, exp.Not) and isinstance(node.this, exp.In):
        inner = node.this
        return [Predicate(_column(inner.this, "NOT IN"), "not in",
                          [_literal(v) for v in inner.expressions])]
    if isinstance(node, exp.In):
        return [Predicate(_column(node.this, "IN"), "in", [_literal(v) for v in node.expressions])]
    if isinstance(node, exp.Between):
        column = _column(node.this, "BETWEEN")
        return [Predicate(column, ">=", _literal(node.args["low"])),
                Predicate(column, "<=", _literal(node.args["high"]))]
    op = _COMPARE.get(type(node))
    if op is None:
        raise InputError(f"unsupported condition {node.sql()!r}")
    if isinstance(node.left, exp.Column):
        return [Predicate(_column(node.left, "WHERE"), op, _literal(node.right))]
    return [Predicate(_column(node.right, "WHERE"), _FLIP[op], _literal(node.left))]


def _aggregate(node: exp.Expression, alias: str | None) -> Aggregate:
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
        order = node.expression.expressions
        if len(order) != 1:
            raise InputError("PERCENTILE_CONT needs one ORDER BY column")
        column = _column(order[0].this, "PERCENTILE_CONT")
        return Aggregate("quantile", column, alias, quantile=float(_literal(node.this.this)))
    if isinstance(node, exp.Count):
        inner = node.this
        if isinstance(inner, exp.Distinct):
            raise InputError("COUNT(DISTINCT ...) is not supported")
        if inner is None or isinstance(inner, exp.Star):
            return Aggregate("count", None, alias)
        return Aggregate("count", _column(inner, "COUNT"), alias)
    simple = {exp.Sum: "sum", exp.Avg: "mean", exp.Variance: "variance",
              exp.VariancePop: "variance", exp.Stddev: "stddev", exp.StddevSamp: "stddev",
              exp.StddevPop: "stddev", exp.Median: "quantile"}
    for kind_type, kind in simple.items():
        if isinstance(node, kind_type):
            column = _column(node.this, kind.upper())
            return Aggregate(kind, column, alias,  # type: ignore[arg-type]
                             quantile=0.5 if kind_type is exp.Median else None)
    if isinstance(node, exp.Quantile | exp.Anonymous) and _name(node) in ("quantile",
                                                                           "percentile"):
        args = [node.this, node.args.get("quantile")] if isinstance(node, exp.Quantile) else (
            node.expressions)
        if len(args) != 2 or args[1] is None:
            raise InputError("QUANTILE takes a column and a fraction: QUANTILE(col, 0.9)")
        return Aggregate("quantile", _column(args[0], "QUANTILE"), alias,
                         quantile=float(_literal(args[1])))
    raise InputError(f"{node.sql()!r} is not an aggregate veil can release under DP")


def _name(node: exp.Expression) -> str:
    return (node.name if isinstance(node, exp.Anonymous) else node.key).lower()
