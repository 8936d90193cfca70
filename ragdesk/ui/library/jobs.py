"""A library job in the side panel: live progress (files, chunks, rate, time left), then a summary.

After an indexing run the summary offers the list of skipped files and why
each was skipped, and the list of what ignore rules left out, with each rule.
"""

from __future__ import annotations

from pathlib import PurePath

from ragdesk.ui.item_models import plural
from ragdesk.ui.library.live_sync import LIVE_JOB_KINDS, sync_summary
from ragdesk.ui.qt import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"


def progress_text(p) -> str:
    """One line for an IndexProgress: files, chunks, rate, time left."""
    if p is None or p.phase == "scanning":
        return "Looking for files…"
    if p.phase == "removing":
        return "Removing files that are gone…"
    if p.phase == "done":
        return "Finishing…"
    if p.detail and not p.current:  # work after the files (a collection's sentence windows)
        return p.detail[:1].upper() + p.detail[1:] + "…"
    parts = []
    if p.bytes_total > 0:
        parts.append(f"{100 * p.bytes_done // p.bytes_total}% read")
    parts += [f"{p.files_done:,} of {plural(p.files_total, 'file')} indexed", plural(p.chunks_done, "chunk")]
    if p.rate > 0:
        parts.append(f"{p.rate:.0f} chunks/s")
    if p.eta_s is not None and p.elapsed_s >= 1.0 and p.files_done < p.files_total:  # early guesses jump about
        parts.append(f"about {format_duration(p.eta_s)} left")
    return " · ".join(parts)


def summary_text(job) -> str:
    """What a finished job did, in one or two sentences."""
    if job.kind in LIVE_JOB_KINDS:
        return sync_summary(job)
    if job.state == "failed":
        return f"Failed: {job.error}"
    if job.kind == "forget":
        return f"Forgot {plural(int(job.result or 0), 'document')} from '{job.collection}'."
    if job.kind == "create":
        return f"Created the collection '{job.collection}'."
    if job.kind == "delete":
        return f"Deleted the collection '{job.collection}'."
    if job.kind == "windows-off":
        return f"Sentence-level search is off in '{job.collection}'."
    r = job.result
    if r is None:
        return "Cancelled before it started."
    if r.cancelled:
        return (
            f"Cancelled after {plural(r.added + r.updated, 'file')} ({plural(r.chunks_added, 'chunk')}); "
            "what was indexed is kept. Re-sync to finish."
        )
    changes = [f"{r.added} added"] + [
        f"{n} {word}" for n, word in ((r.updated, "updated"), (r.unchanged, "unchanged"), (r.removed, "removed")) if n
    ]
    text = f"Indexed into '{r.collection}' in {format_duration(r.seconds)}: {', '.join(changes)} · {plural(r.chunks_added, 'chunk')}."
    if r.skipped:
        text += f" {plural(len(r.skipped), 'file')} skipped."
    if getattr(r, "warnings", None):
        text += f" {plural(len(r.warnings), 'file')} indexed in part."
    if r.windows_filled:
        text += f" Sentence windows added to {plural(r.windows_filled, 'chunk')} indexed before."
    return text


class JobWidget(QFrame):
    """Progress of one library job, then its summary and skipped files."""

    dismissed = Signal(object)

    def __init__(self, job, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.setObjectName("jobWidget")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(3)
        head = QHBoxLayout()
        self.title = QLabel(self)
        self.title.setObjectName("jobTitle")
        self.title.setWordWrap(True)
        head.addWidget(self.title, 1)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancelJob")
        self.cancel_button.clicked.connect(lambda: controller.cancel_job(job))
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(lambda: self.dismissed.emit(self))
        self.close_button.hide()
        head.addWidget(self.cancel_button)
        head.addWidget(self.close_button)
        layout.addLayout(head)
        self.bar = QProgressBar(self)
        self.bar.setObjectName("jobProgress")
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(8)
        layout.addWidget(self.bar)
        self.detail = QLabel(self)
        self.detail.setObjectName("jobDetail")
        self.detail.setWordWrap(True)
        layout.addWidget(self.detail)
        self.current = QLabel(self)
        self.current.setObjectName("jobCurrent")
        self.current.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.current)
        self.skipped_button = QToolButton(self)
        self.skipped_button.setObjectName("showSkipped")
        self.skipped_button.setCheckable(True)
        self.skipped_button.setAutoRaise(True)
        self.skipped_button.toggled.connect(lambda on: self.skipped.setVisible(on))
        self.skipped_button.hide()
        layout.addWidget(self.skipped_button)
        self.skipped = QTreeWidget(self)
        self.skipped.setObjectName("skippedFiles")
        self.skipped.setHeaderLabels(["File", "Why it was skipped"])
        self.skipped.setRootIsDecorated(False)
        self.skipped.setMaximumHeight(140)
        self.skipped.hide()
        layout.addWidget(self.skipped)
        self.ignored_button, self.ignored = self._expandable_list("Ignore rule", "showIgnored", "ignoredFiles")
        layout.addWidget(self.ignored_button)
        layout.addWidget(self.ignored)
        self.update_progress(job.progress)

    def _expandable_list(self, second_header: str, button_name: str, list_name: str):
        """A hidden toggle button and the two-column list it shows."""
        button = QToolButton(self)
        button.setObjectName(button_name)
        button.setCheckable(True)
        button.setAutoRaise(True)
        items = QTreeWidget(self)
        items.setObjectName(list_name)
        items.setHeaderLabels(["File or folder", second_header])
        items.setRootIsDecorated(False)
        items.setMaximumHeight(140)
        items.hide()
        button.toggled.connect(items.setVisible)
        button.hide()
        return button, items

    def update_progress(self, progress) -> None:
        job = self.job
        names = ", ".join(PurePath(p).name for p in job.paths[:3]) + (" …" if len(job.paths) > 3 else "")
        title = {
            "index": f"<b>Indexing {names}</b> into '{job.collection}'",
            "resync": f"<b>Re-syncing '{job.collection}'</b>",
            "forget": f"<b>Forgetting {names}</b> from '{job.collection}'",
            "create": f"<b>Creating '{job.collection}'</b>",
            "delete": f"<b>Deleting '{job.collection}'</b>",
            "windows-on": f"<b>Turning on sentence-level search in '{job.collection}'</b>",
            "windows-off": f"<b>Turning off sentence-level search in '{job.collection}'</b>",
        }.get(job.kind, job.kind)
        self.title.setText(title)
        if job.state == "queued":
            self.detail.setText("Waiting for the job before it…")
            self.bar.setRange(0, 0)
            return
        if progress is not None and progress.phase == "indexing" and progress.bytes_total > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * progress.bytes_done / progress.bytes_total))
        else:
            self.bar.setRange(0, 0)
        self.detail.setText(progress_text(progress) if job.kind in ("index", "resync", "windows-on") else "Working…")
        current = getattr(progress, "current", "") if progress is not None else ""
        detail = getattr(progress, "detail", "") if progress is not None else ""
        # A slow file (a scan being OCR'd) says where it is: "scan.pdf · OCR page 12/50".
        self.current.setText((PurePath(current).name if current else "") + (f" · {detail}" if current and detail else ""))
        self.current.setToolTip(current)

    def finish(self) -> None:
        job = self.job
        self.cancel_button.hide()
        self.close_button.show()
        self.bar.hide()
        self.current.hide()
        self.detail.setText(summary_text(job))
        skipped = list(getattr(job.result, "skipped", []) or [])
        skipped += [(path, f"indexed in part: {message}") for path, message in getattr(job.result, "warnings", []) or []]
        self.skipped.clear()
        for path, reason in skipped:
            item = QTreeWidgetItem([PurePath(path).name, reason])
            item.setToolTip(0, path)
            item.setToolTip(1, reason)
            self.skipped.addTopLevelItem(item)
        self.skipped.resizeColumnToContents(0)
        partly = len(getattr(job.result, "warnings", []) or [])
        label = plural(len(skipped) - partly, "skipped file") + (f", {partly} read in part" if partly else "")
        self.skipped_button.setText(f"Show {label}")
        self.skipped_button.setVisible(bool(skipped))
        ignored = list(getattr(job.result, "ignored", []) or [])
        self.ignored.clear()
        for path, rule, folder in ignored:
            item = QTreeWidgetItem([PurePath(path).name + ("/" if folder else ""), rule])
            item.setToolTip(0, path)
            item.setToolTip(1, rule)
            self.ignored.addTopLevelItem(item)
        self.ignored.resizeColumnToContents(0)
        self.ignored_button.setText(f"{len(ignored):,} skipped by ignore rules")
        self.ignored_button.setToolTip("Hidden names, the skip list, .gitignore and .ragdeskignore; click to list them")
        self.ignored_button.setVisible(bool(ignored))
