"""Rows of a sheet as text: ``column: value`` lines under ``Sheet > rows 2-9`` headings.

Shared by the XLSX and CSV readers, which stream rows into a ``TableText``.
A header row (the first row, when it is all text and other rows follow)
names the columns; otherwise they are named by position. Rows are grouped
into sections of about a chunk's worth of text, so a citation names the rows
it came from. The text a spreadsheet may produce is capped
(``MAX_TABLE_CHARS``): reading stops there, so a sheet with millions of rows
is read in bounded memory, and a note in the indexing report says which
rows were left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from ragdesk.ingest.document import BlockJoiner, Extracted

MAX_TABLE_CHARS = 8_000_000  # ~10k chunks, about 7 minutes of embedding on 2 cores
GROUP_CHARS = 700  # rows per section: about one 200-token chunk
GROUP_ROWS = 40


def cell_text(value) -> str:
    """A cell value as a person would read it: ``3``, ``2.5``, ``2024-03-01``, text with spaces collapsed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return " ".join(str(value).split())


class TableText:
    """Accumulates the rows of one or more sheets into an Extracted's text and sections."""

    def __init__(self, kind: str, limit: int = MAX_TABLE_CHARS) -> None:
        self.kind = kind
        self.limit = limit
        self.joiner = BlockJoiner()
        self.notes: list[str] = []
        self.full = False

    def add_sheet(
        self,
        name: str | None,
        rows: Iterable[tuple[int, Sequence]],
        column_name: Callable[[int], str],
        has_header: bool | None = None,
    ) -> None:
        """Read ``(row number, cells)`` pairs of one sheet, stopping at the text limit.

        ``has_header`` None means: the first non-empty row is the header if
        all its cells are distinct text.
        """
        header: list[str] | None = None
        header_row = 0
        first, emitted = True, False
        group: list[str] = []
        group_chars = 0  # the group's text as it will be joined, with its separator before it
        group_rows = (0, 0)
        for number, cells in rows:
            values = [cell_text(v) for v in cells]
            if not any(values):
                continue
            if first:
                first = False
                if _is_header(cells, values) if has_header is None else has_header:
                    header, header_row = values, number
                    continue
            names = [(header[i] if header and i < len(header) and header[i] else column_name(i)) for i in range(len(values))]
            line = "; ".join(f"{n}: {v}" for n, v in zip(names, values) if v)
            if self.joiner.length + group_chars + len(line) + 2 > self.limit:
                where = f"sheet {name!r}" if name else "the file"
                self.notes.append(
                    f"indexed {where} up to row {number - 1}: the rest is past the limit of "
                    f"{self.limit:,} characters of text for one spreadsheet"
                )
                self.full = True
                break
            emitted = True
            group_rows = (group_rows[0] if group else number, number)
            group.append(line)
            group_chars += len(line) + (1 if len(group) > 1 else 2)
            if len(group) >= GROUP_ROWS or group_chars >= GROUP_CHARS:
                self._flush(name, group, group_rows)
                group, group_chars = [], 0
        if group:
            self._flush(name, group, group_rows)
        elif header is not None and not emitted:  # a lone row of text is data, not a header
            line = "; ".join(f"{column_name(i)}: {v}" for i, v in enumerate(header) if v)
            self._flush(name, [line], (header_row, header_row))

    def _flush(self, name: str | None, lines: list[str], rows: tuple[int, int]) -> None:
        label = f"row {rows[0]}" if rows[0] == rows[1] else f"rows {rows[0]}\u2013{rows[1]}"
        self.joiner.add("\n".join(lines), section=(None, f"{name} > {label}" if name else label))

    def result(self, title: str | None = None) -> Extracted:
        doc = self.joiner.result(self.kind, title)
        doc.notes.extend(self.notes)
        return doc


def _is_header(cells: Sequence, values: list[str]) -> bool:
    present = [v for v in values if v]
    return all(c is None or isinstance(c, str) for c in cells) and len(set(present)) == len(present)


def letter_name(index: int) -> str:
    """Spreadsheet column letters: 0 -> ``A``, 26 -> ``AA``."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def position_name(index: int) -> str:
    return f"column {index + 1}"
