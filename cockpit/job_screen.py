"""The operator's job keys, shared by every screen that has a selected job.

Board, detail and review screens subclass ``JobScreen`` and say which job is
selected; the keys here turn into events through ``Operator.act`` (attributed
to the cockpit). Actions that cannot be taken back ask first (cancel, reject,
run now, approving a high-risk job); approve, retry, pause and resume go
through the app's undo (cockpit/undo.py). Refusals become error toasts, and so
does a key pressed where it does not apply: it says why, never nothing.
What only the app can do (open a screen, edit jobs.json, refresh every screen)
is asked for with the messages below, so no screen imports the app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from jobdeck.state.actions import ACTIONS, refusal
from jobdeck.state.errors import JobdeckError, UnknownJob
from jobdeck.state.machine import Status
from jobdeck.state.terminal import inert_line
from jobdeck.state.views import blockers, holds_claim

from jobdeck.cockpit.advice import Advisor, snapshot
from jobdeck.cockpit.confirm_screen import ConfirmScreen
from jobdeck.cockpit.key_advice import in_keys
from jobdeck.cockpit.model import DeckModel, Delta
from jobdeck.cockpit.operations import Operator
from jobdeck.cockpit.reason_screen import ReasonScreen
from jobdeck.cockpit.spec_banner import SpecBanner
from jobdeck.cockpit.undo import write_action

#: The screen's actions named otherwise than the operator action they take.
OPERATOR_ACTION = {"cancel_job": "cancel"}

OVERRIDES = frozenset({"pin", "hold", "release"})
"""The operator's overrides of the decision service: written at once, with what they replaced and what a pinned job
still waits for told in the toast."""

JOB_COMMANDS = (
    ("Approve", "approve the selected job ({key})", "approve", "approve"),
    ("Reject", "reject the selected job with a reason ({key})", "reject", "reject"),
    ("Retry", "queue the selected job again ({key})", "retry", "retry"),
    ("Cancel job", "cancel the selected job ({key})", "cancel_job", "cancel"),
    ("Pause / resume", "pause or resume the selected job ({key})", "pause", "pause"),
    ("Run now", "start a new cycle of the selected job ({key})", "trigger", "trigger"),
    ("Why", "what keeps the selected job from running, its rank and the reasons ({key})", "why", "why"),
    ("Output in $PAGER", "page the selected job's latest output, escape sequences removed ({key})", "output",
     "output"),
    ("Copy id", "copy the selected job's id to the clipboard ({key})", "copy_id", "copy_id"),
    ("Copy output path", "copy the path of the selected job's latest output ({key})", "copy_path", "copy_path"),
    ("Pin", "start the selected backlog job next, once ({key})", "pin", "pin"),
    ("Hold", "keep the selected backlog job from starting until released ({key})", "hold", "hold"),
    ("Release", "undo a pin or hold of the selected job ({key})", "release", "release"),
    ("Edit jobs.json", "open jobs.json in $EDITOR, validated on save ({key})", "edit", "edit"),
    ("New job", "add a job to jobs.json ({key})", "new_job", "new_job"),
)
"""The command palette's entries for the job keys: title, help (``{key}``: the key in use), action, binding id."""


def _says_why(binding: Binding) -> Binding:
    """A hidden binding on the key (and id, so a keys.toml remap moves both) of a job key, tried after it:
    where Textual skips the key because it does not apply (a disabled key is silent), this says why in a toast."""
    return Binding(binding.key, f"refuse('{binding.action}')", show=False, id=binding.id)


_OPERATOR_KEYS = [
    Binding("a", "approve", "approve", id="approve"),
    Binding("r", "retry", "retry", id="retry"),
    Binding("x", "cancel_job", "cancel", id="cancel"),
    Binding("R", "reject", "reject", show=False, id="reject"),
    Binding("p", "pause", "pause/resume", show=False, id="pause"),
    Binding("t", "trigger", "run now", show=False, id="trigger"),
    Binding("P", "pin", "pin", show=False, id="pin"),
    Binding("H", "hold", "hold", show=False, id="hold"),
    Binding("u", "release", "release", show=False, id="release"),
]
_WHY = Binding("w", "why", "why", id="why")

SELECTED_ONLY = frozenset({"why"})
"""Footer keys that only act on a selected job in the jobs.json in use: offered only while there is one (an empty
column, or the job view of a job taken out of jobs.json, offers none of them)."""


class JobScreen(Screen[None]):
    """A screen with a selected job and the keys that act on it."""

    BINDINGS = [
        *_OPERATOR_KEYS,
        _WHY,
        Binding("o", "output", "output", show=False, id="output"),
        Binding("E", "stderr_output", "stderr", show=False, id="stderr_output"),  # (the detail's E: its pane)
        Binding("y", "copy_id", "copy id", show=False, id="copy_id"),
        Binding("Y", "copy_path", "copy output path", show=False, id="copy_path"),
        Binding("e", "edit", "edit jobs.json", show=False, id="edit"),
        Binding("n", "new_job", "new job", show=False, id="new_job"),
        *map(_says_why, [*_OPERATOR_KEYS, _WHY]),
    ]

    class Acted(Message):
        """An operator key appended events: the app shows them on every screen now."""

    class OpenDetail(Message):
        """Open a job's detail screen."""

        def __init__(self, job_id: str) -> None:
            super().__init__()
            self.job_id = job_id

    class OfferUndo(Message):
        """Take an action the operator can undo for a few seconds (the app keeps the one undo slot)."""

        def __init__(self, job_id: str, action: str) -> None:
            super().__init__()
            self.job_id = job_id
            self.action = action

    class OpenReview(Message):
        """Open the review queue."""

    class OpenStats(Message):
        """Open the last 24 hours' runs, failures and cost."""

    class OpenOutput(Message):
        """Page the job's latest output (or its stderr.log) in $PAGER."""

        def __init__(self, job_id: str, stderr: bool = False) -> None:
            super().__init__()
            self.job_id = job_id
            self.stderr = stderr

    class EditSpec(Message):
        """Edit jobs.json in $EDITOR."""

    class NewJob(Message):
        """Open the new-job form."""

    def __init__(self, model: DeckModel, operator: Operator, *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.model = model
        self.operator = operator
        self.advisor = Advisor(model.deck)
        """The decision service for `w` (and the board's ranking), keeping the policy of the last spec."""

    def selected_job_id(self) -> str | None:
        """The job the keys act on (None: nothing selected)."""
        raise NotImplementedError

    def deck_changed(self, delta: Delta) -> None:
        """Called after every refresh of the model; screens update what they show."""

    def show_spec_banner(self) -> None:
        """Say on this screen, as the board does, that jobs.json is invalid and which version is shown (hidden
        while it is valid): the keys that start work are refused meanwhile, and the screen says why first."""
        for banner in self.query(SpecBanner):
            banner.show_error(self.model.spec_error, self.model.spec is not None)

    def palette(self) -> tuple[tuple[str, str, str], ...]:
        """The command palette's entries for this screen's keys: title, help naming the key as keys.toml maps it,
        action."""
        return self.palette_entries(JOB_COMMANDS)

    def palette_entries(self, commands: Iterable[tuple[str, str, str, str]]) -> tuple[tuple[str, str, str], ...]:
        """``commands`` (title, help, action, binding id) with each help's ``{key}`` said as the key in use here."""
        keys = self.key_names()
        return tuple((title, help_text.format(key=keys[name]), action) for title, help_text, action, name in commands)

    def key_names(self) -> dict[str, str]:
        """Binding id -> the key that runs it here, as the footer shows it, keys.toml's remaps included."""
        keymap: dict[str, str] = getattr(self.app, "keymap_in_use", {})  # (the app sets it; screens do not import it)
        keys: dict[str, str] = {}
        for klass in type(self).__mro__:  # the screen's own bindings before those it inherits
            for binding in Binding.make_bindings(vars(klass).get("BINDINGS", ())):
                if binding.id is not None:
                    keys.setdefault(binding.id, keymap.get(binding.id) or binding.key)
        return {name: self.app.get_key_display(Binding(key.split(",")[0].strip(), name)) for name, key in keys.items()}

    def said_in_keys(self, text: str, job_id: str | None = None) -> str:
        """``text`` (a refusal, a note, `why`) with the CLI commands it advises said as this screen's keys."""
        return in_keys(text, self.key_names(), job_id if job_id is not None else self.selected_job_id())

    def tick(self, full: bool) -> None:
        """Called every second (``full`` every tenth): redraw clock-dependent text."""

    # -- enabling keys -----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in SELECTED_ONLY:
            job_id = self.selected_job_id()
            return job_id is not None and not self._gone(job_id)
        if OPERATOR_ACTION.get(action, action) not in ACTIONS:
            return True
        return self.refused(action) is None

    def _gone(self, job_id: str) -> bool:
        """The deck is read and ``job_id`` is not in the jobs.json in use (`jobdeck rm`, an edit)."""
        return self.model.ready and self.model.job(job_id) is None

    def refused(self, action: str) -> JobdeckError | None:
        """Why the operator key ``action`` (a screen action: ``cancel_job``, ``pin``…) does not apply to the
        selected job now, in the words ``act`` would refuse it with; None when it applies."""
        job_id = self.selected_job_id()
        if job_id is None:
            return JobdeckError("no job selected")
        model = self.model
        job = model.job(job_id)
        name = OPERATOR_ACTION.get(action, action)
        if job is None:
            if not model.ready:
                return JobdeckError("still reading the deck", hint="try again in a moment")
            if holds_claim(model.state(job_id)):  # taken out of jobs.json while an attempt of it runs
                return None if name == "cancel" else UnknownJob(
                    f"job '{job_id}' is no longer in the jobs.json in use",
                    hint=f"`jobdeck cancel {job_id}` stops its attempt")
            return UnknownJob(f"no job '{job_id}' in the jobs.json in use")
        if name == "pause":  # one key for both: the one that applies
            name = self.operator.pause_action(job.id)
        board = model.store.board if model.ready else None
        return refusal(ACTIONS[name], job, model.state(job.id), board=board, now=model.clock())

    def action_refuse(self, action: str) -> None:
        """Say why an operator key does nothing here (Textual skipped its own binding: it does not apply)."""
        job_id = self.selected_job_id()
        if job_id is None:
            self.notify("no job selected", severity="warning", timeout=2)
            return
        if action in SELECTED_ONLY:
            self.notify(f"{job_id} is not in the jobs.json in use", severity="warning", timeout=3)
            return
        refused = self.refused(action) if OPERATOR_ACTION.get(action, action) in ACTIONS else None
        if refused is not None:
            self.notify(inert_line(self.said_in_keys(str(refused))),  # (a decision's reason may come from a model)
                        title=f"cannot {OPERATOR_ACTION.get(action, action)}", severity="error", markup=False)

    async def run_key(self, action: str) -> None:
        """Run a key's action from the command palette as the key would: where it does not apply, say why."""
        if self.check_action(action, ()):
            await self.run_action(action)
        elif OPERATOR_ACTION.get(action, action) in ACTIONS or action in SELECTED_ONLY:
            self.action_refuse(action)

    # -- the keys ----------------------------------------------------------------

    def action_approve(self) -> None:
        def approve(job_id: str) -> None:
            job = self.model.job(job_id)
            if job is None or job.risk != "high":
                self.post_message(self.OfferUndo(job_id, "approve"))
                return
            self._confirm(job_id, "approve", f"Approve high-risk job {job_id}?",
                          "A high-risk job's approval is its go-ahead: it cannot be taken back.", "Approve")

        self._on_selected(approve)

    def action_retry(self) -> None:
        self._on_selected(lambda job_id: self.post_message(self.OfferUndo(job_id, "retry")))

    def action_trigger(self) -> None:
        def ask(job_id: str) -> None:
            waits = self._trigger_waits(job_id)  # said before the question, not only after the answer
            self._confirm(job_id, "trigger", f"Run {job_id} now?", "A new cycle starts: the job and the jobs that "
                          "depend on it run again." + (f" {waits[:1].upper()}{waits[1:]}." if waits else ""), "Run now")

        self._on_selected(ask)

    def _trigger_waits(self, job_id: str) -> str:
        """"it waits ..." when a new cycle of the job would not start at once (its dependencies, a gate of the
        decision service, and what lifts it); "" when it would."""
        kept_back = self._kept_back(job_id)
        job = self.model.job(job_id)
        waits = blockers(job, self.model.store.board) if job is not None and self.model.ready else []
        if waits:  # (a new cycle of it does not run its dependencies again)
            return "it waits for " + ", ".join(f"{dep} ({status.words})" for dep, status in waits)
        if kept_back is not None:
            why, needs = kept_back
            pins = "" if needs == "cooldown" else " (P pins it to run now)"  # (a pin does not pass a cooldown)
            return f"it waits: {why}{pins}"
        return ""

    def action_pause(self) -> None:
        self._on_selected(lambda job_id: self.post_message(
            self.OfferUndo(job_id, self.operator.pause_action(job_id))))

    def _confirm(self, job_id: str, action: str, question: str, detail: str, yes: str) -> None:
        try:  # (refused at once, not after the question)
            self.operator.check_allowed(action)
        except JobdeckError as exc:
            self.notify(inert_line(str(exc)), title=f"cannot {action}", severity="error", markup=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_job_action(job_id, action)

        self.app.push_screen(ConfirmScreen(question, detail=detail, yes=yes, no="Keep"), answered)

    def action_pin(self) -> None:
        self._on_selected(lambda job_id: self.run_job_action(job_id, "pin"))

    def action_hold(self) -> None:
        self._on_selected(lambda job_id: self.run_job_action(job_id, "hold"))

    def action_release(self) -> None:
        self._on_selected(lambda job_id: self.run_job_action(job_id, "release"))

    def action_copy_id(self) -> None:
        self._on_selected(lambda job_id: self._copy(job_id, f"copied {job_id}"))

    def action_copy_path(self) -> None:
        def copy(job_id: str) -> None:
            path = self.model.output_path(job_id)
            if path is None:
                self.notify(f"{job_id}: no attempt yet", severity="warning", timeout=3)
            else:
                self._copy(str(path), f"copied {path}")
        self._on_selected(copy)

    def _copy(self, text: str, said: str) -> None:
        """To the clipboard of the terminal the cockpit runs in (OSC 52: over SSH too, where the terminal allows it)."""
        self.app.copy_to_clipboard(text)
        self.notify(said, timeout=2)

    def action_why(self) -> None:
        from jobdeck.cockpit.why_screen import WhyScreen

        def ask(job_id: str) -> None:
            model = self.model
            spec = model.spec if model.ready else None
            if spec is None or spec.job(job_id) is None:
                self.notify("still reading the deck; a moment" if not model.ready else
                            f"{job_id} is not in the jobs.json in use", severity="warning", timeout=3)
                return
            self.app.push_screen(WhyScreen(self.advisor, spec, snapshot(model.store.board), job_id, model.clock(),
                                           keys=self.key_names()))

        self._on_selected(ask)

    def action_cancel_job(self) -> None:
        def ask(job_id: str) -> None:
            running = self.model.state(job_id).status == Status.RUNNING
            spec, job = self.model.spec, self.model.job(job_id)
            placed = spec.executor_of(job) if spec is not None and job is not None else None
            what = (f"Its batch job on {placed[0]} will be cancelled." if placed is not None else
                    "Its running process group will be terminated.")
            if running and not self.model.runner_up():
                what += " No runner is up: that happens when one starts (jobdeck run)."
            self._confirm(job_id, "cancel", f"Cancel job {job_id}?",
                          what if running else "It will not run again until retried or triggered.", "Cancel job")

        self._on_selected(ask)

    def action_reject(self) -> None:
        def ask(job_id: str) -> None:
            def answered(reason: str | None) -> None:
                if reason:
                    self.run_job_action(job_id, "reject", reason=reason)

            self.app.push_screen(ReasonScreen(job_id), answered)

        self._on_selected(ask)

    def action_output(self) -> None:
        self._on_selected(lambda job_id: self.post_message(self.OpenOutput(job_id)))

    def action_stderr_output(self) -> None:
        self._on_selected(lambda job_id: self.post_message(self.OpenOutput(job_id, stderr=True)))

    def action_edit(self) -> None:
        self.post_message(self.EditSpec())

    def action_new_job(self) -> None:
        self.post_message(self.NewJob())

    def run_job_action(self, job_id: str, action: str, *, reason: str | None = None) -> bool:
        """Append the action's event now; show a refusal as an error toast, never a traceback."""
        if action in OVERRIDES:
            return self._override(job_id, action, reason=reason)
        then, timeout = "", 3.0
        if action == "trigger":  # "run now" on a job the decision service keeps back: say it waits, and what runs it
            waits = self._trigger_waits(job_id)
            then, timeout = (f", but {waits}", 8.0) if waits else (then, timeout)
        elif action == "cancel" and self.model.state(job_id).status == Status.RUNNING and not self.model.runner_up():
            then, timeout = "; no runner is up, so its processes run until one starts (jobdeck run)", 8.0
        done = write_action(self.app, self.operator, job_id, action, reason=reason, then=then, timeout=timeout)
        if done is not None:
            self.post_message(self.Acted())
        return done is not None

    def _override(self, job_id: str, action: str, *, reason: str | None) -> bool:
        """Pin, hold or release now, as `jobdeck pin` does: the toast says the override it replaced and what a
        pinned job still waits for (the CLI's stderr lines), and warns when there is any of that."""
        try:
            outcome = self.operator.perform(job_id, action, reason=reason)
        except JobdeckError as exc:
            self.notify(inert_line(self.said_in_keys(str(exc), job_id)), title=f"cannot {action}", severity="error",
                        markup=False)
            return False
        told = self.said_in_keys("".join(f"; {note}" for note in outcome.notes), job_id)
        self.notify(inert_line(f"{job_id} {ACTIONS[action].done}{told}"), severity="warning" if told else "information",
                    timeout=10.0 if told else 3.0, markup=False)
        self.post_message(self.Acted())
        return True

    def _kept_back(self, job_id: str) -> tuple[str, str | None] | None:
        model = self.model
        spec = model.spec if model.ready else None
        if spec is None or spec.job(job_id) is None:
            return None
        return self.advisor.keeps_back(spec, snapshot(model.store.board), job_id, model.clock())

    def _on_selected(self, then: Callable[[str], object]) -> None:
        job_id = self.selected_job_id()
        if job_id is None:
            self.notify("no job selected", severity="warning", timeout=2)
            return
        then(job_id)
