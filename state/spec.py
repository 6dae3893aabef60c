"""The jobs.json model: what should run. Written by people; never by the runner.

Every field carries a docstring; they become the JSON Schema descriptions that
editors show when jobs.json names the schema in ``$schema`` (``jobdeck schema``).
The terse form ``{"id": "x", "command": [...]}`` is a complete job: everything
else has a default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from functools import cached_property
from typing import Annotated, Any, Literal

# These models are built without pydantic plugins: looking for plugins reads the
# metadata of every installed distribution (litellm brings many), ~20-40 ms of
# every command. Only while this module runs (restored at its end), so nothing
# else, and no job's child process, which inherits the environment, sees it.
_PLUGINS_SETTING = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from jobdeck.state.commands import shell_command_problem
from jobdeck.state.durations import parse_duration
from jobdeck.state.ids import ID_PATTERN
from jobdeck.state.sizes import SIZE_PATTERN, parse_size

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"

#: Agent types jobdeck ships; others come from the ``jobdeck.agents`` entry point group.
BUILTIN_AGENT_TYPES = frozenset({"shell", "llm", "claude", "codex", "aider", "gemini"})

# Numbers and switches are taken as JSON writes them: "3" for a count or "true" for a
# switch is a mistake to report, not a value to guess (pydantic's lax mode would coerce).
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"},
            ],
            "description": "Seconds, or a string like '90s', '5m', '2h', '1h30m'.",
        }
    ),
]
Size = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "exclusiveMinimum": 0},
                {"type": "string", "pattern": SIZE_PATTERN},
            ],
            "description": "Bytes, or a string like '500MB', '64KiB', '1GiB'.",
        }
    ),
]
DEFAULT_OUTPUT_LIMIT = 1 << 30
"""``limits.output`` when jobs.json does not set it: 1 GiB."""


_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _deadline(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if _CLOCK.match(value):
        return value
    from datetime import datetime
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value}' is neither a time of day like \"06:00\" nor an ISO-8601 datetime like "
                         "\"2026-12-24T06:00:00+01:00\"") from None
    return value


def _window(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    start, dash, end = value.partition("-")
    if not dash or not _CLOCK.match(start.strip()) or not _CLOCK.match(end.strip()) or start.strip() == end.strip():
        raise ValueError(f"'{value}' is not a daily window like \"22:00-06:00\" (start-end, 24-hour clock)")
    return f"{start.strip()}-{end.strip()}"


def cross_field(problem: str, field: str | None = None) -> PydanticCustomError:
    """The error of a check that reads several fields of a model, to raise in its validator: ``field`` (dotted,
    within the model) is where the loader points, None for the model itself."""
    return PydanticCustomError("cross_field", "{problem}", {"problem": problem, "field": field})


def run_problem(command: Any, shell: Any, model: Any, prompt: Any, agent: Any) -> tuple[str | None, str] | None:
    """What is wrong with how a job says it runs, as (field, problem); None if nothing.

    Judged from the values as jobs.json writes them (a field left out is None, ``shell`` False), so that the
    loader can ask it of a job whose other fields the model refused.
    """
    ways = [name for name, value in (("command", command), ("model", model), ("agent", agent)) if value is not None]
    if not ways:
        return None, "say how the job runs: give 'command', 'model' (with 'prompt') or 'agent'"
    if "command" in ways and "model" in ways:
        return "model", "give 'command' or 'model', not both"
    if model is not None and prompt is None:
        return "model", "an llm job ('model') needs a 'prompt'"
    if isinstance(command, str) and shell is False:
        return "command", ("'command' is a string but 'shell' is false; use an argv list like "
                           '["echo", "hi"], or set "shell": true')
    if isinstance(command, list) and not command:
        return "command", "'command' is an empty list"
    problem = shell_command_problem(command, shell is True)
    return ("command", problem) if problem is not None else None


def target_problem(url: Any, command: Any) -> str | None:
    """What is wrong with how a notify target says where alerts go (``url`` and ``command`` as written)."""
    if (url is None) == (command is None):
        return "give a target either 'url' (an {\"env\": NAME} reference) or 'command', not both"
    return None


def rules_problem(sends_to: list[list[str]], targets: Collection[str]) -> tuple[int, str] | None:
    """The first notify rule (0-based, with the problem) that sends to a target not in ``targets``; None if none."""
    for n, names in enumerate(sends_to):
        unknown = [name for name in names if name not in targets]
        if unknown:
            return n, f"rule {n + 1} sends to {', '.join(map(repr, unknown))}, which notify.targets does not declare"
    return None


def scorer_problem(agent: str, agent_type: str | None) -> str | None:
    """What is wrong with ``decide.scorer`` naming ``agent``, whose type is ``agent_type`` (None: not declared)."""
    if agent_type != "llm":
        return f"decide.scorer names agent '{agent}', which is not an llm agent in 'agents'"
    return None


def _drop_comments(value: Any) -> Any:
    # Runs for every object in jobs.json: copy only the rare dict that has a comment key.
    if isinstance(value, dict) and any(k[:1] in ("/", "$") for k in value):
        return {k: v for k, v in value.items() if not (k.startswith("//") or k == "$comment")}
    return value


class _Model(BaseModel):
    """Strict base: unknown fields are errors; ``"//"`` and ``$comment`` keys are notes."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )  # not use_attribute_docstrings: it reads this file with inspect at import (~50 ms of every
    # command); only the JSON Schema shows them, and json_schema() adds them itself

    @model_validator(mode="before")
    @classmethod
    def _comments(cls, value: Any) -> Any:
        return _drop_comments(value)


class EnvRef(_Model):
    """A value taken from the runner's environment at run time, never written down."""

    env: Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)]
    """Name of the environment variable to read, e.g. "OPENAI_API_KEY"."""
    secret: bool = True
    """Whether its value is redacted wherever jobdeck writes. false for an ordinary value, such as a batch
    size read from the environment (the notify URLs are secret whatever this says, and an agent's api_key
    refuses false: a key is a secret)."""


EnvValue = str | EnvRef


class Timeout(_Model):
    """Limits on one attempt's time."""

    idle: Duration | None = None
    """Fail the attempt when it produces no new output (bytes or tokens) for this long."""
    hard: Duration | None = None
    """Fail the attempt when it has run this long in total (wall time)."""
    grace: Duration = 5.0
    """After SIGTERM (timeout, cancel, or what the program left running at its exit), wait this long before SIGKILL."""


class Retry(_Model):
    """How often and how soon to try again after a transient failure."""

    max_attempts: StrictInt = Field(1, ge=1, le=100)
    """Attempts in all, the first included; 1 means never retry."""
    backoff: Literal["fixed", "linear", "exponential"] = "exponential"
    """Growth of the wait between attempts: delay, delay*n, or delay*2^(n-1)."""
    delay: Duration = 5.0
    """Wait before the first retry."""
    max_delay: Duration = 600.0
    """Upper bound on any single wait."""
    jitter: StrictFloat = Field(0.1, ge=0.0, le=1.0)
    """Random spread added to each wait, as a fraction of it (0.1 = up to +10%)."""
    retryable_exit_codes: list[int] = Field(default_factory=list)
    """Exit codes that mean "try again" (e.g. 75 for EX_TEMPFAIL); others fail for good."""
    on_timeout: StrictBool = True
    """Treat an idle or hard timeout as transient (retry) rather than final."""


class Validate(_Model):
    """Checks an attempt's output must pass before it counts as done."""

    json_schema: dict[str, Any] | None = None
    """The output must be JSON valid against this JSON Schema."""
    required: list[str] | None = None
    """The output must be a JSON object with these top-level fields."""
    regex: str | None = None
    """The output must contain a match for this regular expression (Python's syntax). A match that takes more
    than 10 s (a pattern that backtracks on this output) fails the check; so does a ``json_schema`` ``pattern``."""
    command: list[str] | None = Field(None, min_length=1)
    """A validator run with the output file (its absolute path) as its last argument, in the job's workspace
    as the job's own command is; exit 0 means valid."""

    @field_validator("regex")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern

    @model_validator(mode="after")
    def _something(self) -> Validate:
        if not any((self.json_schema, self.required, self.regex, self.command)):
            raise ValueError("give at least one of json_schema, required, regex, command")
        return self


class AgentSpec(_Model):
    """A named way to run jobs, declared once in the ``agents`` section."""

    type: str = "shell"
    """Agent kind: shell, llm, claude, codex, aider, gemini, or a plugin's name."""
    command: list[str] | str | None = None
    """For shell-like agents: argv template ({{prompt}}, {{input}}, {{output}} are filled in)."""
    shell: StrictBool = False
    """Run ``command`` through /bin/sh. Off by default: argv runs without a shell. As for a job's ``shell``: one
    string, no placeholders."""
    model: str | None = None
    """For llm agents: the litellm model name, e.g. "openai/gpt-4o-mini"."""
    fallbacks: list[str] = Field(default_factory=list)
    """Models to try in order: at once when the model fails persistently (auth, not found, bad request), and
    once its retries are spent when it keeps failing transiently (429, 5xx, an empty answer)."""
    context_model: str | None = None
    """A larger-context model to switch to when the context window is exceeded."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible endpoint (a local server, a proxy): an http(s) URL with a host, e.g.
    http://127.0.0.1:11434/v1."""
    api_key: EnvRef | None = None
    """API key, as an environment reference; never write the key itself. Sent to the model's provider
    only: a fallback at another provider gets its own key from litellm's variable for it (e.g.
    ANTHROPIC_API_KEY), unless api_base sends every model to one endpoint."""
    max_concurrent: StrictInt | None = Field(None, ge=1)
    """At most this many attempts of this agent at once, across all jobs."""
    env: dict[str, EnvValue] = Field(default_factory=dict)
    """Environment for the agent's process: values or {"env": "NAME"} references."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Agent-specific settings. For llm: litellm's (temperature, max_tokens...) and jobdeck's own retries,
    retry_delay and max_retry_wait (numbers >= 0) and system; not those jobdeck sets itself (model, messages,
    stream, api_key, api_base, base_url, max_retries, num_retries, fallbacks, context_window_fallback_dict,
    mock_response, timeout)."""
    executor: Identifier | None = None
    """Where this agent's jobs run: the name of an ``executors`` entry (default: on this machine)."""

    @model_validator(mode="after")
    def _shell_command(self) -> AgentSpec:
        problem = shell_command_problem(self.command, self.shell)
        if problem is not None:
            raise cross_field(problem, "command")
        return self


class JobRetention(_Model):
    """A job's own retention: each field given here replaces the top-level one for this job."""

    keep_days: StrictInt | None = Field(None, ge=1, le=36500)
    """Keep this job's attempt directories for this many days (null: no age limit for this job)."""
    keep_attempts: StrictInt | None = Field(None, ge=1, le=1_000_000)
    """Keep this job's last N attempts (null: no count limit for this job)."""


class Job(_Model):
    """One unit of work: what runs, when, with what limits, and how its output is judged."""

    id: Identifier
    """Unique id: letters, digits, '.', '_', '-'; at most 64 characters."""
    title: str | None = None
    """Short human title for the cockpit; defaults to the id."""
    description: str | None = None
    """Longer notes for people; never sent to the agent."""

    command: list[str] | str | None = None
    """Run this command (argv list; a string only with shell: true). Terse form of a shell job."""
    shell: StrictBool = False
    """Run ``command`` through /bin/sh -c. Off by default. The command is then one string of shell code (a list of
    several words is refused: the shell would parse them again), and holds no ``{{placeholders}}``: inputs reach it
    as ``$JOBDECK_INPUT``, ``$JOBDECK_VAR_<NAME>``, ``$JOBDECK_INPUT_<DEP>``."""
    model: str | None = None
    """Call this LLM (litellm name). Terse form of an llm job; needs ``prompt``."""
    prompt: str | None = None
    """Prompt template: {{input}} (the run's input, e.g. the inbox file's path, else the output of the job's one
    dependency), {{inputs.NAME}}, {{deps.JOB}} (a job in ``depends_on``), {{output}} and {{attempt}} are filled
    in. A placeholder no attempt could fill, here or in an argv ``command``, is refused when jobs.json is loaded."""
    agent: Identifier | None = None
    """Name of an agent in the ``agents`` section (or a built-in: claude, codex, aider, gemini)."""
    fallbacks: list[str] = Field(default_factory=list)
    """LLM models to fall back to, in order (as an agent's ``fallbacks``); given, even as ``[]``, they replace the
    agent's."""
    context_model: str | None = None
    """Larger-context LLM to use when the context window is exceeded."""
    mock_response: str | list[str] | None = None
    """Offline stand-in for the LLM's answer (litellm mock_response); a list gives one per attempt."""
    output: Literal["text", "json"] = "text"
    """Expected output format; "json" parses the output and applies ``validate``. JSON wrapped in one Markdown code
    fence, as models often write it, passes, and once valid the output file is rewritten without the fence, so a
    dependent reads the JSON alone (as for ``validate.required`` and ``validate.json_schema``)."""
    repair: StrictBool = False
    """For llm json output: on invalid output, re-ask once with the validation errors."""

    depends_on: list[Identifier] = Field(default_factory=list)
    """Jobs that must be done (with valid output) before this one starts."""
    workspace: Identifier = "default"
    """Workspace directory the job runs in (workspaces/<name>)."""
    inputs: dict[str, str] = Field(default_factory=dict)
    """Named values for {{inputs.NAME}} and the environment (JOBDECK_VAR_<NAME>); `jobdeck trigger --input
    NAME=VALUE` overrides one for its run. A placeholder {{inputs.NAME}} needs its NAME here."""
    env: dict[str, EnvValue] = Field(default_factory=dict)
    """Environment variables: plain values or {"env": "NAME"} references to the runner's env."""

    timeout: Timeout = Field(default_factory=Timeout)
    """Idle and hard time limits per attempt."""
    retry: Retry = Field(default_factory=Retry)
    """Retry policy for transient failures."""
    schedule: str | None = None
    """Cron expression (5 fields) or alias (@hourly, @daily, @weekly, @monthly, @yearly)."""
    timezone: str = "UTC"
    """IANA time zone the schedule is read in, e.g. "Europe/Paris"."""
    trigger: str | None = None
    """Glob pattern; a matching file dropped in workspaces/<ws>/inbox/ starts a run with it."""

    risk: Literal["low", "medium", "high"] = "low"
    """high: needs approval before it runs; medium: output goes to review unless review says otherwise."""
    review: Literal["always", "never", "on_invalid"] | None = None
    """When output waits for a person: always, never, or on_invalid (default; always for medium risk)."""
    validate_: Validate | None = Field(None, alias="validate")
    """Checks the output must pass; failures go to review and never reach dependents."""

    priority: StrictInt = Field(0, ge=-1000, le=1000)
    """Higher runs first among ready jobs; ties go to the one waiting longest, then to the one earlier in jobs.json."""
    labels: list[str] = Field(default_factory=list)
    """Free-form tags for filtering in the cockpit and ``jobdeck ls``."""
    concurrency: Identifier | None = None
    """Key shared by jobs that must not run beyond limits.keys[KEY] at once (default 1)."""
    idempotent: StrictBool = False
    """Safe to re-run after a crash mid-attempt: an interrupted attempt is re-run at once without using a try (up to 3 interruptions in a row); otherwise it goes to review."""
    paused: StrictBool = False
    """Never started while true (a running attempt finishes)."""
    output_limit: Size | None = None
    """Stop an attempt whose output passes this size (e.g. "100MB"); it fails for good. Default: limits.output."""
    retention: JobRetention | None = None
    """This job's own keep_days / keep_attempts, overriding the top-level ``retention`` field by field."""
    deadline: Annotated[str, BeforeValidator(_deadline)] | None = None
    """When its output is due: a time of day like "06:00" in ``timezone`` (for each cycle: the first such time
    after the cycle began), or an ISO-8601 datetime like "2026-12-24T06:00:00+01:00". Read by the decision service."""
    max_wait: Duration | None = None
    """The longest this job may wait once ready; past it the decision service puts it first in line (a gate, a hold
    or busy slots may still keep it back), and the runner tells the breach once, with what kept it back."""
    executor: Identifier | None = None
    """Where the job's process runs: the name of an ``executors`` entry, e.g. a Slurm partition (default:
    the agent's executor, else this machine). Only jobs that run a command (shell and CLI agents) can."""
    window: Annotated[str, BeforeValidator(_window)] | None = None
    """Start only inside this daily window, e.g. "22:00-06:00" in ``timezone`` (pin the job to run it now anyway)."""

    @model_validator(mode="after")
    def _one_way_to_run(self) -> Job:
        problem = run_problem(self.command, self.shell, self.model, self.prompt, self.agent)
        if problem is not None:
            raise cross_field(problem[1], problem[0])
        return self

    @property
    def name(self) -> str:
        """The title, or the id when there is none."""
        return self.title or self.id

    @property
    def review_policy(self) -> str:
        """The effective review policy after applying the risk default."""
        if self.review is not None:
            return self.review
        return "always" if self.risk == "medium" else "on_invalid"


class Limits(_Model):
    """How much runs at once, and how much output one attempt may write."""

    parallel: StrictInt = Field(4, ge=1, le=1024)
    """Attempts a runner runs at once (``jobdeck run --parallel`` overrides), counting those a runner that died
    left running: they hold a slot until they end. Two runners on one deck have this many each; the per-model,
    per-agent and per-key limits are shared."""
    models: dict[str, int] = Field(default_factory=dict)
    """Per-model limit, e.g. {"openai/gpt-4o": 2}."""
    keys: dict[str, int] = Field(default_factory=dict)
    """Per concurrency-key limit for jobs that name the key (default 1 per key)."""
    output: Size = DEFAULT_OUTPUT_LIMIT
    """Stop an attempt whose output passes this size (1 GiB by default); a job's output_limit overrides it."""


class Retention(_Model):
    """Which attempt directories `jobdeck gc` may remove; without a stated limit, every attempt is kept.

    An attempt goes only when every stated limit lets it go, and never when it is
    the job's latest, its job is running, or it holds the output dependents are given.
    """

    keep_days: StrictInt | None = Field(None, ge=1, le=36500)
    """Keep attempt directories for this many days after they were last written."""
    keep_attempts: StrictInt | None = Field(None, ge=1, le=1_000_000)
    """Keep each job's last N attempts, whatever their age."""
    auto: StrictBool = False
    """Let the long-running runner apply this policy itself, at most once an hour, when it is quiet."""


class Budget(_Model):
    """Money the decision service may let jobs spend; jobs that would spend past it are held, with the reason."""

    daily: Annotated[float, Field(gt=0)] | None = None
    """USD per day (UTC): what ended attempts cost, plus the most each running or next attempt may cost."""
    per_job: Annotated[float, Field(gt=0)] | None = None
    """USD one attempt may cost: the most it has cost before (with no history, its model's mean cost per attempt, or
    ``default_cost``) must stay within it."""

    @field_validator("daily", "per_job", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | None):
            raise ValueError("give a number of US dollars, like 5 or 0.25")
        return value


class ScorerAgent(_Model):
    """Ask an llm agent to rank the ready jobs (the heuristic answers when it is late, wrong or unsure)."""

    agent: Identifier
    """Name of an llm agent in the ``agents`` section."""
    timeout: Duration = 20.0
    """How long one ranking may take before the heuristic's answer is used."""
    min_confidence: StrictFloat = Field(0.5, ge=0.0, le=1.0)
    """Answers whose stated confidence is below this fall back to the heuristic."""


class Decide(_Model):
    """The decision service: ranks ready jobs with reasons (deadlines, budget, review capacity, provider health)."""

    mode: Literal["off", "shadow", "advise", "live"] = "off"
    """off: priority, then waiting time, then jobs.json order. shadow: that order, with every decision recorded to
    compare. advise: the cockpit shows the ranking and reasons; the runner follows only what the operator pins.
    live: the runner follows the ranking within the written constraints; an override always wins."""
    scorer: Literal["heuristic"] | ScorerAgent = "heuristic"
    """"heuristic" (transparent, the default) or {"agent": NAME} to ask an llm agent."""
    budget: Budget = Field(default_factory=Budget)
    """Daily and per-job spending limits."""
    review_capacity: StrictInt | None = Field(None, ge=1)
    """How many outputs may wait for a person before jobs whose output goes to review are held (1 or more;
    leave it out for no limit)."""
    horizon: Duration = 3600.0
    """How close a deadline's latest start must be before its job goes ahead of the rest. A job's max_wait puts it
    ahead half its max_wait before its bound, or as long as a busy slot may take to come free if longer, at most this."""
    default_duration: Duration = 300.0
    """The duration assumed for a job with no successful run yet (reasons say so)."""
    default_cost: Annotated[float, Field(ge=0)] = 0.0
    """The cost (USD) assumed for an attempt of an llm job with no history, when no run on its model recorded a
    cost either (else its model's mean cost per attempt is assumed; reasons say which)."""

    @field_validator("review_capacity", mode="before")
    @classmethod
    def _some_review(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise ValueError(f"must be 1 or more (got {value}): with no room for a review, every job whose output "
                             "goes to review would be held forever; leave it out for no limit")
        return value


ALERT_GROUPS = {"needs_you": ("approval", "review", "failed", "runner", "hold", "deadline"),
                "news": ("pipeline_done", "digest")}
"""Names for several alert kinds at once, usable in a rule's ``on`` (state/notify_rules.py raises the alerts)."""
AlertName = Literal["needs_you", "news", "approval", "review", "failed", "runner", "hold", "deadline",
                    "pipeline_done", "digest"]


def _duration_or_zero(value: Any) -> float:
    """A duration, or 0 (a throttle of 0 sends every alert at once)."""
    if value == 0 and not isinstance(value, bool) or value == "0":
        return 0.0
    return parse_duration(value)


class NotifyTarget(_Model):
    """Where alerts go: an Apprise URL taken from the environment, or a local command."""

    url: EnvRef | None = None
    """An Apprise URL (ntfy://, slack://, mailto://, json://...), as {"env": "NAME"}: URLs hold tokens."""
    command: list[str] | None = Field(None, min_length=1)
    """A hook run without a shell: the alert as JSON on stdin, JOBDECK_* variables in its environment."""
    timeout: Duration = 10.0
    """Give up one try of a send after this long."""
    retries: StrictInt = Field(2, ge=0, le=10)
    """Tries after the first when a send fails (1 s, 2 s, 4 s... apart)."""

    @model_validator(mode="after")
    def _one_way(self) -> NotifyTarget:
        problem = target_problem(self.url, self.command)
        if problem is not None:
            raise cross_field(problem)
        return self


class NotifyRule(_Model):
    """Which alerts go to which targets, and how often."""

    on: list[AlertName] = Field(["needs_you"], min_length=1)
    """Alert kinds: approval, review, failed, runner, hold, deadline, pipeline_done, digest (once a day, what the
    day before came to); or the groups needs_you and news."""
    to: list[Identifier] = Field(min_length=1)
    """Names of targets in ``notify.targets``."""
    throttle: Annotated[float, BeforeValidator(_duration_or_zero),
                        WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
                                        "description": "Seconds, or '30s', '5m'; 0 sends every alert at once."})] = 60.0
    """At most one message per target this often: alerts in between are summed up in one message at its end."""

    @property
    def kinds(self) -> frozenset[str]:
        """The alert kinds this rule covers, groups expanded."""
        return frozenset(kind for name in self.on for kind in ALERT_GROUPS.get(name, (name,)))


class Notify(_Model):
    """Tell the operator when they are needed: alert targets, rules, and a dead man's switch ping."""

    targets: dict[Identifier, NotifyTarget] = Field(default_factory=dict)
    """Named places alerts go."""
    rules: list[NotifyRule] | None = None
    """Which alerts go where; without rules, "needs you" alerts go to every target."""
    ping: EnvRef | None = None
    """A Healthchecks-style URL, as {"env": "NAME"}: pinged at the runner's start, at most every ping_every
    while it runs, and at URL/fail when a job fails for good or the runner is in trouble."""
    ping_every: Duration = 60.0
    """Least time between two pings of ``ping``."""

    @model_validator(mode="after")
    def _known_targets(self) -> Notify:
        problem = rules_problem([rule.to for rule in self.rules or ()], self.targets)
        if problem is not None:
            raise cross_field(problem[1], f"rules.{problem[0]}.to")
        return self

    def effective_rules(self) -> list[NotifyRule]:
        """The rules in force: the declared ones, or needs_you to every target."""
        if self.rules is not None:
            return self.rules
        return [NotifyRule(to=list(self.targets))] if self.targets else []

    def referenced_env(self) -> set[str]:
        """Names of the environment variables the targets and the ping read (their values are secrets)."""
        names = {target.url.env for target in self.targets.values() if target.url is not None}
        if self.ping is not None:
            names.add(self.ping.env)
        return names


class Metrics(_Model):
    """A Prometheus textfile the runner rewrites, for node_exporter's textfile collector."""

    textfile: str | None = None
    """Where to write it (absolute, or relative to the deck), e.g. /var/lib/node_exporter/textfile/jobdeck.prom."""
    every: Duration = 15.0
    """Seconds between two rewrites."""


SBATCH_OPTION = r"^[a-z][a-z0-9-]{0,63}$"


class Executor(_Model):
    """Where attempts' processes run: this machine, or a batch system such as Slurm."""

    type: Literal["local", "slurm"]
    """local: a child of the runner (the default for every job). slurm: a batch job submitted with sbatch."""
    partition: str | None = None
    """Slurm: the partition to submit to (default: the cluster's default partition)."""
    options: dict[Annotated[str, StringConstraints(pattern=SBATCH_OPTION)], str | StrictInt] = \
        Field(default_factory=dict)
    """Slurm: more sbatch options, long names without the dashes, e.g. {"gres": "gpu:1", "mem": "16G"}."""
    parallel: StrictInt | None = Field(None, ge=1, le=100_000)
    """At most this many attempts on this executor at once (they count toward limits.parallel too)."""
    poll: Duration = 1.0
    """Slurm: seconds between two looks at the queue (squeue) while attempts are on it."""

    @field_validator("options")
    @classmethod
    def _not_ours(cls, options: dict[str, Any]) -> dict[str, Any]:
        taken = sorted(RESERVED_SBATCH_OPTIONS.intersection(options))
        if taken:
            why = " (a job's timeout.hard sets --time)" if "time" in taken else ""
            raise ValueError(f"jobdeck sets {', '.join(taken)} itself; leave {'it' if len(taken) == 1 else 'them'} "
                             f"out of options{why}")
        return options


RESERVED_SBATCH_OPTIONS = frozenset({
    "job-name", "output", "error", "input", "export", "export-file", "time", "parsable", "wrap", "chdir",
    "partition", "signal", "open-mode", "array", "dependency", "hold", "wait", "test-only", "kill-on-invalid-dep"})
"""sbatch options the Slurm executor gives itself (``partition`` has a field of its own)."""


class Spec(_Model):
    """The whole registry: agents, limits, and jobs."""

    schema_: str | None = Field(None, alias="$schema")
    """Path or URL of the JSON Schema, for editors."""
    agents: dict[Identifier, AgentSpec] = Field(default_factory=dict)
    """Named agents jobs can refer to with ``agent``."""
    limits: Limits = Field(default_factory=Limits)
    """Concurrency and output limits."""
    retention: Retention = Field(default_factory=Retention)
    """How long attempt directories are kept (`jobdeck gc`); by default, forever."""
    decide: Decide = Field(default_factory=Decide)
    """The decision service: mode (off, shadow, advise, live), scorer, budget, review capacity."""
    executors: dict[Identifier, Executor] = Field(default_factory=dict)
    """Named places to run jobs' processes, e.g. {"gpu": {"type": "slurm", "partition": "gpu"}}; a job
    or agent names one with ``executor``. Without one, a job runs on this machine."""
    jobs: list[Job]
    """The jobs, in any order; ``depends_on`` defines the order they run in."""
    notify: Notify = Field(default_factory=Notify)
    """Alerts for the operator (Apprise URLs, a command hook) and a dead man's switch ping."""
    metrics: Metrics = Field(default_factory=Metrics)
    """A Prometheus textfile written by the runner."""

    @model_validator(mode="after")
    def _scorer_is_an_llm_agent(self) -> Spec:
        scorer = self.decide.scorer
        if isinstance(scorer, ScorerAgent):
            named = self.agents.get(scorer.agent)
            problem = scorer_problem(scorer.agent, named.type if named is not None else None)
            if problem is not None:
                raise cross_field(problem, "decide.scorer")
        return self

    def job(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        return self.by_id.get(job_id)

    def executor_of(self, job: Job) -> tuple[str, Executor] | None:
        """The executor ``job``'s process runs on, by name, or None for this machine."""
        name = job.executor
        if name is None and job.agent is not None and job.agent in self.agents:
            name = self.agents[job.agent].executor
        if name is None:
            return None
        found = self.executors.get(name)
        return None if found is None or found.type == "local" else (name, found)

    # cached_property writes the instance's __dict__ directly, which a frozen model allows, and pydantic
    # leaves it out of fields, schema, dumps and equality; model_copy(update=...) would keep a stale value.
    @cached_property
    def by_id(self) -> dict[str, Job]:
        """Jobs keyed by id (built once per spec)."""
        return {job.id: job for job in self.jobs}

    def output_limit(self, job: Job) -> tuple[int, str]:
        """The most output one attempt of ``job`` may write, and the field that sets it."""
        if job.output_limit is not None:
            return job.output_limit, "output_limit"
        return self.limits.output, "limits.output"

    def retention_for(self, job_id: str) -> tuple[int | None, int | None]:
        """The (keep_days, keep_attempts) that apply to ``job_id``'s attempts: its own fields, else the deck's."""
        keep_days, keep_attempts = self.retention.keep_days, self.retention.keep_attempts
        job = self.job(job_id)
        own = job.retention if job is not None else None
        if own is not None:
            if "keep_days" in own.model_fields_set:
                keep_days = own.keep_days
            if "keep_attempts" in own.model_fields_set:
                keep_attempts = own.keep_attempts
        return keep_days, keep_attempts

    @cached_property
    def dependencies(self) -> dict[str, list[str]]:
        """Each job's id and the ids it depends on (built once per spec): the dependency graph."""
        return {job.id: job.depends_on for job in self.jobs}


def _attribute_docs() -> dict[str, dict[str, str]]:
    """Each model's attribute docstrings (the string under a field), from this module's source."""
    import ast
    import inspect
    from pathlib import Path

    docs: dict[str, dict[str, str]] = {}
    for node in ast.parse(Path(__file__).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef):
            docs[node.name] = {
                field.target.id: inspect.cleandoc(text.value.value)
                for field, text in zip(node.body, node.body[1:])
                if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
                and isinstance(text, ast.Expr) and isinstance(text.value, ast.Constant)
                and isinstance(text.value.value, str)}
    return docs


def _describe(schema: dict[str, Any]) -> None:
    """Give every property its field's docstring as ``description``, as pydantic would at import."""
    docs = _attribute_docs()
    models = {name: model for name, model in globals().items()
              if isinstance(model, type) and issubclass(model, BaseModel)}
    for name, definition in [("Spec", schema), *schema.get("$defs", {}).items()]:
        model, properties = models.get(name), definition.get("properties")
        if model is None or not properties:
            continue
        for field_name, info in model.model_fields.items():
            prop = properties.get(info.alias or field_name)
            text = docs.get(name, {}).get(field_name)
            if prop is not None and text:
                prop["description"] = text


def json_schema() -> dict[str, Any]:
    """The JSON Schema of jobs.json."""
    schema = Spec.model_json_schema(by_alias=True)
    _describe(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "jobdeck jobs.json"
    # "//" and "$comment" keys are allowed everywhere as notes.
    for definition in [schema, *schema.get("$defs", {}).values()]:
        if definition.get("additionalProperties") is False:
            definition["patternProperties"] = {"^//": {}, "^\\$comment$": {"type": "string"}}
    return schema


if _PLUGINS_SETTING is None:
    del os.environ["PYDANTIC_DISABLE_PLUGINS"]
else:
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = _PLUGINS_SETTING
