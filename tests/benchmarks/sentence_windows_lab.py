"""Does a vector per sentence window lift SciFact past what chunk vectors reach? (issue #11, offline)

SciFact's claims usually paraphrase one or two sentences of an abstract, and a
200-token chunk vector blurs that sentence among the others. This lab embeds
every window of two consecutive sentences of each abstract (stride one
sentence, the title counted as a sentence) with ragdesk's own embedder, and
scores each chunk of the index by the better of its own cosine and that of the
best window starting inside it. The chunk ranking so obtained is fused with
the dumped BM25 list by ragdesk's ``fusion.fuse``, as a live hybrid search would.
Nothing in the store changes; the windows' vectors are cached (``--cache``).

Needs the index and the dump of ``bench_retrieval_scifact.py --home DIR
--dump-rankings S.json`` (default settings). Figures are nDCG@10 on the
``fusion_lab.py`` halves of the 809 train queries (nothing is tuned here: the
fusion rule is the shipped one).

``--stride 2`` keeps every other window (pairs that do not overlap: half the
vectors, half the extra embedding time), chosen from the same cached vectors.
``--pooled`` costs no extra encoding: each window's vector is the mean of the
chunk's own token states over the window's tokens ("late chunking"; PyTorch,
windows within each chunk's text), its chunk's vector the mean over all of them.

Usage: python tests/benchmarks/sentence_windows_lab.py --home DIR --scifact S.json [--cache V.npy]
       [--stride 1|2] [--pooled]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SCIFACT, kept_home, read_jsonl  # noqa: E402
from fusion_lab import scifact_half  # noqa: E402

# A sentence ends at . ! or ? followed by blanks and a capital, digit or bracket.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def windows(title: str, text: str) -> list[tuple[int, str]]:
    """(offset in the indexed file's text, window text) of every two-sentence window of one abstract."""
    body_start = len(title) + 2  # the benchmark writes "title\n\ntext"
    spans = [(0, title)]
    pos = 0
    for sentence in SENTENCE_END.split(text):
        at = text.index(sentence, pos)
        spans.append((body_start + at, sentence))
        pos = at + len(sentence)
    return [(start, " ".join(s for _, s in spans[i:i + 2])) for i, (start, _) in enumerate(spans)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", required=True, help="the --home of bench_retrieval_scifact.py (its index)")
    parser.add_argument("--scifact", type=Path, required=True, help="its --dump-rankings file")
    parser.add_argument("--cache", type=Path, help="keep the windows' vectors here between runs")
    parser.add_argument("--stride", type=int, default=1, choices=[1, 2], help="sentences between window starts")
    parser.add_argument("--pooled", action="store_true", help="pool windows from the chunks' token states instead")
    args = parser.parse_args()

    from ragdesk.evaluation import retrieval as metrics
    from ragdesk.settings import Settings
    from ragdesk.store import KnowledgeStore

    root = kept_home(args.home)
    dump = json.loads(args.scifact.read_text(encoding="utf-8"))
    queries = metrics.load_queries(SCIFACT / "queries.jsonl")
    qrels = {q: r for q, r in metrics.load_qrels(SCIFACT / "qrels" / "train.tsv").items() if q in dump}
    settings = Settings()
    store = KnowledgeStore(root / "scifact-auto.db", settings)
    embedder = store.embedder(settings.embedding_model)

    # Each chunk of the index: its document id, span and vector.
    rows = store.conn.execute(
        "SELECT c.id, d.path, c.start, c.end, c.text, c.embedding FROM chunks c JOIN documents d ON d.id = c.document_id")
    chunk_ids, chunk_doc, spans, texts, vectors = [], [], {}, [], []
    for chunk_id, path, start, end, text, blob in rows:
        doc = metrics.doc_id_for(path)
        chunk_ids.append(chunk_id)
        chunk_doc.append(doc)
        spans.setdefault(doc, []).append((start, end, len(chunk_ids) - 1))
        texts.append(text)
        vectors.append(np.frombuffer(blob, dtype=np.float32))
    if args.pooled:  # chunk vectors from the same PyTorch pass as the windows
        chunk_vectors, window_vectors, owner_rows, encode = pooled_windows(settings.embedding_model, texts)
    else:  # the index's own chunk vectors
        chunk_vectors = np.vstack(vectors)
        window_vectors, owner_rows = embedded_windows(args, embedder, spans, len(chunk_ids))
        encode = embedder.encode_query

    evaluate(dump, queries, qrels, chunk_ids, chunk_doc, chunk_vectors, window_vectors, owner_rows, encode)


def embedded_windows(args, embedder, spans, n_chunks: int):
    """Each abstract's windows embedded on their own, and the chunk (row) each starts in."""
    texts, owner, kept = [], [], []
    for doc in read_jsonl(SCIFACT / "corpus.jsonl"):
        for n, (offset, text) in enumerate(windows(doc["title"], doc["text"])):
            row = next((i for s, e, i in spans.get(doc["_id"], []) if s <= offset < e), None)
            if row is not None:
                texts.append(text)
                owner.append(row)
                kept.append(n % args.stride == 0)
    if args.cache and args.cache.exists():
        window_vectors = np.load(args.cache)
    else:
        started = time.perf_counter()
        window_vectors = embedder.encode(texts)
        print(f"embedded {len(texts)} windows of {n_chunks} chunks in {time.perf_counter() - started:.0f} s")
        if args.cache:
            np.save(args.cache, window_vectors)
    window_vectors = window_vectors[np.array(kept)]
    owner_rows = np.array(owner)[np.array(kept)]
    print(f"{len(owner_rows)} windows (stride {args.stride}) for {n_chunks} chunks")
    return window_vectors, owner_rows


def pooled_windows(model_name: str, texts: list[str]):
    """Chunk and window vectors pooled from one PyTorch pass over each chunk's text (late chunking)."""
    from sentence_transformers import SentenceTransformer

    from ragdesk.embedder import resolve_model_path

    model = SentenceTransformer(resolve_model_path(model_name), device="cpu")
    started = time.perf_counter()
    states = model.encode(texts, output_value="token_embeddings", batch_size=64, convert_to_numpy=False)
    print(f"token states of {len(texts)} chunks in {time.perf_counter() - started:.0f} s")
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    chunks, windows_, owner = [], [], []
    for row, (text, tokens) in enumerate(zip(texts, states)):
        tokens = tokens.numpy()
        offsets = model.tokenizer(text, return_offsets_mapping=True, truncation=True,
                                  max_length=model.max_seq_length)["offset_mapping"]
        chunks.append(unit(tokens.mean(0)))
        ends = [0] + [m.end() for m in SENTENCE_END.finditer(text)] + [len(text)]
        sentences = [(a, b) for a, b in zip(ends, ends[1:]) if b > a]
        for i, (start, _) in enumerate(sentences):
            end = sentences[min(i + 1, len(sentences) - 1)][1]
            inside = [t for t, (s, e) in enumerate(offsets) if e > s and s >= start and e <= end]
            if inside:
                windows_.append(unit(tokens[inside].mean(0)))
                owner.append(row)
    print(f"{len(owner)} pooled windows for {len(texts)} chunks")
    encode = lambda q: model.encode(q, normalize_embeddings=True)  # noqa: E731
    return np.array(chunks, np.float32), np.array(windows_, np.float32), np.array(owner), encode


def evaluate(dump, queries, qrels, chunk_ids, chunk_doc, chunk_vectors, window_vectors, owner_rows, encode) -> None:
    """Print nDCG@10 of the shipped vector list, the windowed one, and both fused with the dumped BM25."""
    from ragdesk.evaluation import retrieval as metrics
    from ragdesk.store import fusion
    from ragdesk.store.search import Ranked

    per_half: dict[str, dict[str, dict]] = {}
    for qid, relevant in qrels.items():
        query = queries[qid]
        qv = encode(query)
        chunk_sim = chunk_vectors @ qv
        best_window = np.full(len(chunk_ids), -1.0, dtype=np.float32)
        np.maximum.at(best_window, owner_rows, window_vectors @ qv)
        combined = np.maximum(chunk_sim, best_window)
        top = np.argsort(-combined)[:200]
        vector = [Ranked(chunk_ids[i], float(combined[i]), float(chunk_sim[i])) for i in top]
        doc_of = {chunk_ids[i]: chunk_doc[i] for i in top}
        doc_of.update({c: d for d, c, _, _ in dump[qid]["bm25"] + dump[qid]["vector"]})
        bm25 = [Ranked(c, s, sim) for _, c, s, sim in dump[qid]["bm25"]]
        shipped_vector = [Ranked(c, s, sim) for _, c, s, sim in dump[qid]["vector"]]
        rankings = {
            "vector (chunks)": shipped_vector,
            "vector (chunks and windows)": vector,
            "hybrid (chunks)": fusion.fuse(shipped_vector, bm25, query, 200),
            "hybrid (chunks and windows)": fusion.fuse(vector, bm25, query, 200),
        }
        for name, ranked in rankings.items():
            documents = list(dict.fromkeys(doc_of[r.chunk_id] for r in ranked))
            per_half.setdefault(name, {}).setdefault(scifact_half(qid), {})[qid] = metrics.query_metrics(
                documents[:100], relevant)

    print(f"{'nDCG@10':30}{'all':>8}{'tune':>8}{'report':>8}")
    for name, halves in per_half.items():
        every = metrics.report_of({**halves["tune"], **halves["report"]}).total.ndcg_at_10
        tune = metrics.report_of(halves["tune"]).total.ndcg_at_10
        report = metrics.report_of(halves["report"]).total.ndcg_at_10
        print(f"{name:30}{every:8.4f}{tune:8.4f}{report:8.4f}")


if __name__ == "__main__":
    main()
