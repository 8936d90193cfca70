"""CSV and TSV: rows streamed with the csv module as ``column: value`` lines.

The encoding is found the way text files' is (BOM, UTF-8, else
charset-normalizer), the dialect by ``csv.Sniffer`` on the first lines, and
the rows are decoded and parsed as a stream, never as one big string.
"""

from __future__ import annotations

import csv
import io

from ragdesk.ingest.decode import looks_binary, text_encoding
from ragdesk.ingest.document import Extracted
from ragdesk.ingest.errors import SkipFile
from ragdesk.ingest.formats.table import TableText, position_name

_SAMPLE_CHARS = 64 * 1024


def extract_delimited(data: bytes, delimiter: str | None = None) -> Extracted:
    """Rows of a CSV (``delimiter`` None: sniffed) or TSV (``"\\t"``) file."""
    if looks_binary(data):
        raise SkipFile("binary content, not text")
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=text_encoding(data), errors="replace", newline="")
    sample = stream.read(_SAMPLE_CHARS)
    stream.seek(0)
    # The sample may end inside a row; the sniffer only needs whole lines.
    sample = sample[: sample.rfind("\n") + 1] or sample
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    has_header = True
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=delimiter or ",;\t|")
        dialect = sniffed
        has_header = csv.Sniffer().has_header(sample)
    except csv.Error:
        if delimiter:
            dialect = csv.excel_tab if delimiter == "\t" else csv.excel
    table = TableText("tsv" if delimiter == "\t" else "csv")
    try:
        rows = enumerate(csv.reader(stream, dialect), start=1)
        table.add_sheet(None, rows, position_name, has_header=has_header)
    except csv.Error as exc:
        raise SkipFile(f"corrupt or unreadable CSV: {' '.join(str(exc).split())[:150]}") from None
    return table.result()
