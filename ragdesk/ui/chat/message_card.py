"""One message of the conversation: a card with a header, the Markdown text and a footer.

The text view is exactly as tall as its content (the conversation scrolls, not
the card), and ``[n]`` citation markers in answers are links.
"""

from __future__ import annotations

import math

from ragdesk.chat.modes import MODES
from ragdesk.chat.modes import label as mode_label
from ragdesk.ui.chat.markdown import citation_number, render_markdown, render_plain
from ragdesk.ui.item_models import ChatEntry, plural
from ragdesk.ui.look import style, theme
from ragdesk.ui.look.style import SPACE
from ragdesk.ui.qt import (
    QDesktopServices,
    QFrame,
    QLabel,
    QSizePolicy,
    Qt,
    QTextBrowser,
    QUrl,
    QVBoxLayout,
    QWidget,
    Signal,
)


class MarkdownView(QTextBrowser):
    """Read-only rich text that is exactly as tall as its content (the page scrolls, not it)."""

    linkClicked = Signal(str)
    pressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)
        self.setStyleSheet("QTextBrowser { background: transparent; }")
        self.document().setDocumentMargin(2)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self.anchorClicked.connect(lambda url: self.linkClicked.emit(url.toString()))

    def _fit(self, *_args) -> None:
        height = math.ceil(self.document().size().height()) + 2 * self.frameWidth()
        if height != self.height():
            self.setFixedHeight(max(height, 8))

    def setHtml(self, text: str) -> None:
        # Citation chips, links and code take the current scheme's colours (set before the text is parsed).
        self.document().setDefaultStyleSheet(style.markdown_css(style.tokens()))
        super().setHtml(text)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def mousePressEvent(self, event) -> None:
        self.pressed.emit()
        super().mousePressEvent(event)

    def wheelEvent(self, event) -> None:
        event.ignore()  # let the conversation's scroll area scroll


class MessageCard(QFrame):
    """One message: a header (who, mode, model), the text, and a footer (stats or state)."""

    citationClicked = Signal(object, int)  # entry, n
    selected = Signal(object)  # entry

    def __init__(self, entry: ChatEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.setObjectName("messageCard")
        self._selected = False
        self.stage = ""  # what a streaming answer is doing now, with its elapsed time
        layout = QVBoxLayout(self)
        layout.setContentsMargins(SPACE["lg"], SPACE["md"], SPACE["lg"], SPACE["md"])
        layout.setSpacing(SPACE["xs"] + 2)
        self.header = QLabel(self)
        self.header.setObjectName("messageHeader")
        self.body = MarkdownView(self)
        self.body.setObjectName("messageBody")
        self.footer = QLabel(self)
        self.footer.setObjectName("messageFooter")
        layout.addWidget(self.header)
        layout.addWidget(self.body)
        layout.addWidget(self.footer)
        self.body.linkClicked.connect(self._link)
        self.body.pressed.connect(lambda: self.selected.emit(self.entry))
        self.render()

    # -- content -----------------------------------------------------------

    def set_entry(self, entry: ChatEntry) -> None:
        self.entry = entry
        self.render()

    def set_text(self, text: str) -> None:
        """Update the text of a streaming answer."""
        self.entry.text = text
        self._render_body()

    def set_stage(self, text: str) -> None:
        """Show the stage of a streaming answer ("Searching… 0.2 s") in the footer."""
        if text != self.stage:
            self.stage = text
            self._render_footer()

    def set_selected(self, on: bool) -> None:
        self._selected = on
        self._style()

    def render(self) -> None:
        e = self.entry
        if e.role == "user":
            self.header.setText("<b>You</b>")
        else:
            parts = [mode_label(e.mode)] if e.mode else []
            parts += [p for p in (e.model, e.adapter and f"adapter {e.adapter}") if p]
            meta = " · ".join(parts)
            self.header.setText(f"<b>Assistant</b>&nbsp;&nbsp;<span>{meta}</span>")
        self._render_body()
        self._render_footer()
        self._style()

    def _render_body(self) -> None:
        e = self.entry
        if e.role == "user":
            html = render_plain(e.text)
        elif not e.text and e.state == "streaming":
            html = "<p>…</p>"
        else:
            html = render_markdown(e.text, code_background=theme.hex_color(theme.code_background(theme.app_palette())))
        self.body.setHtml(html)

    def _render_footer(self) -> None:
        e = self.entry
        if e.role == "user":
            self.footer.hide()
            return
        bits = []
        if e.state == "streaming":
            bits.append(self.stage or "Writing…")
        elif e.state == "stopped":
            bits.append("Stopped")
        elif e.state == "failed":
            bits.append("Failed")
        s = e.stats
        if s.get("completion_tokens"):
            bits.append(plural(int(s["completion_tokens"]), "token"))
        if s.get("tokens_per_s"):
            bits.append(f"{s['tokens_per_s']:.1f} tokens/s")
        if s.get("total_ms"):
            bits.append(f"{(s['total_ms'] + s.get('retrieval_ms', 0)) / 1000:.1f} s")
        if e.sources:
            cited = sum(1 for x in e.sources if x.cited)
            bits.append(f"{cited} cited of {plural(len(e.sources), 'source')}")
        elif e.mode in MODES and MODES[e.mode].retrieval and e.state != "streaming":
            bits.append("no relevant passages found")
        self.footer.setText(" · ".join(bits))
        self.footer.setVisible(bool(bits))

    def _style(self) -> None:
        self.setStyleSheet(style.message_card_qss(style.tokens(), self.entry.role == "user", self._selected))

    def restyle(self) -> None:
        """Recompute every tint after the system switched between light and dark."""
        self._render_body()
        self._style()

    def _link(self, url: str) -> None:
        n = citation_number(url)
        if n is not None:
            self.selected.emit(self.entry)
            self.citationClicked.emit(self.entry, n)
        elif url.startswith(("http://", "https://")):
            QDesktopServices.openUrl(QUrl(url))

    def mousePressEvent(self, event) -> None:
        self.selected.emit(self.entry)
        super().mousePressEvent(event)
