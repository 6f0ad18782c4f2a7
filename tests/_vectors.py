"""Third-party test vectors, read at test time from the ``cryptography-vectors`` package (a test
dependency) rather than copied into the repository."""

from __future__ import annotations

from cryptography_vectors import open_vector_file


def kat_records(path: str, fields: tuple[str, ...], limit: int | None = None
                ) -> list[dict[str, bytes]]:
    """The first ``limit`` records (all if None) of a ``name = hex`` vector file under
    cryptography_vectors (NIST ``.rsp`` KATs, RFC 7748's ``rfc7748.txt``), keeping ``fields``.

    A ``count`` line starts a new record, so one missing field never merges two records.
    """
    found: list[dict[str, bytes]] = []
    with open_vector_file(path, "r") as f:
        record: dict[str, bytes] = {}
        for line in f:
            name, sep, value = line.partition("=")
            name = name.strip()
            if not sep or name.startswith("#"):
                continue
            if name.lower() == "count":
                record = {}
            elif name in fields:
                record[name] = bytes.fromhex(value.strip())
            if len(record) == len(fields):
                found.append(record)
                record = {}
                if len(found) == limit:
                    break
    return found
