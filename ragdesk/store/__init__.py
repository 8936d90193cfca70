"""The knowledge store: collections of documents, their chunks, vectors and BM25 index."""

from ragdesk.store.collections import Collection, CollectionError, CollectionInfo
from ragdesk.store.indexer import IndexProgress, IndexReport
from ragdesk.store.knowledge import KnowledgeStore
from ragdesk.store.search import SEARCH_MODES, QueryError

__all__ = [
    "Collection",
    "CollectionError",
    "CollectionInfo",
    "IndexProgress",
    "IndexReport",
    "KnowledgeStore",
    "QueryError",
    "SEARCH_MODES",
]
