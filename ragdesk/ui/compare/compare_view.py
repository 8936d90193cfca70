"""The Compare page: one question answered by RAG, merged-LoRA and hybrid, side by side.

Every mode uses the model, collection and adapter chosen in the mode bar, so
the answers differ only by what each mode knows. The modes run one after
another on the one model (the column being written is marked), each column
with its Markdown answer, clickable ``[n]`` citations (shown in the window's
sources panel), latency and tokens/s. A mode that can't run is shown disabled
with the reason. The page's second tab runs a QA file through the modes
(:mod:`ragdesk.ui.evaluation.eval_panel`); the columns are :mod:`ragdesk.ui.compare.compare_column`.
"""

from __future__ import annotations

import html

from ragdesk.chat.modes import BASELINE, MODE_ORDER, MODES
from ragdesk.ui.chat.chat_view import ChatInput
from ragdesk.ui.compare.compare_column import ModeColumn
from ragdesk.ui.errors import sentence
from ragdesk.ui.evaluation.eval_panel import EvalPanel
from ragdesk.ui.item_models import entry_from_answer
from ragdesk.ui.look.style import SPACE, set_primary
from ragdesk.ui.qt import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QKeySequence,
    QLabel,
    QPushButton,
    QScrollArea,
    QShortcut,
    Qt,
    QTabWidget,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)


class CompareView(QWidget):
    """The Compare page: mode choice, the question, a column per mode; and the Evaluation tab."""

    citationClicked = Signal(object, int)  # ChatEntry, n: the window shows it in the sources panel
    entrySelected = Signal(object)  # ChatEntry

    FLUSH_MS = 40

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)  # the style sheet paints the page
        self.controller = controller
        self.comparisons = controller.comparisons
        self.request = None
        self.answers: dict[str, object] = {}  # mode -> Answer of the last comparison
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        # The page scrolls rather than widening the window: it may sit in a narrow central area.
        self.page_scroll = QScrollArea(self)
        self.page_scroll.setObjectName("comparePageScroll")
        self.page_scroll.setWidgetResizable(True)
        self.page_scroll.setFrameShape(QFrame.Shape.NoFrame)
        page = QWidget(self.page_scroll)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(SPACE["sm"], SPACE["md"], SPACE["sm"], SPACE["md"])
        layout.setSpacing(SPACE["sm"])

        row = QHBoxLayout()
        row.addWidget(QLabel("<b>Modes</b>", self))
        self.checks: dict[str, QCheckBox] = {}
        for mode in MODE_ORDER:
            box = QCheckBox(f"{MODES[mode].label} baseline" if mode == BASELINE else MODES[mode].label, self)
            box.setObjectName(f"compareMode_{mode}")
            box.setChecked(mode != BASELINE)
            box.toggled.connect(self._modes_changed)
            self.checks[mode] = box
            row.addWidget(box)
        row.addStretch(1)
        layout.addLayout(row)
        self.context = QLabel(self)
        self.context.setObjectName("compareContext")
        self.context.setWordWrap(True)
        layout.addWidget(self.context)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("compareTabs")
        self.tabs.setDocumentMode(True)
        side = QWidget(self.tabs)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 6, 0, 0)
        ask = QHBoxLayout()
        self.input = ChatInput(side)
        self.input.setObjectName("compareInput")
        self.input.setAcceptDrops(False)
        self.input.submitted.connect(lambda _text: self.start())
        self.input.textChanged.connect(self.refresh)
        self.compare_button = QPushButton("Compare", side)
        self.compare_button.setObjectName("compareButton")
        self.compare_button.setDefault(True)
        set_primary(self.compare_button)
        self.compare_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop", side)
        self.stop_button.setObjectName("compareStop")
        self.stop_button.setToolTip("Stop the comparison (Esc): the answers so far are kept")
        self.stop_button.clicked.connect(self.stop)
        ask.addWidget(self.input, 1)
        ask.addWidget(self.compare_button, 0, Qt.AlignmentFlag.AlignBottom)
        ask.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignBottom)
        side_layout.addLayout(ask)
        self.status = QLabel(side)
        self.status.setObjectName("compareStatus")
        self.status.setWordWrap(True)
        side_layout.addWidget(self.status)
        columns = QHBoxLayout()
        columns.setSpacing(SPACE["sm"])
        self.columns: dict[str, ModeColumn] = {}
        for mode in MODE_ORDER:
            column = ModeColumn(mode, side)
            column.citationClicked.connect(self.citationClicked)
            column.selected.connect(self.entrySelected)
            columns.addWidget(column, 1)
            self.columns[mode] = column
        side_layout.addLayout(columns, 1)
        self.tabs.addTab(side, "Side by side")
        self.eval_panel = EvalPanel(self.comparisons, self.chosen_modes, self.tabs)
        self.tabs.addTab(self.eval_panel, "Evaluation")
        layout.addWidget(self.tabs, 1)
        self.page_scroll.setWidget(page)
        page.setAutoFillBackground(False)
        outer.addWidget(self.page_scroll)

        self.stop_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.stop_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.stop_shortcut.activated.connect(self.stop)
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(self.FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)
        self._generating: ModeColumn | None = None

        c, cmp_ = controller, self.comparisons
        for signal in (c.modelChanged, c.availabilityChanged, c.adapterChanged, c.collectionChanged, c.busyChanged):
            signal.connect(self.refresh)
        cmp_.runningChanged.connect(self.refresh)
        cmp_.compareStarted.connect(self._started)
        cmp_.compareTokens.connect(self._tokens)
        cmp_.compareAnswer.connect(self._answered)
        cmp_.compareFinished.connect(self._finished)
        cmp_.compareFailed.connect(self._failed)
        self._modes_changed()

    # -- choices -----------------------------------------------------------

    def chosen_modes(self) -> list[str]:
        """The ticked modes, left to right (unavailable ones included: they are shown, not run)."""
        return [m for m in MODE_ORDER if self.checks[m].isChecked()]

    def _modes_changed(self, *_args) -> None:
        for mode, column in self.columns.items():
            column.setVisible(self.checks[mode].isChecked())
        self.refresh()

    def refresh(self, *_args) -> None:
        """Reflect the model, adapter, collection and availability in the checks, columns and buttons."""
        c, cmp_ = self.controller, self.comparisons
        running = cmp_.running
        for mode, box in self.checks.items():
            reason = c.unavailable_reason(mode)
            box.setEnabled(not running and reason is None)
            box.setToolTip(f"{MODES[mode].label} is unavailable: {sentence(reason)}" if reason else MODES[mode].help)
            column = self.columns[mode]
            if column.state in ("idle", "unavailable") and column.reason != reason:
                column.set_idle(reason)
        adapter = c.adapter or "none"
        model = c.model_name if c.model_state == "ready" else "no model loaded"
        self.context.setText(
            f"Every mode uses the same model (<b>{_escape(model or '')}</b>), collection "
            f"(<b>{_escape(c.collection)}</b>) and adapter (<b>{_escape(adapter)}</b>): change them in the bar above."
        )
        blocked = cmp_.blocked_reason() if not running else None
        runnable = cmp_.runnable(self.chosen_modes())
        if running:
            hint = "Comparing… (Esc stops)" if self.request is not None else "An evaluation run is using the model."
        elif blocked:
            hint = f"Can't compare now: {blocked}."
        elif not runnable:
            hint = "Tick a mode that can run to compare."
        else:
            hint = "Ask one question; each ticked mode answers it in turn. Enter compares, Shift+Enter starts a new line."
        self.input.setPlaceholderText(hint)
        can = not running and not blocked and bool(runnable)
        self.compare_button.setEnabled(can and bool(self.input.toPlainText().strip()))
        self.compare_button.setToolTip("Compare (Enter)" if can else hint)
        comparing = running and self.request is not None
        self.stop_button.setVisible(comparing)
        self.compare_button.setVisible(not comparing)

    # -- running -----------------------------------------------------------

    def start(self):
        """Compare the question in the input box; returns the request (None if it couldn't start)."""
        question = self.input.toPlainText().strip()
        if not question or not self.compare_button.isEnabled():
            return None
        request = self.comparisons.compare(question, self.chosen_modes())
        if request is None:
            return None
        self.request, self.answers = request, {}
        for mode, column in self.columns.items():
            if mode in request.modes:
                column.set_waiting()
            else:
                column.set_idle(self.controller.unavailable_reason(mode))
        self.status.setText(f"Comparing {_modes_text(request.modes)} on: <b>{_escape(question)}</b>")
        self.refresh()
        return request

    def stop(self) -> bool:
        """Stop the comparison, or the evaluation run (Esc anywhere on the page)."""
        if self.request is not None:
            return self.comparisons.cancel()
        return self.eval_panel.cancel()

    def _mine(self, request_id: int) -> bool:
        return self.request is not None and self.request.id == request_id

    def _started(self, request_id: int, mode: str) -> None:
        if self._mine(request_id) and mode in self.columns:
            self._generating = self.columns[mode]
            self._generating.begin()

    def _tokens(self, request_id: int, mode: str, text: str) -> None:
        if self._mine(request_id) and mode in self.columns:
            self.columns[mode].append(text)
            if not self._flush_timer.isActive():
                self._flush_timer.start()

    def _flush(self) -> None:
        if self._generating is not None:
            self._generating.flush()

    def _answered(self, request_id: int, mode: str, answer) -> None:
        if not self._mine(request_id) or mode not in self.columns:
            return
        self._flush_timer.stop()
        self.answers[mode] = answer
        entry = entry_from_answer(answer)
        self.columns[mode].finish(entry)
        self._generating = None
        if len(self.answers) == 1:
            self.entrySelected.emit(entry)  # the sources panel follows the comparison

    def _finished(self, request_id: int, result) -> None:
        if not self._mine(request_id):
            return
        self._end()
        for mode, reason in result.skipped.items():
            if mode in self.columns:
                self.columns[mode].set_idle(reason)
        for column in self.columns.values():
            if column.state in ("waiting", "generating"):
                column.end_unrun("Not run: the comparison was stopped before its turn.")
        if result.cancelled:
            done = f"Stopped after {_modes_text(list(result.answers))}" if result.answers else "Stopped before any answer"
        else:
            done = f"Compared {_modes_text(list(result.answers))}"
        self.status.setText(f"{done} on: <b>{_escape(result.question)}</b>")

    def _failed(self, request_id: int, message: str) -> None:
        if not self._mine(request_id):
            return
        self._end()
        for column in self.columns.values():
            if column.state == "generating":
                column.fail(message or "Stopped.")
            elif column.state == "waiting":
                column.end_unrun("Not run." if not message else "Not run: the comparison failed.")
        self.status.setText(f"Failed: {_escape(message)}" if message else "Stopped before it began.")

    def _end(self) -> None:
        self._flush_timer.stop()
        self._generating = None
        self.request = None
        self.refresh()

    def restyle(self) -> None:
        """Re-tint the columns (the window calls this when the system palette changes)."""
        for column in self.columns.values():
            column.restyle()
        self.eval_panel.restyle()


def _modes_text(modes: list[str]) -> str:
    names = [MODES[m].label for m in modes]
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
