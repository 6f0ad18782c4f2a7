"""The section every report ends with: the workspace's keys and the algorithms its operations
use, each judged against a quantum computer (:mod:`veil.keys.inventory`), with the ledger
entries that made or moved keys as evidence. Data recorded now can be decrypted once a key
exchange falls, so an auditor needs this before that day, not after."""

from __future__ import annotations

from veil.govern.report.matrix import Scorer
from veil.govern.report.model import Finding, Section, Table
from veil.keys import inventory

__all__ = ["section"]

_CITED = {"workspace.create": "key ring made with the workspace",
          "keys.rotate": "master key rotated (newest)",
          "tls.issue": "TLS server certificate issued by the federation CA (newest)",
          "key.share": "a data key shared with a recipient (newest)",
          "key.accept": "a share accepted into the workspace (newest)"}


def section(s: Scorer) -> Section:
    facts = s.facts
    tally = inventory.summary(facts.inventory)
    cited = tuple(s.entry(entry, summary) for action, summary in _CITED.items()
                  if (entry := facts.find(action)) is not None)
    ready = not tally.exposed and not tally.exposed_operations
    finding = Finding(
        "keys.quantum", "Quantum exposure of keys and algorithms", "met" if ready else "gap",
        f"{tally.safe} safe, {tally.hybrid} hybrid and {tally.exposed} exposed key(s) held, "
        f"{tally.destroyed} destroyed; {tally.verdict}", cited)
    return Section(
        "keys", "Keys and quantum exposure", "Every key the workspace holds and every "
        "algorithm its operations use, judged against a quantum computer: symmetric keys, "
        "hashes and lattice schemes are safe; classical signatures and key exchange (elliptic "
        "curves, factoring) are exposed to Shor's algorithm; a hybrid is safe while either "
        "part holds. The same inventory veil keys inventory prints: names and dates, never "
        "key bytes.", (finding,),
        tuple(Table(title, columns, tuple(rows)) for title, (columns, rows) in (
            ("Keys held", inventory.table(facts.inventory, operations=False)),
            ("Algorithms used by operations", inventory.table(facts.inventory,
                                                              operations=True)))))
