"""Training examples from texts and question/answer pairs.

Two sources plug in the same way: a list of texts (chunk texts of a
collection, for ``continued`` pre-training) and a list of question/answer pairs
(from :mod:`ragdesk.qagen` or given by hand, for ``qa``). Texts are packed into
blocks of ``block_size`` tokens and scored on every token; a pair is rendered
in the model's chat template, exactly as the chat engine will prompt it, and
scored on the answer tokens only. A slice of the pairs is held out to measure
whether the adapter learned something it was not shown verbatim.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragdesk.chat.prompts import SYSTEM_PLAIN
from ragdesk.llm.prompt_format import TEMPLATE_VARIABLES
from ragdesk.training import EmptyCollectionError, check_method

IGNORE = -100  # label value the loss skips (PyTorch's cross-entropy default)

# A pair is trained in exactly the prompt lora mode will send (its system
# message included), so the adapter answers there as it learned to.
DEFAULT_SYSTEM = SYSTEM_PLAIN


@dataclass(frozen=True)
class Example:
    """One training sequence; ``labels`` is ``IGNORE`` where no loss is taken."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]


@dataclass
class TrainingData:
    """The examples of one run, plus counts for the report."""

    train: list[Example]
    heldout: list[Example] = field(default_factory=list)
    n_text_blocks: int = 0
    n_qa_train: int = 0
    n_qa_heldout: int = 0

    @property
    def n_tokens(self) -> int:
        return sum(len(e.input_ids) for e in self.train)

    def fingerprint(self) -> str:
        """A digest of every token, so a resumed run can tell its data changed."""
        digest = hashlib.sha256()
        for group in (self.train, self.heldout):
            for example in group:
                digest.update(repr((example.input_ids, example.labels)).encode())
            digest.update(b"|")
        return digest.hexdigest()[:16]


def as_pair(item: Any) -> tuple[str, str]:
    """A ``(question, answer)`` from a tuple, a dict or a ``QAPair``-like object."""
    if isinstance(item, dict):
        return str(item["question"]), str(item["answer"])
    if hasattr(item, "question") and hasattr(item, "answer"):
        return str(item.question), str(item.answer)
    question, answer = item
    return str(question), str(answer)


def _encode(tokenizer, text: str) -> list[int]:
    # verbose=False: long texts are cut into blocks here, the length warning does not apply.
    return list(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def _adds_bos(tokenizer) -> bool:
    """Whether the tokenizer (like llama.cpp for this model) starts input with BOS."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return False
    ids = tokenizer("a")["input_ids"]
    return bool(ids) and ids[0] == bos


def text_blocks(tokenizer, texts: Iterable[str], block_size: int) -> list[Example]:
    """Pack texts (separated by EOS) into blocks of at most ``block_size`` tokens."""
    if block_size < 8:
        raise ValueError("block_size must be at least 8 tokens")
    eos = tokenizer.eos_token_id
    stream: list[int] = []
    for text in texts:
        if text and text.strip():
            stream.extend(_encode(tokenizer, text))
            if eos is not None:
                stream.append(eos)
    prefix = [tokenizer.bos_token_id] if _adds_bos(tokenizer) else []
    step = block_size - len(prefix)
    blocks = []
    for start in range(0, len(stream), step):
        ids = prefix + stream[start : start + step]
        # A short tail costs a padded row for little text; keep it only if the
        # data would otherwise be tiny.
        if len(ids) - len(prefix) < min(32, step // 4) and blocks:
            break
        labels = [IGNORE] * len(prefix) + ids[len(prefix):]
        blocks.append(Example(tuple(ids), tuple(labels)))
    return blocks


def format_qa(tokenizer, question: str, answer: str, system: str | None = DEFAULT_SYSTEM) -> tuple[str, str]:
    """The prompt (everything before the answer) and the scored completion.

    With a chat template this is the template's rendering of [system, user]
    plus the assistant turn; without one it is the chat engine's
    completion-style "Question: ... / Answer:" document.
    """
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": question}
    ]
    eos = tokenizer.eos_token or ""
    if getattr(tokenizer, "chat_template", None):
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                               **TEMPLATE_VARIABLES)
        full = tokenizer.apply_chat_template(
            messages + [{"role": "assistant", "content": answer}], tokenize=False, **TEMPLATE_VARIABLES
        )
        if full.startswith(prompt):
            return prompt, full[len(prompt):].rstrip("\n")
        # A template that rewrites earlier turns: fall back to the answer plus EOS.
        return prompt, answer + eos
    from ragdesk.llm.prompt_format import completion_prompt

    prompt, _ = completion_prompt(messages)
    return prompt, " " + answer + eos


def qa_examples(
    tokenizer, pairs: Iterable[Any], max_length: int, system: str | None = DEFAULT_SYSTEM
) -> list[Example]:
    """One example per pair, scored on the answer tokens only."""
    bos = [tokenizer.bos_token_id] if _adds_bos(tokenizer) else []
    examples = []
    for item in pairs:
        question, answer = as_pair(item)
        prompt, completion = format_qa(tokenizer, question, answer, system)
        # Prompt and answer are tokenized apart, as at inference, where the
        # prompt is tokenized and the answer is generated token by token.
        prompt_ids = bos + _encode(tokenizer, prompt)
        answer_ids = _encode(tokenizer, completion)
        ids = (prompt_ids + answer_ids)[:max_length]
        labels = ([IGNORE] * len(prompt_ids) + answer_ids)[:max_length]
        if any(label != IGNORE for label in labels):
            examples.append(Example(tuple(ids), tuple(labels)))
    return examples


def split_heldout(pairs: Sequence[Any], fraction: float, seed: int = 0) -> tuple[list, list]:
    """Shuffle pairs reproducibly and hold out ``fraction`` of them (at least one of 2+)."""
    items = list(pairs)
    if len(items) < 2 or fraction <= 0:
        return items, []
    random.Random(seed).shuffle(items)
    n_held = min(len(items) - 1, max(1, round(len(items) * fraction)))
    return items[n_held:], items[:n_held]


def build_training_data(
    tokenizer,
    *,
    method: str,
    texts: Sequence[str] = (),
    pairs: Sequence[Any] = (),
    block_size: int = 256,
    qa_max_tokens: int | None = None,
    heldout_fraction: float = 0.2,
    seed: int = 0,
) -> TrainingData:
    """Examples for ``method``: ``continued`` (texts), ``qa`` (pairs) or ``both``.

    A QA example may be longer than a text block (chat templates add a system
    prompt): it is cut at ``qa_max_tokens``, by default ``max(block_size, 512)``.
    """
    check_method(method)
    blocks = text_blocks(tokenizer, texts, block_size) if method in ("continued", "both") else []
    train_pairs, held_pairs = (
        split_heldout(pairs, heldout_fraction, seed) if method in ("qa", "both") else ([], [])
    )
    qa_limit = qa_max_tokens or max(block_size, 512)
    qa_train = qa_examples(tokenizer, train_pairs, qa_limit)
    qa_held = qa_examples(tokenizer, held_pairs, qa_limit)
    if not blocks and not qa_train:
        what = "text" if method == "continued" else "question/answer pairs"
        raise EmptyCollectionError(f"there is no {what} to train on")
    return TrainingData(
        train=blocks + qa_train,
        heldout=qa_held,
        n_text_blocks=len(blocks),
        n_qa_train=len(qa_train),
        n_qa_heldout=len(qa_held),
    )


def collate(examples: Sequence[Example], pad_id: int):
    """Right-padded tensors ``input_ids``, ``attention_mask`` and ``labels``."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(example.labels)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
