"""Citations: every finding names the facts it rests on, and each fact gets one evidence id.

The same fact cited by two findings keeps one id (``E7``), so the appendix lists each fact
once. A ledger citation carries the entry's sequence number; the report attaches an inclusion
proof of that entry against the signed head it was computed at.
"""

from __future__ import annotations

from veil.govern.report.model import Evidence

__all__ = ["Citations"]


class Citations:
    """Evidence met while a report is computed, numbered in the order first cited."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], Evidence] = {}

    def _add(self, kind: str, ref: str, summary: str, seq: int | None) -> str:
        key = (kind, ref)
        found = self._by_key.get(key)
        if found is None:
            found = Evidence(f"E{len(self._by_key) + 1}", kind, ref, summary, seq)  # type: ignore[arg-type]
            self._by_key[key] = found
        return found.id

    def ledger(self, seq: int, action: str, resource: str, summary: str) -> str:
        """A ledger entry: what was done, recorded and signed."""
        return self._add("ledger", f"ledger #{seq} {action} {resource}", summary, seq)

    def catalog(self, ref: str, summary: str, seq: int | None = None) -> str:
        """A catalog record (``seq``: the ledger entry that binds or records it, if any)."""
        return self._add("catalog", ref, summary, seq)

    def attack(self, result_id: int, ref: str, summary: str, seq: int | None) -> str:
        """A stored attack result (``seq``: the ``attack.*`` entry that binds it)."""
        return self._add("attack", f"attack result #{result_id} {ref}", summary, seq)

    def bench(self, ref: str, summary: str) -> str:
        return self._add("bench", ref, summary, None)

    def policy(self, section: str, key: str, value: object) -> str:
        """A threshold of the report policy a finding was judged against."""
        return self._add("policy", f"policy [{section}] {key}", f"{key} = {value}", None)

    def all(self) -> tuple[Evidence, ...]:
        return tuple(self._by_key.values())

    def seqs(self) -> list[int]:
        """The ledger entries cited, directly or as the binding of a record."""
        return sorted({e.seq for e in self._by_key.values() if e.seq is not None})
