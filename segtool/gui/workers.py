"""Background jobs for the GUI: a pool for slow work and a latest-request-wins queue for predictions.

Every job carries ``(image_id, generation)``. Results come back on the GUI thread through Qt signals
(queued connections); the receiver compares the generation with its own and drops stale results.

- :class:`BackgroundPool`: encoder runs, prefetch of neighbouring images, proposals, export. A job is a
  callable ``fn(control) -> result``; it may call ``control.progress(done, total)`` and should return early
  when ``control.cancelled`` is true.
- :class:`LatestRequestQueue`: interactive predictions. At most one runs at a time; a request made while
  one runs replaces the queued one (the user's latest click wins), so predictions never pile up.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from segtool.core.errors import SegtoolError


@dataclass
class JobResult:
    """What a finished job hands back: its tags, its value or its error message."""

    job_id: int
    kind: str
    image_id: int
    generation: int
    value: Any = None
    error: str | None = None
    cancelled: bool = False


@dataclass
class JobControl:
    """Handed to a running job: report progress, check for cancellation."""

    job_id: int
    kind: str
    image_id: int
    generation: int
    _cancel: threading.Event = field(default_factory=threading.Event)
    _emit_progress: Callable[[int, int, int], None] | None = None

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called; long jobs poll this and return early."""
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the job to stop (cooperative)."""
        self._cancel.set()

    def progress(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` steps (0, 0 = indeterminate); thread-safe."""
        if self._emit_progress is not None:
            self._emit_progress(self.job_id, done, total)


class _Signals(QObject):
    """Cross-thread signals carry only ints: Python objects travel through :class:`_Mailbox`
    (PySide6 has crashed with refcount errors when queued signals carried ``object`` arguments)."""

    finished = Signal(int)  # job_id; the JobResult waits in the mailbox
    progress = Signal(int, int, int)  # job_id, done, total


class _Mailbox:
    """Thread-safe job_id -> JobResult hand-over from workers to the GUI thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[int, JobResult] = {}

    def put(self, result: JobResult) -> None:
        with self._lock:
            self._items[result.job_id] = result

    def take(self, job_id: int) -> JobResult | None:
        with self._lock:
            return self._items.pop(job_id, None)


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[[JobControl], Any], control: JobControl, signals: _Signals,
                 mailbox: _Mailbox) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._fn, self._control, self._signals, self._mailbox = fn, control, signals, mailbox

    def run(self) -> None:  # worker thread
        c = self._control
        result = JobResult(c.job_id, c.kind, c.image_id, c.generation)
        if c.cancelled:
            result.cancelled = True
        else:
            try:
                result.value = self._fn(c)
            except SegtoolError as exc:  # a file or model the user gave: the GUI shows the one-line message
                result.error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # a bug: reported to the GUI, the traceback kept for the bug report
                result.error = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            result.cancelled = c.cancelled
        self._mailbox.put(result)
        try:
            self._signals.finished.emit(c.job_id)
        except RuntimeError:  # the receiving QObject is gone (window closed)
            pass


_ids = itertools.count(1)


class BackgroundPool(QObject):
    """A thread pool for slow jobs, with progress and cancel.

    Parameters
    ----------
    max_threads : worker threads (1 keeps the CPU free for interactive predictions).
    """

    job_finished = Signal(object)  # JobResult
    job_progress = Signal(int, int, int)  # job_id, done, total

    def __init__(self, max_threads: int = 1, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._signals = _Signals(self)
        self._signals.finished.connect(self._on_signals_finished)
        self._signals.progress.connect(self.job_progress)
        self._callbacks: dict[int, Callable[[JobResult], None] | None] = {}
        self._controls: dict[int, JobControl] = {}
        self._mailbox = _Mailbox()

    def submit(self, kind: str, image_id: int, generation: int, fn: Callable[[JobControl], Any],
               on_done: Callable[[JobResult], None] | None = None, priority: int = 0) -> JobControl:
        """Queue ``fn(control)``; ``on_done(JobResult)`` is called on the GUI thread when it ends."""
        control = JobControl(next(_ids), kind, image_id, generation,
                             _emit_progress=self._signals.progress.emit)
        self._callbacks[control.job_id] = on_done
        self._controls[control.job_id] = control
        self._pool.start(_Runnable(fn, control, self._signals, self._mailbox), priority)
        return control

    def pending(self, kind: str | None = None) -> list[JobControl]:
        """Jobs queued or running (optionally of one ``kind``)."""
        return [c for c in self._controls.values() if kind is None or c.kind == kind]

    def cancel_all(self, kind: str | None = None) -> None:
        """Cancel every job (of ``kind``); queued ones end at once, running ones when they poll."""
        for control in self.pending(kind):
            control.cancel()

    def wait(self, msecs: int = -1) -> bool:
        """Block until every job ended (tests, shutdown)."""
        return self._pool.waitForDone(msecs)

    def _on_signals_finished(self, job_id: int) -> None:
        result = self._mailbox.take(job_id)
        if result is None:
            return
        self._controls.pop(result.job_id, None)
        callback = self._callbacks.pop(result.job_id, None)
        if callback is not None:
            callback(result)
        self.job_finished.emit(result)


class LatestRequestQueue(QObject):
    """Interactive predictions: one at a time, the latest queued request replaces older queued ones."""

    job_finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = BackgroundPool(1, self)
        self._running: JobControl | None = None
        self._queued: tuple | None = None
        #: Requests replaced before they ran (coalesced away).
        self.coalesced = 0

    def request(self, kind: str, image_id: int, generation: int, fn: Callable[[JobControl], Any],
                on_done: Callable[[JobResult], None] | None = None) -> None:
        """Run ``fn`` now if idle, else queue it in place of any request still waiting."""
        if self._running is None:
            self._start(kind, image_id, generation, fn, on_done)
            return
        if self._queued is not None:
            self.coalesced += 1
        self._queued = (kind, image_id, generation, fn, on_done)

    def busy(self) -> bool:
        """True while a prediction runs or waits."""
        return self._running is not None or self._queued is not None

    def clear(self) -> None:
        """Forget the queued request (image switch); the running one ends and is dropped as stale."""
        self._queued = None

    def wait(self, msecs: int = -1) -> bool:
        """Block until the running job ended (its callback runs on the next event-loop turn)."""
        return self._pool.wait(msecs)

    def _start(self, kind, image_id, generation, fn, on_done) -> None:
        def finished(result: JobResult) -> None:
            self._running = None
            if on_done is not None:
                on_done(result)
            self.job_finished.emit(result)
            if self._queued is not None:
                queued, self._queued = self._queued, None
                self._start(*queued)

        self._running = self._pool.submit(kind, image_id, generation, fn, finished)


class WorkerPools(QObject):
    """The pools the GUI uses: ``background`` (slow jobs: encoder, prefetch, proposals, export, model
    creation and download), ``interactive`` (predictions, latest request wins) and ``loader`` (file
    decoding and thumbnails, its own thread so that an image never waits behind a running encode)."""

    def __init__(self, background_threads: int = 1, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.background = BackgroundPool(background_threads, self)
        self.interactive = LatestRequestQueue(self)
        self.loader = BackgroundPool(1, self)

    def shutdown(self, msecs: int = 5000) -> None:
        """Cancel background and loader jobs and wait for every pool."""
        self.background.cancel_all()
        self.loader.cancel_all()
        self.interactive.clear()
        self.background.wait(msecs)
        self.loader.wait(msecs)
        self.interactive.wait(msecs)
