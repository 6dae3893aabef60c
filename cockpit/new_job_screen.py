"""`n`: a form for one new job, added to jobs.json the way `jobdeck add` does it.

Enter goes on to the next field, as Tab does; Ctrl+S or the Add button adds the
job. An error is said on the form by the field it names, as the form labels it,
and its hint in the cockpit's keys (cockpit/key_advice.py); an alternative that
passes a CLI option the form has no field for is left out.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from jobdeck.state.errors import JobdeckError, SpecError

from jobdeck.cockpit.key_advice import in_keys, without_options
from jobdeck.cockpit.operations import FORM, Operator, job_from_form

FIELDS = (
    ("id", "id", "letters, digits, . _ - (required)"),
    ("title", "title", "short human title"),
    ("command", "command", "argv, split like a shell: echo 'hello world'"),
    ("model", "model", "or an LLM: e.g. openai/gpt-4o-mini (needs a prompt)"),
    ("prompt", "prompt", "prompt for the model"),
    ("workspace", "workspace", "default"),
    ("labels", "labels", "comma-separated"),
    ("depends_on", "depends on", "comma-separated job ids"),
    ("schedule", "schedule", "cron, e.g. 0 2 * * * or @daily"),
)
NO_WAY_TO_RUN = "say how the job runs: give a command, or a model and its prompt"
"""The spec's "give 'command', 'model' (with 'prompt') or 'agent'" in the form's words: it has no agent field."""


class NewJobScreen(ModalScreen[str | None]):
    """Dismissed with the new job's id once it is in jobs.json; errors stay on the form."""

    BINDINGS = [Binding("escape", "close", "cancel"), Binding("ctrl+s", "add", "add job")]

    def __init__(self, operator: Operator, *, keys: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.operator = operator
        self.keys = dict(keys or {})
        """The keys of the screen it was opened from (binding id -> key), for the hints of its errors."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="new-job", classes="dialog"):
            yield Static(Text("New job", "bold"), classes="dialog-title")
            for key, label, placeholder in FIELDS:
                with Horizontal(classes="form-row"):
                    yield Label(label, classes="form-label")
                    yield Input(placeholder=placeholder, id=f"field-{key}")
            with Horizontal(classes="form-row"):
                yield Label("risk", classes="form-label")
                yield Select([("low", "low"), ("medium (review output)", "medium"),
                              ("high (approve first)", "high")], value="low", allow_blank=False, id="field-risk")
            yield Static("", id="form-error", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add (Ctrl+S)", id="add", variant="primary")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#field-id", Input).focus()

    def values(self) -> dict[str, str]:
        found = {key: self.query_one(f"#field-{key}", Input).value for key, _, _ in FIELDS}
        found["risk"] = str(self.query_one("#field-risk", Select).value)
        return found

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # Enter moves on, as Tab does: sent from one field, the form would come back with
        # an error at its foot, scrolled away from the field being typed in.
        event.stop()
        self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "add":
            self.action_add()
        else:
            self.dismiss(None)

    def action_add(self) -> None:
        try:
            job_id = self.operator.add_job(job_from_form(self.values()))
        except JobdeckError as exc:
            error = self.query_one("#form-error", Static)
            error.update(Text(form_error(exc, self.keys), "red"))
            # at 80x24 the form is taller than the screen and the error sits at its foot: bring it into view
            self.call_after_refresh(error.scroll_visible, animate=False)
            return
        self.dismiss(job_id)

    def action_close(self) -> None:
        self.dismiss(None)


def form_error(error: JobdeckError, keys: Mapping[str, str]) -> str:
    """``error`` as the form says it: "depends on: depends on unknown job 'nope' (hint: ...)", its hint in ``keys``."""
    text = error.message
    if isinstance(error, SpecError) and error.path in (FORM, None):
        labels = {key: label for key, label, _ in FIELDS}
        field = (error.field or "").split(".")[0].split("[")[0]
        if not field and says_no_way_to_run(text):
            field, text = "command", NO_WAY_TO_RUN
        text = f"{labels.get(field, field)}: {text}" if field else text
    elif isinstance(error, SpecError):  # jobs.json itself, or the deck with the job added: say where
        text = f"{error.location}: {text}"
    hint = in_keys(without_options(error.hint), keys) if error.hint else ""
    return f"{text} (hint: {hint})" if hint else text


def says_no_way_to_run(message: str) -> bool:
    """Whether ``message`` is the spec's own "say how the job runs" (state/spec.run_problem), of a job given none."""
    from jobdeck.state.spec import run_problem  # (pydantic: already loaded by the add that was refused)

    problem = run_problem(None, False, None, None, None)
    return problem is not None and message == problem[1]
