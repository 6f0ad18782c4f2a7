"""``veil he paillier``: a sum and a mean across parties that only a key holder can decrypt.

Each party encrypts (sum, count) of its own column under the key holder's public key; anyone
adds the parties' files; the key holder decrypts only the total. The key holder must not also
collect the parties' files (it could decrypt each), so the adder is a different party::

    veil he paillier keys DIR                           # key holder: DIR/paillier-*.json
    veil -w WS he paillier encrypt DIR/paillier-public.json --dataset D --column C --out a.json
    veil he paillier encrypt DIR/paillier-public.json --file t.csv --column C --out b.json
    veil he paillier add DIR/paillier-public.json a.json b.json --out total.json
    veil he paillier decrypt DIR total.json
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from veil._atomic import atomic_write
from veil.cli.common import options, out, print_json
from veil.errors import InputError, NotFoundError

app = typer.Typer(help="Additive encrypted aggregation (Paillier): sums and means across "
                       "parties; only the key holder decrypts the total.", no_args_is_help=True)

PUBLIC_FILE = "paillier-public.json"
PRIVATE_FILE = "paillier-private.json"


def _text(path: Path, what: str) -> str:
    if not path.is_file():
        raise NotFoundError(f"no {what} file {path}")
    return path.read_text(encoding="utf-8")


@app.command()
def keys(directory: Annotated[Path, typer.Argument(help="Where to write the keys.")],
         bits: Annotated[int, typer.Option(help="Modulus size (3072 ~ 128-bit security).")
                         ] = 3072) -> None:
    """Key holder: make a keypair; the private key file is 0600 and never leaves."""
    from veil.he import paillier

    private = directory / PRIVATE_FILE
    if private.exists():
        raise InputError(f"{private} exists; refusing to overwrite a key")
    pair = paillier.generate_keypair(bits)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(directory / PUBLIC_FILE, paillier.public_key_to_json(pair.public).encode())
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(paillier.private_key_to_json(pair.private))
    out.print(f"Paillier key {pair.key_id[:16]}… ({bits} bits): give {directory / PUBLIC_FILE} "
              "to the parties")


@app.command()
def encrypt(
    ctx: typer.Context,
    public: Annotated[Path, typer.Argument(help="The key holder's public key (JSON).")],
    column: Annotated[str, typer.Option(help="Numeric column to contribute.")],
    out_file: Annotated[Path, typer.Option("--out", help="Encrypted (sum, count).")],
    dataset: Annotated[str | None, typer.Option(help="Read from this workspace dataset "
                                                     "(audited).")] = None,
    file: Annotated[Path | None, typer.Option(help="Or read a CSV/Parquet file.")] = None,
) -> None:
    """Party: encrypt (sum, count) of COLUMN; only totals leave, and only encrypted."""
    import polars as pl

    from veil.he import paillier

    if (dataset is None) == (file is None):
        raise InputError("give exactly one of --dataset (a workspace dataset) or --file")
    key = paillier.public_key_from_json(_text(public, "Paillier public key"))
    if dataset is not None:
        opts = options(ctx)
        with opts.open() as ws:
            values = ws.read(dataset, columns=[column])[column]
            made = paillier.encrypt_sum_count(key, values)
            ws.record("he.paillier.encrypt", ws.version(dataset).ref, column=column,
                      key_id=made.key_id)
    else:
        from veil.discover.files import read_source

        frame, _ = read_source(file)  # type: ignore[arg-type]
        if column not in frame.columns:
            raise InputError(f"{file} has no column {column!r}")
        made = paillier.encrypt_sum_count(key, frame[column].cast(pl.Float64, strict=False))
    atomic_write(out_file, made.to_json().encode())
    out.print(f"encrypted (sum, count) of {column!r} into {out_file}")


@app.command()
def add(
    public: Annotated[Path, typer.Argument(help="The key holder's public key (JSON).")],
    parts: Annotated[list[Path], typer.Argument(help="The parties' encrypted files.")],
    out_file: Annotated[Path, typer.Option("--out", help="The encrypted total.")],
) -> None:
    """Aggregator: add the parties' ciphertexts (it learns nothing; it cannot decrypt)."""
    from veil.he import paillier

    key = paillier.public_key_from_json(_text(public, "Paillier public key"))
    total = paillier.aggregate([paillier.EncryptedVector.from_json(key, _text(p, "encrypted"))
                                for p in parts])
    atomic_write(out_file, total.to_json().encode())
    out.print(f"added {total.count} contributions into {out_file}")


@app.command()
def decrypt(
    directory: Annotated[Path, typer.Argument(help="The key holder's key directory.")],
    total: Annotated[Path, typer.Argument(help="The encrypted total from `add`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Key holder: decrypt the total: the sum, the row count and the mean across parties."""
    from veil.he import paillier

    private = paillier.private_key_from_json(_text(directory / PRIVATE_FILE,
                                                   "Paillier private key"))
    vector = paillier.EncryptedVector.from_json(private.public_key, _text(total, "encrypted"))
    if len(vector) != 2:
        raise InputError("the total is not a (sum, count) pair from `veil he paillier encrypt`")
    summed, rows = paillier.decrypt_vector(private, vector)
    result = {"parties": vector.count, "rows": round(rows), "sum": float(summed),
              "mean": float(summed / rows) if rows else None}
    if as_json:
        print_json(result)
        return
    out.print(f"sum {summed:.6g} over {round(rows)} rows from {vector.count} parties; mean "
              f"{result['mean']:.6g}")
