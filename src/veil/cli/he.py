"""``veil he``: encrypted inference (CKKS) between a client that holds the data and the
secret key, and a server (the workspace) that holds the model and sees only ciphertexts.

Client::

    veil he keys DIR                                   # DIR/secret.ctx (0600), DIR/public.ctx
    veil he encrypt DIR rows.csv --encoding enc.json --out batch.bin
    veil he decrypt DIR scores.bin [--json]

Server (the workspace holding the model; every evaluation is in the ledger)::

    veil -w WS he encoding MODEL --out enc.json        # how the model reads rows (no data)
    veil -w WS he evaluate MODEL --context public.ctx batch.bin --out scores.bin

Both in one process, with a precision report against the plaintext model::

    veil -w WS he score MODEL rows.csv [--json]

Sums and means across parties under Paillier: ``veil he paillier keys|encrypt|add|decrypt``
(see :mod:`veil.cli.paillier`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from veil.cli import paillier
from veil.cli.common import options, out, print_json
from veil.errors import InputError, NotFoundError

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

# veil.he (TenSEAL, torch) is imported inside the commands, so other commands stay light.

app = typer.Typer(help="Encrypted inference (CKKS): the server scores rows it cannot read.",
                  no_args_is_help=True)

app.add_typer(paillier.app, name="paillier")

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _read_bytes(path: Path, what: str) -> bytes:
    if not path.is_file():
        raise NotFoundError(f"no {what} file {path}")
    return path.read_bytes()


def _rows(path: Path) -> pl.DataFrame:
    from veil.discover.files import read_source

    frame, _ = read_source(path)
    if frame.height == 0:
        raise InputError(f"{path} holds no rows")
    return frame


def _print_probabilities(probs: np.ndarray, classes: list | None, *, as_json: bool,
                         extra: dict | None = None) -> None:
    names = [str(c) for c in classes] if classes and len(classes) == probs.shape[1] else [
        str(i) for i in range(probs.shape[1])]
    if as_json:
        print_json({"rows": int(probs.shape[0]), "classes": names,
                    "probabilities": probs.tolist(), **(extra or {})})
        return
    table = Table("row", *[f"P({n})" for n in names], title="decrypted probabilities")
    for i, row in enumerate(probs):
        table.add_row(str(i), *[f"{p:.6f}" for p in row])
    out.print(table)
    for key, value in (extra or {}).items():
        out.print(f"{key}: {value}")


@app.command()
def keys(
    directory: Annotated[Path, typer.Argument(help="Folder for secret.ctx and public.ctx.")],
    depth: Annotated[int, typer.Option(help="Multiplicative depth (1: logistic regression, "
                                            "3: MLP with a quadratic activation).")] = 1,
    force: Annotated[bool, typer.Option(help="Replace existing keys.")] = False,
) -> None:
    """Client: make CKKS keys. Keep secret.ctx (0600); send public.ctx to the server."""
    from veil.he import service

    client = service.write_keys(directory, depth=depth, force=force)
    p = client.params
    out.print(f"wrote {directory / service.SECRET_FILE} (secret, 0600) and "
              f"{directory / service.PUBLIC_FILE} (send to the server); N={p.poly_modulus_degree}, "
              f"depth {p.depth}, context {client.fingerprint[:16]}…")


@app.command()
def encoding(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    out_path: Annotated[Path, typer.Option("--out", help="Write the encoding JSON here.")],
    version: Annotated[int | None, typer.Option(help="Version (default: the newest).")] = None,
) -> None:
    """Server: export how MODEL reads rows (bounds, categories, order), for `he encrypt`."""
    from veil.he import service

    with options(ctx).open() as ws:
        document = service.encoding_document(ws, model, version)
    out_path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    out.print(f"wrote the encoding of {model}@{document['version']} "
              f"({document['features']} features) to {out_path}")


@app.command()
def encrypt(
    directory: Annotated[Path, typer.Argument(help="Folder holding the client's keys.")],
    rows: Annotated[Path, typer.Argument(help="Rows to score (CSV, Parquet, JSON lines).")],
    out_path: Annotated[Path, typer.Option("--out", help="Write the encrypted batch here.")],
    encoding_path: Annotated[Path | None, typer.Option(
        "--encoding", help="The model's encoding (from `veil he encoding`): encode rows "
        "exactly as the model does.")] = None,
    features: Annotated[str | None, typer.Option(
        help="Numeric feature columns in order, comma-separated (default: all), when no "
        "--encoding is given.")] = None,
) -> None:
    """Client: encrypt the feature matrix of ROWS under the keys in DIRECTORY."""
    from veil.he import service

    if encoding_path is not None and features is not None:
        raise InputError("pass --encoding or --features, not both")
    enc = service.load_encoding(encoding_path) if encoding_path is not None else None
    columns = [c.strip() for c in features.split(",") if c.strip()] if features else None
    client = service.load_keys(directory)
    matrix = service.features(_rows(rows), encoding=enc, columns=columns)
    out_path.write_bytes(client.encrypt(matrix))
    out.print(f"encrypted {matrix.shape[0]} rows x {matrix.shape[1]} features to {out_path} "
              f"(context {client.fingerprint[:16]}…)")


@app.command()
def evaluate(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    batch: Annotated[Path, typer.Argument(help="Encrypted batch from `veil he encrypt`.")],
    context: Annotated[Path, typer.Option(help="The client's public.ctx.")],
    out_path: Annotated[Path, typer.Option("--out", help="Write the encrypted scores here.")],
    version: Annotated[int | None, typer.Option(help="Version (default: the newest).")] = None,
) -> None:
    """Server: MODEL's encrypted logits on an encrypted batch (logged as he.evaluate)."""
    from veil.he import service

    opts = options(ctx)
    public = _read_bytes(context, "public context")
    data = _read_bytes(batch, "encrypted batch")
    with opts.open() as ws:
        scores = service.evaluate_registered(ws, model, public, data, version=version)
    out_path.write_bytes(scores)
    out.print(f"wrote encrypted scores of {model} to {out_path}; only the client can read them")


@app.command()
def decrypt(
    directory: Annotated[Path, typer.Argument(help="Folder holding the client's keys.")],
    scores: Annotated[Path, typer.Argument(help="Encrypted scores from `veil he evaluate`.")],
    encoding_path: Annotated[Path | None, typer.Option(
        "--encoding", help="The model's encoding, to name the classes.")] = None,
    as_json: _JSON = False,
) -> None:
    """Client: decrypt the scores and print each row's class probabilities."""
    from veil.he import service

    client = service.load_keys(directory)
    probs = client.probabilities(_read_bytes(scores, "encrypted scores"))
    classes = service.load_encoding(encoding_path).classes if encoding_path else None
    _print_probabilities(probs, classes, as_json=as_json)


@app.command()
def score(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    rows: Annotated[Path, typer.Argument(help="Rows to score (CSV, Parquet, JSON lines).")],
    version: Annotated[int | None, typer.Option(help="Version (default: the newest).")] = None,
    as_json: _JSON = False,
) -> None:
    """Demo: keys, encrypt, evaluate (logged), decrypt in one process; reports precision.

    Prints each row's probabilities and their largest difference from the plaintext model's.
    """
    import numpy as np

    from veil.he import Client, plain_model, service

    opts = options(ctx)
    frame = _rows(rows)
    with opts.open() as ws:
        loaded = ws.model(model, version)
        client = Client(depth=plain_model(loaded).depth)
        batch = client.encrypt(service.features(frame, encoding=loaded.encoding))
        scores = service.evaluate_model(ws, loaded, client.public_context(), batch)
    probs = client.probabilities(scores)
    diff = float(np.abs(probs - loaded.predict_proba(frame)).max())
    _print_probabilities(probs, loaded.encoding.classes, as_json=as_json, extra={
        "model": f"{loaded.name}@{loaded.version}", "max_abs_diff_vs_plaintext": diff})
