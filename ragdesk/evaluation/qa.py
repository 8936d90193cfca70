"""Answer-quality metrics for question/answer evaluation runs.

Everything here is plain Python on plain records, so the numbers can be checked
by hand and recomputed from a saved run. Definitions (also in the README):

- **label accuracy**: the label parsed from the answer (:func:`parse_label`)
  equals the gold label; an answer with no recognisable label counts as wrong.
- **token F1** (SQuAD): harmonic mean of token precision and recall after
  :func:`normalize_answer` (lower case, no punctuation, no articles).
- **containment**: the whole normalised gold answer appears in the normalised
  answer, on word boundaries (1/0 per question).
- **hit@k / MRR**: whether / at which rank (1/rank) the gold document appears
  among the documents of the sources given to the model (chunks collapsed to
  documents, best rank first; ``k`` is the number of chunks retrieved).
- **citation precision**: of all chunks cited across the answers to questions
  with a gold document, the share that come from that document (pooled).
- **no-citation share**: share of retrieval-mode answers that cite nothing.
- **latency p50/p95**: retrieval plus generation time of an answer, in ms,
  percentiles with linear interpolation; **tokens/s**: mean decoding rate.

Confidence intervals (95%) are given when at least ``MIN_CI_N`` values back a
metric: Wilson intervals for proportions, a seeded percentile bootstrap for
means, ratios and percentiles (p95 only from 20 values on).
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ragdesk.errors import RagdeskError

MIN_CI_N = 5
Z_95 = 1.959963984540054
YES_NO_MAYBE = ("yes", "no", "maybe")


class QAFileError(RagdeskError, ValueError):
    """A QA file that cannot be read (its message names the file and line)."""


@dataclass
class QAItem:
    """One line of a QA file: a question and whatever gold data it has."""

    question: str
    answer: str | None = None
    label: str | None = None
    gold_doc: str | None = None
    id: str | None = None


def load_qa(path: str | Path, limit: int | None = None) -> list[QAItem]:
    """Read a QA JSONL file (``question`` plus any of ``answer``, ``label``, ``gold_doc``)."""
    path = Path(path)
    items: list[QAItem] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QAFileError(f"cannot read the QA file {path}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise QAFileError(f"line {number} of {path.name} is not valid JSON") from None
        if not isinstance(obj, dict) or not str(obj.get("question") or "").strip():
            raise QAFileError(f"line {number} of {path.name} has no \"question\"")

        def text(key: str, obj: dict = obj) -> str | None:
            value = obj.get(key)
            return None if value is None or str(value).strip() == "" else str(value).strip()

        label = text("label")
        items.append(
            QAItem(
                question=str(obj["question"]).strip(),
                answer=text("answer"),
                label=label.lower() if label else None,
                gold_doc=text("gold_doc"),
                id=text("id"),
            )
        )
        if limit is not None and len(items) >= limit:
            break
    if not items:
        raise QAFileError(f"{path.name} holds no questions")
    return items


# ---------------------------------------------------------------------------- text metrics

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | set("‘’“”–—…«»")


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, drop punctuation and articles, single spaces."""
    text = "".join(" " if ch in _PUNCT else ch for ch in text.lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1 between an answer and the gold answer."""
    pred, ref = answer_tokens(prediction), answer_tokens(gold)
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains_answer(prediction: str, gold: str) -> bool:
    """Whether the normalised gold answer appears in the normalised prediction (whole words)."""
    ref = normalize_answer(gold)
    return bool(ref) and f" {ref} " in f" {normalize_answer(prediction)} "


# ---------------------------------------------------------------------------- labels

# Models told "Answer yes, no or maybe" sometimes echo the options; that echo is not an answer.
_OPTION_ECHO = re.compile(
    r"\byes\s*(?:,|/|or)?\s*no\s*(?:,|/)?\s*(?:,|/|or|and)\s*maybe\b|\byes\s*(?:/|or)\s*no\b", re.IGNORECASE
)


def label_vocabulary(labels: Sequence[str]) -> tuple[str, ...]:
    """The labels to look for: yes/no/maybe for any subset of them, else the file's own labels."""
    found = {str(label).lower() for label in labels if label}
    if found <= set(YES_NO_MAYBE):
        return YES_NO_MAYBE
    return tuple(sorted(found))


def parse_label(answer: str, labels: Sequence[str] = YES_NO_MAYBE) -> str | None:
    """The label an answer gives: the earliest label word in it, or None.

    Label words match as whole words, case-insensitively, anywhere in the
    answer, so "No, it does not" and "There is no evidence that..." both give
    ``no`` (in practice "no evidence" answers the question negatively); an
    echo of the options ("yes, no or maybe") is skipped. No synonyms are
    guessed: "not effective" or "unclear" without a label word give None,
    which counts as a wrong answer. At one position the longer label wins.
    """
    text = _OPTION_ECHO.sub(" ", answer.lower())
    best: tuple[int, int, str] | None = None
    for label in labels:
        match = re.search(r"(?<![\w-])" + re.escape(label.lower()) + r"(?![\w-])", text)
        if match:
            key = (match.start(), -len(label), label.lower())
            best = key if best is None or key < best else best
    return best[2] if best else None


# ---------------------------------------------------------------------------- statistics


def wilson_interval(successes: int, n: int, z: float = Z_95) -> list[float] | None:
    """Wilson score interval of a proportion; None below ``MIN_CI_N`` trials."""
    if n < MIN_CI_N:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [max(0.0, centre - half), min(1.0, centre + half)]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile with linear interpolation between order statistics (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def bootstrap_interval(
    items: Sequence,
    statistic: Callable[[Sequence], float | None],
    *,
    resamples: int = 1000,
    seed: int = 0,
    min_n: int = MIN_CI_N,
) -> list[float] | None:
    """95% percentile-bootstrap interval of ``statistic`` over resamples of ``items``."""
    if len(items) < min_n:
        return None
    import numpy as np  # only here: the rest of the module is plain Python

    n = len(items)
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n)).tolist()
    stats = []
    for row in draws:
        value = statistic([items[i] for i in row])
        if value is not None:
            stats.append(value)
    if not stats:
        return None
    return [percentile(stats, 2.5), percentile(stats, 97.5)]


# ---------------------------------------------------------------------------- per-answer records


@dataclass
class AnswerRecord:
    """One mode's answer to one question, reduced to what the metrics need (JSON-able).

    ``retrieved_docs`` holds the document id of each source given to the model,
    in rank order (None for modes without retrieval); ``cited_docs`` the document
    id of each cited chunk.
    """

    index: int
    mode: str
    text: str
    retrieved_docs: list[str] | None = None
    cited_docs: list[str] | None = None
    latency_ms: float = 0.0
    completion_tokens: int = 0
    tokens_per_s: float = 0.0
    stop_reason: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def ranked_docs(doc_ids: Sequence[str]) -> list[str]:
    """Document ids in order of their best chunk."""
    return list(dict.fromkeys(doc_ids))


def reciprocal_rank(doc_ids: Sequence[str], gold: str, k: int | None = None) -> float:
    ranking = ranked_docs(doc_ids)[: k if k else None]
    return 1.0 / (ranking.index(gold) + 1) if gold in ranking else 0.0


def verdicts(item: QAItem, record: AnswerRecord, labels: Sequence[str], k: int | None = None) -> dict:
    """The per-answer values every metric is built from (None where not applicable)."""
    parsed = parse_label(record.text, labels) if item.label else None
    out: dict = {
        "parsed_label": parsed,
        "label_correct": (parsed == item.label) if item.label else None,
        "f1": token_f1(record.text, item.answer) if item.answer else None,
        "contained": contains_answer(record.text, item.answer) if item.answer else None,
        "hit": None,
        "rr": None,
        "cited": None if record.retrieved_docs is None else len(record.cited_docs or []),
        "cited_gold": None,
    }
    if record.retrieved_docs is not None and item.gold_doc:
        rr = reciprocal_rank(record.retrieved_docs, item.gold_doc, k)
        out.update(hit=rr > 0, rr=rr, cited_gold=sum(1 for d in record.cited_docs or [] if d == item.gold_doc))
    return out


def _proportion(flags: list[bool]) -> tuple[float | None, list[float] | None]:
    if not flags:
        return None, None
    return sum(flags) / len(flags), wilson_interval(sum(flags), len(flags))


def _mean_ci(values: list[float]) -> tuple[float | None, list[float] | None]:
    if not values:
        return None, None
    return mean(values), bootstrap_interval(values, mean)


def score_mode(items: Sequence[QAItem], records: Sequence[AnswerRecord], *, labels: Sequence[str],
               k: int | None = None) -> dict:
    """Every metric of one mode: ``{metric: value, metric_ci: [lo, hi] | None, ...}`` plus counts.

    Keys are always present; a metric that does not apply (no labels in the
    file, no retrieval in the mode) is None.
    """
    rows = [(items[r.index], r, verdicts(items[r.index], r, labels, k)) for r in records]
    result: dict = {"n": len(rows)}

    def put(name: str, value, ci) -> None:
        result[name] = value
        result[name + "_ci"] = ci

    labelled = [v["label_correct"] for _, _, v in rows if v["label_correct"] is not None]
    put("label_accuracy", *_proportion(labelled))
    result["label_n"] = len(labelled)
    result["label_unparsed"] = sum(1 for it, _, v in rows if it.label and v["parsed_label"] is None)

    answered = [v for _, _, v in rows if v["f1"] is not None]
    put("token_f1", *_mean_ci([v["f1"] for v in answered]))
    put("containment", *_proportion([v["contained"] for v in answered]))
    result["answer_n"] = len(answered)

    ranked = [v for _, _, v in rows if v["rr"] is not None]
    put("hit_at_k", *_proportion([v["hit"] for v in ranked]))
    put("mrr", *_mean_ci([v["rr"] for v in ranked]))
    result["retrieval_n"] = len(ranked)
    result["k"] = k if ranked else None

    def pooled(sample: Sequence[dict]) -> float | None:
        cited = sum(v["cited"] for v in sample)
        return sum(v["cited_gold"] for v in sample) / cited if cited else None

    cited = [v for v in ranked if v["cited"] is not None]
    precision = pooled(cited)
    put("citation_precision", precision, bootstrap_interval(cited, pooled) if precision is not None else None)
    result["citations_n"] = sum(v["cited"] for v in cited)

    retrieving = [v for _, _, v in rows if v["cited"] is not None]
    put("no_citation_share", *_proportion([v["cited"] == 0 for v in retrieving]))

    latencies = [r.latency_ms for _, r, _ in rows]
    if latencies:
        put("latency_p50_ms", percentile(latencies, 50), bootstrap_interval(latencies, lambda s: percentile(s, 50)))
        put("latency_p95_ms", percentile(latencies, 95),
            bootstrap_interval(latencies, lambda s: percentile(s, 95), min_n=20))
    else:
        put("latency_p50_ms", None, None)
        put("latency_p95_ms", None, None)
    # A rate needs two tokens: the first one's time is prompt evaluation.
    put("tokens_per_s", *_mean_ci([r.tokens_per_s for _, r, _ in rows if r.completion_tokens >= 2]))
    return result


def disagreements(items: Sequence[QAItem], records: dict[str, Sequence[AnswerRecord]],
                  labels: Sequence[str]) -> list[int]:
    """Indices of questions whose answers the modes judge differently.

    The verdict of an answer is its parsed label for labelled questions, else
    whether it contains the gold answer; modes with no verdict are ignored.
    """
    seen: dict[int, set] = {}
    for mode_records in records.values():
        for record in mode_records:
            item = items[record.index]
            if item.label:
                verdict = parse_label(record.text, labels)
            elif item.answer:
                verdict = contains_answer(record.text, item.answer)
            else:
                continue
            seen.setdefault(record.index, set()).add(verdict)
    return sorted(i for i, found in seen.items() if len(found) > 1)
