"""A tiny random-weight cross-encoder (BERT sequence classifier, one output) saved as transformers saves one.

Its scores mean nothing, but they are real model outputs: tests check that the
reranker orders candidates by exactly these scores, loads from a folder, and
can be served by the stand-in hub like a published reranker.
"""

from __future__ import annotations

import json
from pathlib import Path

from support.tiny_models import CORPUS

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_cross_encoder(out_dir: Path, *, seed: int = 0) -> Path:
    """Write config.json, model.safetensors, tokenizer.json, vocab.txt and tokenizer_config.json."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(CORPUS.splitlines(), trainers.WordPieceTrainer(vocab_size=400, special_tokens=SPECIAL))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    # Query and passage in one input, told apart by token type ids, as BERT cross-encoders read them.
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.save(str(out_dir / "tokenizer.json"))
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    (out_dir / "vocab.txt").write_text("".join(token + "\n" for token, _ in vocab), encoding="utf-8")
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "BertTokenizerFast", "do_lower_case": True, "model_max_length": 128,
        "pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]",
    }), encoding="utf-8")
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1,
                        initializer_range=0.5)  # wide weights: scores that differ clearly between passages
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(str(out_dir), safe_serialization=True)
    return out_dir
