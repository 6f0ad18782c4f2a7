"""Releases made inside a workspace: pseudonymized, HIPAA Safe Harbor and k-anonymous /
l-diverse / t-close copies of a dataset version, stored as new sealed datasets with their
provenance, and re-identification through a reversible release's sealed token map.

Each function takes the guard's :class:`~veil.access.scope.Scope`: the source is read through
it (only the people the purpose may use), and every step is a ledger entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from veil import __version__
from veil.access.scope import Scope
from veil.anonymize.plan import ReleasePlan, plan_release
from veil.anonymize.release import Release, anonymize, check_request
from veil.anonymize.safe_harbor import safe_harbor
from veil.anonymize.tokens import assign_codes, lookup, token_domains, tokenize
from veil.discover.redact import Pseudonymizer
from veil.errors import InputError, InvalidNameError
from veil.govern import lineage
from veil.keys.ring import pseudonym_key_id
from veil.workspace import binding, datasets
from veil.workspace.catalog import DatasetVersion
from veil.workspace.store import Store, check_name, summary

__all__ = ["anonymize_release", "check_names", "plan", "pseudonymize", "reidentify",
           "reidentify_source", "safe_harbor_release", "store_release"]


def check_names(store: Store, source: DatasetVersion, target: str, *, with_map: bool) -> None:
    """A release goes to a new name, and its token map only where a token map lives."""
    names = [target, f"{target}.tokens"] if with_map else [target]
    for name in names:
        check_name(name, "release")
    if target == source.dataset:
        msg = f"a release of {source.dataset!r} needs another name; pass output="
        raise InvalidNameError(msg)
    known = set(store.dataset_names())
    for name, want_map in zip(names, (False, True), strict=False):
        if name not in known:
            continue
        is_map = store.version(name).provenance.get("source") == "token-map"
        if is_map != want_map:
            msg = (f"dataset {name!r} already exists and is "
                   f"{'a token map' if is_map else 'not a token map'}; choose another output")
            raise InvalidNameError(msg)


def pseudonymize(store: Store, scope: Scope, record: DatasetVersion, columns: Sequence[str], *,
                 target: str, reversible: bool, domains: Mapping[str, str] | None,
                 epoch: int | None) -> DatasetVersion:
    """Store a copy of ``record`` with ``columns`` replaced by keyed tokens as ``target``
    (see :mod:`veil.anonymize.tokens`). Tokens use the pseudonym key of ``epoch`` (default:
    the current one; an older epoch links new data to an old release). With ``reversible`` the
    token -> value map is sealed as ``{target}.tokens`` in the same transaction; crypto-shredding
    that map version makes the release irreversible."""
    check_names(store, record, target, with_map=reversible)
    token_domains(columns, list(record.schema), domains)  # refuse before reading anything
    epoch = store.ring.pseudonym_epoch() if epoch is None else epoch
    pseudonymizer = Pseudonymizer(store.ring.pseudonym_key(epoch))
    frame = datasets.read(store, scope, record, list(record.schema))
    done = tokenize(frame, columns, pseudonymizer, domains=domains)
    provenance = {"source": "pseudonymize", "from": record.ref, "columns": list(done.domains),
                  "domains": done.domains, "pseudonym_key": pseudonym_key_id(epoch),
                  "epoch": epoch, "reversible": bool(reversible)}
    return store_release(store, scope, done.frame, target, record.subject_id, provenance,
                  "dataset.pseudonymize", done.token_map if reversible else None)


def safe_harbor_release(store: Store, scope: Scope, record: DatasetVersion, *, target: str,
                        reference_year: int | None) -> DatasetVersion:
    """Store the HIPAA Safe Harbor release of ``record`` as ``target``. The subject-id column
    becomes random codes, the re-identification code 45 CFR 164.514(c) allows (not derived
    from the person); the code -> subject map is sealed as ``{target}.tokens`` in the same
    transaction, so re-identification and erasure can still reach a subject."""
    check_names(store, record, target, with_map=True)
    frame = datasets.read(store, scope, record, list(record.schema))
    codes = assign_codes(frame, record.subject_id)
    release = safe_harbor(frame.drop(record.subject_id), reference_year=reference_year)
    result = release.frame.insert_column(0, codes.frame[record.subject_id])
    provenance = {"source": "safe_harbor", "from": record.ref,
                  "subject_codes": record.subject_id} | release.to_dict()
    return store_release(store, scope, result, target, record.subject_id, provenance,
                  "dataset.safe_harbor", codes.token_map)


def plan(record: DatasetVersion, quasi_identifiers: Sequence[str] | None,
         sensitive: Sequence[str] | None, keep: Sequence[str] | None,
         settings: Mapping[str, Any]) -> ReleasePlan:
    """The columns a k-anonymous release of ``record`` reads, with the settings checked, so a
    refused request is refused before anything is read (or guarded and logged)."""
    chosen = plan_release(list(record.schema), record.classification, record.subject_id,
                          quasi_identifiers=quasi_identifiers, sensitive=sensitive, keep=keep)
    check_request(chosen.columns, record.rows, chosen.sensitive, settings)
    return chosen


def anonymize_release(store: Store, scope: Scope, record: DatasetVersion, chosen: ReleasePlan,
                      *, target: str, settings: Mapping[str, Any]
                      ) -> tuple[Release, DatasetVersion]:
    """Store a release meeting k-anonymity, l-diversity and/or t-closeness as ``target``: the
    :func:`plan`'s columns (no subject ids, no direct identifiers unless kept); its models,
    levels, utility and risk before and after go into its provenance and the ledger entry."""
    check_names(store, record, target, with_map=False)
    frame = datasets.read(store, scope, record, chosen.columns)
    release = anonymize(frame, chosen.quasi_identifiers, chosen.sensitive,
                        entities=chosen.entities, **settings)
    provenance = {"source": "anonymize", "from": record.ref, "dropped": list(chosen.dropped),
                  "kept": list(chosen.kept)} | release.to_dict()
    stored = store_release(store, scope, release.frame, target, "", provenance, "dataset.anonymize",
                    None)
    return release, stored


def reidentify_source(store: Store, record: DatasetVersion) -> DatasetVersion:
    """The sealed token map behind a reversible release (refused for any other dataset)."""
    link = record.provenance.get("tokens")
    if link is None:
        why = ("was made without reversible=True, so no token map was kept"
               if record.provenance.get("source") == "pseudonymize"
               else "is not a reversible pseudonymized release")
        msg = f"{record.ref} {why}; its tokens cannot be re-identified"
        raise InputError(msg)
    return store.version(link["dataset"], link["version"])


def reidentify(store: Store, scope: Scope, record: DatasetVersion, tokens: Sequence[str]
               ) -> dict[str, str]:
    """The original values behind ``tokens`` of a reversible release; logs how many tokens,
    never the values."""
    mapping = reidentify_source(store, record)
    found = lookup(store.open_version(mapping), tokens)
    with store.transaction() as now:
        store.log(now, scope, "pseudonym.reidentify", record.ref, tokens=len(found),
                  token_map=mapping.ref)
    return found


def store_release(store: Store, scope: Scope, frame: pl.DataFrame, target: str, subject_id: str,
                  provenance: dict[str, Any], action: str, token_map: pl.DataFrame | None, *,
                  guarantee: dict[str, float] | None = None) -> DatasetVersion:
    """Seal a derived frame (and its token map), then register both with their ledger entries
    in one transaction; on failure the sealed files are discarded. ``guarantee`` is a DP
    release's (epsilon, delta, rho), carried into its lineage."""
    parts = [(frame, True)] + ([] if token_map is None else [(token_map, False)])
    source = lineage.Source.parse(provenance["from"])
    with store.sealing(*parts) as sealed, store.transaction() as now:
        base = {"veil": __version__, "actor": scope.principal, "purpose": scope.purpose}
        made: list[lineage.Artifact] = []
        if token_map is not None:
            map_name = f"{target}.tokens"
            map_version = store.add_version(
                map_name, sealed[1], token_map, "token",
                base | {"source": "token-map", "for": target, "from": provenance["from"]}, now)
            provenance = provenance | {"tokens": {"dataset": map_name, "version": map_version}}
            store.log(now, scope, "pseudonym.map", f"{map_name}@{map_version}",
                      rows=token_map.height, fingerprint=sealed[1][3], key_id=sealed[1][1],
                      release=target, bind=binding.bind_version(store.conn, map_name, map_version))
            made.append(lineage.Artifact("token_map", map_name, str(map_version), None,
                                         (source,)))
        version = store.add_version(target, sealed[0], frame, subject_id, provenance | base, now)
        store.log(now, scope, action, f"{target}@{version}", rows=frame.height,
                  columns=frame.width, subject_id=subject_id, fingerprint=sealed[0][3],
                  key_id=sealed[0][1], source=provenance, classification=summary(sealed[0][4]),
                  bind=binding.bind_version(store.conn, target, version))
        lineage.record(store, scope, now,
                       lineage.Artifact("release", target, str(version), guarantee, (source,)),
                       *made)
    return store.version(target, version)
