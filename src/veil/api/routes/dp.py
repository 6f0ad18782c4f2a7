"""Differentially private queries, budgets and DP settings.

A query answers with an interval for every released number and what it cost; a budget that
cannot pay answers 409 and nothing is spent (the check and the debit are one transaction, so
concurrent queries never overspend)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from veil.access.policy import Operation
from veil.access.session import Session
from veil.api.auth import Current
from veil.api.models import PROBLEMS, Answer, Body, Cost, Name
from veil.api.routes._common import needs
from veil.dp.budget import Remaining
from veil.dp.execute import Settings
from veil.errors import InputError

router = APIRouter(prefix="/dp", tags=["dp"], responses=PROBLEMS)

Key = bool | int | float | str | None  # a public grouping key, typed as its column


class Query(Body):
    """SQL over one dataset (``SELECT <aggregates> FROM <dataset> [WHERE] [GROUP BY]``) and what
    to spend: epsilon (and delta) for an (epsilon, delta) budget, or rho for a zCDP one."""

    sql: str = Field(min_length=1, max_length=10_000)
    epsilon: float | None = None
    delta: float | None = None
    rho: float | None = None
    alpha: float = Field(default=0.05, gt=0, lt=1,
                         description="intervals hold with probability 1 - alpha")
    version: int | None = Field(default=None, description="default: the newest")


class Budget(Answer):
    """A budget (the dataset's, or one principal's on it), what was spent and what is left."""

    dataset: str
    principal: str = Field(description="'*': everyone's, the dataset's own budget")
    accountant: str = Field(description="approx: (epsilon, delta); zcdp: rho")
    budget: Cost
    spent: Cost
    left: Cost
    queries: int

    @classmethod
    def of(cls, remaining: Remaining) -> Budget:
        return cls.model_validate(remaining.to_dict())


class Released(Answer):
    """Released statistics: one row per group and statistic with its interval."""

    rows: list[dict[str, Any]] = Field(
        description="group columns, statistic, value, ci_low, ci_high")
    alpha: float
    spent: Cost = Field(description="what this answer cost (nothing when cached)")
    mechanisms: dict[str, dict[str, Any]] = Field(
        description="per statistic: distribution, scale, budget share")
    cached: bool = Field(description="answered from an identical earlier release, at no cost")
    remaining: Budget = Field(description="the dataset's budget after this answer")


class SetBudget(Body):
    """A total budget: epsilon (and delta), or zCDP rho."""

    epsilon: float | None = None
    delta: float | None = None
    rho: float | None = None
    principal: Name | None = Field(default=None,
                                   description="set this principal's own budget on the dataset")


class DPSettings(Answer):
    """Public facts queries rely on: value bounds (values are clamped to them), grouping keys
    and the most rows one person may contribute."""

    bounds: dict[str, tuple[float, float]]
    public_keys: dict[str, list[Key]]
    max_rows_per_person: int


class SetSettings(Body):
    """Settings to merge into the current ones (columns not named keep theirs)."""

    bounds: dict[str, tuple[float, float]] | None = Field(default=None, max_length=1000)
    public_keys: dict[str, list[Key]] | None = Field(
        default=None, max_length=1000,
        description="per column, its public keys typed as the column (text, numbers, booleans)")
    max_rows_per_person: int | None = Field(default=None, ge=1)


class EstimateBounds(Body):
    """Estimate a column's bounds under DP (two quantiles of the values clamped to a generous
    range), spending like any query, and declare them in the dataset's settings."""

    dataset: Name
    column: Name
    within: tuple[float, float] = Field(description="a generous range holding the values")
    epsilon: float | None = None
    rho: float | None = None
    quantiles: tuple[float, float] = (0.05, 0.95)


class Bounds(Answer):
    dataset: str
    column: str
    lower: float
    upper: float


def _settings(found: Settings) -> DPSettings:
    return DPSettings.model_validate(found.to_dict())


@router.post("/query", response_model=Released, openapi_extra=needs(Operation.DP_QUERY))
async def query(body: Query, caller: Current) -> Released:
    """Answer a DP query with intervals, spending from the dataset's budget and the caller's
    own one (409 when either cannot pay; nothing is spent then)."""
    def answer(s: Session) -> Released:
        result = s.query(body.sql, epsilon=body.epsilon, delta=body.delta, rho=body.rho,
                         alpha=body.alpha, version=body.version)
        return Released(rows=result.frame.to_dicts(), alpha=result.alpha,
                        spent=Cost.model_validate(result.spent), mechanisms=result.mechanisms,
                        cached=result.cached,
                        remaining=Budget.model_validate(result.remaining))

    return await caller.run(answer)


@router.get("/budgets/{dataset}", response_model=Budget, openapi_extra=needs())
async def budget(dataset: str, caller: Current, principal: str | None = None) -> Budget:
    """A dataset's budget (or a principal's own one on it), as the ledger backs it."""
    return await caller.run(lambda s: Budget.of(s.budget(dataset, principal)))


@router.put("/budgets/{dataset}", response_model=Budget,
            openapi_extra=needs(Operation.BUDGET_ADMIN))
async def set_budget(dataset: str, body: SetBudget, caller: Current) -> Budget:
    """Set the total budget of a dataset, or of one principal on it (lowering it below what
    was spent is allowed: nothing more can be spent then)."""
    return await caller.run(lambda s: Budget.of(s.set_budget(
        dataset, epsilon=body.epsilon, delta=body.delta, rho=body.rho,
        principal=body.principal)))


@router.get("/settings/{dataset}", response_model=DPSettings, openapi_extra=needs())
async def settings(dataset: str, caller: Current) -> DPSettings:
    return await caller.run(lambda s: _settings(s.dp_settings(dataset)))


@router.put("/settings/{dataset}", response_model=DPSettings,
            openapi_extra=needs(Operation.BUDGET_ADMIN))
async def set_settings(dataset: str, body: SetSettings, caller: Current) -> DPSettings:
    """Declare bounds, public keys and the contribution bound; returns the merged settings."""
    if body.bounds is None and body.public_keys is None and body.max_rows_per_person is None:
        raise InputError("name at least one of bounds, public_keys, max_rows_per_person")
    return await caller.run(lambda s: _settings(s.dp_settings(
        dataset, bounds=body.bounds, public_keys=body.public_keys,
        max_rows_per_person=body.max_rows_per_person)))


@router.post("/bounds", response_model=Bounds,
             openapi_extra=needs(Operation.DP_QUERY, Operation.BUDGET_ADMIN))
async def estimate_bounds(body: EstimateBounds, caller: Current) -> Bounds:
    def estimate(s: Session) -> Bounds:
        lower, upper = s.estimate_bounds(body.dataset, body.column, within=body.within,
                                         epsilon=body.epsilon, rho=body.rho,
                                         quantiles=body.quantiles)
        return Bounds(dataset=body.dataset, column=body.column, lower=lower, upper=upper)

    return await caller.run(estimate)
