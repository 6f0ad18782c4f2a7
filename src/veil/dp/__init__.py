"""Differentially private analytics under a privacy budget that cannot be overspent.

``Workspace.query`` answers SQL (``SELECT <aggregates> FROM <dataset> [WHERE] [GROUP BY]``) or
a :class:`Query` built in Python, with a confidence interval for every released number,
debiting the dataset's and the analyst's budgets in the catalog before anything is returned.
Exact aggregates come from Polars; every bit of noise from OpenDP.
"""

from veil.dp.budget import Budget, Remaining
from veil.dp.execute import Cost, DPResult, Settings
from veil.dp.query import Aggregate, Predicate, Query
from veil.dp.sql import parse

__all__ = ["Aggregate", "Budget", "Cost", "DPResult", "Predicate", "Query", "Remaining",
           "Settings", "parse"]
