"""A short undo for the operator keys that do not ask first: approve (short of high risk), retry, pause, resume.

Pause and resume are written at once and undone by their opposite (both stay in
the chain of work). Approve and retry have no opposite event, so they wait
``seconds`` before they are written, and an undo drops them. One action waits
at a time, and nothing is written after a later one: any other action the
operator takes writes it first (``Undo.making_way``, around every event the
cockpit writes), short of another verdict on the same job (``VERDICTS``: a
cancel or reject after a retry that waits), which replaces it; quitting writes
what waits (the operator asked for it). Either way the undo ends, so `z` takes
back only the last action. The undo key is ``z`` (``u`` already releases a pin),
and the toasts name it as keys.toml maps it.
``write_action`` is how every job key writes its event, undoable or not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from textual.app import App
from textual.notifications import Notification, Notify
from textual.timer import Timer

from jobdeck.state.actions import ACTIONS
from jobdeck.state.errors import JobdeckError

from jobdeck.cockpit.key_hints import key_shown
from jobdeck.cockpit.operations import Operator
from jobdeck.cockpit.textual_private import withdraw
from jobdeck.cockpit.toast_text import fit_toast, toast_text_width

UNDO_KEY = "z"
UNDO_SECONDS = 5.0
"""How long an undo is offered (and an approve or retry waits before it is written)."""
INVERSE = {"pause": "resume", "resume": "pause"}
"""Actions written at once, and the action that takes each back."""
VERDICTS = frozenset({"approve", "reject", "retry", "cancel"})
"""What the operator makes of a job that waits on them: a second verdict on a job replaces an approve or retry still
waiting out its undo (the operator changed their mind), where writing both would refuse the second or undo the first."""


@dataclass(frozen=True, slots=True)
class Undoable:
    """The last action the operator can still take back."""

    job_id: str
    action: str
    written: bool
    """True: in the log already (undone by its inverse); False: waiting to be written."""


def write_action(app: App[object], operator: Operator, job_id: str, action: str, *,
                 reason: str | None = None, then: str = "", timeout: float = 3) -> Notification | None:
    """Append the action's event and say so in a toast (``then`` added to it), returned; a refusal is an
    error toast, never a traceback, and None."""
    try:
        records = operator.act(job_id, action, reason=reason)
    except JobdeckError as exc:
        app.notify(str(exc), title=f"cannot {action}", severity="error")
        return None
    targets = sorted({record["job"] for record in records if "job" in record})
    also = f" (+{len(targets) - 1} downstream)" if len(targets) > 1 else ""
    return toast(app, f"{job_id} {ACTIONS[action].done}{also}{then}", timeout)


def undo_key(app: App[object]) -> str:
    """The undo key as the footer shows it, keys.toml's remap included."""
    return key_shown(app, "undo", UNDO_KEY)


def toast(app: App[object], message: str, timeout: float) -> Notification:
    """``App.notify``, keeping the toast, so that it can be taken back (``withdraw``); plain text, fitted as the
    cockpit's every toast is (cockpit/toast_text.py)."""
    shown = Notification(fit_toast(message, toast_text_width(app.size.width)), timeout=timeout, markup=False)
    app.post_message(Notify(shown))
    return shown


class Undo:
    """The app's one undo slot; ``written`` is called after every event this appends."""

    def __init__(self, app: App[object], operator: Operator, written: Callable[[], None], *,
                 seconds: float = UNDO_SECONDS) -> None:
        self.app = app
        self.operator = operator
        self.written = written
        self.seconds = seconds
        self.pending: Undoable | None = None
        self._timer: Timer | None = None
        self._toast: Notification | None = None
        """The toast offering the pending action's undo: taken back once there is nothing to undo."""
        operator.making_way = self.making_way

    def offer(self, job_id: str, action: str) -> None:
        """Take ``action`` on the job with an undo: written now (pause, resume) or after ``seconds``."""
        if self.pending is not None and (self.pending.job_id, self.pending.action) == (job_id, action):
            return  # the same key twice: one action
        if action in INVERSE:  # (written through the operator, which makes way for it)
            shown = self._write(job_id, action, then=f" — {undo_key(self.app)} to undo", timeout=self.seconds)
            if shown is None:
                return
            self._hold(Undoable(job_id, action, written=True), shown)
        else:
            try:
                self.operator.check_writable()
                self.operator.check_allowed(action)
            except JobdeckError as exc:
                self.app.notify(str(exc), title=f"cannot {action}", severity="error")
                return
            with self.making_way(job_id, action):  # (held, not written: what waits makes way for it now)
                pass
            self._hold(Undoable(job_id, action, written=False),
                       toast(self.app, f"{action} {job_id} in {self.seconds:g}s — {undo_key(self.app)} to undo", self.seconds))

    def undo(self) -> None:
        """Take the pending action back: drop it if it waits, write its inverse if it was written."""
        pending = self._release()
        if pending is None:
            return
        if pending.written:  # (taking back what was just done: allowed while jobs.json is invalid, too)
            self.operator.taking_back = True
            try:
                self._write(pending.job_id, INVERSE[pending.action])
            finally:
                self.operator.taking_back = False
        else:
            self.app.notify(f"undone: {pending.action} {pending.job_id} (nothing written)", timeout=3)

    @contextmanager
    def making_way(self, job_id: str | None, action: str) -> Iterator[None]:
        """Around a new action on ``job_id`` (None: the deck): the one that waits is written before it, or, when
        both are ``VERDICTS`` on the same job, dropped once the new one is written (kept if it is refused)."""
        pending = self.pending
        if pending is None:
            yield
            return
        if pending.written or pending.job_id != job_id or action not in VERDICTS:
            self.settle()
            yield
            return
        yield
        if self.pending is pending:
            self._release()
            self.app.notify(f"{pending.action} {pending.job_id} dropped, nothing written: {action} replaces it",
                            timeout=4)

    def settle(self) -> None:
        """Write the action that waits, now (a new action, quitting); the undo is gone either way."""
        pending = self._release()
        if pending is not None and not pending.written:
            self._write(pending.job_id, pending.action)

    def _hold(self, pending: Undoable, shown: Notification) -> None:
        self.pending, self._toast = pending, shown
        self._timer = self.app.set_timer(self.seconds, self.settle)
        self.app.refresh_bindings()

    def _release(self) -> Undoable | None:
        pending, self.pending = self.pending, None
        if self._toast is not None:  # its "z to undo" is no longer true
            withdraw(self.app, self._toast)
            self._toast = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if pending is not None:
            self.app.refresh_bindings()
        return pending

    def _write(self, job_id: str, action: str, **said: Any) -> Notification | None:
        done = write_action(self.app, self.operator, job_id, action, **said)
        if done is not None:
            self.written()
        return done
