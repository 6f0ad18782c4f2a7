"""Privacy models, the optimal lattice search and Mondrian, checked against brute force and
against the independent release check."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.anonymize.check import achieved
from veil.anonymize.encoding import encode
from veil.anonymize.hierarchy import TOP, Hierarchy
from veil.anonymize.lattice import failing_classes, search, suppression_budget
from veil.anonymize.models import (
    DistinctLDiversity,
    EntropyLDiversity,
    KAnonymity,
    TCloseness,
    emd_equal,
    emd_hierarchical,
    memberships,
)
from veil.anonymize.mondrian import mondrian
from veil.anonymize.objective import OBJECTIVES, objective
from veil.errors import InputError, PrivacyModelError

AGE = Hierarchy.intervals("age", list(range(20, 60)), [5, 10, 20])
ZIP = Hierarchy.prefixes("zip", [f"021{i}{j}" for i in range(4) for j in range(3)])
SEX = Hierarchy.flat("sex", ["F", "M"])
DISEASE = Hierarchy.from_mapping("disease", {
    "flu": ["respiratory"], "asthma": ["respiratory"], "ulcer": ["digestive"],
    "gastritis": ["digestive"], "cancer": ["other"]})
HIERARCHIES = {"age": AGE, "zip": ZIP, "sex": SEX}


def _table(seed: int, rows: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "age": rng.integers(20, 60, rows),
        "zip": rng.choice(ZIP.values, rows),
        "sex": rng.choice(["F", "M"], rows),
        "disease": rng.choice(DISEASE.values, rows, p=[0.4, 0.2, 0.2, 0.1, 0.1]),
    })


def _brute_force(encoded, models, goal, limit):
    """Every node, scored the same way: the optimum the search must find."""
    budget = suppression_budget(encoded.records, limit)
    best = (math.inf, None)
    for levels in itertools.product(*(range(h + 1) for h in encoded.heights)):
        partition = encoded.partition(levels)
        failing = failing_classes(partition, models)
        if partition.sizes[failing].sum() > budget:
            continue
        score = goal.score(encoded, np.array(levels), partition, failing)
        best = min(best, (score, levels), key=lambda x: x[0])
    return best


def _released(frame, encoded, optimum):
    """The release the optimum describes, built with Polars only (for the check)."""
    dropped = optimum.suppressed[optimum.partition.group][encoded.row_of]
    columns = [pl.Series(name, [h.generalize(str(v), level) for v in frame[name].to_list()])
               for name, h, level in zip(encoded.quasi_identifiers, encoded.hierarchies,
                                         optimum.levels, strict=True)]
    return frame.with_columns(columns).filter(~pl.Series(dropped))


CASES = [
    ([KAnonymity(3)], 0.0),
    ([KAnonymity(4)], 0.1),
    ([KAnonymity(2), DistinctLDiversity("disease", 2)], 0.05),
    ([EntropyLDiversity("disease", 1.8)], 0.1),
    ([KAnonymity(2), TCloseness("disease", 0.3)], 0.1),
    ([TCloseness("disease", 0.25, "hierarchical", DISEASE)], 0.0),
]


@pytest.mark.parametrize("metric", OBJECTIVES)
@pytest.mark.parametrize("case", range(len(CASES)))
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_search_finds_the_brute_force_optimum_and_the_release_meets_its_models(
        case: int, metric: str, seed: int) -> None:
    models, limit = CASES[case]
    frame = _table(seed, 60)
    encoded = encode(frame, ["age", "zip", "sex"], HIERARCHIES, ["disease"])
    for model in models:
        model.prepare(encoded)
    goal = objective(metric).prepare(encoded)
    expected, _ = _brute_force(encoded, models, goal, limit)
    if expected == math.inf:
        with pytest.raises(PrivacyModelError):
            search(encoded, models, goal, limit)
        return
    optimum = search(encoded, models, goal, limit)
    assert optimum.score == pytest.approx(expected, abs=1e-12)
    assert optimum.checked <= optimum.nodes
    released = _released(frame, encoded, optimum)
    assert frame.height - released.height <= suppression_budget(frame.height, limit)
    reached = achieved(released, ["age", "zip", "sex"], ["disease"], reference=frame,
                       hierarchies={"disease": DISEASE} if case == 5 else None)
    assert all(reached.meets(m) for m in models), reached


def test_pruning_checks_far_fewer_nodes_than_the_lattice_holds() -> None:
    frame = _table(1, 400)
    encoded = encode(frame, ["age", "zip", "sex"], HIERARCHIES)
    model = KAnonymity(5)
    model.prepare(encoded)
    optimum = search(encoded, [model], objective("loss").prepare(encoded))
    assert optimum.nodes == 5 * 6 * 2
    assert optimum.checked < optimum.nodes / 2


def test_loss_matches_arx_definition_by_hand() -> None:
    """Two records, sex generalized to * (share 1) and age raw (share 1/40): ARX's Loss."""
    frame = pl.DataFrame({"age": [30, 31], "sex": ["F", "M"]})
    encoded = encode(frame, ["age", "sex"], {"age": AGE, "sex": SEX})
    goal = objective("loss").prepare(encoded)
    levels = np.array([0, 1])
    partition = encoded.partition(levels)
    score = goal.score(encoded, levels, partition, np.zeros(partition.classes, dtype=bool))
    # age: (2 * 1/40 - 2/40) / (2 - 2/40) = 0; sex: (2 * 1 - 2/2) / (2 - 2/2) = 1
    assert score == pytest.approx(math.sqrt((1 + 0) * (1 + 1)) - 1)
    # everything suppressed: loss 1 on both attributes
    everything = np.ones(partition.classes, dtype=bool)
    assert goal.score(encoded, levels, partition, everything) == pytest.approx(1.0)


def test_unmeetable_models_are_reported_not_weakened() -> None:
    frame = pl.DataFrame({"age": [30, 31, 32], "sex": ["F", "M", "F"],
                          "disease": ["flu", "flu", "flu"]})
    encoded = encode(frame, ["age", "sex"], {"age": AGE, "sex": SEX}, ["disease"])
    model = DistinctLDiversity("disease", 1)
    model.prepare(encoded)
    with pytest.raises(InputError, match="more than the 1 distinct"):
        DistinctLDiversity("disease", 2).prepare(encoded)
    with pytest.raises(InputError, match="larger than the table"):
        KAnonymity(4).prepare(encoded)
    k3 = KAnonymity(3)
    k3.prepare(encoded)
    entropy = EntropyLDiversity("disease", 1.5)
    entropy.prepare(encoded)
    with pytest.raises(PrivacyModelError, match="no generalization meets"):
        search(encoded, [k3, entropy], objective("loss").prepare(encoded))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "5"])
def test_bad_model_parameters_are_refused(bad) -> None:
    with pytest.raises(InputError, match="k must be"):
        KAnonymity(bad)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(InputError, match="t must be"):
        TCloseness("d", 1.5)
    with pytest.raises(InputError, match="needs a hierarchy"):
        TCloseness("d", 0.2, "hierarchical")
    with pytest.raises(InputError, match="suppression limit"):
        suppression_budget(10, 1.5)
    with pytest.raises(InputError, match="unknown utility metric"):
        objective("accuracy")
    frame = _table(0, 10)
    with pytest.raises(InputError, match="unknown column"):
        encode(frame, ["age", "height"], HIERARCHIES)
    with pytest.raises(InputError, match="quasi-identifier and sensitive"):
        encode(frame, ["age"], HIERARCHIES, ["age"])


def _emd_by_linear_programming(p, q, distance):
    from scipy.optimize import linprog

    n = len(p)
    cost = np.array([[distance(i, j) for j in range(n)] for i in range(n)]).ravel()
    rows = [np.kron(np.eye(n)[i], np.ones(n)) for i in range(n)]
    cols = [np.kron(np.ones(n), np.eye(n)[j]) for j in range(n)]
    result = linprog(cost, A_eq=np.array(rows + cols), b_eq=np.concatenate([p, q]),
                     bounds=(0, None), method="highs")
    return result.fun


@pytest.mark.parametrize("seed", range(5))
def test_emd_closed_forms_equal_the_transport_linear_program(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
    values = DISEASE.values
    assert emd_equal(p, q) == pytest.approx(
        _emd_by_linear_programming(p, q, lambda i, j: float(i != j)), abs=1e-9)

    def tree_distance(i: int, j: int) -> float:
        if i == j:
            return 0.0
        same = DISEASE.generalize(values[i], 1) == DISEASE.generalize(values[j], 1)
        return 0.5 if same else 1.0

    members = memberships(DISEASE, values)
    assert emd_hierarchical(p, q, members) == pytest.approx(
        _emd_by_linear_programming(p, q, tree_distance), abs=1e-9)


def test_mondrian_parts_meet_the_models_and_are_small() -> None:
    frame = _table(7, 500)
    encoded = encode(frame, ["age", "zip", "sex"], HIERARCHIES, ["disease"])
    models = [KAnonymity(5), DistinctLDiversity("disease", 2)]
    for model in models:
        model.prepare(encoded)
    cut = mondrian(encoded, models, [True, False, False])
    rows = cut.part_of[encoded.row_of]
    released = frame.with_columns(
        pl.Series(name, [cut.cells[r][j] for r in rows])
        for j, name in enumerate(["age", "zip", "sex"]))
    reached = achieved(released, ["age", "zip", "sex"], ["disease"])
    assert reached.k >= 5 and reached.l_distinct["disease"] >= 2
    sizes = np.bincount(rows)
    assert np.median(sizes) < 20  # local recoding: parts near k, not one class per level
    assert any(c[0].startswith("[") for c in cut.cells)  # numeric ages as intervals
    assert all(c[1] in ZIP.rows[0] or c[1] == TOP or "*" in c[1] or c[1] in ZIP.values
               for c in cut.cells)
