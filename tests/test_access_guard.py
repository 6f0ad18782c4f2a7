"""The guard decides every call: a table of role x operation, asserted in full, over every
public method of a session (and its namespaces); refusals are logged and change nothing else;
purpose minimization, consent and step-up; every CLI command acts through a guarded session."""

from __future__ import annotations

import inspect
import itertools
import os
import re
from pathlib import Path

import polars as pl
import pytest

from veil import Workspace
from veil.access.admin import Policies, Users
from veil.access.policy import Operation
from veil.access.session import Session
from veil.demo.data import generate_patients
from veil.errors import AccessDenied, AuthenticationError, VeilError
from veil.govern.purposes import LawfulBasis, Purpose, SpecialCondition
from veil.govern.registry import Consents, Purposes, Requests, RetentionRules
from veil.govern.retention import Retention
from veil.keys import MasterKey
from veil.keys.share import RecipientKey

Op = Operation
EVERYTHING = "everything"
# the shipped roles, as the issue states them; "nobody" is a user with no role at all
EXPECTED: dict[str, set[Operation]] = {
    "owner": set(Operation),
    "steward": {Op.INGEST, Op.RAW_READ, Op.PSEUDONYMIZED_READ, Op.RELEASE, Op.REIDENTIFY,
                Op.DP_SYNTH, Op.BUDGET_ADMIN, Op.GOVERN, Op.AUDIT},
    "analyst": {Op.DP_QUERY, Op.PSEUDONYMIZED_READ},
    "ml_engineer": {Op.DP_TRAIN, Op.DP_SYNTH, Op.MODEL_USE, Op.FEDERATE, Op.DP_QUERY},
    "auditor": {Op.AUDIT},
    "dpo": {Op.CONSENT, Op.DSAR, Op.GOVERN, Op.AUDIT},
    "nobody": set(),
}
NAMESPACES = {"users": Users, "policy": Policies, "purposes": Purposes, "consent": Consents,
              "retention": RetentionRules, "requests": Requests}
SYNTH = ["sex", "glucose_mg_dl", "readmitted_30d"]  # columns with a public domain
READ_ONLY = {"purposes.get", "purposes.list", "retention.get"}  # descriptions, no right needed
_count = itertools.count()


def _unique(prefix: str) -> str:
    return f"{prefix}{next(_count)}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An owner workspace with a classified dataset, a reversible release, DP settings and a
    model, a purpose that covers everything, and one logged-in user per role."""
    from conftest import PASSWORD, Person

    root = tmp_path_factory.mktemp("guard")
    ws = Workspace.create(root / "ws", master_key=MasterKey(os.urandom(32)))
    frame = generate_patients(300, seed=3)
    ws.ingest(frame, "patients", subject_id="patient_id")
    ws.ingest(frame.head(5), "scratch", subject_id="patient_id", classify=False)
    ws.pseudonymize("patients", ["email"], reversible=True)
    ws.dp_settings("patients", bounds={"glucose_mg_dl": (40, 450), "bmi": (10, 60)},
                   public_keys={"sex": ["F", "M"], "readmitted_30d": [0, 1]})
    ws.set_budget("patients", epsilon=1000.0, delta=0.5)
    ws.train("patients", target="readmitted_30d", features=["glucose_mg_dl", "sex"],
             epsilon=5.0, delta=1e-5, model="logreg", epochs=1, batch_size=64, seed=1)
    ws.synthesize("patients", epsilon=1.0, delta=1e-6, method="mst", columns=SYNTH, seed=1)
    ws.purposes.add(Purpose(
        EVERYTHING, "every operation, for the guard's test", LawfulBasis.LEGITIMATE_INTERESTS,
        {"patients": ("*",), "patients.pseudonymized": ("*",), "scratch": ("*",),
         "patients.synthetic": ("*",)},
        frozenset(map(str, Operation)), consent_required=False, retention_days=None,
        special=SpecialCondition.HEALTH_CARE))
    ws.users.add("target", PASSWORD)
    ws.users.add_service("robot")
    sessions = {"owner": ws.for_purpose(EVERYTHING)}
    for role in EXPECTED:
        if role == "owner":
            continue
        made = ws.users.add(f"u-{role}", PASSWORD)
        if role != "nobody":
            ws.policy.assign(f"u-{role}", role)
        who = Person(f"u-{role}", made.secret)
        sessions[role] = ws.login(who.name, PASSWORD, who.code(), purpose=EVERYTHING)
    yield ws, sessions, frame, root
    ws.close()


def _calls(ws: Workspace, frame: pl.DataFrame, root: Path) -> dict[str, tuple]:
    """Every guarded method: (the operations it needs, a call on a session)."""
    def scratch(s: Session):  # the newest version that is not shredded yet
        return s.destroy("scratch", ws.version("scratch").version)

    token = frame["email"][0]
    parts = _model(ws)
    recipient = RecipientKey.generate()
    bundle = ws.share_key("patients", 1, recipient.public)
    return {
        "ingest": ({Op.INGEST}, lambda s: s.ingest(frame.head(5), "extra",
                                                  subject_id="patient_id", classify=False)),
        "read": ({Op.RAW_READ}, lambda s: s.read("patients", columns=["glucose_mg_dl"])),
        "destroy": ({Op.KEY_ADMIN}, scratch),
        "pseudonymize": ({Op.RELEASE}, lambda s: s.pseudonymize(
            "patients", ["email"], output=_unique("p"))),
        "safe_harbor": ({Op.RELEASE}, lambda s: s.safe_harbor("patients",
                                                             output=_unique("sh"))),
        "anonymize": ({Op.RELEASE}, lambda s: s.anonymize(
            "patients", ["sex", "zip_code"], [], keep=[], k=2, suppression_limit=1.0,
            output=_unique("a"))),
        "reidentify": ({Op.REIDENTIFY}, lambda s: s.reidentify("patients.pseudonymized",
                                                              [token])),
        "pseudonymizer": ({Op.RELEASE}, lambda s: s.pseudonymizer()),
        "dp_settings": ({Op.BUDGET_ADMIN}, lambda s: s.dp_settings("patients",
                                                                  max_rows_per_person=1)),
        "set_budget": ({Op.BUDGET_ADMIN}, lambda s: s.set_budget("patients", epsilon=1000.0,
                                                                delta=0.5)),
        "query": ({Op.DP_QUERY}, lambda s: s.query(
            f"SELECT COUNT(*) FROM patients WHERE glucose_mg_dl > {next(_count)}", epsilon=0.1)),
        "estimate_bounds": ({Op.DP_QUERY, Op.BUDGET_ADMIN}, lambda s: s.estimate_bounds(
            "patients", "hba1c_pct", within=(0, 20), epsilon=0.1)),
        "train": ({Op.DP_TRAIN}, lambda s: s.train(
            "patients", target="readmitted_30d", features=["bmi"], epsilon=5.0, delta=1e-5,
            model="logreg", epochs=1, batch_size=64, name=_unique("m"), seed=1)),
        "synthesize": ({Op.DP_SYNTH}, lambda s: s.synthesize(
            "patients", epsilon=1.0, delta=1e-6, method="mst", columns=SYNTH, rows=50,
            output=_unique("syn"))),
        "evaluate_synthetic": ({Op.DP_SYNTH}, lambda s: s.evaluate_synthetic(
            "patients.synthetic", target="readmitted_30d")),
        "join_federation": ({Op.FEDERATE}, lambda s: s.join_federation(
            "patients", run=_unique("run"), epsilon=0.5, delta=1e-6, rho=None,
            details={"federation": "test"})),
        "register_model": ({Op.FEDERATE}, lambda s: s.register_model(
            _unique("fm"), *parts, source=ws.version("patients"))),
        "model": ({Op.MODEL_USE}, lambda s: s.model("patients.readmitted_30d")),
        "rotate_keys": ({Op.KEY_ADMIN}, lambda s: s.rotate_keys(
            master_key=MasterKey(os.urandom(32)))),
        "rotate_pseudonym_key": ({Op.KEY_ADMIN}, lambda s: s.rotate_pseudonym_key()),
        "issue_tls": ({Op.KEY_ADMIN}, lambda s: s.issue_tls(root / _unique("tls"))),
        "key_inventory": ({Op.AUDIT}, lambda s: s.key_inventory()),
        "share_key": ({Op.KEY_ADMIN}, lambda s: s.share_key("patients", 1, recipient.public)),
        "accept_share": ({Op.INGEST}, lambda s: s.accept_share(bundle, recipient,
                                                              name=_unique("shared"))),
        "record": ({Op.HE_MPC}, lambda s: s.record("he.evaluate", "patients@1", samples=1)),
        "verify": ({Op.AUDIT}, lambda s: s.verify()),
        "ledger": ({Op.AUDIT}, lambda s: s.ledger.size),
        "recover": ({Op.KEY_ADMIN}, lambda s: s.recover()),
        "add_witness": ({Op.KEY_ADMIN}, lambda s: s.add_witness(_folder(root))),
        "remove_witness": ({Op.KEY_ADMIN}, lambda s: s.remove_witness(root / "nowhere")),
        "gc": ({Op.KEY_ADMIN}, lambda s: s.gc()),
        "users.add": ({Op.POLICY_ADMIN}, lambda s: s.users.add(_unique("new"),
                                                            "a long enough password")),
        "users.add_service": ({Op.POLICY_ADMIN}, lambda s: s.users.add_service(_unique("svc"))),
        "users.list": ({Op.POLICY_ADMIN}, lambda s: s.users.list()),
        "users.set_password": ({Op.POLICY_ADMIN}, lambda s: s.users.set_password(
            "target", "another long password")),
        "users.reset_mfa": ({Op.POLICY_ADMIN}, lambda s: s.users.reset_mfa("target")),
        "users.lock": ({Op.POLICY_ADMIN}, lambda s: s.users.lock(
            "target", until=_later())),
        "users.unlock": ({Op.POLICY_ADMIN}, lambda s: s.users.unlock("target")),
        "users.disable": ({Op.POLICY_ADMIN}, lambda s: s.users.disable("target")),
        "users.issue_token": ({Op.POLICY_ADMIN}, lambda s: s.users.issue_token(
            "robot", roles=["analyst"], datasets=["patients"], days=1)),
        "users.revoke_token": ({Op.POLICY_ADMIN}, lambda s: s.users.revoke_token("nope")),
        "users.tokens": ({Op.POLICY_ADMIN}, lambda s: s.users.tokens()),
        "policy.allow": ({Op.POLICY_ADMIN}, lambda s: s.policy.allow(
            _unique("r"), "dp_query", dataset="patients")),
        "policy.deny": ({Op.POLICY_ADMIN}, lambda s: s.policy.deny(
            _unique("r"), "dp_query", dataset="patients")),
        "policy.remove": ({Op.POLICY_ADMIN}, lambda s: s.policy.remove(_missing_rule())),
        "policy.assign": ({Op.POLICY_ADMIN}, lambda s: s.policy.assign("target", _unique("r"))),
        "policy.unassign": ({Op.POLICY_ADMIN}, lambda s: s.policy.unassign("target", "nope")),
        "policy.rules": ({Op.POLICY_ADMIN}, lambda s: s.policy.rules()),
        "policy.assignments": ({Op.POLICY_ADMIN}, lambda s: s.policy.assignments()),
        "policy.check": ({Op.POLICY_ADMIN}, lambda s: s.policy.check("target", "dp_query")),
        "purposes.add": ({Op.GOVERN}, lambda s: s.purposes.add(Purpose(
            _unique("p"), "a test purpose", LawfulBasis.CONTRACT, {"patients": ("sex",)},
            frozenset({"dp_query"}), consent_required=False, retention_days=None))),
        "purposes.end": ({Op.GOVERN}, lambda s: s.purposes.end(EVERYTHING, on="2999-01-01")),
        "consent.record": ({Op.CONSENT}, lambda s: s.consent.record(
            [{"subject": "P1", "purpose": EVERYTHING, "state": "given", "at": _later(),
              "source": "test", "notice": "v1"}])),
        "consent.give": ({Op.CONSENT}, lambda s: s.consent.give(
            "P1", EVERYTHING, source="test", notice="v1")),
        "consent.withdraw": ({Op.CONSENT}, lambda s: s.consent.withdraw(
            "P1", EVERYTHING, source="test", notice="v1")),
        "consent.import_file": ({Op.CONSENT}, lambda s: s.consent.import_file(_events(root))),
        "consent.history": ({Op.CONSENT}, lambda s: s.consent.history("P1")),
        "retention.set": ({Op.GOVERN}, lambda s: s.retention.set(
            "patients", Retention(keep_versions_days=36500))),
        "retention.enforce": ({Op.GOVERN}, lambda s: s.retention.enforce(dry_run=True)),
        "requests.access": ({Op.DSAR}, lambda s: s.requests.access("P0000002")),
        "requests.erase": ({Op.DSAR}, lambda s: s.requests.erase(f"nobody-{next(_count)}")),
        "requests.rectify": ({Op.DSAR}, lambda s: s.requests.rectify(
            "P0000003", "patients", {"bmi": 24.0})),
        "requests.status": ({Op.DSAR}, lambda s: s.requests.status("nope")),
        "lineage": ({Op.AUDIT}, lambda s: s.lineage("patients")),
        "retrain": ({Op.DP_TRAIN}, lambda s: s.retrain("patients.readmitted_30d")),
        "attack": ({Op.MODEL_USE, Op.RAW_READ}, lambda s: s.attack(
            "patients.readmitted_30d", kind="attribute", sensitive="sex", bins=2)),
        "attacks": ({Op.AUDIT}, lambda s: s.attacks()),
        "declare_use": ({Op.GOVERN}, lambda s: s.declare_use("patients.readmitted_30d", {
            "domain": "analytics_statistics", "description": "readmission statistics",
            "affected": "patients", "decision_role": "none"})),
        "report": ({Op.AUDIT}, lambda s: s.report("ccpa")),
    }


def _model(ws: Workspace):
    loaded = ws.model("patients.readmitted_30d")
    meta = {k: v for k, v in loaded.meta.items() if not k.startswith("card_")}
    return loaded.module, loaded.encoding, meta


def _missing_rule():
    from veil.access.policy import Rule

    return Rule("nobody-has-this", operation="audit")


def _folder(root: Path) -> Path:
    folder = root / _unique("witness")
    folder.mkdir()
    return folder


def _later():
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(hours=1)


def _events(root: Path) -> Path:
    path = root / f"{_unique('consent')}.csv"
    path.write_text(f"subject,purpose,state,at,source,notice\nP2,{EVERYTHING},given,"
                    "2026-01-01T00:00:00+00:00,form,v1\n")
    return path


def _public(cls: type) -> set[str]:
    return {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")}


def test_every_public_method_is_in_the_table(world) -> None:
    """A method added without a guard decision in the table fails here."""
    ws, _, frame, root = world
    table = set(_calls(ws, frame, root))
    walked = _public(Session) - Session.METADATA - {"METADATA"}
    for prop, cls in NAMESPACES.items():
        walked |= {f"{prop}.{m}" for m in _public(cls)}
    assert walked - READ_ONLY == table


@pytest.mark.parametrize("role", list(EXPECTED))
def test_role_by_operation(world, role) -> None:
    ws, sessions, frame, root = world
    session = sessions[role]
    found: dict[str, bool] = {}
    for name, (operations, call) in _calls(ws, frame, root).items():
        if name == "destroy" and ws.version("scratch").destroyed:
            ws.ingest(frame.head(5), "scratch", subject_id="patient_id", classify=False)
        before = ws.ledger.size
        try:
            call(session)
        except AccessDenied as exc:
            found[name] = False
            last = ws.ledger.tail(1)[0]
            assert (last.action, last.actor) == ("access.denied", session.principal), name
            assert last.parameters["operation"] in operations and str(exc) == (
                last.parameters["reason"])
            assert ws.ledger.size == before + 1, f"{name}: a refusal wrote more than its entry"
        except VeilError:
            found[name] = True  # past the guard; refused for another reason (e.g. nothing to do)
        else:
            found[name] = True
    expected = {name: operations <= EXPECTED[role]
                for name, (operations, _) in _calls(ws, frame, root).items()}
    assert found == expected


def test_a_new_user_has_no_rights_and_roles_are_per_dataset(ws, person) -> None:
    ws.ingest(generate_patients(50, seed=1), "patients", subject_id="patient_id")
    ws.ingest(generate_patients(50, seed=2), "other", subject_id="patient_id")
    ws.purposes.add(Purpose("study", "readmission study", LawfulBasis.PUBLIC_TASK,
                            {"patients": ("*",), "other": ("*",)}, frozenset({"dp_query"}),
                            consent_required=False, retention_days=None,
                            special=SpecialCondition.PUBLIC_HEALTH))
    for name in ("patients", "other"):
        ws.set_budget(name, epsilon=10.0)
    bob, _ = person(ws, "bob", "analyst", dataset="patients", purpose="study")
    bob.query("SELECT COUNT(*) FROM patients", epsilon=0.1)
    with pytest.raises(AccessDenied, match="'bob'"):
        bob.query("SELECT COUNT(*) FROM other", epsilon=0.1)
    with pytest.raises(AccessDenied):
        bob.read("patients", columns=["sex"])
    assert ws.budget("other").queries == 0


def test_purpose_minimization_and_the_administration_purpose(ws, person) -> None:
    ws.ingest(generate_patients(50, seed=1), "patients", subject_id="patient_id")
    ws.set_budget("patients", epsilon=10.0)
    ws.dp_settings("patients", public_keys={"sex": ["F", "M"]})
    ws.purposes.add(Purpose("sexes", "counts by sex", LawfulBasis.PUBLIC_TASK,
                            {"patients": ("sex",)}, frozenset({"dp_query", "raw_read"}),
                            consent_required=False, retention_days=None))
    carol, _ = person(ws, "carol", "steward", "analyst", purpose="sexes")
    carol.query("SELECT sex, COUNT(*) FROM patients GROUP BY sex", epsilon=0.1)
    with pytest.raises(AccessDenied, match="glucose_mg_dl"):  # names what is outside
        carol.query("SELECT AVG(glucose_mg_dl) FROM patients", epsilon=0.1)
    assert carol.read("patients").columns == ["sex"]  # a read gets only the purpose's columns
    with pytest.raises(AccessDenied, match="registered purpose"):
        carol.for_purpose("administration").query("SELECT COUNT(*) FROM patients",
                                                  epsilon=0.1)
    with pytest.raises(AccessDenied, match="not registered"):
        carol.for_purpose("curiosity").read("patients", columns=["sex"])


def test_raw_reads_of_direct_identifiers_need_a_step_up(ws, person, monkeypatch) -> None:
    from veil.access import guard

    ws.ingest(generate_patients(50, seed=1), "patients", subject_id="patient_id")
    ws.purposes.add(Purpose("care", "treatment", LawfulBasis.VITAL_INTERESTS,
                            {"patients": ("*",)}, frozenset({"raw_read"}),
                            consent_required=False, retention_days=None,
                            special=SpecialCondition.HEALTH_CARE))
    dana, who = person(ws, "dana", "steward", purpose="care")
    dana.read("patients", columns=["name", "ssn"])  # the login's TOTP counts as a step-up
    monkeypatch.setattr(guard, "STEP_UP", guard.timedelta(0))  # ... for a while only
    with pytest.raises(AccessDenied, match="step-up"):
        dana.read("patients", columns=["ssn"])
    dana.read("patients", columns=["sex"])  # no direct identifier: no step-up needed
    with pytest.raises(AuthenticationError):
        dana.step_up("000000")
    monkeypatch.setattr(guard, "STEP_UP", guard.timedelta(minutes=10))
    assert dana.step_up(who.code()).read("patients", columns=["ssn"]).height == 50


def test_consent_leaves_withdrawn_subjects_out_of_every_later_operation(ws, person) -> None:
    patients = generate_patients(200, seed=4)
    ws.ingest(patients, "patients", subject_id="patient_id")
    ws.set_budget("patients", epsilon=50.0)
    ws.purposes.add(Purpose("trial", "a consented trial", LawfulBasis.CONSENT,
                            {"patients": ("*",)}, frozenset({"dp_query", "raw_read"}),
                            consent_required=True, retention_days=None,
                            special=SpecialCondition.EXPLICIT_CONSENT))
    ids = patients["patient_id"].to_list()
    ws.consent.record([{"subject": i, "purpose": "trial", "state": "given",
                        "at": "2026-01-01T00:00:00+00:00", "source": "form", "notice": "v1"}
                       for i in ids])
    erin, _ = person(ws, "erin", "steward", purpose="trial")
    assert erin.read("patients", columns=["sex"]).height == 200
    for i in ids[:20]:
        ws.consent.withdraw(i, "trial", source="portal", notice="v1")
    assert erin.read("patients", columns=["sex"]).height == 180
    read = ws.ledger.tail(1, "dataset.read")[0]
    assert read.parameters["consent_left_out"] == 20
    before = ws.budget("patients").spent.epsilon
    ws.policy.assign("erin", "analyst")  # a query too sees only consenting subjects
    erin.query("SELECT COUNT(*) FROM patients", epsilon=1.0)
    assert ws.ledger.tail(1, "dp.query")[0].parameters["consent_left_out"] == 20
    assert ws.budget("patients").spent.epsilon == pytest.approx(before + 1.0)


def test_tokens_act_with_their_roles_and_datasets_only(ws, person) -> None:
    ws.ingest(generate_patients(50, seed=1), "patients", subject_id="patient_id")
    ws.ingest(generate_patients(50, seed=2), "other", subject_id="patient_id")
    for name in ("patients", "other"):
        ws.set_budget(name, epsilon=10.0)
    ws.purposes.add(Purpose("stats", "statistics", LawfulBasis.PUBLIC_TASK,
                            {"patients": ("sex",), "other": ("sex",)},
                            frozenset({"dp_query", "pseudonymized_read"}),
                            consent_required=False, retention_days=None))
    ws.users.add_service("etl")
    ws.policy.assign("etl", "analyst")
    ws.policy.assign("etl", "steward")
    token, info = ws.users.issue_token("etl", roles=["analyst"], datasets=["patients"], days=1)
    robot = ws.session(token, purpose="stats")
    robot.query("SELECT COUNT(*) FROM patients", epsilon=0.1)
    with pytest.raises(AccessDenied, match="limited to datasets"):
        robot.query("SELECT COUNT(*) FROM other", epsilon=0.1)
    with pytest.raises(AccessDenied):  # steward is held, but not by this token
        robot.read("patients", columns=["sex"])
    ws.users.revoke_token(info.token_id)
    with pytest.raises(AuthenticationError):
        ws.session(token)
    with pytest.raises(AuthenticationError):
        ws.session("veil_" + "A" * 43)


def test_a_hand_edited_policy_is_refused(ws, person) -> None:
    ws.ingest(generate_patients(50, seed=1), "patients", subject_id="patient_id")
    ws.purposes.add(Purpose("audit-only", "audits", LawfulBasis.LEGAL_OBLIGATION,
                            {"patients": ("*",)}, frozenset({"audit"}),
                            consent_required=False, retention_days=None,
                            special=SpecialCondition.LEGAL_CLAIMS))
    frank, _ = person(ws, "frank", "auditor", purpose="audit-only")
    frank.verify()
    ws._store.conn.execute("INSERT INTO access_rules VALUES ('g', 'frank', 'owner', '*', '', "
                           "'', '', '')")  # frank makes himself owner behind veil's back
    from veil.errors import BoundStateError

    with pytest.raises(BoundStateError, match="policy"):
        frank.read("patients", columns=["sex"])
    with pytest.raises(BoundStateError):
        ws.verify()


def test_every_cli_command_acts_through_a_guarded_session() -> None:
    """Commands that touch a workspace open it with ``options(ctx).open()`` (the acting
    session: a login, a token or the owner); only login/logout and serve (the service process
    holds the key and opens a session per request) hold the workspace itself."""
    import typer.main

    from veil.cli.app import app

    no_workspace = {"scan", "init", "demo", "keys generate", "keys recipient new",
                    "audit check", "he keys",
                    "he encrypt", "he decrypt", "he paillier keys", "he paillier add",
                    "he paillier decrypt", "zk keygen", "zk nonce", "zk prove-login",
                    "zk verify-login", "zk prove-age", "zk verify-age", "zk verify-member",
                    "mpc joint", "federate check"}
    group = typer.main.get_group(app)
    seen = []

    def walk(command, prefix=""):
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{prefix}{name} ")
        if not getattr(command, "commands", None):
            source = inspect.getsource(command.callback)
            key = prefix.strip()
            seen.append(key)
            acting = re.search(r"(opts|options\(ctx\))\.open\(", source) is not None
            if key in no_workspace:
                assert not acting and "open_workspace" not in source, key
            elif key in ("login", "logout", "serve"):
                assert "open_workspace(" in source, key
            else:
                assert acting and "open_workspace" not in source, key

    walk(group)
    assert {"user add", "policy allow", "consent withdraw", "retention enforce",
            "query", "show"} <= set(seen)
