"""Pin the public names, so an API change is a decision, not an accident."""

import veil
import veil.access
import veil.anonymize
import veil.attacks
import veil.discover
import veil.federated
import veil.govern
import veil.he
import veil.keys
import veil.ledger
import veil.mpc
import veil.workspace
import veil.zk


def test_exported_names():
    assert sorted(veil.__all__) == ["DatasetVersion", "VeilError", "Workspace", "__version__"]
    assert sorted(veil.workspace.__all__) == [
        "DatasetVersion", "Workspace", "fingerprint"]
    assert "verify_inclusion" in veil.ledger.__all__
    assert "verify_consistency" in veil.ledger.__all__
    assert "KeyRing" in veil.keys.__all__
    assert {"scan_table", "scan_file", "analyze", "redact_text", "safe_harbor_report"} <= set(
        veil.discover.__all__)
    assert {"anonymize", "Hierarchy", "KAnonymity", "safe_harbor", "tokenize"} <= set(
        veil.anonymize.__all__)
    assert {"Federation", "Site", "Privacy", "SecureAggregation", "federate", "load"} <= set(
        veil.federated.__all__)
    assert {"Client", "Server", "Params", "plain_model"} <= set(veil.he.__all__)
    assert {"joint", "choose_precision", "Result"} <= set(veil.mpc.__all__)
    assert {"LoginVerifier", "MembershipTree", "prove_at_least", "verify_at_least"} <= set(
        veil.zk.__all__)
    assert {"Session", "Policy", "Operation", "AccessDenied"} <= set(veil.access.__all__)
    assert sorted(veil.govern.__all__) == [
        "AccessReport", "Artifact", "ConsentEvent", "ConsentFilter", "ConsentReport",
        "DatasetRetention", "Flag", "LawfulBasis", "Lineage", "Purpose", "Receipt",
        "Rectification", "RequestStatus", "Retention", "RetentionReport", "Source",
        "SpecialCondition", "consent", "dsar", "lineage", "purposes", "retention"]
    assert sorted(veil.attacks.__all__) == ["attribute", "audit", "linkage", "membership",
                                            "metrics", "reconstruction", "references"]
    for module in (veil, veil.access, veil.anonymize, veil.attacks, veil.discover,
                   veil.federated,
                   veil.govern, veil.he, veil.keys, veil.ledger, veil.mpc, veil.workspace,
                   veil.zk):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_every_error_has_a_distinct_code():
    from veil import errors

    kinds = [v for v in vars(errors).values()
             if isinstance(v, type) and issubclass(v, errors.VeilError)]
    codes = [k.code for k in kinds]
    assert len(codes) == len(set(codes))
