"""Bounded byte reading/writing for the .ncd container: every read is checked against what is left."""

from __future__ import annotations

import struct

from ncodec.errors import FormatError

MAX_VARINT_BYTES = 9  # values < 2**63


class Reader:
    """Reads from an immutable buffer; any read past the end raises FormatError naming the byte offset."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None, what: str = "file") -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.what = what

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int, field: str) -> bytes:
        if n < 0 or n > self.remaining:
            raise FormatError(
                f"truncated at byte {self.end}: {field} needs {n} bytes at offset {self.pos}, "
                f"{self.remaining} left in {self.what}"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def u16(self, field: str) -> int:
        return struct.unpack("<H", self.take(2, field))[0]

    def u32(self, field: str) -> int:
        return struct.unpack("<I", self.take(4, field))[0]

    def u64(self, field: str) -> int:
        return struct.unpack("<Q", self.take(8, field))[0]

    def varint(self, field: str, max_value: int = (1 << 63) - 1) -> int:
        start = self.pos
        value = 0
        for i in range(MAX_VARINT_BYTES):
            b = self.u8(field)
            value |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                if i > 0 and b == 0:
                    raise FormatError(f"{field}: non-canonical varint at byte {start}")
                if value > max_value:
                    raise FormatError(f"{field} = {value} at byte {start} exceeds the limit {max_value}")
                return value
        raise FormatError(f"{field}: varint longer than {MAX_VARINT_BYTES} bytes at byte {start}")

    def string(self, field: str, max_len: int = 255) -> str:
        n = self.varint(f"{field} length", max_len)
        raw = self.take(n, field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"{field} is not valid UTF-8 (byte {self.pos - n})") from exc


class Writer:
    """Accumulates little-endian fields."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def raw(self, b: bytes) -> None:
        self.parts.append(bytes(b))

    def u8(self, v: int) -> None:
        self.parts.append(struct.pack("<B", v))

    def u16(self, v: int) -> None:
        self.parts.append(struct.pack("<H", v))

    def u32(self, v: int) -> None:
        self.parts.append(struct.pack("<I", v))

    def u64(self, v: int) -> None:
        self.parts.append(struct.pack("<Q", v))

    def varint(self, v: int) -> None:
        v = int(v)
        if v < 0 or v >= 1 << 63:
            raise ValueError(f"varint out of range: {v}")
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                out.append(b | 0x80)
            else:
                out.append(b)
                break
        self.parts.append(bytes(out))

    def string(self, s: str, max_len: int = 255) -> None:
        raw = s.encode("utf-8")
        if len(raw) > max_len:
            raise ValueError(f"string of {len(raw)} bytes longer than {max_len}: {s[:40]!r}...")
        self.varint(len(raw))
        self.parts.append(raw)

    def getvalue(self) -> bytes:
        return b"".join(self.parts)
