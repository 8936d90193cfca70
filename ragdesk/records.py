"""Plain records passed between the store, the chat engine, the CLI and the GUI."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Copy:
    """Another place holding the same text as a hit (a print page, a mirror, a copied folder)."""

    chunk_id: int
    document_id: int
    path: str
    page: int | None = None

    def where(self) -> str:
        return self.path + (f" p.{self.page}" if self.page else "")


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved chunk with where it came from.

    ``start``/``end`` are character offsets into the document's extracted text
    (for plain-text formats that is the file's own decoded text). ``score`` is
    the ranking score of the search mode (cosine similarity for vector search,
    negated BM25 for keyword search, reciprocal-rank fusion for hybrid, the
    cross-encoder's score for candidates a reranker reordered);
    ``similarity`` is the cosine similarity to the query whenever it is known,
    which is what relevance thresholds compare against. ``ocr_confidence``
    (0..1) is set when the chunk's text was read by OCR from a scan or image.
    ``title`` is the document's own title (HTML <title>, PDF metadata, first
    heading), None when it has none or was indexed before titles were read;
    ``heading`` is the chunk's heading path (``"Guide > Install"``).
    ``copies`` lists the other chunks of the collection with the same text
    (compared with case and spacing ignored); they take no result slot of their own.
    """

    chunk_id: int
    document_id: int
    path: str
    page: int | None
    heading: str | None
    start: int
    end: int
    text: str
    score: float
    similarity: float | None = None
    ocr_confidence: float | None = None
    title: str | None = None
    copies: tuple[Copy, ...] = ()

    @property
    def read_by_ocr(self) -> bool:
        return self.ocr_confidence is not None

    def copies_line(self) -> str:
        """\"also in 2 other files: a.html, b.html\" (empty without copies)."""
        if not self.copies:
            return ""
        places = list(dict.fromkeys(c.where() for c in self.copies))
        shown = ", ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")
        files = len({c.path for c in self.copies})
        return f"also in {files} other file{'' if files == 1 else 's'}: {shown}"

    def to_json(self) -> dict:
        """The stable ``--json`` form (extra keys may be added, none renamed)."""
        data = asdict(self)
        data["copies"] = [asdict(c) for c in self.copies]
        data["doc_id"] = doc_id_for(self.path)
        return data


def doc_id_for(path: str) -> str:
    """A document's evaluation id: its file name without extension (BEIR convention)."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name
