"""DP-SGD training: clipping equals Opacus' per-example clipping, the reported epsilon equals an
independent accountant, and training is budgeted, registered, audited and refused early."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from torch import nn

from veil import Workspace
from veil.errors import InputError, NotFoundError, PrivacyBudgetError
from veil.keys import generate_key_file
from veil.train.dpsgd import TrainConfig, _linear_only, clipped_gradients, train_dp


@pytest.mark.parametrize("bias", [True, False])
def test_book_keeping_clipping_equals_opacus_per_example_clipping(bias: bool) -> None:
    from opacus import GradSampleModule

    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 9, bias=bias), nn.Tanh(), nn.Linear(9, 3, bias=bias))
    x, y = torch.randn(17, 6) * 3, torch.randint(0, 3, (17,))
    mine = clipped_gradients(model, _linear_only(model), x, y, max_grad_norm=0.7)
    reference = GradSampleModule(nn.Sequential(nn.Linear(6, 9, bias=bias), nn.Tanh(),
                                               nn.Linear(9, 3, bias=bias)))
    reference._module.load_state_dict(model.state_dict())
    nn.functional.cross_entropy(reference(x), y, reduction="sum").backward()
    samples = [p.grad_sample for p in reference.parameters()]
    norms = torch.sqrt(sum(s.reshape(17, -1).pow(2).sum(dim=1) for s in samples))
    scale = (0.7 / (norms + 1e-6)).clamp(max=1.0)
    expected = [(s * scale.view(-1, *[1] * (s.dim() - 1))).sum(dim=0) for s in samples]
    for got, want in zip(mine, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_reported_epsilon_equals_dp_accounting_for_the_same_run() -> None:
    import dp_accounting
    from dp_accounting import rdp

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    result = train_dp(nn.Linear(4, 2), x, y, TrainConfig(epsilon=2.0, delta=1e-5, epochs=2,
                                                         batch_size=100, accountant="rdp"),
                      seed=1)
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(
            result.sample_rate, dp_accounting.GaussianDpEvent(result.noise_multiplier)),
        result.steps)
    accountant = rdp.RdpAccountant()
    accountant.compose(event)
    independent = accountant.get_epsilon(1e-5)
    assert result.epsilon <= 2.0 + 1e-9
    assert result.epsilon == pytest.approx(independent, rel=0.03)
    assert result.steps == 40 and result.engine == "book-keeping"


def _frame(rows: int = 1500) -> pl.DataFrame:
    rng = np.random.default_rng(2)
    risk = rng.uniform(0, 10, rows)
    return pl.DataFrame({"pid": np.arange(rows), "risk": risk, "noise": rng.uniform(0, 10, rows),
                         "site": rng.choice(["a", "b"], rows),
                         "outcome": (risk + rng.normal(0, 1, rows) > 5).astype(np.int8),
                         "note": ["x"] * rows})


@pytest.fixture
def ws(tmp_path: Path):
    key = tmp_path / "k.key"
    generate_key_file(key)
    with Workspace.create(tmp_path / "ws", key_file=key) as workspace:
        workspace.ingest(_frame(), "cohort", subject_id="pid", classify=False)
        workspace.dp_settings("cohort", bounds={"risk": (0, 10), "noise": (0, 10)},
                              public_keys={"site": ["a", "b"], "outcome": [0, 1]})
        workspace.set_budget("cohort", epsilon=10.0, delta=1e-4)
        yield workspace


def test_training_spends_registers_and_loads_through_the_workspace(ws) -> None:
    model = ws.train("cohort", target="outcome", features=["risk", "noise", "site"],
                     epsilon=4.0, delta=1e-5, model="logreg", epochs=8, batch_size=128, lr=2.0,
                     seed=0)
    assert model.meta["metrics"]["accuracy"] > 0.8  # the label follows "risk"
    privacy = model.meta["privacy"]
    assert privacy["epsilon"] <= 4.0 and privacy["engine"] == "book-keeping"
    assert ws.budget("cohort").left.epsilon == pytest.approx(6.0)
    loaded = ws.for_purpose("audit").model("cohort.outcome")
    frame = _frame().head(20)
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame),
                               rtol=1e-5)
    assert set(loaded.predict(frame)) <= {0, 1}
    actions = [(e.action, e.purpose) for e in ws.ledger.entries()]
    assert ("model.train", "administration") in actions
    assert ("model.register", "administration") in actions and ("model.load", "audit") in actions
    registered = json.loads(next(e.params for e in ws.ledger.entries()
                                 if e.action == "model.register"))
    assert registered["privacy"]["noise_multiplier"] == pytest.approx(privacy["noise_multiplier"])
    assert f"({privacy['epsilon']:.4g}, 1e-05)-DP" in model.meta["card_markdown"]
    assert "<table>" in model.meta["card_html"]
    assert [m["name"] for m in ws.models()] == ["cohort.outcome"]
    with pytest.raises(NotFoundError, match="no model"):
        ws.model("nope")


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"features": ["height"]}, InputError, "no column"),
    ({"features": ["note"]}, InputError, "no encoding"),
    ({"features": ["risk"], "target": "note"}, InputError, "classes of the target"),
    ({"features": ["risk"], "batch_size": 5000}, InputError, "larger than"),
    ({"features": ["risk"], "epsilon": 1e-6}, PrivacyBudgetError, "too small"),
    ({"features": ["risk"], "epsilon": -1.0}, InputError, "epsilon must be"),
    ({"features": ["risk"], "delta": 0.5}, InputError, "delta"),
    ({"features": ["risk"], "epsilon": 50.0}, PrivacyBudgetError, "exhausted"),
])
def test_bad_training_requests_spend_nothing(ws, kwargs, error, match) -> None:
    request = {"target": "outcome", "epsilon": 1.0, "delta": 1e-5, "epochs": 1} | kwargs
    with pytest.raises(error, match=match):
        ws.train("cohort", **request)
    assert ws.budget("cohort").spent.epsilon == 0.0


def test_nan_features_are_refused_before_any_spend(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    generate_key_file(key)
    with Workspace.create(tmp_path / "ws", key_file=key) as ws:
        frame = _frame().with_columns(risk=pl.when(pl.col("pid") == 3).then(float("nan"))
                                      .otherwise(pl.col("risk")))
        ws.ingest(frame, "cohort", subject_id="pid", classify=False)
        ws.dp_settings("cohort", bounds={"risk": (0, 10)}, public_keys={"outcome": [0, 1]})
        ws.set_budget("cohort", epsilon=5.0, delta=1e-4)
        with pytest.raises(InputError, match="NaN"):
            ws.train("cohort", target="outcome", features=["risk"], epsilon=1.0, delta=1e-5)
        assert ws.budget("cohort").queries == 0


def test_estimator_and_sweep(tmp_path: Path) -> None:
    from veil.train.estimator import DPClassifier, sweep

    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, size=(3000, 3))
    y = np.where(x[:, 0] + 0.1 * rng.normal(size=3000) > 0.5, "yes", "no")
    clf = DPClassifier(epsilon=4.0, delta=1e-5, epochs=5, lr=2.0, seed=0).fit(x[:2400], y[:2400])
    assert clf.score(x[2400:], y[2400:]) > 0.85 and clf.epsilon_ <= 4.0
    assert set(clf.predict(x[:10])) <= {"yes", "no"}
    assert clf.predict_proba(x[:4]).shape == (4, 2)
    with pytest.raises(InputError, match="numeric"):
        DPClassifier(epsilon=1.0, delta=1e-5).fit(np.array([["a"], ["b"]]), [0, 1])
    with pytest.raises(InputError, match="one class"):
        DPClassifier(epsilon=1.0, delta=1e-5).fit(x, np.zeros(3000))
    plot = tmp_path / "sweep.png"
    accuracy = sweep(x[:2400], y[:2400], x[2400:], y[2400:], [0.1, 8.0], delta=1e-5, epochs=3,
                     lr=2.0, seed=0, plot=plot)
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert accuracy[8.0] >= accuracy[0.1] - 0.02  # more budget, no worse (up to noise)


def test_cli_train_models_and_card(ws, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from veil.cli.app import app

    base = ["-w", str(ws.path), "--key-file", str(tmp_path / "k.key")]
    ws.close()
    runner = CliRunner()
    made = runner.invoke(app, [*base, "train", "cohort", "--target", "outcome", "--features",
                               "risk,site", "--epsilon", "2", "--model", "logreg", "--epochs",
                               "2", "--lr", "1", "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["privacy"]["epsilon"] <= 2.0
    listed = runner.invoke(app, [*base, "models", "list"])
    assert "cohort.outcome@1" in listed.output
    page = tmp_path / "card.html"
    shown = runner.invoke(app, [*base, "models", "card", "cohort.outcome", "--html", str(page)])
    assert "Model card" in shown.output and "<table>" in page.read_text()


def test_poisson_batches_have_the_binomial_law() -> None:
    """Geometric gaps give each row probability q, independently: batch sizes are
    Binomial(n, q) and every row is chosen about q of the time."""
    from scipy import stats

    from veil.train.dpsgd import poisson_batch

    generator = torch.Generator().manual_seed(5)
    rows, rate, draws = 500, 0.05, 4000
    counts = np.zeros(rows)
    sizes = []
    for _ in range(draws):
        chosen = poisson_batch(rows, rate, generator).numpy()
        assert len(np.unique(chosen)) == len(chosen) and (chosen >= 0).all() and (
            chosen < rows).all()
        counts[chosen] += 1
        sizes.append(len(chosen))
    assert abs(np.mean(sizes) - rows * rate) < 0.3
    assert abs(np.var(sizes) - rows * rate * (1 - rate)) < 2.0
    assert stats.chisquare(counts).pvalue > 1e-3  # no row favoured
