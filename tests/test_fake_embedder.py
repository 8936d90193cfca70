"""The deterministic stand-in embedder the fast tests index with."""

from __future__ import annotations

import numpy as np
import pytest

from ragdesk.embedder import DEFAULT_MODEL, Embedder, EmbedderProtocol
from ragdesk.fake_embedder import HashEmbedder, create_embedder


def test_vectors_are_deterministic_normalised_and_the_real_size():
    fake = HashEmbedder()
    a = fake.encode(["The kettle must be descaled every six weeks.", ""])
    assert a.shape == (2, 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-6)
    assert np.array_equal(a, HashEmbedder().encode(["The kettle must be descaled every six weeks.", ""]))
    assert np.array_equal(fake.encode_query("kettle"), fake.encode(["kettle"])[0])
    # The same on every machine: blake2b buckets, not a model's floating point.
    kettle, descale = fake.encode_query("kettle"), fake.encode_query("Descaled")
    assert np.flatnonzero(kettle).tolist() == [378] and kettle[378] == -1.0  # "kettle" -> "kettl"
    assert np.flatnonzero(descale).tolist() == [372] and descale[372] == -1.0  # "descaled" -> "descal"


def test_shared_words_make_texts_near():
    fake = HashEmbedder()
    docs = fake.encode(["The kettle must be descaled every six weeks with citric acid.",
                        "Sourdough needs a starter of flour and water fed daily."])
    query = fake.encode_query("How often should I descale the kettle?")
    scores = docs @ query
    assert scores[0] > 0.4 and abs(scores[1]) < 0.2  # "kettle" and "descale" shared; nothing with bread


def test_both_embedders_fit_the_protocol_and_the_switch_picks_one(monkeypatch):
    assert isinstance(HashEmbedder(), EmbedderProtocol)
    members = ("name", "dimension", "max_tokens", "tokenizer", "encode", "encode_query")
    assert all(hasattr(Embedder, m) or m == "name" for m in members)  # the real one, without loading it
    assert Embedder(DEFAULT_MODEL).name == DEFAULT_MODEL
    monkeypatch.setenv("RAGDESK_FAKE_EMBEDDER", "1")
    assert isinstance(create_embedder(DEFAULT_MODEL), HashEmbedder)
    monkeypatch.setenv("RAGDESK_FAKE_EMBEDDER", "0")
    assert type(create_embedder(DEFAULT_MODEL)) is Embedder


def test_fast_tests_index_with_the_fake(store, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kettle.txt").write_text("The kettle must be descaled every six weeks with citric acid.")
    (docs / "bread.txt").write_text("Sourdough needs a starter of flour and water fed daily.")
    store.index([docs])
    assert isinstance(store.embedder(DEFAULT_MODEL), HashEmbedder)
    hits = store.search("descale the kettle", None, k=2, mode="vector")
    assert hits[0].path.endswith("kettle.txt")


@pytest.mark.real_embedder
def test_real_embedder_tests_get_the_real_model(store):
    assert type(store.embedder(DEFAULT_MODEL)) is Embedder
