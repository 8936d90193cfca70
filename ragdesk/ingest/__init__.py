"""Ingestion: find files, read them safely, extract their text, chunk it.

The pipeline the indexer drives, one file at a time::

    for item in walk(roots, rules):          # FileEntry or Skipped
        loaded = load(item, rules)           # raises SkipFile
        doc = extract(loaded)                # raises SkipFile
        chunks = chunker.chunk(doc)

Nothing here imports torch, Qt or llama_cpp; parser libraries (pypdf,
python-docx, python-pptx, openpyxl, odfdo, BeautifulSoup, markdown-it) and
the OCR engine (RapidOCR on onnxruntime, pages rendered by PDFium) load only
when a file needs them. Long reads (OCR) report per page and can be
cancelled through a ``Reading``.
"""

from ragdesk.ingest.chunker import Chunk, Chunker, load_tokenizer
from ragdesk.ingest.decode import decode_text
from ragdesk.ingest.document import Extracted, Section
from ragdesk.ingest.errors import SkipFile
from ragdesk.ingest.extract import check_sections, extract, kind_for
from ragdesk.ingest.loader import LoadedFile, load
from ragdesk.ingest.rules import IngestRules, human_size
from ragdesk.ingest.walker import FileEntry, Skipped, walk

__all__ = [
    "Chunk",
    "Chunker",
    "Extracted",
    "FileEntry",
    "IngestRules",
    "LoadedFile",
    "Section",
    "SkipFile",
    "Skipped",
    "check_sections",
    "decode_text",
    "extract",
    "human_size",
    "kind_for",
    "load",
    "load_tokenizer",
    "walk",
]
