"""Train adapter: teach a model a collection with a LoRA adapter, with progress, cancel and resume.

The dialog collects the choices (collection, base model, adapter name, method,
rank, length) and shows the run; the run itself is
:func:`ragdesk.training.job.run_job` on :class:`~ragdesk.ui.training.train_worker.TrainWorker`
in its own thread. Cancel (and closing the dialog or the window) sets a flag:
the trainer stops after the current step and saves a checkpoint, which
"Resume from step N" continues. Failures appear as the core's sentence.
"""

from __future__ import annotations

import copy

from ragdesk.ui.errors import sentence
from ragdesk.ui.look import style, theme
from ragdesk.ui.qt import (
    QColor,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPalette,
    QProgressBar,
    QPushButton,
    Qt,
    QThread,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ragdesk.ui.training.train_form import TrainForm, muted_label, name_problem
from ragdesk.ui.training.train_texts import duration, ended_text, phase_text, result_html, stats_text
from ragdesk.ui.training.train_worker import Survey, TrainTask, TrainWorker
from ragdesk.ui.workers.qthreads import new_worker_thread, retire, retiring, wait_retired

SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse


class TrainDialog(QDialog):
    """Trains a LoRA adapter on a collection for the app's ``controller`` (an AppController)."""

    modelsChanged = Signal()  # a new adapter was registered
    runEnded = Signal(object, str)  # TrainTask, "completed" | "cancelled" | "failed" (the view is updated)
    notice = Signal(str)  # how a run ended while the dialog was closed (for the status bar)
    _train = Signal(object)  # queued into the worker
    _survey = Signal()

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setObjectName("trainDialog")
        self.setWindowTitle("Train a LoRA adapter")
        self.survey: Survey | None = None
        self.task: TrainTask | None = None  # the run in progress
        self.result = None  # the last completed JobResult
        self._worker = self._thread = None
        self._build()
        self._wire()
        self._fill_collections()
        self._start_worker()
        self.resize(660, self.sizeHint().height())

    # -- construction -------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetMinimumSize)  # grows as panels appear
        intro = QLabel("Teach a model the documents of a collection. The adapter is trained on this computer, "
                       "converted for llama.cpp and offered in the Adapter picker for merged-LoRA and hybrid "
                       "answers.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.form = TrainForm(self)
        layout.addWidget(self.form)

        self.resume_panel = self._panel("resumePanel")
        row = QHBoxLayout(self.resume_panel)
        self.resume_label = QLabel(self.resume_panel)
        self.resume_label.setWordWrap(True)
        self.resume_button = QPushButton(self.resume_panel)
        self.resume_button.setObjectName("resumeButton")
        row.addWidget(self.resume_label, 1)
        row.addWidget(self.resume_button)
        layout.addWidget(self.resume_panel)

        self.progress_panel = QWidget(self)
        column = QVBoxLayout(self.progress_panel)
        column.setContentsMargins(0, 6, 0, 0)
        self.phase_label = QLabel(self.progress_panel)
        self.phase_label.setObjectName("trainPhase")
        self.progress = QProgressBar(self.progress_panel)
        self.progress.setObjectName("trainProgressBar")
        self.stats_label = muted_label("", self)
        self.stats_label.setObjectName("trainStats")
        for widget in (self.phase_label, self.progress, self.stats_label):
            column.addWidget(widget)
        self.progress_panel.hide()
        layout.addWidget(self.progress_panel)

        self.result_panel = self._panel("trainResult")
        column = QVBoxLayout(self.result_panel)
        self.result_label = QLabel(self.result_panel)
        self.result_label.setObjectName("trainResultText")
        self.result_label.setWordWrap(True)  # a long adapter path must not widen the dialog
        self.result_label.setTextInteractionFlags(SELECTABLE)
        self.use_button = QPushButton("Use this adapter", self.result_panel)
        self.use_button.setObjectName("useAdapter")
        self.use_button.setToolTip("Select it in the main window's Adapter picker")
        column.addWidget(self.result_label)
        column.addWidget(self.use_button, 0, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.result_panel)

        self.message = QLabel(self)
        self.message.setObjectName("trainMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(SELECTABLE)
        self.message.hide()
        layout.addWidget(self.message)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start", self)
        style.set_primary(self.start_button)
        self.start_button.setObjectName("startTraining")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancelTraining")
        self.cancel_button.setToolTip("Stop after the current step and save a checkpoint: the run can be resumed")
        self.close_button = QPushButton("Close", self)
        self.close_button.setToolTip("Closing during a run stops it after the current step; its checkpoint is kept")
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout.addStretch(1)
        layout.addLayout(buttons)

    def _panel(self, name: str) -> QFrame:
        panel = QFrame(self)
        panel.setObjectName(name)
        panel.setFrameShape(QFrame.Shape.StyledPanel)
        panel.hide()
        return panel

    def _wire(self) -> None:
        self.form.changed.connect(self._form_changed)
        self.start_button.clicked.connect(lambda: self.start())
        self.resume_button.clicked.connect(lambda: self.resume())
        self.cancel_button.clicked.connect(lambda: self.cancel())
        self.close_button.clicked.connect(self.reject)
        self.use_button.clicked.connect(lambda: self.use_adapter())
        self.controller.collectionsChanged.connect(self._fill_collections)

    # -- the worker ---------------------------------------------------------------

    def _start_worker(self) -> None:
        worker = TrainWorker(self.controller.db_path, copy.deepcopy(self.controller.settings))
        thread = new_worker_thread(worker, "ragdesk-train", owner=self)
        self._train.connect(worker.train)
        self._survey.connect(worker.survey)
        worker.surveyed.connect(self._on_surveyed)
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        thread.finished.connect(self._reap)
        self._worker, self._thread = worker, thread
        thread.start()

    def _release(self) -> None:
        """Cancel the run and let the worker stop after it, without waiting (the GUI stays responsive)."""
        if self._worker is None:
            return
        self._train.disconnect(self._worker.train)
        self._survey.disconnect(self._worker.survey)
        retire(self._thread, self._worker, owner=self)  # cancelled; its thread is held until it ends
        self._worker = self._thread = None

    def _reap(self) -> None:
        ended = self.sender()
        if isinstance(ended, QThread):
            ended.wait(5000)  # it has emitted `finished`: only its last instructions remain
        if self._worker is not None:
            self._survey.emit()  # the run that just wound down may be resumable now
        self._update()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel any run and wait for the worker threads (the window's close, and tests)."""
        self._release()
        ok = wait_retired(self, timeout_ms)
        self._reap()
        return ok

    def done(self, result: int) -> None:
        self.cancel()  # a running job stops after this step and keeps its checkpoint
        self._release()
        super().done(result)

    def showEvent(self, event) -> None:
        if self._worker is None:  # shown again after it was closed
            self._fill_collections()
            self._start_worker()
        super().showEvent(event)

    @property
    def running(self) -> bool:
        return self.task is not None

    # -- choices ------------------------------------------------------------------

    def _fill_collections(self) -> None:
        self.form.show_collections(self.controller.collections(), self.controller.collection)
        self._form_changed()

    def _form_changed(self) -> None:
        if self.survey is not None:
            self.form.suggest_name(self.survey.names | set(self.survey.runs))
        self._update()

    def _model_in_use(self) -> str | None:
        c = self.controller
        return c.model_name if c.model_state == "ready" else None

    def _on_surveyed(self, survey: Survey) -> None:
        self.survey = survey
        self.form.show_models(survey.models, self._model_in_use() or self.controller.settings.model)
        self._form_changed()

    # -- runs ---------------------------------------------------------------------

    def start(self) -> TrainTask | None:
        """Start a new run as the form describes (None if the form or the dialog isn't ready)."""
        return self._run(self.form.request(self._model_in_use())) if self.start_button.isEnabled() else None

    def resume(self) -> TrainTask | None:
        """Continue the stopped run of the name typed, from its last checkpoint."""
        from ragdesk.training.job import TrainRequest

        run = self._resumable()
        if run is None or not self.resume_button.isEnabled():
            return None
        return self._run(TrainRequest(name=run.name, resume=True))

    def _run(self, request) -> TrainTask | None:
        if self._worker is None or self.running:
            return None
        self.task = TrainTask(request, copy.deepcopy(self.controller.settings))
        self.form.name_edited = True  # keep this name (a stopped run is offered for resuming under it)
        self.result = None
        self.result_panel.hide()
        self.message.hide()
        self.phase_label.setText("Resuming…" if request.resume else "Starting…")
        self.progress.setRange(0, 0)
        self.stats_label.setText("")
        self.progress_panel.show()
        self._train.emit(self.task)
        self._update()
        return self.task

    def cancel(self) -> bool:
        """Stop the run after the current step; its checkpoint is saved for resuming."""
        if self.task is None:
            return False
        self.task.cancel.set()
        self.phase_label.setText("Stopping after this step and saving a checkpoint…")
        self._update()
        return True

    def use_adapter(self) -> bool:
        """Select the trained adapter in the main window (loading its model first if another is in use)."""
        result, c = self.result, self.controller
        if result is None or not result.adapter_path:
            return False
        if c.model_name != result.base_model and any(m.name == result.base_model for m in c.models):
            c.load_model(result.base_model)
        c.set_adapter(result.name)
        self._say(f"'{result.name}' is now the adapter of merged-LoRA and hybrid answers.")
        return True

    # -- replies from the worker ----------------------------------------------------

    def _on_progress(self, task, p) -> None:
        if task is not self.task:
            return
        if not task.cancel.is_set():  # keep saying "Stopping…" once asked
            self.phase_label.setText(phase_text(p))
        if p.total_steps:
            self.progress.setRange(0, p.total_steps)
            self.progress.setValue(p.step)
            self.progress.setFormat("%v / %m steps")
        else:
            self.progress.setRange(0, 0)  # loading, preparing data: no step count yet
        if p.phase in ("train", "checkpoint") or (p.phase == "eval" and p.step):
            self.stats_label.setText(stats_text(p))

    def _on_finished(self, task, result) -> None:
        if task is not self.task:
            self.notice.emit(ended_text(result))  # a run of a closed session: say how it ended
            return
        self.task = None
        t = result.training
        if result.status == "completed":
            self.result = result
            self.progress.setRange(0, max(1, t.total_steps))
            self.progress.setValue(t.total_steps)
            self.phase_label.setText(f"Done: '{result.name}' is trained and registered for {result.base_model}.")
            self.stats_label.setText(f"Trained in {duration(t.train_seconds)} · peak memory {t.peak_rss_mb:,.0f} MB")
            self.result_label.setText(result_html(result))
            self.result_panel.show()
            self.form.name_edited = False  # the name is taken now: suggest a fresh one
            self.modelsChanged.emit()
        elif t.total_steps:  # the resume offer appears once the worker has listed the run
            self.phase_label.setText(f"Stopped at step {t.step} of {t.total_steps}; the checkpoint is saved.")
            loss = f"loss {t.losses[-1]:.4f} · " if t.losses else ""
            self.stats_label.setText(f"{loss}{t.tokens_trained:,} tokens trained so far")
        else:
            self.progress_panel.hide()
            self._say(ended_text(result))
        if not self.isVisible():
            self.notice.emit(ended_text(result))
        self._update()
        self.runEnded.emit(task, result.status)

    def _on_failed(self, task, message: str) -> None:
        if task is not None and task is not self.task:
            self.notice.emit(f"Training '{task.name}' failed: {message}")
            return
        self.task = None
        self.progress_panel.hide()
        self._say(message, error=True)
        self._update()
        if task is not None:
            self.runEnded.emit(task, "failed")

    # -- view state -------------------------------------------------------------------

    def _resumable(self):
        run = self.survey.runs.get(self.form.name()) if self.survey else None
        return run if run is not None and run.resumable else None

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(sentence(text))
        self.message.setProperty("error", error)
        if error:
            text_color = theme.app_palette().color(QPalette.ColorRole.Text)
            self.message.setStyleSheet(f"color: {theme.hex_color(theme.mix(text_color, QColor('#c62828'), 0.85))};")
        else:
            self.message.setStyleSheet("")
        self.message.show()

    def _fit(self) -> None:
        """Grow to show every row at its natural height when a panel appears."""
        self.layout().activate()
        if self.height() < self.sizeHint().height():
            self.resize(self.width(), self.sizeHint().height())

    def _update(self) -> None:
        running = self.running
        winding_down = any(t.isRunning() for t in retiring(self))
        self.form.setEnabled(not running)
        run = self._resumable()
        if winding_down:
            hint = "Stopping the previous run…"
        elif self.survey is None:
            hint = "Reading the models and earlier runs…"
        else:
            hint = name_problem(self.form.name(), self.survey.names, self.survey.runs) or ""
            if not hint and self.form.base_choice(None)[0] is None:
                hint = "Choose the base model to train."
        self.form.name_hint.setText(hint)
        self.form.name_hint.setVisible(bool(hint))
        ready = self.survey is not None and self._worker is not None and not running and not winding_down
        self.start_button.setEnabled(ready and not hint)
        self.cancel_button.setEnabled(running and not self.task.cancel.is_set())
        self.resume_panel.setVisible(run is not None and not running)
        if run is not None:
            self.resume_label.setText(f"A run named '{run.name}' stopped at step {run.step} of {run.total_steps} "
                                      f"({run.describe()}).")
            self.resume_button.setText(f"Resume from step {run.step}")
            self.resume_button.setEnabled(ready)
        self._fit()
