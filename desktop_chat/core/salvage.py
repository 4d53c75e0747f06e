"""Reading rows straight off the pages of a damaged SQLite file.

When b-tree interior pages or the schema are damaged, SQLite cannot reach rows that
are still intact on their leaf pages. This reads every table-leaf page of the file
(format: https://www.sqlite.org/fileformat2.html), follows overflow chains, decodes
the records and yields them with their rowids. Pages on the freelist are skipped, so
deleted rows do not come back. Anything that does not parse is skipped, never fatal.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TABLE_LEAF = 0x0D


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        byte = data[at + i]
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at + i + 1
    return (value << 8) | data[at + 8], at + 9


def _record(payload: bytes) -> list[Any]:
    header_size, at = _varint(payload, 0)
    types = []
    while at < header_size:
        serial, at = _varint(payload, at)
        types.append(serial)
    values: list[Any] = []
    at = header_size
    for serial in types:
        if serial == 0:
            values.append(None)
        elif serial in (1, 2, 3, 4, 5, 6):
            size = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}[serial]
            values.append(int.from_bytes(payload[at : at + size], "big", signed=True))
            at += size
        elif serial == 7:
            values.append(struct.unpack(">d", payload[at : at + 8])[0])
            at += 8
        elif serial in (8, 9):
            values.append(serial - 8)
        elif serial >= 12:
            size = (serial - 12) // 2
            chunk = payload[at : at + size]
            if len(chunk) != size:
                raise ValueError("record runs past its payload")
            values.append(chunk.decode("utf-8") if serial % 2 else bytes(chunk))
            at += size
        else:
            raise ValueError("reserved serial type")
    return values


class Pages:
    def __init__(self, data: bytes) -> None:
        if len(data) < 100 or not data.startswith(b"SQLite format 3\x00"):
            raise ValueError("not an SQLite file")
        size = int.from_bytes(data[16:18], "big")
        self.size = 65536 if size == 1 else size
        if self.size < 512 or self.size & (self.size - 1):
            raise ValueError("bad page size")
        self.usable = self.size - data[20]
        self.data = data
        self.count = len(data) // self.size

    def page(self, number: int) -> bytes:
        return self.data[(number - 1) * self.size : number * self.size]

    def free_pages(self) -> set[int]:
        free: set[int] = set()
        trunk = int.from_bytes(self.data[32:36], "big")
        while 0 < trunk <= self.count and trunk not in free:
            free.add(trunk)
            page = self.page(trunk)
            leaves = int.from_bytes(page[4:8], "big")
            for i in range(min(leaves, (self.usable - 8) // 4)):
                free.add(int.from_bytes(page[8 + 4 * i : 12 + 4 * i], "big"))
            trunk = int.from_bytes(page[0:4], "big")
        return free

    def payload(self, page: bytes, at: int) -> tuple[int, bytes]:
        size, at = _varint(page, at)
        rowid, at = _varint(page, at)
        local_max = self.usable - 35
        if size <= local_max:
            return rowid, page[at : at + size]
        minimum = (self.usable - 12) * 32 // 255 - 23
        local = minimum + (size - minimum) % (self.usable - 4)
        if local > local_max:
            local = minimum
        parts = [page[at : at + local]]
        remaining = size - local
        overflow = int.from_bytes(page[at + local : at + local + 4], "big")
        seen = set()
        while remaining > 0:
            if not 0 < overflow <= self.count or overflow in seen:
                raise ValueError("broken overflow chain")
            seen.add(overflow)
            chunk = self.page(overflow)
            take = min(remaining, self.usable - 4)
            parts.append(chunk[4 : 4 + take])
            remaining -= take
            overflow = int.from_bytes(chunk[0:4], "big")
        return rowid, b"".join(parts)


def salvage_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    """Every (rowid, values) found on intact table-leaf pages, in file order."""
    try:
        pages = Pages(path.read_bytes())
        free = pages.free_pages()
    except (OSError, ValueError, IndexError):
        return
    for number in range(1, pages.count + 1):
        if number in free:
            continue
        page = pages.page(number)
        start = 100 if number == 1 else 0
        if page[start] != TABLE_LEAF:
            continue
        cells = int.from_bytes(page[start + 3 : start + 5], "big")
        for i in range(cells):
            pointer_at = start + 8 + 2 * i
            try:
                at = int.from_bytes(page[pointer_at : pointer_at + 2], "big")
                if not start + 8 <= at < pages.usable:
                    continue
                rowid, payload = pages.payload(page, at)
                yield rowid, _record(payload)
            except (ValueError, IndexError, UnicodeDecodeError, struct.error):
                continue
