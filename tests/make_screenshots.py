"""Screenshots of the app's main states, for the README: ``python tests/make_screenshots.py OUT_DIR``.

It drives the real window offscreen on its real workers: a fresh data folder for
the first run and an indexing run, then a second one with the bundled sample
documents indexed and the tiny random-weight GGUF (tests/support/tiny_models.py)
loaded with its random adapter. The tiny model writes gibberish, so what the
chat and Compare pages show is scripted: a stored conversation citing real
chunks of the sample documents, and Compare columns filled through the page's
own methods. The evaluation report is a real run of the tiny model. Content is
the same on every run, so screenshots of two versions show the same states.

Options: ``--only NAME,NAME`` (a subset), ``--cache DIR`` (keep the tiny model
between runs). PNGs are palette-quantised when that keeps them readable and small.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/support as `support`

SIZE = (1100, 720)
MAX_BYTES = 120_000
STATES = (
    "first-run", "first-run-dark", "indexing", "answer", "answer-dark", "compare", "compare-dark",
    "eval-report", "model-manager", "settings", "training", "error",
)
DARK = {  # a desktop's dark scheme, as the platform would hand it to Qt
    "Window": "#2b2b2b", "Base": "#1e1e1e", "AlternateBase": "#2a2a2a", "Text": "#e6e6e6",
    "WindowText": "#e6e6e6", "Button": "#353535", "ButtonText": "#e6e6e6", "Highlight": "#3d7be0",
    "HighlightedText": "#ffffff", "Link": "#7eb6ff", "PlaceholderText": "#8a8a8a", "ToolTipBase": "#353535",
    "ToolTipText": "#e6e6e6", "Light": "#4a4a4a", "Midlight": "#3a3a3a", "Mid": "#2f2f2f", "Dark": "#1a1a1a",
    "Shadow": "#0f0f0f",
}
ANSWER = (
    "You can return an unused product within **60 days of delivery** [1]. Once the parcel reaches the "
    "Leeds warehouse, the refund goes back to your original payment method:\n\n"
    "- refunds are paid within **5 business days** [1]\n"
    "- faulty products are repaired free of charge for **3 years** [2]\n\n"
    "For a repair, write to `repairs@northwind.example` [2]."
)
QUESTION = "How long do I have to return a product, and what about repairs?"
QA = [
    {"question": "How long does the Lantern N3 battery last on low?", "answer": "42 hours", "gold_doc": "lantern-n3-guide"},
    {"question": "Can the Lantern N3 be submerged?", "label": "no", "gold_doc": "lantern-n3-guide"},
    {"question": "How many days do I have to return a product?", "answer": "60 days", "gold_doc": "returns-policy"},
    {"question": "Are faulty products repaired for free?", "label": "yes", "gold_doc": "returns-policy"},
]


class Shooter:
    """Opens windows on real workers and saves what they show."""

    def __init__(self, out: Path, only: set[str], work: Path) -> None:
        from ragdesk.ui.qt import QApplication

        self.out, self.only, self.work = out, only, work
        self.app = QApplication.instance() or QApplication(["ragdesk"])
        self.light = self.app.palette()
        out.mkdir(parents=True, exist_ok=True)

    def wanted(self, *names: str) -> bool:
        return any(n in self.only for n in names)

    # -- plumbing ----------------------------------------------------------

    def wait(self, predicate, timeout: float = 180.0, what: str = "") -> None:
        from ragdesk.ui.qt import QApplication

        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what or predicate}")
            QApplication.processEvents()
            time.sleep(0.01)

    def settle(self, seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        self.wait(lambda: time.monotonic() >= end)

    def dark(self, on: bool) -> None:
        """Switch the application palette as a desktop's light/dark switch does."""
        from ragdesk.ui.qt import QColor, QPalette

        if not on:
            self.app.setPalette(self.light)
        else:
            dark = QPalette(self.light)
            for role, color in DARK.items():
                dark.setColor(getattr(QPalette.ColorRole, role), QColor(color))
            for role in ("Text", "WindowText", "ButtonText"):
                dark.setColor(QPalette.ColorGroup.Disabled, getattr(QPalette.ColorRole, role), QColor("#777777"))
            self.app.setPalette(dark)
        self.settle(0.4)

    def save(self, widget, name: str) -> None:
        if name not in self.only:
            return
        from PIL import Image

        self.settle(0.4)
        raw = self.work / f"{name}-raw.png"
        assert widget.grab().save(str(raw)), f"could not render {name}"
        image = Image.open(raw).convert("RGB")
        path = self.out / f"{name}.png"
        image.save(path, optimize=True)
        if path.stat().st_size > MAX_BYTES:
            image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
        print(f"{path}  {image.width}x{image.height}  {path.stat().st_size // 1024} KB", flush=True)

    def window(self, home: Path, **overrides):
        from ragdesk import paths
        from ragdesk.settings import Settings
        from ragdesk.ui.main_window import create_main_window

        os.environ[paths.ENV_HOME] = str(home)
        paths.set_home(None)
        values = dict(n_threads=1, n_ctx=1024, max_tokens=16, temperature=0.0, top_k=3, chunk_tokens=64,
                      chunk_overlap=8, relevance_threshold=0.0)
        values.update(overrides)
        Settings(**values).save()
        window = create_main_window(Settings.load())
        window.resize(*SIZE)
        window.show()
        c = window.controller
        self.wait(lambda: c.availability is not None and c.catalog_known and c.collection_infos is not None,
                  what="the window's first state")
        return window

    def run_job(self, job) -> None:
        self.wait(lambda: job.finished, timeout=600, what=f"job {job.kind}")
        self.settle(0.5)

    # -- states ------------------------------------------------------------

    def first_run_and_indexing(self) -> None:
        window = self.window(self.work / "home-first")
        self.save(window, "first-run")
        if self.wanted("first-run-dark"):
            self.dark(True)
            self.save(window, "first-run-dark")
            self.dark(False)
        if self.wanted("indexing"):
            folder = self.work / "notes"
            folder.mkdir(exist_ok=True)
            for i in range(600):
                (folder / f"note{i:03}.txt").write_text(
                    f"Note {i}: the lighthouse keeper logged ship number {i} at dawn.", encoding="utf-8")
            c = window.controller
            seen = []
            c.jobProgress.connect(lambda _job, p: seen.append(p))
            job = window.library.index_paths([str(folder)])
            self.wait(lambda: any(p is not None and p.chunks_done >= 64 for p in seen), timeout=600,
                      what="indexing progress")
            self.save(window, "indexing")
            c.cancel_job(job)
            self.run_job(job)
        window.close()

    def library_window(self, tiny):
        """A window with the sample documents indexed, the tiny model loaded and its adapter chosen."""
        from ragdesk import db
        from ragdesk.demo import SAMPLE_DOCS
        from ragdesk.llm.registry import ModelRegistry

        window = self.window(self.work / "home-library")
        c = window.controller
        conn = db.connect(c.db_path)
        registry = ModelRegistry(conn)
        registry.add(tiny.gguf_path, name="tiny")
        registry.add(tiny.lora_path, name="tiny-lora", base_model="tiny")
        conn.close()
        c.refresh_models()
        self.wait(lambda: any(m.name == "tiny" for m in c.models), what="the registered model")
        c.load_model("tiny")
        self.run_job(c.index_paths([SAMPLE_DOCS]))
        self.wait(lambda: c.model_state == "ready" and c.unavailable_reason("rag") is None, what="the model")
        c.set_adapter("tiny-lora")
        self.wait(lambda: c.unavailable_reason("hybrid") is None, what="the adapter")
        c.set_mode("rag")
        self.settle(0.5)
        return window

    def _hits(self, c):
        returns = c.store.search("returns within 60 days of delivery refunds", k=3)
        repairs = c.store.search("repaired free of charge for 3 years repair desk", k=3)
        first = next(h for h in returns if h.path.endswith("returns-policy.html"))
        second = next((h for h in repairs if h.chunk_id != first.chunk_id), repairs[0])
        others = [h for h in returns + repairs if h.chunk_id not in (first.chunk_id, second.chunk_id)]
        return first, second, others[:1]

    def answer(self, window) -> None:
        c = window.controller
        first, second, others = self._hits(c)
        cid = c.conversations.create("Returns and repairs").id
        c.conversations.add_message(cid, "user", QUESTION, mode="rag")
        c.conversations.add_message(
            cid, "assistant", ANSWER, mode="rag", model="tiny", adapter=None, collection="default",
            retrieved=[first, second, *others], cited=[(1, first), (2, second)],
            stats={"completion_tokens": 58, "tokens_per_s": 41.7, "total_ms": 1390.0, "retrieval_ms": 21.0},
        )
        c.conversationsChanged.emit()
        self.wait(lambda: window.conversations.model.rowCount() >= 1, what="the conversation list")
        window.open_conversation(cid)
        card = window.chat.cards[-1]
        card.citationClicked.emit(card.entry, 1)
        self.save(window, "answer")
        if self.wanted("answer-dark"):
            self.dark(True)
            self.save(window, "answer-dark")
            self.dark(False)

    def compare(self, window) -> None:
        from ragdesk.ui.item_models import ChatEntry, sources_from

        c = window.controller
        first, second, others = self._hits(c)
        view = window.compare
        window.show_compare()
        view.input.setPlainText(QUESTION)
        texts = {
            "rag": ("Unused products can be returned within **60 days** of delivery [1]; faulty ones are "
                    "repaired free for 3 years [2].", [(1, first), (2, second)], 1.62, 38.9, 31),
            "lora": ("Returns are accepted for 60 days. Refunds reach your card within five business days.",
                     [], 0.71, 44.2, 19),
            "hybrid": ("Within **60 days** of delivery [1]. Refunds take up to 5 business days after the parcel "
                       "arrives in Leeds [1].", [(1, first)], 1.88, 36.1, 29),
        }
        for mode, column in view.columns.items():
            if mode not in texts:
                continue
            text, cited, seconds, speed, tokens = texts[mode]
            retrieved = [first, second, *others] if mode != "lora" else []
            entry = ChatEntry("assistant", text, mode=mode, model="tiny",
                              adapter="tiny-lora" if mode != "rag" else None, collection="default",
                              sources=sources_from(retrieved, cited),
                              stats={"completion_tokens": tokens, "tokens_per_s": speed,
                                     "total_ms": seconds * 1000 - 20, "retrieval_ms": 20.0 if retrieved else 0.0})
            column.finish(entry)
        view.status.setText(f"Compared RAG, merged-LoRA and hybrid on: <b>{QUESTION}</b>")
        window.citations.show_entry(view.columns["rag"].entry, 1)
        self.save(window, "compare")
        if self.wanted("compare-dark"):
            self.dark(True)
            self.save(window, "compare-dark")
            self.dark(False)

    def eval_report(self, window) -> None:
        import json

        view = window.compare
        window.show_compare()
        panel = view.eval_panel
        view.tabs.setCurrentWidget(panel)
        qa = self.work / "qa.jsonl"
        qa.write_text("".join(json.dumps(row) + "\n" for row in QA), encoding="utf-8")
        panel.path.setText(str(qa))
        panel.max_tokens.setValue(12)
        done = []
        window.controller.comparisons.evalFinished.connect(lambda *args: done.append(args))
        panel.run_button.click()
        self.wait(lambda: bool(done), timeout=600, what="the evaluation run")
        self.save(window, "eval-report")
        view.tabs.setCurrentIndex(0)
        window.tabs.setCurrentWidget(window.chat)

    def dialogs(self, window) -> None:
        if self.wanted("model-manager"):
            dialog = window.open_model_manager()
            self.wait(lambda: dialog.listed_once, what="the model list")
            self.save(dialog, "model-manager")
            dialog.reject()
            dialog.shutdown(10_000)
        if self.wanted("settings"):
            dialog = window.open_settings()
            self.save(dialog, "settings")
            dialog.reject()
        if self.wanted("training"):
            dialog = window.open_train_dialog()
            self.wait(lambda: dialog.survey is not None and dialog.start_button.isEnabled(), what="the training form")
            self.save(dialog, "training")
            dialog.reject()
            dialog.shutdown(10_000)
        if self.wanted("error"):
            bad = self.work / "notes-not-a-model.gguf"
            bad.write_text("this is not a model, just text with a .gguf name\n", encoding="utf-8")
            window.controller.load_model(str(bad))
            self.wait(lambda: window.last_error is not None and window.last_error.isVisible(), what="the error box")
            self.save(window.last_error, "error")
            window.last_error.accept()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNGs")
    parser.add_argument("--only", help="comma-separated states: " + ", ".join(STATES))
    parser.add_argument("--cache", type=Path, help="folder to keep the tiny model in between runs")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(STATES)
    unknown = only - set(STATES)
    if unknown:
        parser.error(f"unknown states: {', '.join(sorted(unknown))}")

    with tempfile.TemporaryDirectory(prefix="ragdesk-shots-") as tmp:
        shooter = Shooter(args.out.resolve(), only, Path(tmp))
        if shooter.wanted("first-run", "first-run-dark", "indexing"):
            shooter.first_run_and_indexing()
        library_states = {"answer", "answer-dark", "compare", "compare-dark", "eval-report", "model-manager",
                          "settings", "training", "error"}
        if only & library_states:
            tiny = tiny_model(args.cache or Path(tmp) / "tiny")
            window = shooter.library_window(tiny)
            if shooter.wanted("answer", "answer-dark"):
                shooter.answer(window)
            if shooter.wanted("compare", "compare-dark"):
                shooter.compare(window)
            if shooter.wanted("eval-report"):
                shooter.eval_report(window)
            shooter.dialogs(window)
            window.close()
    return 0


class _Tiny:
    def __init__(self, gguf_path: Path, lora_path: Path) -> None:
        self.gguf_path, self.lora_path = gguf_path, lora_path


def tiny_model(folder: Path) -> _Tiny:
    """The tests' tiny GGUF and its random adapter (built once per cache folder)."""
    from support.tiny_models import build_random_lora_gguf, build_tiny_model

    folder.mkdir(parents=True, exist_ok=True)
    gguf, lora = folder / "tiny.gguf", folder / "tiny-lora.gguf"
    if not (gguf.is_file() and lora.is_file()):
        build_tiny_model(folder)
        build_random_lora_gguf(gguf, lora)
    return _Tiny(gguf, lora)


if __name__ == "__main__":
    sys.exit(main())
