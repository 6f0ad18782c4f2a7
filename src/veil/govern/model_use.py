"""A model's declared intended use (EU AI Act): what it is for, whom it concerns, and whether
a person decides with it. Stored per model name in ``model_uses``, one row bound to the
``govern.model.use`` ledger entry that set it, so the AI Act report reads a declaration nobody
edited by hand. Declaring is a ``govern`` right."""

from __future__ import annotations

import json

from veil.access.scope import Scope
from veil.errors import NotFoundError
from veil.govern.ai_act import IntendedUse
from veil.workspace import binding
from veil.workspace.store import Store, extra_schema

__all__ = ["declare", "declared"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS model_uses (
    model       TEXT PRIMARY KEY,
    declaration TEXT NOT NULL,
    updated     TEXT NOT NULL
);
"""
TABLE = "model_uses"
extra_schema(SCHEMA)
binding.guard_table(TABLE, "row")


def declare(store: Store, scope: Scope, model: str, use: IntendedUse) -> IntendedUse:
    """Set (or replace) the intended use of every version of registered model ``model``."""
    if not isinstance(use, IntendedUse):
        use = IntendedUse.from_dict(use)
    if store.conn.execute("SELECT 1 FROM models WHERE name = ?", (model,)).fetchone() is None:
        raise NotFoundError(f"no registered model {model!r} to declare an intended use for")
    with store.transaction() as now:
        store.conn.execute(f"INSERT OR REPLACE INTO {TABLE}(model, declaration, updated) "  # noqa: S608
                           "VALUES (?, ?, ?)", (model, json.dumps(use.to_dict()), now))
        store.log(now, scope, "govern.model.use", model, use=use.to_dict(),
                  bind=binding.bind_table_row(store.conn, TABLE, model))
    return use


def declared(store: Store) -> dict[str, IntendedUse]:
    """Every model's declared use, each row checked against its ledger entry first."""
    found = {}
    for model, text in store.conn.execute(f"SELECT model, declaration FROM {TABLE}").fetchall():  # noqa: S608
        binding.check_table_row(store.conn, store.ledger, TABLE, model)
        found[model] = IntendedUse.from_dict(json.loads(text))
    return found
