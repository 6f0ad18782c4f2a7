"""Byte and JSON framing shared by every proof type: strict, with errors that say where.

Bytes: ``tag (1 byte) || version (1 byte) || body``; the tag names the proof type, so a range
proof handed to the Schnorr verifier is refused by name, not by a confusing length error.
JSON: ``{"type": <name>, "version": 1, "proof": <hex of the bytes form>}``, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from veil.errors import InputError
from veil.zk.group import POINT_SIZE, SCALAR_SIZE, Point, decode_point, decode_scalar

FORMAT_VERSION = 1

TAGS: dict[int, str] = {
    0x01: "veil.zk.schnorr",
    0x02: "veil.zk.range",
    0x03: "veil.zk.membership",
}


class Reader:
    """Consume a proof's bytes front to back; every shortfall names the field and offset."""

    __slots__ = ("_data", "_pos", "_type")

    def __init__(self, data: bytes, tag: int) -> None:
        if not isinstance(data, bytes | bytearray):
            raise InputError(f"a proof must be bytes, got {type(data).__name__}")
        name = TAGS[tag]
        self._data, self._pos, self._type = bytes(data), 0, name
        if len(data) < 2:
            raise InputError(f"{name} proof is truncated: {len(data)} bytes, no header")
        if data[0] != tag:
            other = TAGS.get(data[0])
            got = f"a {other} proof" if other else f"unknown tag 0x{data[0]:02x}"
            raise InputError(f"expected a {name} proof, got {got}")
        if data[1] != FORMAT_VERSION:
            raise InputError(
                f"{name} proof has format version {data[1]}; this veil reads {FORMAT_VERSION}")
        self._pos = 2

    def take(self, size: int, what: str) -> bytes:
        end = self._pos + size
        if end > len(self._data):
            raise InputError(
                f"{self._type} proof is truncated: {what} needs {size} bytes at offset "
                f"{self._pos}, {len(self._data) - self._pos} left")
        chunk = self._data[self._pos:end]
        self._pos = end
        return chunk

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")

    def point(self, what: str) -> Point:
        return decode_point(self.take(POINT_SIZE, what), what)

    def scalar(self, what: str) -> int:
        return decode_scalar(self.take(SCALAR_SIZE, what), what)

    def done(self) -> None:
        extra = len(self._data) - self._pos
        if extra:
            raise InputError(f"{self._type} proof has {extra} trailing bytes after its end")


def header(tag: int) -> bytes:
    return bytes((tag, FORMAT_VERSION))


def to_json(tag: int, data: bytes) -> str:
    return json.dumps({"type": TAGS[tag], "version": FORMAT_VERSION, "proof": data.hex()})


def json_object(document: str | bytes | Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """``document`` parsed (if text) and checked to be a JSON object."""
    if isinstance(document, str | bytes | bytearray):
        try:
            document = json.loads(document)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(document, Mapping):
        raise InputError(f"{what} must be a JSON object, got {type(document).__name__}")
    return document


def from_json(tag: int, document: str | bytes | Mapping[str, Any]) -> bytes:
    """The bytes form inside a JSON proof, after checking its type, version and keys."""
    name = TAGS[tag]
    document = json_object(document, f"{name} proof")
    if set(document) != {"type", "version", "proof"}:
        raise InputError(
            f"{name} proof JSON must have exactly the keys type, version, proof; "
            f"got {sorted(map(str, document))}")
    if document["type"] != name:
        raise InputError(f"expected a {name} proof, got type {document['type']!r}")
    if document["version"] != FORMAT_VERSION or isinstance(document["version"], bool):
        raise InputError(
            f"{name} proof has version {document['version']!r}; this veil reads {FORMAT_VERSION}")
    return hex_bytes(document["proof"], f"{name} proof field 'proof'")


def hex_bytes(value: object, what: str) -> bytes:
    """Bytes from a hex string, or a clear error naming ``what``."""
    if not isinstance(value, str):
        raise InputError(f"{what} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InputError(f"{what} is not valid hex") from None
