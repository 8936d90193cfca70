"""One mode's column on the Compare page: its state, its streamed Markdown answer and its figures.

A column is idle, unavailable (with the reason), waiting for its turn,
generating (outlined in the accent colour), done, stopped, failed or not run.
``[n]`` markers in its answer are links; clicking one asks the window to show
that chunk in the sources panel.
"""

from __future__ import annotations

import html

from ragdesk.chat.modes import MODES
from ragdesk.ui.chat.markdown import citation_number, render_markdown
from ragdesk.ui.chat.message_card import MarkdownView
from ragdesk.ui.errors import sentence
from ragdesk.ui.item_models import ChatEntry, plural
from ragdesk.ui.look import style, theme
from ragdesk.ui.qt import (
    QFrame,
    QLabel,
    QScrollArea,
    QSizePolicy,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)

BADGES = {
    "idle": "", "unavailable": "Unavailable", "waiting": "Waiting", "generating": "● Generating…",
    "done": "Done", "stopped": "Stopped", "failed": "Failed", "not_run": "Not run",
}


def stats_text(entry: ChatEntry) -> str:
    """Latency, speed, length and citations of a finished answer, in one line."""
    s = entry.stats
    bits = []
    latency_ms = float(s.get("retrieval_ms", 0.0)) + float(s.get("total_ms", 0.0))
    if latency_ms:
        bits.append(f"<b>{latency_ms / 1000:.2f} s</b>")
    bits.append(f"<b>{float(s.get('tokens_per_s', 0.0)):.1f}</b> tokens/s")
    bits.append(plural(int(s.get("completion_tokens", 0)), "token"))
    if entry.sources:
        cited = sum(1 for x in entry.sources if x.cited)
        bits.append(f"{cited} of {plural(len(entry.sources), 'source')} cited")
    elif entry.mode in MODES and MODES[entry.mode].retrieval:
        bits.append("no relevant passage found")
    else:
        bits.append("no retrieval")
    return " · ".join(bits)


class ModeColumn(QFrame):
    """One mode's answer: title and state, the Markdown text, and its figures."""

    citationClicked = Signal(object, int)  # ChatEntry, n
    selected = Signal(object)  # ChatEntry

    def __init__(self, mode: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = mode
        self.state = "idle"
        self.entry: ChatEntry | None = None
        self.reason: str | None = None
        self._text = ""  # streamed so far
        self._shown: tuple[str, bool] = ("", False)  # what the body shows, and whether it is Markdown
        self.setObjectName(f"compareColumn_{mode}")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(style.SPACE["sm"] + 2, style.SPACE["md"], style.SPACE["sm"] + 2, style.SPACE["sm"])
        layout.setSpacing(style.SPACE["xs"])
        self.title = QLabel(f"<b>{MODES[mode].label}</b>", self)
        self.title.setObjectName("columnTitle")
        self.badge = QLabel(self)  # under the title, so three columns fit a narrow page
        self.badge.setObjectName("columnBadge")
        layout.addWidget(self.title)
        layout.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignLeft)
        self.help = QLabel(MODES[mode].help, self)
        self.help.setObjectName("columnHelp")
        self.help.setWordWrap(True)
        layout.addWidget(self.help)

        self.scroll = QScrollArea(self)
        self.scroll.setObjectName("columnScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget(self.scroll)
        inner.setObjectName("columnInner")
        inner_layout = QVBoxLayout(inner)
        inner_layout.setContentsMargins(0, 4, 0, 4)
        self.body = MarkdownView(inner)
        self.body.setObjectName("columnBody")
        self.body.linkClicked.connect(self._link)
        self.body.pressed.connect(self._pressed)
        inner_layout.addWidget(self.body)
        inner_layout.addStretch(1)
        self.scroll.setWidget(inner)
        layout.addWidget(self.scroll, 1)

        self.stats = QLabel(self)
        self.stats.setObjectName("columnStats")
        self.stats.setWordWrap(True)
        layout.addWidget(self.stats)
        self.set_idle(None)

    # -- states ------------------------------------------------------------

    def set_idle(self, reason: str | None) -> None:
        """Empty; with ``reason``, the mode can't run now and says why."""
        self.entry, self._text, self.reason = None, "", reason
        if reason:
            self._set("unavailable", f"Can't answer now: {reason.strip().rstrip('.')}.")
        else:
            self._set("idle", "Ask a question above: each mode answers it in turn.")
        self.stats.clear()

    def set_waiting(self) -> None:
        self.entry, self._text, self.reason = None, "", None
        self._set("waiting", "Waiting for its turn on the model…")
        self.stats.clear()

    def begin(self) -> None:
        self._text = ""
        self._set("generating", "…")
        self.stats.setText("Writing…")

    def append(self, text: str) -> None:
        """Streamed text (rendered by :meth:`flush`, which the page calls at most every few ms)."""
        self._text += text

    def flush(self) -> None:
        if self.state == "generating" and self._text:
            self._shown = (self._text, True)
            self._render()

    def finish(self, entry: ChatEntry) -> None:
        self.entry = entry
        self._set("stopped" if entry.state == "stopped" else "done", entry.text or "(an empty answer)", markdown=True)
        self.stats.setText(stats_text(entry) + (" · stopped" if entry.state == "stopped" else ""))

    def end_unrun(self, why: str) -> None:
        """A mode whose turn never came (stopped before it, or skipped)."""
        self._set("not_run", why)
        self.stats.clear()

    def fail(self, message: str) -> None:
        self._set("failed", self._text or message, markdown=bool(self._text))
        self.stats.setText(sentence(message) if self._text else "")

    # -- drawing -----------------------------------------------------------

    def _set(self, state: str, text: str, *, markdown: bool = False) -> None:
        self.state = state
        self.badge.setText(BADGES[state])
        self.badge.setVisible(bool(BADGES[state]))
        self._shown = (text, markdown)
        self.restyle()

    def _render(self) -> None:
        text, markdown = self._shown
        pal = theme.app_palette()
        if markdown:
            markup = render_markdown(text, code_background=theme.hex_color(theme.code_background(pal)))
        else:
            muted = theme.hex_color(theme.muted_text(pal))
            markup = f'<p style="color:{muted}"><i>{_escape(text)}</i></p>'
        self.body.setHtml(markup)

    def restyle(self) -> None:
        """Tints from the look: the column being written is outlined, an unavailable one sunken."""
        self.setStyleSheet(style.column_qss(self.objectName(), style.tokens(), self.state))
        self.scroll.viewport().setAutoFillBackground(False)
        self._render()  # code blocks and notes take their tints from the palette too

    # -- clicks ------------------------------------------------------------

    def _link(self, url: str) -> None:
        n = citation_number(url)
        if n is not None and self.entry is not None:
            self.selected.emit(self.entry)
            self.citationClicked.emit(self.entry, n)

    def _pressed(self) -> None:
        if self.entry is not None:
            self.selected.emit(self.entry)

    def mousePressEvent(self, event) -> None:
        self._pressed()
        super().mousePressEvent(event)


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
