"""The Evaluation tab of the Compare page: run a QA file through the modes and show the report.

The run happens on the model worker (the one model in memory) with a progress
bar and Cancel; at the end the HTML report (``ragdesk.evaluation.report``) is
written to ``<data folder>/reports/<timestamp>/`` and shown here. The report
keeps to the HTML subset Qt's rich text renders (tables, inline PNG charts);
"Open in browser" shows the same file in the system browser.
"""

from __future__ import annotations

import base64
import html
import re
import struct
from collections.abc import Callable
from pathlib import Path

from ragdesk.chat.modes import BASELINE
from ragdesk.chat.modes import label as mode_label
from ragdesk.ui.look import style, theme
from ragdesk.ui.qt import (
    QDesktopServices,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QTimer,
    QUrl,
    QVBoxLayout,
    QWidget,
)

FORMAT_HINT = (
    "A QA file has one JSON object per line: <code>question</code>, and any of <code>answer</code> (free text), "
    "<code>label</code> (such as yes/no/maybe) and <code>gold_doc</code> (a file name without extension). "
    "The ticked modes answer every question; the closed-book baseline always runs too, for reference. "
    "No QA file? <code>ragdesk eval make-qa</code> writes one from a collection."
)
_PNG_IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]{32,})"')


def png_size(data_b64: str) -> tuple[int, int] | None:
    """Width and height of a base64 PNG, from its header (None if it isn't one)."""
    head = base64.b64decode(data_b64[:32] + "=" * (-len(data_b64[:32]) % 4))
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def fit_images(text: str, max_width: int) -> str:
    """The report with every inline PNG wider than ``max_width`` scaled down to it (Qt honours width/height)."""

    def scaled(match: re.Match) -> str:
        size = png_size(match.group(1))
        if size is None or size[0] <= max_width:
            return match.group(0)
        width, height = size
        return f'<img width="{max_width}" height="{round(height * max_width / width)}"' + match.group(0)[4:]

    return _PNG_IMG.sub(scaled, text)


class ReportView(QTextBrowser):
    """Shows a report; its charts shrink to the view's width so nothing needs side-scrolling."""

    MIN_IMAGE_WIDTH = 360  # narrower than this, scrolling beats unreadable charts

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._html = ""
        self._fitted_to = 0
        self._refit_timer = QTimer(self)
        self._refit_timer.setSingleShot(True)
        self._refit_timer.setInterval(120)  # resizing by dragging re-lays the report once it settles
        self._refit_timer.timeout.connect(self._refit)

    def show_html(self, text: str) -> None:
        self._html, self._fitted_to = text, 0
        if text:
            self._refit()
        else:
            self.clear()

    def _refit(self) -> None:
        # The report is long, so count the vertical scroll bar as shown; its body has a 16 px margin each side.
        room = self.contentsRect().width() - self.verticalScrollBar().sizeHint().width()
        width = max(self.MIN_IMAGE_WIDTH, room - 2 * int(self.document().documentMargin()) - 48)
        if not self._html or width == self._fitted_to:
            return
        bar = self.verticalScrollBar()
        at = bar.value() / bar.maximum() if bar.maximum() else 0.0
        self._fitted_to = width
        self.setHtml(fit_images(self._html, width))
        bar.setValue(round(at * bar.maximum()))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._html:
            self._refit_timer.start()


class EvalPanel(QWidget):
    """QA file, limit and answer length; Run and Cancel; progress; the report."""

    def __init__(self, comparisons, modes: Callable[[], list[str]], parent: QWidget | None = None) -> None:
        """``modes()`` gives the modes ticked on the Compare page."""
        super().__init__(parent)
        self.setObjectName("evalPanel")
        self.comparisons = comparisons
        self._modes = modes
        self.request = None
        self.report_path: Path | None = None
        self.outcome = None  # the last run's EvalOutcome
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(6)

        row = QHBoxLayout()
        row.addWidget(QLabel("QA file", self))
        self.path = QLineEdit(self)
        self.path.setObjectName("qaPath")
        self.path.setPlaceholderText("questions.jsonl")
        self.path.textChanged.connect(self.refresh)
        row.addWidget(self.path, 1)
        browse = QPushButton("Browse…", self)
        browse.setObjectName("qaBrowse")
        browse.clicked.connect(self.browse)
        row.addWidget(browse)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Questions", self))
        self.limit = QSpinBox(self)
        self.limit.setObjectName("qaLimit")
        self.limit.setRange(0, 100_000)
        self.limit.setSpecialValueText("all")
        self.limit.setToolTip("Evaluate only the first N questions of the file")
        row.addWidget(self.limit)
        row.addWidget(QLabel("Answer tokens", self))
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setObjectName("qaMaxTokens")
        self.max_tokens.setRange(1, 4096)
        self.max_tokens.setValue(128)
        self.max_tokens.setToolTip("The longest answer, in tokens (answers are greedy and short)")
        row.addWidget(self.max_tokens)
        row.addStretch(1)
        layout.addLayout(row)
        row = QHBoxLayout()  # the buttons on their own row: the page stays narrow enough for three columns
        row.addStretch(1)
        self.run_button = QPushButton("Run evaluation", self)
        style.set_primary(self.run_button)
        self.run_button.setObjectName("evalRun")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("evalCancel")
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)

        self.hint = QLabel(FORMAT_HINT, self)
        self.hint.setObjectName("evalHint")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar(self)
        self.progress.setObjectName("evalProgress")
        self.progress.setFormat("%v of %m answers")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        progress_row.addWidget(self.progress, 1)
        self.status = QLabel(self)
        self.status.setObjectName("evalStatus")
        self.status.setWordWrap(True)
        progress_row.addWidget(self.status, 2)
        layout.addLayout(progress_row)

        report_row = QHBoxLayout()
        self.report_label = QLabel("No report yet.", self)
        self.report_label.setObjectName("reportLabel")
        self.report_label.setWordWrap(True)
        self.open_button = QPushButton("Open in browser", self)
        self.open_button.setObjectName("openReport")
        self.open_button.clicked.connect(self.open_in_browser)
        self.folder_button = QPushButton("Open folder", self)
        self.folder_button.setObjectName("openReportFolder")
        self.folder_button.clicked.connect(self.open_folder)
        report_row.addWidget(self.report_label, 1)
        report_row.addWidget(self.open_button)
        report_row.addWidget(self.folder_button)
        layout.addLayout(report_row)
        self.report = ReportView(self)
        self.report.setObjectName("reportView")
        layout.addWidget(self.report, 1)

        c = comparisons
        c.runningChanged.connect(self.refresh)
        c.evalProgress.connect(self._progress)
        c.evalFinished.connect(self._finished)
        c.evalFailed.connect(self._failed)
        app = c.app
        for signal in (app.modelChanged, app.availabilityChanged, app.busyChanged):
            signal.connect(self.refresh)
        self.restyle()
        self.refresh()

    # -- state -------------------------------------------------------------

    def restyle(self) -> None:
        """The format hint in the palette's muted text colour (again after a light/dark switch)."""
        self.hint.setStyleSheet(f"color: {theme.hex_color(theme.muted_text(theme.app_palette()))};")

    def refresh(self, *_args) -> None:
        c = self.comparisons
        mine = self.request is not None
        blocked = None if c.running else c.blocked_reason()
        path = self.path.text().strip()
        can = not c.running and not blocked and bool(path)
        self.run_button.setEnabled(can)
        if c.running and not mine:
            tip = "A comparison is using the model."
        elif blocked:
            tip = f"Can't evaluate now: {blocked}."
        elif not path:
            tip = "Choose a QA file first."
        else:
            tip = "Answer every question in each ticked mode and the closed-book baseline; then show the report."
        self.run_button.setToolTip(tip)
        self.run_button.setVisible(not mine)
        self.cancel_button.setVisible(mine)
        for field_ in (self.path, self.limit, self.max_tokens):
            field_.setEnabled(not mine)
        has_report = self.report_path is not None
        self.open_button.setEnabled(has_report)
        self.folder_button.setEnabled(has_report)

    def browse(self) -> None:
        start = self.path.text().strip() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a QA file", start, "QA files (*.jsonl *.json);;All files (*)")
        if path:
            self.path.setText(path)

    # -- running -----------------------------------------------------------

    def run(self):
        """Start an evaluation of the chosen file; returns the request (None if it couldn't start)."""
        path = self.path.text().strip()
        if not path or not self.run_button.isEnabled():
            return None
        if not Path(path).expanduser().is_file():
            self.status.setText(f"There is no file {html.escape(path)}.")
            return None
        request = self.comparisons.evaluate(
            str(Path(path).expanduser()), [m for m in self._modes() if m != BASELINE],
            limit=self.limit.value() or None, max_tokens=self.max_tokens.value(),
        )
        if request is None:
            return None
        self.request, self.outcome = request, None
        self.progress.setRange(0, 0)  # busy until the first step says how many answers there are
        modes = ", ".join(mode_label(m) for m in [BASELINE, *request.modes])
        self.status.setText(f"Starting: {modes}…")
        self.refresh()
        return request

    def cancel(self) -> bool:
        if self.request is None:
            return False
        self.status.setText("Cancelling after the current answer…")
        return self.comparisons.cancel()

    def _mine(self, request_id: int) -> bool:
        return self.request is not None and self.request.id == request_id

    def _progress(self, request_id: int, done: int, total: int, mode: str) -> None:
        if not self._mine(request_id):
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        if mode == "report":
            self.status.setText("Writing the report…")
        elif mode:
            self.status.setText(f"{done} of {total} answers · now answering: {'the report' if mode == 'report' else mode_label(mode)}")
        else:
            self.status.setText(f"0 of {total} answers · loading the questions…")

    def _finished(self, request_id: int, outcome) -> None:
        if not self._mine(request_id):
            return
        self.request, self.outcome = None, outcome
        run = outcome.run
        self.progress.setRange(0, max(outcome.total, 1))
        self.progress.setValue(outcome.answered)
        if outcome.cancelled:
            covered = "the report covers them" if outcome.report else "no report"
            self.status.setText(f"Cancelled after {outcome.answered} of {outcome.total} answers: {covered}.")
        else:
            seconds = f"{run.seconds:.1f}" if run.seconds < 10 else f"{run.seconds:,.0f}"
            self.status.setText(f"Done: {outcome.answered} answers in {seconds} s.")
        if outcome.report is not None:
            self.show_report(outcome.report)
        self.refresh()

    def _failed(self, request_id: int, message: str) -> None:
        if not self._mine(request_id):
            return
        self.request = None
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(html.escape(message) if message else "Cancelled before it began.")
        self.refresh()

    # -- the report --------------------------------------------------------

    def show_report(self, path: Path) -> None:
        """Show a written report (self-contained HTML) and remember it for Open in browser."""
        self.report_path = Path(path)
        try:
            text = self.report_path.read_text(encoding="utf-8")
        except OSError as exc:
            self.report_label.setText(f"Could not read the report: {html.escape(str(exc))}")
            self.report.show_html("")
            return
        self.report.show_html(text)
        self.report_label.setText(f"Report: <code>{html.escape(str(self.report_path))}</code>")
        self.report_label.setToolTip(str(self.report_path))
        self.refresh()

    def open_in_browser(self) -> bool:
        if self.report_path is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.report_path)))

    def open_folder(self) -> bool:
        if self.report_path is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.report_path.parent)))
