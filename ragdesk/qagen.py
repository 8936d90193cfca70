"""Question/answer pairs written by the local model from chunks of a collection.

Used by ``ragdesk eval make-qa`` (a gold set for users without one: each
question's source chunk is its gold) and by LoRA training's ``qa`` method.

For each chunk the model is asked for one question and a short answer taken
from the passage; the reply is parsed and kept only if it passes
:func:`check_candidate`: a well-formed, self-contained question (ends with
"?", 4-40 words, does not say "the passage" or "this study"), an answer of at most 30 words
whose content words are at least 80% found in the chunk, a question that is
about the sentence(s) holding the answer (shares two content words with
them) without being a verbatim copy of the chunk (all its words in one run) and
without giving the answer away, no near-duplicate of a kept question (same
content words, Jaccard >= 0.8), and a round trip: shown the passage and the
question, the model finds the same answer again (token F1 >= 0.5 or
containment). Small models write much that fails; that is the point of the
filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ragdesk.evaluation.qa import answer_tokens, contains_answer, token_f1
from ragdesk.records import Hit, doc_id_for

SYSTEM = (
    "You write quiz questions about a passage. A question must be answerable from the passage, "
    "make sense to someone who has not seen the passage, and have a short answer taken from the passage."
)
# Plain wording works best with small models (tried on SmolLM2-135M: a one-shot example gets
# copied, a long list of rules gets ignored).
INSTRUCTION = (
    "{chunk}\n\nWrite a simple question about the text above and its short answer.\n"
    "Question: <the question>\nAnswer: <the short answer>"
)
ANSWER_SYSTEM = "Answer the question from the passage with a few words copied from it. No explanations."
ANSWER_INSTRUCTION = "Passage:\n{chunk}\n\nQuestion: {question}"
ROUNDTRIP_F1 = 0.5
MAX_QUESTION_WORDS, MIN_QUESTION_WORDS, MAX_ANSWER_WORDS = 40, 4, 30
MIN_SUPPORT, MAX_COPY_SHARE, MIN_COPY_RUN, MAX_SIMILARITY = 0.8, 1.0, 5, 0.8

_STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as into onto about over under than then
    is are was were be been being am do does did done have has had having can could may might must shall
    should will would it its it's this that these those there here what which who whom whose when where
    why how not no yes so such very also just only any all some each both either neither other more most
    i you he she we they me him her us them my your his our their s t many much""".split()
)
# Questions that only make sense next to the passage ("What does this study show?").
_PASSAGE_WORDS = re.compile(
    r"\b(?:(?:this|these|the above)\s+(?:passage|text|excerpt|paragraph|article|paper|study|studies|report|"
    r"document|research)|the\s+(?:passage|text|excerpt|paragraph|article|authors?)|answer to the question)\b",
    re.IGNORECASE,
)
_FIELD = re.compile(r"^\W*(?:the\s+)?(question|q|answer|a)\s*\d*\s*[:.)-]\s*", re.IGNORECASE)
# Small models wrap the answer in a preamble: "The answer to this question would be: ..."
_PREAMBLE = re.compile(
    r"^\W*(?:the\s+)?(?:correct\s+|short\s+)?answer\b(?:\s+to\s+(?:this|the)\s+question)?"
    r"(?:\s+(?:would\s+be|is|was))?\s*[:,-]?\s*",
    re.IGNORECASE,
)


def tidy_answer(answer: str) -> str:
    """The answer without a preamble, surrounding quotes or a trailing full stop."""
    answer = _PREAMBLE.sub("", answer.strip(), count=1).strip()
    answer = answer.strip("\"'“”‘’`").strip()
    return answer[:-1].rstrip() if answer.endswith(".") else answer


@dataclass(frozen=True)
class QAPair:
    """A generated question with its answer and the chunk it came from (its gold)."""

    question: str
    answer: str
    chunk_id: int
    doc_id: str
    path: str

    def to_json(self) -> dict:
        """A QA-file line (``gold_doc`` is the document id ``eval qa`` checks against)."""
        return {"question": self.question, "answer": self.answer, "gold_doc": self.doc_id,
                "chunk_id": self.chunk_id, "path": self.path}


@dataclass
class Rejected:
    chunk_id: int
    raw: str
    reason: str


@dataclass
class QAGenResult:
    """The kept pairs and why the others were thrown away."""

    pairs: list[QAPair] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    tried: int = 0
    cancelled: bool = False

    def reasons(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.rejected:
            counts[r.reason] = counts.get(r.reason, 0) + 1
        return counts


# ---------------------------------------------------------------------------- parsing and checks


def parse_reply(reply: str) -> tuple[str, str] | None:
    """``(question, answer)`` from a "Question: ... / Answer: ..." reply, or None."""
    question: list[str] = []
    answer: list[str] = []
    target = None
    for line in reply.replace("**", "").splitlines():
        match = _FIELD.match(line)
        if match:
            kind = match.group(1).lower()[0]
            if kind == "q" and question:
                break  # a second question: keep the first pair only
            if kind == "a" and not question:
                return None
            target = question if kind == "q" else answer
            line = line[match.end():]
        elif target is answer and answer and not line.strip():
            break  # the answer ends at a blank line
        if target is answer:
            line = tidy_answer(line)
        if target is not None and line.strip():
            target.append(line.strip())
    if not question or not answer:
        return None
    return " ".join(question), " ".join(answer)


def content_words(text: str) -> list[str]:
    return [t for t in answer_tokens(text) if t not in _STOPWORDS]


def _longest_common_run(words: list[str], source: list[str]) -> int:
    """Length of the longest run of consecutive ``words`` that appears consecutively in ``source``."""
    best = 0
    previous = [0] * (len(source) + 1)
    for w in words:
        current = [0] * (len(source) + 1)
        for j, s in enumerate(source, start=1):
            if w == s:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


def _answer_windows(a_content: list[str], chunk_text: str) -> list[set[str]]:
    """Content words of each sentence, or pair of consecutive sentences, that holds the answer.

    Pairs let "It is 42 metres tall" count as being about the lighthouse of the sentence before.
    """
    sentences = [set(content_words(s)) for s in _SENTENCE_END.split(chunk_text)]
    windows = [sentences[i] | (sentences[i + 1] if i + 1 < len(sentences) else set()) for i in range(len(sentences))]
    windows += sentences
    return [w for w in windows if sum(1 for a in a_content if a in w) / len(a_content) >= MIN_SUPPORT]


def check_candidate(question: str, answer: str, chunk_text: str) -> str | None:
    """Why a question/answer pair is not usable for ``chunk_text``, or None if it is."""
    question, answer = question.strip(), answer.strip()
    q_words = answer_tokens(question)
    if not question.endswith("?") or not question[0].isalpha():
        return "not a question"
    if not MIN_QUESTION_WORDS <= len(q_words) <= MAX_QUESTION_WORDS:
        return "question length"
    if _PASSAGE_WORDS.search(question):
        return "refers to the passage"
    a_words = answer_tokens(answer)
    if not a_words:
        return "no answer"
    if len(a_words) > MAX_ANSWER_WORDS:
        return "answer too long"
    chunk_words = answer_tokens(chunk_text)
    chunk_set = set(chunk_words)
    a_content = content_words(answer)
    if not a_content:
        return "answer not specific"
    if sum(1 for w in a_content if w in chunk_set) / len(a_content) < MIN_SUPPORT:
        return "answer not in passage"
    q_content = content_words(question)
    if not any(w in chunk_set for w in q_content):
        return "question not about passage"
    if set(a_content) <= set(q_content):
        return "question gives answer"
    # The question must be about where the answer is: share two content words (other than the
    # answer's) with the sentence or two that hold the answer.
    asked = set(q_content) - set(a_content)
    if max((len(asked & w) for w in _answer_windows(a_content, chunk_text)), default=-1) < min(2, len(asked)):
        return "question not about answer"
    if _longest_common_run(q_words, chunk_words) >= max(MIN_COPY_RUN, MAX_COPY_SHARE * len(q_words)):
        return "question copies passage"
    return None


def _similar(a: set[str], b: set[str]) -> bool:
    return bool(a or b) and len(a & b) / len(a | b) >= MAX_SIMILARITY


class QAFilter:
    """:func:`check_candidate` plus deduplication against the questions kept so far."""

    def __init__(self) -> None:
        self._kept: list[set[str]] = []

    def check(self, question: str, answer: str, chunk_text: str) -> str | None:
        """Why the pair is not usable, or None (then call :meth:`keep` if it is kept)."""
        reason = check_candidate(question, answer, chunk_text)
        if reason is None and any(_similar(set(content_words(question)), k) for k in self._kept):
            return "duplicate"
        return reason

    def keep(self, question: str) -> None:
        self._kept.append(set(content_words(question)))


# ---------------------------------------------------------------------------- generation


def _engine_of(engine_or_session):
    """The Engine to use (a ChatSession's engine with its model loaded and no adapter)."""
    engine = getattr(engine_or_session, "engine", None)
    if engine is None:
        return engine_or_session
    if not engine.loaded:
        engine_or_session.load_model()
    engine.set_adapter(None)  # questions come from the base model, whatever mode the session is in
    return engine


def _complete(engine, system: str, user: str, prefix: str, *, max_tokens: int, temperature: float, seed: int,
              cancel, stop: tuple[str, ...] = ()) -> str | None:
    """The model's reply to one chat turn, started with ``prefix``; None if cancelled."""
    prompt = engine.render_chat([{"role": "system", "content": system}, {"role": "user", "content": user}])
    # Starting the reply ourselves ("Question:") keeps small models in the format.
    prompt = replace(prompt, text=prompt.text + prefix, stop=tuple(prompt.stop) + stop)
    text = "".join(engine.stream(prompt, max_tokens=max_tokens, temperature=temperature, seed=seed, cancel=cancel))
    if engine.last_stats is not None and engine.last_stats.stop_reason == "cancelled":
        return None
    return text


def answers_agree(given: str, found: str) -> bool:
    """Whether the model's own answer (``found``) matches the generated one: F1 >= 0.5 or containment."""
    return token_f1(found, given) >= ROUNDTRIP_F1 or contains_answer(found, given) or contains_answer(given, found)


def generate_qa_detailed(
    engine_or_session,
    chunks: Sequence[Hit],
    n: int,
    *,
    seed: int = 0,
    progress: Callable[[int, int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    max_tokens: int = 96,
    temperature: float = 0.3,
    roundtrip: bool = True,
) -> QAGenResult:
    """Like :func:`generate_qa`, also returning the rejected replies and their reasons."""
    engine = _engine_of(engine_or_session)
    result = QAGenResult()
    checks = QAFilter()
    for i, chunk in enumerate(chunks):
        if len(result.pairs) >= n:
            break
        if cancel is not None and cancel():
            result.cancelled = True
            break
        text = chunk.text.strip()
        reply = _complete(engine, SYSTEM, INSTRUCTION.format(chunk=text), "Question:", max_tokens=max_tokens,
                          temperature=temperature, seed=seed + i, cancel=cancel, stop=("\nQuestion:", "\n\n\n"))
        if reply is None:
            result.cancelled = True
            break
        result.tried += 1
        reply = "Question: " + reply
        parsed = parse_reply(reply)
        reason = "unparsable reply" if parsed is None else checks.check(parsed[0], parsed[1], text)
        if reason is None:
            question, answer = (" ".join(part.split()) for part in parsed)
            if roundtrip:
                # Round trip: the model, shown the passage and the question, must find the same answer.
                found = _complete(engine, ANSWER_SYSTEM, ANSWER_INSTRUCTION.format(chunk=text, question=question),
                                  "", max_tokens=32, temperature=0.0, seed=seed + i, cancel=cancel)
                if found is None:
                    result.cancelled = True
                    break
                if not answers_agree(answer, tidy_answer(found)):
                    reason = "answer not found again"
                    reply += f"\n[answer found again: {found.strip()}]"
            if reason is None:
                checks.keep(question)
                result.pairs.append(QAPair(question, answer, chunk.chunk_id, doc_id_for(chunk.path), chunk.path))
        if reason is not None:
            result.rejected.append(Rejected(chunk.chunk_id, reply, reason))
        if progress:
            progress(i + 1, len(chunks), len(result.pairs))
    return result


def generate_qa(
    engine_or_session,
    chunks: list[Hit],
    n: int,
    *,
    seed: int = 0,
    progress: Callable[[int, int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> list[QAPair]:
    """Up to ``n`` checked question/answer pairs, one per chunk, in chunk order.

    ``engine_or_session`` is a loaded Engine or a ChatSession (its model is
    loaded if needed; generation uses the base model without adapter). Pass
    more chunks than ``n``: many replies are rejected. ``progress(tried, total,
    kept)`` follows each chunk; ``cancel()`` stops between and during replies.
    Sampling is seeded per chunk, so the same inputs give the same pairs.
    """
    return generate_qa_detailed(engine_or_session, chunks, n, seed=seed, progress=progress, cancel=cancel).pairs
