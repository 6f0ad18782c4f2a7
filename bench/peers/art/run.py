"""The IBM ART side of the membership-inference benchmark, run with the peer venv's python.

ART (adversarial-robustness-toolbox 1.20.1) runs in ``bench/peers/art/.venv`` (see
``bench/peers/venv.py``) and talks to ``bench/attacks.py`` through ``.npy`` files in a folder and
one JSON line on stdout.

``run.py shadow --dir DIR --hidden 256,256 --epochs 30 --batch-size 128 --lr 0.003 --shadows 4
--seed 0`` reads from ``DIR``

* ``shadow_x.npy`` / ``shadow_y.npy``: the attacker's data (features, class indices), rows the
  target never trained on;
* ``eval_x.npy`` / ``eval_y.npy`` / ``eval_pred.npy``: the rows to judge and the target's class
  probabilities on them (so ART attacks the same target, through its outputs only),

then runs Shokri et al.'s shadow-model attack the ART way:

1. ``ShadowModels`` with ``--shadows`` copies of a scikit-learn ``MLPClassifier`` of the target's
   recipe (hidden layers, Adam, learning rate, batch size, exactly ``--epochs`` passes: no early
   stopping, no L2 penalty) wrapped in ``ScikitlearnClassifier``; ``generate_shadow_dataset``
   trains each on a random half of the shadow data (``member_ratio=0.5``, the datasets not
   disjoint) and labels its predictions on its own half (members) and the other (non-members);
2. ``MembershipInferenceBlackBox(attack_model_type="gb")`` fitted on those predictions and labels;
3. ``infer(eval_x, eval_y, pred=eval_pred, probabilities=True)``: the membership probability of
   each evaluation row, written to ``DIR/art_membership.npy``.

It prints ``{"shadow_fit_seconds", "shadow_fit_each", "shadow_dataset_seconds",
"attack_fit_seconds", "infer_seconds", "shadow_train_rows", "shadow_member_accuracy",
"shadow_non_member_accuracy", "shadow_epochs_run", "versions"}``. ``shadow_fit_seconds`` sums the
shadow models' ``fit`` calls alone; ``shadow_dataset_seconds`` is the whole
``generate_shadow_dataset`` call (fits plus the shadows' predictions). Reading the files and
importing ART are not timed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """ART's scikit-learn wrapper trains on one-hot labels (it takes their argmax)."""
    out = np.zeros((len(labels), classes), np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def shadow(args: argparse.Namespace) -> dict[str, Any]:
    import art
    import sklearn
    from art.attacks.inference.membership_inference import (
        MembershipInferenceBlackBox,
        ShadowModels,
    )
    from art.estimators.classification.scikitlearn import ScikitlearnClassifier
    from sklearn.neural_network import MLPClassifier

    folder = Path(args.dir)
    x = np.load(folder / "shadow_x.npy")
    labels = np.load(folder / "shadow_y.npy")
    eval_x = np.load(folder / "eval_x.npy")
    eval_y = np.load(folder / "eval_y.npy")
    eval_pred = np.load(folder / "eval_pred.npy")
    classes = int(max(labels.max(), eval_y.max()) + 1)
    fits: list[float] = []

    class TimedClassifier(ScikitlearnClassifier):
        """ART's scikit-learn wrapper, timing each ``fit`` (clones keep the subclass)."""

        def fit(self, x: np.ndarray, y: np.ndarray, **kwargs: Any) -> None:
            started = time.perf_counter()
            super().fit(x, y, **kwargs)
            fits.append(time.perf_counter() - started)

    # sklearn's clone keeps random_state; None draws each shadow's initialisation and shuffling
    # from numpy's global generator, seeded here: distinct shadows, reproducible runs.
    np.random.seed(args.seed)
    template = MLPClassifier(
        hidden_layer_sizes=tuple(int(h) for h in args.hidden.split(",")), activation="relu",
        solver="adam", alpha=0.0, batch_size=args.batch_size, learning_rate_init=args.lr,
        max_iter=args.epochs, tol=0.0, n_iter_no_change=args.epochs + 1, shuffle=True,
        random_state=None)
    wrapped = TimedClassifier(template)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached, as intended
        # ART 1.20.1 cannot clone an unfitted ScikitlearnClassifier (its nb_classes is -1 and
        # clone_for_refitting's set_params rejects it), so the template is first fitted on a few
        # rows; clones start from sklearn.base.clone, unfitted. Not timed.
        wrapped.fit(x[:256], one_hot(labels[:256], classes))
        fits.clear()
        shadows = ShadowModels(wrapped, num_shadow_models=args.shadows,
                               disjoint_datasets=False, random_state=args.seed)
        started = time.perf_counter()
        (mem_x, mem_y, mem_pred), (non_x, non_y, non_pred) = shadows.generate_shadow_dataset(
            x, one_hot(labels, classes), member_ratio=0.5)
        dataset_seconds = time.perf_counter() - started
    fitted = shadows.get_shadow_models()
    # the estimator only lends nb_classes / input_shape: every prediction is passed in (pred=)
    attack = MembershipInferenceBlackBox(fitted[0], input_type="prediction",
                                         attack_model_type="gb")
    started = time.perf_counter()
    attack.fit(mem_x, mem_y, non_x, non_y, pred=mem_pred, test_pred=non_pred)
    attack_fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    inferred = np.asarray(attack.infer(eval_x, one_hot(eval_y, classes), pred=eval_pred,
                                       probabilities=True), np.float64)
    infer_seconds = time.perf_counter() - started
    member = inferred[:, -1] if inferred.ndim == 2 else inferred  # P(member)
    np.save(folder / "art_membership.npy", member)

    def accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
        return float((pred.argmax(axis=1) == truth.argmax(axis=1)).mean())

    return {"shadow_fit_seconds": sum(fits), "shadow_fit_each": fits,
            "shadow_dataset_seconds": dataset_seconds, "attack_fit_seconds": attack_fit_seconds,
            "infer_seconds": infer_seconds, "shadows": args.shadows,
            "shadow_train_rows": len(mem_x) // args.shadows,
            "attack_train_rows": len(mem_x) + len(non_x),
            "shadow_member_accuracy": accuracy(mem_pred, mem_y),
            "shadow_non_member_accuracy": accuracy(non_pred, non_y),
            "shadow_epochs_run": [int(m.model.n_iter_) for m in fitted],
            "evaluated": len(member),
            "versions": {"art": art.__version__, "sklearn": sklearn.__version__,
                         "numpy": np.__version__}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("shadow", help="ART shadow models + black-box attack")
    run.add_argument("--dir", required=True)
    run.add_argument("--hidden", default="256,256")
    run.add_argument("--epochs", type=int, required=True)
    run.add_argument("--batch-size", type=int, required=True)
    run.add_argument("--lr", type=float, required=True)
    run.add_argument("--shadows", type=int, default=4)
    run.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # ART and tqdm may print to stdout; keep stdout for the one JSON line.
    with contextlib.redirect_stdout(sys.stderr):
        result = shadow(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
