"""Pseudonymized releases: keyed tokens that still join, reversible maps sealed in the vault,
logged re-identification, key epochs, and Safe Harbor releases stored with random codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from conftest import snapshot
from veil import Workspace
from veil.anonymize.tokens import assign_codes, lookup, tokenize
from veil.demo.data import generate_patients
from veil.discover import Pseudonymizer
from veil.errors import (
    InputError,
    InvalidNameError,
    KeyDestroyedError,
    NotFoundError,
    SchemaError,
)
from veil.keys import MasterKey


@pytest.fixture(scope="module")
def patients() -> pl.DataFrame:
    return generate_patients(300, seed=11)


@pytest.fixture
def loaded(ws: Workspace, patients: pl.DataFrame) -> Workspace:
    ws.ingest(patients, "patients", subject_id="patient_id", classify=False)
    return ws


def _params(ws: Workspace, action: str) -> dict:
    (entry,) = ws.ledger.tail(1, action)
    return json.loads(entry.params)


def test_same_value_same_token_within_a_workspace_only(loaded, patients, tmp_path):
    first = loaded.read(loaded.pseudonymize("patients", ["email"]).dataset)
    again = loaded.read(loaded.pseudonymize("patients", ["email"], output="again").dataset)
    assert first["email"].equals(again["email"])
    key = Pseudonymizer(loaded._store.ring.pseudonym_key())
    assert first["email"][0] == key.token("email", patients["email"][0])
    assert first["email"].str.contains(r"^[A-Z2-7]{10}$").all()
    other = Workspace.create(tmp_path / "other", master_key=MasterKey(os.urandom(32)))
    other.ingest(patients, "patients", subject_id="patient_id", classify=False)
    elsewhere = other.read(other.pseudonymize("patients", ["email"]).dataset)
    assert not set(elsewhere["email"]) & set(first["email"])
    other.close()


def test_joins_across_two_pseudonymized_datasets_still_match(loaded, patients):
    visits = patients.select("patient_id", "diagnosis_code").sample(200, seed=1,
                                                                   with_replacement=True)
    loaded.ingest(visits, "visits", subject_id="patient_id", classify=False)
    people = loaded.read(loaded.pseudonymize("patients", ["patient_id", "name"]).dataset)
    seen = loaded.read(loaded.pseudonymize("visits", ["patient_id"]).dataset)
    joined = seen.join(people.select("patient_id", "sex"), on="patient_id")
    plain = visits.join(patients.select("patient_id", "sex"), on="patient_id")
    assert joined.height == plain.height == 200
    assert sorted(joined["sex"]) == sorted(plain["sex"])
    # Differently named columns join through one domain.
    renamed = visits.rename({"patient_id": "pid"})
    loaded.ingest(renamed, "visits2", subject_id="pid", classify=False)
    linked = loaded.read(loaded.pseudonymize("visits2", ["pid"],
                                             domains={"pid": "patient_id"}).dataset)
    assert set(linked["pid"]) <= set(people["patient_id"])


def test_no_original_value_is_left_in_pseudonymized_columns(loaded, patients):
    columns = ["patient_id", "name", "ssn", "email", "birth_date"]
    made = loaded.pseudonymize("patients", columns)
    out = loaded.read(made.dataset)
    for column in columns:
        originals = set(patients[column].cast(pl.String))
        assert not originals & set(out[column]), column
        assert out[column].n_unique() == patients[column].n_unique()
    assert out.drop(columns).equals(patients.drop(columns))
    assert made.subject_id == "patient_id" and made.provenance["reversible"] is False
    assert "patients.pseudonymized.tokens" not in loaded.dataset_names()
    assert made.provenance["from"] == "patients@1" and made.provenance["epoch"] == 1
    assert _params(loaded, "dataset.pseudonymize")["source"]["columns"] == columns


def test_reidentify_round_trips_and_is_logged(loaded, patients):
    made = loaded.pseudonymize("patients", ["name", "email"], reversible=True)
    assert made.provenance["tokens"] == {"dataset": "patients.pseudonymized.tokens",
                                         "version": 1}
    out = loaded.read(made.dataset)
    tokens = out["email"].head(3).to_list() + out["name"].head(2).to_list()
    found = loaded.for_purpose("breach notice 7").reidentify(made.dataset, tokens)
    assert list(found) == tokens
    assert [found[t] for t in tokens[:3]] == patients["email"].head(3).to_list()
    assert [found[t] for t in tokens[3:]] == patients["name"].head(2).to_list()
    (entry,) = loaded.ledger.tail(1, "pseudonym.reidentify")
    assert (entry.actor, entry.purpose, entry.resource) == ("owner", "breach notice 7",
                                                            made.ref)
    assert json.loads(entry.params)["tokens"] == 5
    assert not any(v in entry.params for v in found.values())
    mapping = loaded.version("patients.pseudonymized.tokens")
    assert mapping.provenance["source"] == "token-map" and mapping.subject_id == "token"
    assert loaded.verify().entries == loaded.ledger.size


def test_reidentify_refuses_without_purpose_or_map(loaded):
    made = loaded.pseudonymize("patients", ["email"], reversible=True)
    token = loaded.read(made.dataset)["email"][0]
    before = snapshot(loaded)
    with pytest.raises(InputError, match="stated purpose"):
        loaded.reidentify(made.dataset, [token])  # the built-in administration purpose
    for purpose in ("", "   "):
        with pytest.raises(InputError, match="non-empty"):
            loaded.for_purpose(purpose)
    audit = loaded.for_purpose("audit")
    with pytest.raises(NotFoundError, match="1 of 2 token"):
        audit.reidentify(made.dataset, [token, "AAAAAAAAAA"])
    with pytest.raises(InputError, match="list of token"):
        audit.reidentify(made.dataset, token)
    one_way = loaded.pseudonymize("patients", ["email"], output="oneway")
    with pytest.raises(InputError, match="without reversible=True"):
        audit.reidentify(one_way.dataset, [token])
    after = snapshot(loaded)
    with pytest.raises(InputError, match="not a reversible"):
        audit.reidentify("patients", [token])
    assert snapshot(loaded) == after and after[0] > before[0]


def test_rotation_changes_tokens_and_old_maps_still_work(loaded, patients):
    old = loaded.pseudonymize("patients", ["email"], reversible=True)
    old_tokens = loaded.read(old.dataset)["email"]
    assert loaded.rotate_pseudonym_key() == 2
    assert _params(loaded, "keys.rotate_pseudonym") == {"epoch": 2, "key_id": "pseudonym-2"}
    new = loaded.pseudonymize("patients", ["email"], reversible=True, output="fresh")
    new_tokens = loaded.read(new.dataset)["email"]
    assert new.provenance["epoch"] == 2 and new.provenance["pseudonym_key"] == "pseudonym-2"
    assert not set(old_tokens) & set(new_tokens)
    first = patients["email"][0]
    assert loaded.for_purpose("audit").reidentify(old.dataset, [old_tokens[0]]) == {
        old_tokens[0]: first}
    assert loaded.for_purpose("audit").reidentify(new.dataset, [new_tokens[0]]) == {
        new_tokens[0]: first}
    linked = loaded.pseudonymize("patients", ["email"], epoch=1, output="linked")
    assert loaded.read(linked.dataset)["email"].equals(old_tokens)
    assert loaded.pseudonymizer().token("email", first) == new_tokens[0]
    with pytest.raises(NotFoundError):
        loaded.pseudonymize("patients", ["email"], epoch=9)
    assert loaded.rotate_keys(master_key=MasterKey(os.urandom(32))) >= 4
    loaded.verify()


def test_destroying_the_map_makes_a_release_irreversible(loaded):
    made = loaded.pseudonymize("patients", ["ssn"], reversible=True)
    token = loaded.read(made.dataset)["ssn"][0]
    loaded.destroy("patients.pseudonymized.tokens", 1)
    with pytest.raises(KeyDestroyedError):
        loaded.for_purpose("audit").reidentify(made.dataset, [token])
    loaded.verify()


def test_bad_requests_write_nothing(loaded):
    loaded.pseudonymize("patients", ["email"], reversible=True, output="made")
    loaded.ingest(pl.DataFrame({"pid": ["a"]}), "taken.tokens", subject_id="pid",
                  classify=False)
    before = snapshot(loaded)
    cases = [
        (SchemaError, {"columns": ["nope"]}),
        (InputError, {"columns": "email"}),
        (InputError, {"columns": []}),
        (InputError, {"columns": ["email"], "domains": {"name": "x"}}),
        (InvalidNameError, {"columns": ["email"], "output": "patients"}),
        (InvalidNameError, {"columns": ["email"], "output": "bad name"}),
        (InvalidNameError, {"columns": ["email"], "output": "x" * 60, "reversible": True}),
        (InvalidNameError, {"columns": ["email"], "output": "taken", "reversible": True}),
        (InvalidNameError, {"columns": ["email"], "output": "made.tokens"}),
    ]
    for error, kwargs in cases:
        with pytest.raises(error):
            loaded.pseudonymize("patients", **kwargs)
    with pytest.raises(NotFoundError):
        loaded.pseudonymize("nobody", ["email"])
    assert snapshot(loaded) == before


def test_a_failed_store_leaves_no_files(loaded, monkeypatch):
    before = snapshot(loaded)
    real, calls = loaded._store.add_version, []

    def broken(*args, **kwargs):  # the token map registers, then the release fails
        calls.append(args[0])
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(loaded._store, "add_version", broken)
    with pytest.raises(OSError, match="disk full"):
        loaded.pseudonymize("patients", ["email"], reversible=True)
    after = snapshot(loaded)
    assert calls == ["patients.pseudonymized.tokens", "patients.pseudonymized"]
    assert after[2:4] == before[2:4]  # no new version, no sealed file left behind
    assert loaded.dataset_names() == ["patients"]
    assert after[0] == before[0] + 1  # only the read was logged


def test_safe_harbor_release_is_stored_with_random_codes(loaded, patients):
    made = loaded.for_purpose("research release").safe_harbor("patients", reference_year=2026)
    assert made.dataset == "patients.safe_harbor" and made.subject_id == "patient_id"
    out = loaded.read(made.dataset)
    assert not set(out["patient_id"]) & set(patients["patient_id"])
    assert out["patient_id"].str.contains(r"^[A-Z2-7]{16}$").all()
    for dropped in ("name", "ssn", "email", "phone", "street_address", "city"):
        assert dropped not in out.columns
    assert made.provenance["rule"] == "45 CFR 164.514(b)(2)"
    assert made.provenance["residual"] == {}
    assert made.provenance["actions"]["ssn"].startswith("dropped")
    code = out["patient_id"][0]
    assert loaded.for_purpose("erasure request 3").reidentify(made.dataset, [code]) == {
        code: patients["patient_id"][0]}
    (entry,) = loaded.ledger.tail(1, "dataset.safe_harbor")
    assert entry.purpose == "research release" and entry.resource == made.ref
    loaded.verify()


def test_tokenize_and_codes_keep_nulls_and_fold_spellings():
    frame = pl.DataFrame({"email": ["Ann@X.org", "ann@x.org ", None, "bo@x.org"],
                          "n": [1, 2, 3, 4]})
    done = tokenize(frame, ["email"], Pseudonymizer(b"k" * 32))
    tokens = done.frame["email"].to_list()
    assert tokens[0] == tokens[1] != tokens[3] and tokens[2] is None
    assert done.token_map.height == 2
    assert lookup(done.token_map, [tokens[0]]) == {tokens[0]: "Ann@X.org"}
    codes = assign_codes(frame, "email")
    assert codes.frame["email"].null_count() == 1 and codes.token_map.height == 3
    assert codes.frame["email"].drop_nulls().n_unique() == 3
    with pytest.raises(SchemaError):
        tokenize(frame.with_columns(pl.col("n").cast(pl.List(pl.Int64))), ["n"],
                 Pseudonymizer(b"k" * 32))
    with pytest.raises(InputError):
        lookup(done.token_map, [])


def test_token_map_lives_in_the_vault_encrypted(loaded, patients):
    loaded.pseudonymize("patients", ["email"], reversible=True)
    mapping = loaded.version("patients.pseudonymized.tokens")
    sealed = Path(loaded.path / "vault" / mapping.file).read_bytes()
    assert patients["email"][0].encode() not in sealed
    assert set(loaded.read(mapping.dataset)["value"]) <= set(patients["email"])
