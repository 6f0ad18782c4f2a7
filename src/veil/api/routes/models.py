"""Models: their cards, DP-SGD training and retraining (background jobs), and scoring rows.

A card describes a model (what it learnt from, its guarantee, metrics, how it reads rows), never
its weights; reading cards needs no right. Training spends from the dataset's budget and runs as
a job (``GET /jobs/{id}``); the guard is asked before it is queued, so a refused caller gets its
403 at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter
from pydantic import Field

from veil.access.policy import Operation
from veil.access.session import Session
from veil.api.auth import Current
from veil.api.jobs import Job
from veil.api.models import PROBLEMS, Answer, Body, Name
from veil.api.routes._common import needs, queue
from veil.errors import InputError, NotFoundError
from veil.workspace.datasets import check_columns

if TYPE_CHECKING:
    from veil.train.model import Model  # torch loads when a model is first used

router = APIRouter(prefix="/models", tags=["models"], responses=PROBLEMS)

MAX_ROWS = 1000  # rows one prediction scores
Value = bool | int | float | str | None
Row = Annotated[dict[str, Value], Field(max_length=1000)]


class ModelCard(Answer):
    """A registered model version: source, guarantee, metrics and encoding (no weights)."""

    name: str
    version: int
    dataset: str = Field(description="the dataset it learnt from, or federation:<name>")
    dataset_version: int
    fingerprint: str
    architecture: str | None
    created: str
    actor: str
    purpose: str
    privacy: dict[str, Any]
    metrics: dict[str, Any]
    encoding: dict[str, Any] = Field(description="how it reads rows: bounds, categories, "
                                     "classes, feature order (public settings)")
    training: dict[str, Any] | None = Field(default=None, description="DP-SGD settings")
    federation: dict[str, Any] | None = Field(default=None,
                                              description="a federation's sites and rounds")


class ModelDetail(ModelCard):
    card_markdown: str = Field(description="the model card, for people")


class Train(Body):
    """Train a classifier with DP-SGD on ``features`` to predict ``target`` (public classes),
    spending (epsilon, delta) from the dataset's budget; registered as ``name``."""

    dataset: Name
    target: Name
    features: list[Name] = Field(min_length=1, max_length=256)
    epsilon: float = Field(gt=0)
    delta: float = Field(default=1e-5, gt=0, lt=1)
    model: Literal["logreg", "mlp"] = "mlp"
    name: Name | None = Field(default=None, description="default: {dataset}.{target}")
    epochs: int = Field(default=5, ge=1, le=1000)
    batch_size: int = Field(default=256, ge=1, le=1_000_000)
    max_grad_norm: float = Field(default=1.0, gt=0)
    lr: float = Field(default=0.1, gt=0)
    optimizer: Literal["sgd", "adam"] = "sgd"
    holdout: float = Field(default=0.2, gt=0, lt=1)
    seed: int | None = None


class Predict(Body):
    """Rows to score, each a mapping of the model's feature columns to values."""

    rows: list[Row] = Field(min_length=1, max_length=MAX_ROWS)
    version: int | None = Field(default=None, description="default: the newest")


class Predictions(Answer):
    model: str
    version: int
    classes: list[Any]
    predictions: list[Any] = Field(description="each row's most likely class")
    probabilities: list[list[float]] = Field(description="each row's probability per class")


def _meta(s: Session, name: str, version: int | None = None) -> dict[str, Any]:
    """The newest registered version of ``name`` (or ``version``)."""
    found = [m for m in s.models() if m["name"] == name
             and (version is None or m["version"] == version)]
    if not found:
        raise NotFoundError(f"no model {name!r}" + (f" version {version}" if version else ""))
    return found[-1]


def table(rows: list[dict[str, Value]]) -> pl.DataFrame:
    """Rows given in a request as a table (a column holds one type of value)."""
    try:
        return pl.DataFrame(rows, infer_schema_length=None)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        raise InputError("rows: each column must hold values of one type (numbers, text or "
                         "booleans) in every row") from None


def _registered(made: Model) -> dict[str, Any]:
    """A job's result: the registered model's card without the rendered texts."""
    return {k: v for k, v in made.meta.items() if not k.startswith("card_")}


@router.get("", response_model=list[ModelCard], openapi_extra=needs())
async def models(caller: Current) -> list[ModelCard]:
    """Every registered model version."""
    return await caller.run(lambda s: [ModelCard.model_validate(m) for m in s.models()])


@router.get("/{name}", response_model=ModelDetail, openapi_extra=needs())
async def card(name: str, caller: Current, version: int | None = None) -> ModelDetail:
    """A model's card (the newest version unless ``version``)."""
    return await caller.run(lambda s: ModelDetail.model_validate(_meta(s, name, version)))


@router.post("/train", response_model=Job, status_code=202,
             openapi_extra=needs(Operation.DP_TRAIN))
async def train(body: Train, caller: Current) -> Job:
    """Train and register a model in the background; poll ``GET /jobs/{id}``, whose result is
    the registered model's card."""
    columns = [*body.features, body.target]

    def check(s: Session) -> None:
        check_columns(s.version(body.dataset), columns)  # a typo is a 422 now, not a failed job
        s.authorize(Operation.DP_TRAIN, dataset=body.dataset, columns=columns)

    settings = body.model_dump(exclude={"dataset"})
    return await queue(caller, "model.train",
                       lambda s: _registered(s.train(body.dataset, **settings)), check)


@router.post("/{name}/retrain", response_model=Job, status_code=202,
             openapi_extra=needs(Operation.DP_TRAIN))
async def retrain(name: str, caller: Current) -> Job:
    """Train a model again from the newest version of its dataset with its recorded settings,
    spending the budget again (what an erasure marked stale is rebuilt without the erased
    person)."""
    def check(s: Session) -> None:
        meta = _meta(s, name)
        if "federation" in meta:
            raise InputError(f"model {name!r} is a federation's global model; run its "
                             "federation again (POST /federated/runs)")
        s.authorize(Operation.DP_TRAIN, dataset=meta["dataset"])

    return await queue(caller, "model.retrain", lambda s: _registered(s.retrain(name)), check)


@router.post("/{name}/predict", response_model=Predictions,
             openapi_extra=needs(Operation.MODEL_USE))
async def predict(name: str, body: Predict, caller: Current) -> Predictions:
    """Class probabilities of up to 1000 rows (the model is loaded as a logged ``model_use``)."""
    def score(s: Session) -> Predictions:
        model = s.model(name, body.version)
        probabilities = model.predict_proba(table(body.rows))
        classes = model.encoding.classes
        return Predictions(model=model.name, version=model.version, classes=classes,
                           predictions=[classes[i] for i in probabilities.argmax(axis=1)],
                           probabilities=probabilities.tolist())

    return await caller.run(score)
