"""``ragdesk-gui --self-test``: prove that every part of an installed (or frozen) app loads and works.

Each step prints one line, ``ok   <step>: <detail> (<seconds> s)``, so a person
(or a packaging test) can see how far it got; the first failure prints
``FAIL <step>: <sentence>`` and the run stops with exit code 1. The steps touch
the same libraries a user's session does: Qt (offscreen), the main window,
SQLite with sqlite-vec, the embedded embedding model, the search, PDFium and
the bundled OCR models, llama.cpp
with the built-in default model, and an evaluation whose report draws its
charts with matplotlib (what the Evaluation tab writes). Everything happens in a temporary data folder
and nothing reaches the network, so it never touches the user's data.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

STEPS = ("qt", "window", "store", "index", "search", "ocr", "llm", "eval")  # in order; the packaging test expects each
QUERY = "How long do I have to return a product?"
EVAL_ANSWER, EVAL_GOLD = "60 days", "returns-policy"  # from the sample documents (gold: file name, no extension)
OCR_PHRASE = "ragdesk reads scans"


class SelfTestFailure(Exception):
    """A step ran but its result was wrong; str() says what."""


def sample_docs() -> Path:
    """The small bundled folder the self-test indexes (the demo's ``ragdesk/sample_docs``)."""
    from ragdesk.demo import SAMPLE_DOCS

    return SAMPLE_DOCS


class _Run:
    """Runs the steps in order, printing a line for each; stops at the first failure."""

    def __init__(self, out) -> None:
        self.out = out
        self.failed: str | None = None

    def step(self, name: str, action: Callable[[], str]) -> bool:
        if self.failed:
            return False
        start = time.perf_counter()
        try:
            detail = action()
        except Exception as exc:  # noqa: BLE001 - every failure is reported as a line, not a traceback
            from ragdesk.ui.errors import describe

            self.failed = name
            message = str(exc) if isinstance(exc, SelfTestFailure) else describe(exc)
            print(f"FAIL {name}: {message}", file=self.out, flush=True)
            return False
        print(f"ok   {name}: {detail} ({time.perf_counter() - start:.1f} s)", file=self.out, flush=True)
        return True


def run_self_test(out=None) -> int:
    """Run every step; 0 when all pass, 1 (after a ``FAIL`` line naming the step) otherwise."""
    out = out or sys.stdout
    # Before Qt or huggingface_hub are imported: no display needed, no network ever.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from ragdesk import paths

    began = time.perf_counter()
    run = _Run(out)
    state: dict = {}
    previous_home = os.environ.get(paths.ENV_HOME)
    with tempfile.TemporaryDirectory(prefix="ragdesk-selftest-") as tmp:
        os.environ[paths.ENV_HOME] = str(Path(tmp) / "home")
        paths.set_home(None)
        try:
            run.step("qt", lambda: _qt(state))
            run.step("window", lambda: _window(state))
            run.step("store", lambda: _store(state))
            run.step("index", lambda: _index(state))
            run.step("search", lambda: _search(state))
            run.step("ocr", _ocr)
            run.step("llm", lambda: _llm(state))
            run.step("eval", lambda: _eval(state))
        finally:
            _close(state)
            if previous_home is None:
                os.environ.pop(paths.ENV_HOME, None)
            else:
                os.environ[paths.ENV_HOME] = previous_home
            paths.set_home(None)
    if run.failed:
        print(f"self-test FAILED at step '{run.failed}'", file=out, flush=True)
        return 1
    print(f"self-test passed in {time.perf_counter() - began:.1f} s", file=out, flush=True)
    return 0


# ------------------------------------------------------------------------------- steps


def _qt(state: dict) -> str:
    from ragdesk.ui.qt import QApplication, qVersion

    app = QApplication.instance() or QApplication(["ragdesk", "--self-test"])
    state["app"] = app
    return f"Qt {qVersion()}, platform '{app.platformName()}'"


def _window(state: dict) -> str:
    """The real main window, shown for one event-loop turn, then closed (its workers joined)."""
    from ragdesk.settings import Settings
    from ragdesk.ui.main_window import create_main_window
    from ragdesk.ui.qt import QtCore, QTimer

    window = create_main_window(Settings())
    window.show()
    loop = QtCore.QEventLoop()
    QTimer.singleShot(50, loop.quit)
    loop.exec()
    shown = window.isVisible()
    title = window.windowTitle()
    window.close()
    if not shown:
        raise SelfTestFailure("the main window did not show")
    return f"'{title}' shown and closed"


def _store(state: dict) -> str:
    import sqlite_vec

    from ragdesk import db
    from ragdesk.store import KnowledgeStore

    store = KnowledgeStore()
    state["store"] = store
    version = db.scalar(store.conn, "SELECT vec_version()")
    return f"SQLite {db.scalar(store.conn, 'SELECT sqlite_version()')}, sqlite-vec {version} ({Path(sqlite_vec.loadable_path()).name})"


def _index(state: dict) -> str:
    folder = sample_docs()
    if not folder.is_dir():
        raise SelfTestFailure(f"the sample documents are missing ({folder})")
    report = state["store"].index([folder], "self-test")
    if report.added == 0 or report.chunks_added == 0:
        raise SelfTestFailure(f"indexing {folder} added nothing (skipped: {report.skipped})")
    model = state["store"].settings.embedding_model
    return f"{report.added} documents, {report.chunks_added} chunks embedded with {model}"


def _search(state: dict) -> str:
    hits = state["store"].search(QUERY, "self-test", k=3)
    if not hits:
        raise SelfTestFailure(f"searching for '{QUERY}' found nothing")
    return f"{len(hits)} hits, best: {Path(hits[0].path).name} (score {hits[0].score:.3f})"


def _ocr() -> str:
    """PDFium renders a page and the bundled OCR models read a generated image of text."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw, ImageFont

    from ragdesk.ingest import ocr

    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(200, 100)
    size = page.render(scale=1).to_pil().size
    pdf.close()
    image = Image.new("RGB", (900, 160), "white")
    ImageDraw.Draw(image).text((40, 50), OCR_PHRASE, fill="black", font=ImageFont.load_default(size=40))
    lines = ocr.read_image(image, threads=1)
    read = " ".join(line.text for line in lines)
    if "scans" not in read.lower():
        raise SelfTestFailure(f"OCR read {read!r} from an image of {OCR_PHRASE!r}")
    return f"PDFium rendered a {size[0]}x{size[1]} page; OCR read {read!r} ({lines[0].confidence:.0%} confidence)"


def _llm(state: dict) -> str:
    from ragdesk.llm.engine import Engine
    from ragdesk.llm.registry import ModelRegistry

    entry = ModelRegistry(state["store"].conn).resolve(None)  # the built-in default model
    engine = Engine(n_ctx=512, n_threads=1)  # one thread: quick for 8 tokens, and never
    # slowed by oversubscription (llama.cpp threads spin at barriers on a busy machine)
    state["engine"] = engine
    engine.load(entry.path)
    prompt = engine.render_chat([{"role": "user", "content": "Say hello in three words."}])
    text, stats = engine.generate(prompt, max_tokens=8, temperature=0.0)
    if stats.completion_tokens == 0:
        raise SelfTestFailure(f"{entry.name} generated no tokens")
    return f"{entry.name} generated {stats.completion_tokens} tokens: {text.strip()[:40]!r}"


def _eval(state: dict) -> str:
    """One question, RAG against the model alone, scored; the HTML report with its matplotlib charts."""
    from ragdesk import paths
    from ragdesk.chat import ChatSession
    from ragdesk.evaluation.qa import QAItem
    from ragdesk.evaluation.report import write_report
    from ragdesk.evaluation.runner import run_eval

    session = ChatSession(state["store"], engine=state["engine"])
    session.load_model(None)  # the llm step's model: already loaded, not loaded again
    item = QAItem(QUERY, answer=EVAL_ANSWER, gold_doc=EVAL_GOLD)
    run = run_eval(session, [item], ["rag"], collection="self-test", max_tokens=8)
    report = write_report(run, paths.home() / "self-test-report", title="ragdesk self-test")
    charts = report.read_text(encoding="utf-8").count("data:image/png;base64,")
    if charts < 2:
        raise SelfTestFailure(f"the evaluation report has {charts} charts instead of 2 (matplotlib)")
    answers = sum(len(records) for records in run.records.values())
    return f"{answers} answers ({', '.join(run.modes)}), report with {charts} charts ({report.stat().st_size // 1024} KB)"


def _close(state: dict) -> None:
    for key in ("engine", "store"):
        thing = state.pop(key, None)
        if thing is not None:
            try:
                thing.close()
            except Exception:  # noqa: BLE001 - the outcome is already printed
                pass
