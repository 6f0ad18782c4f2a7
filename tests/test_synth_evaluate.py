"""veil.synth.evaluate and veil.synth.report: utility and privacy figures of a synthetic table
on small generated data, where the right answer is known."""

import json

import numpy as np
import pytest

from veil.errors import InputError
from veil.synth import Coded, independent
from veil.synth.evaluate import (
    associations,
    closest,
    evaluate,
    marginals,
    privacy,
    tstr,
)
from veil.synth.report import html

DOMAIN = {"a": 4, "b": 4, "c": 3, "y": 2, **{f"n{i}": 12 for i in range(6)}}


def _table(rows: int, seed: int) -> Coded:
    """a and b agree 90% of the time, y follows a and c; n0..n5 are noise that makes rows
    (almost) unique, as real records are."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, rows)
    b = np.where(rng.random(rows) < 0.9, a, rng.integers(0, 4, rows))
    c = rng.integers(0, 3, rows)
    y = (rng.random(rows) < np.where((a >= 2) & (c > 0), 0.85, 0.1)).astype(np.int64)
    columns = {"a": a, "b": b, "c": c, "y": y}
    columns |= {f"n{i}": rng.integers(0, 12, rows) for i in range(6)}
    return Coded(columns, DOMAIN)


def _rows(table: Coded, index: np.ndarray) -> Coded:
    return Coded({k: v[index] for k, v in table.columns.items()}, dict(table.domain))


@pytest.fixture(scope="module")
def train() -> Coded:
    return _table(2000, 1)


@pytest.fixture(scope="module")
def holdout() -> Coded:
    return _table(2000, 2)


@pytest.fixture(scope="module")
def noise(train: Coded) -> Coded:
    """The independent baseline: right 1-way marginals, no joint structure, no memory."""
    return independent(train, train.rows, np.random.default_rng(3))


def test_tvd_is_zero_for_identical_tables_and_grows_without_correlations(train, holdout, noise):
    same = marginals(train, holdout, train)
    assert set(same.mean) == {1, 2, 3}
    assert all(v == 0 for v in same.mean.values())
    assert len(same.by_set) == 10 + 45 + 120
    real = marginals(train, holdout, holdout)  # another real sample: sampling noise only
    lost = marginals(train, holdout, noise)
    assert lost.mean[1] < 0.05
    assert lost.mean[2] > real.mean[2]
    assert {"a", "b"} <= set(lost.worst[0].columns)
    assert lost.worst[0].tvd > 0.3
    assert sorted(s.tvd for s in lost.worst) == sorted((s.tvd for s in lost.by_set),
                                                       reverse=True)[:10][::-1]
    assert lost.one_way["a"]["real"] == pytest.approx(
        (train.counts(("a",)) / train.rows).tolist())


def test_workload_chooses_the_column_sets(train, holdout, noise):
    found = marginals(train, holdout, noise, [("a", "b"), ("c",), ("a", "c", "y", "b")])
    assert [s.columns for s in found.by_set] == [("a", "b"), ("c",), ("a", "c", "y", "b")]
    assert set(found.mean) == {1, 2, 4}


def test_associations_detect_a_removed_dependence(train, noise):
    kept = associations(train, train)
    assert kept.mean_abs_diff == 0 and kept.max_abs_diff == 0
    names = list(kept.attributes)
    assert kept.real[names.index("a")][names.index("b")] > 0.8
    assert kept.real[names.index("n0")][names.index("n1")] < 0.05  # bias-corrected: ~0
    lost = associations(train, noise)
    assert lost.worst_pair == ("a", "b")
    assert lost.max_abs_diff > 0.7
    assert lost.synthetic[names.index("a")][names.index("b")] < 0.1


def test_tstr_copy_matches_the_reference_and_a_shuffled_target_is_chance(train, holdout):
    copied = tstr(train, train, holdout, "y")
    assert copied.positive == 1 and copied.classes == 2
    assert copied.real.auc > 0.8
    assert copied.synthetic.auc == pytest.approx(copied.real.auc, abs=0.02)
    assert copied.synthetic.curve[0] == (0.0, pytest.approx(copied.synthetic.curve[0][1]))
    assert len(copied.synthetic.curve) == 101
    columns = dict(train.columns)
    columns["y"] = np.random.default_rng(5).permutation(columns["y"])
    shuffled = tstr(Coded(columns, DOMAIN), train, holdout, "y")
    assert abs(shuffled.synthetic.auc - 0.5) < 0.08
    assert shuffled.real.auc == pytest.approx(copied.real.auc)
    json.dumps(shuffled.to_dict())


def test_tstr_multiclass_is_macro_one_vs_rest(train, holdout):
    found = tstr(train, train, holdout, "a")  # b predicts a
    assert found.positive is None and found.classes == 4
    assert found.synthetic.auc > 0.85


def test_closest_is_the_exact_hamming_distance():
    rng = np.random.default_rng(0)
    queries, reference = rng.integers(0, 3, (57, 5)), rng.integers(0, 3, (41, 5))
    matrix = (queries[:, None, :] != reference[None, :, :]).sum(axis=2)
    to_first, to_second, to_query, count = closest(queries, reference, split=30)
    assert (to_first == matrix[:, :30].min(axis=1)).all()
    assert (to_second == matrix[:, 30:].min(axis=1)).all()
    assert (to_query == matrix.min(axis=0)).all()
    assert (count == (matrix == matrix.min(axis=0)).sum(axis=0)).all()


def test_copying_the_training_rows_is_caught(train, holdout):
    found = privacy(train, holdout, train, epsilon=1.0, delta=1e-6)
    assert found.copies_train == 1.0
    assert found.copies_holdout < 0.01
    assert found.dcr_train["median"] == 0 and found.dcr_holdout["median"] > 0
    assert found.closer_to_train > 0.95
    assert found.membership.auc > 0.95
    assert found.membership.tpr[0.01] > found.ceiling["tpr@0.01"]


def test_independent_draws_leak_nothing(train, holdout, noise):
    found = privacy(train, holdout, noise)
    assert found.copies_train < 0.01
    assert abs(found.membership.auc - 0.5) < 0.05
    assert abs(found.closer_to_train - 0.5) < 0.05
    assert found.ceiling is None
    assert sum(found.dcr_counts["train"]) == noise.rows


def test_privacy_compares_equal_sized_sets(train, holdout, noise):
    small = _rows(holdout, np.arange(500))
    found = privacy(train, small, noise)
    assert found.compared == 500
    assert found.membership.members == found.membership.non_members == 500
    # a larger training set is closer by size alone; equal samples keep the split fair
    assert abs(found.closer_to_train - 0.5) < 0.06


@pytest.fixture(scope="module")
def evaluation(train, holdout, noise):
    return evaluate(train, holdout, noise, target="y", epsilon=2.0, delta=1e-5)


def test_evaluate_is_json_ready(evaluation):
    data = json.loads(json.dumps(evaluation.to_dict()))
    assert data["rows"] == {"real_train": 2000, "real_holdout": 2000, "synthetic": 2000}
    assert set(data["marginals"]["mean"]) == {"1", "2", "3"}
    assert data["tstr"]["target"] == "y"
    assert data["privacy"]["ceiling"]["tpr@0.01"] == pytest.approx(
        min(1, np.exp(2.0) * 0.01 + 1e-5))
    summary = evaluation.summary()
    assert summary["tstr_auc_real"] > summary["tstr_auc_synthetic"]
    assert all(isinstance(v, int | float | str) for v in summary.values())


def test_html_is_self_contained(evaluation):
    page = html(evaluation, title="Release <b>1</b>",
                guarantee={"epsilon": 2.0, "delta": 1e-5, "note": "<script>x</script>"})
    assert page.count("<svg") == 6
    assert "<script" not in page.lower()
    assert "http://" not in page and "https://" not in page
    assert "Release &lt;b&gt;1&lt;/b&gt;" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    for heading in ("TVD by column set", "Association difference", "membership attack",
                    "TSTR ROC", "Distance to closest record", "Worst 1-way marginals"):
        assert heading in page


def test_hostile_column_names_are_escaped(train, holdout):
    rename = {"a": "<script>alert(1)</script>", "y": 'y"><img src=x>'}
    domain = {rename.get(k, k): v for k, v in DOMAIN.items()}

    def renamed(t: Coded) -> Coded:
        return Coded({rename.get(k, k): v[:300] for k, v in t.columns.items()}, domain)

    found = evaluate(renamed(train), renamed(holdout), renamed(train),
                     workload=[("b", rename["a"]), (rename["y"],)])
    page = html(found, title="t")
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;" in page


def test_bad_inputs_are_refused(train, holdout, noise):
    other = Coded(dict(noise.columns), {**DOMAIN, "c": 4})
    with pytest.raises(InputError, match="'c' has domain size 4"):
        evaluate(train, holdout, other)
    fewer = Coded({k: v for k, v in noise.columns.items() if k != "a"},
                  {k: v for k, v in DOMAIN.items() if k != "a"})
    with pytest.raises(InputError, match="missing from synthetic"):
        evaluate(train, holdout, fewer)
    empty = Coded({k: np.zeros(0, np.int64) for k in DOMAIN}, DOMAIN)
    with pytest.raises(InputError, match="real_holdout has 0 rows"):
        evaluate(train, empty, noise)
    with pytest.raises(InputError, match=r"veil\.synth\.Coded"):
        evaluate(train, holdout, {"a": [1]})
    with pytest.raises(InputError, match="target 'z'"):
        evaluate(train, holdout, noise, target="z")
    with pytest.raises(InputError, match="workload entry"):
        evaluate(train, holdout, noise, workload=[("a", "zz")])
    with pytest.raises(InputError, match="workload entry"):
        evaluate(train, holdout, noise, workload=[("a", "a")])
    with pytest.raises(InputError, match="delta was given without epsilon"):
        evaluate(train, holdout, noise, delta=1e-6)
    with pytest.raises(InputError, match="epsilon"):
        evaluate(train, holdout, noise, epsilon=0)
    single = Coded({k: np.ones(10, np.int64) for k in DOMAIN}, DOMAIN)
    with pytest.raises(InputError, match="one class"):
        tstr(train, train, single, "y")


def test_the_report_reads_well_in_a_browser(evaluation, tmp_path):
    """Every figure shows, nothing is wider than the page; the screenshot is kept for people
    to look at (in the test's folder and /tmp/veil-screenshots/)."""
    from _report_browser import page

    page_file = tmp_path / "evaluation.html"
    page_file.write_text(html(evaluation, title="Synthetic release patients.synthetic@1",
                              guarantee={"epsilon": 2.0, "delta": 1e-5}))
    with page(page_file, tmp_path / "synth-evaluation.png") as view:
        figures = view.locator("figure svg")
        assert figures.count() == 6
        for i in range(6):
            box = figures.nth(i).bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 150
        assert view.locator("h2", has_text="Headline").is_visible()
