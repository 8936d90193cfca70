"""XLSX (and XLSM): every worksheet's rows, streamed by openpyxl in read-only mode.

Cells are read as their cached values (what Excel last computed), never as
formulas. Each sheet's rows become ``column: value`` lines under headings
like ``Budget > rows 2-31`` (see ``table``).
"""

from __future__ import annotations

import io

from ragdesk.ingest.document import Extracted
from ragdesk.ingest.errors import SkipFile
from ragdesk.ingest.formats.table import TableText, letter_name
from ragdesk.ingest.zipsafe import open_zip


def extract_xlsx(data: bytes) -> Extracted:
    """The text of all worksheets, one section per group of rows."""
    open_zip(data, "XLSX").close()  # refuses encrypted files and zip bombs before openpyxl unpacks
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:
        detail = " ".join(str(exc).split())[:150] or type(exc).__name__
        raise SkipFile(f"corrupt or unreadable XLSX: {detail}") from None
    try:
        table = TableText("xlsx")
        sheets = book.worksheets  # chart sheets have no cells and are not listed here
        for sheet in sheets:
            if table.full:
                table.notes.append(f"sheet {sheet.title!r} not indexed: the text limit was reached before it")
                continue
            sheet.reset_dimensions()  # the stored size is often wrong; read to the last row
            rows = enumerate(sheet.iter_rows(values_only=True), start=1)
            table.add_sheet(sheet.title, rows, letter_name)
        title = (book.properties.title or "").strip() or None
    finally:
        book.close()  # read-only workbooks keep the archive open
    return table.result(title)
