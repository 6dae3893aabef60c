"""state/retention.py: what gc may remove, decided without a file or a clock."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jobdeck.state.board import Board
from jobdeck.state.machine import Attempt, JobState, Status
from jobdeck.state.retention import DAY, AttemptDir, decide, plan
from jobdeck.state.spec import Spec

NOW = 1_000 * DAY


def make_spec(jobs: list[dict[str, Any]], retention: dict[str, Any] | None = None) -> Spec:
    data: dict[str, Any] = {"jobs": [{"command": ["true"], **job} for job in jobs]}
    if retention is not None:
        data["retention"] = retention
    return Spec.model_validate(data)


def ended(n: int, outcome: str = "succeeded") -> Attempt:
    return Attempt(n=n, token=n, runner="r", workspace="default", started=0.0, ended=1.0, outcome=outcome)


def state(job: str, attempts: list[Attempt], status: Status = Status.DONE, token: int | None = None) -> JobState:
    return JobState(job, status=status, attempts=tuple(attempts), token=token)


def dirs(job: str, numbers: range, age_days: float = 100) -> list[AttemptDir]:
    return [AttemptDir("default", job, n, NOW - age_days * DAY) for n in numbers]


def removed(spec: Spec, board: Board, found: list[AttemptDir]) -> list[int]:
    return [found_dir.n for found_dir, _ in plan(spec, board, found, NOW)]


def test_no_policy_keeps_everything() -> None:
    spec = make_spec([{"id": "a"}])
    board = Board({"a": state("a", [ended(n) for n in range(1, 6)])})
    assert removed(spec, board, dirs("a", range(1, 6))) == []
    assert {d.why for d in decide(spec, board, dirs("a", range(1, 5)), NOW)} == {"no retention policy"}


def test_keep_attempts_keeps_the_last_n_by_number() -> None:
    spec = make_spec([{"id": "a"}], {"keep_attempts": 2})
    board = Board({"a": state("a", [ended(n) for n in range(1, 6)])})
    assert removed(spec, board, dirs("a", range(1, 6))) == [1, 2, 3]


def test_keep_days_removes_only_older_attempts() -> None:
    spec = make_spec([{"id": "a"}], {"keep_days": 30})
    board = Board({"a": state("a", [ended(n) for n in range(1, 5)])})
    found = dirs("a", range(1, 3), age_days=31) + dirs("a", range(3, 5), age_days=29)
    assert removed(spec, board, found) == [1, 2]


def test_both_limits_remove_only_what_each_lets_go() -> None:
    spec = make_spec([{"id": "a"}], {"keep_days": 30, "keep_attempts": 3})
    board = Board({"a": state("a", [ended(n) for n in range(1, 11)])})
    found = dirs("a", range(1, 4), age_days=31) + dirs("a", range(4, 8), age_days=1) + dirs("a", range(8, 11), 99)
    assert removed(spec, board, found) == [1, 2, 3]


def test_a_job_overrides_the_deck_field_by_field() -> None:
    spec = make_spec([{"id": "a", "retention": {"keep_attempts": None}}, {"id": "b", "retention": {"keep_attempts": 1}}],
                     {"keep_attempts": 3})
    board = Board({job: state(job, [ended(n) for n in range(1, 6)]) for job in ("a", "b")})
    assert removed(spec, board, dirs("a", range(1, 6))) == []
    assert removed(spec, board, dirs("b", range(1, 6))) == [1, 2, 3, 4]
    assert spec.retention_for("gone") == (None, 3)


def test_running_review_latest_unrecorded_and_needed_outputs_stay() -> None:
    spec = make_spec([{"id": "up"}, {"id": "down", "depends_on": ["up"]}, {"id": "run"}, {"id": "rev"}],
                     {"keep_attempts": 1})
    board = Board({
        # up's last success is attempt 3; 4 and 5 failed after it
        "up": state("up", [ended(1), ended(2), ended(3), ended(4, "failed"), ended(5, "failed")], Status.FAILED),
        "down": state("down", [ended(1)]),
        "run": state("run", [ended(1), ended(2)._replace(ended=None, outcome=None)], Status.RUNNING, token=2),
        "rev": state("rev", [ended(1), ended(2)], Status.REVIEW),
    })
    found = dirs("up", range(1, 7)) + dirs("run", range(1, 3)) + dirs("rev", range(1, 3))
    why = {(d.attempt.job, d.attempt.n): (d.delete, d.why) for d in decide(spec, board, found, NOW)}
    assert why[("up", 3)] == (False, "the output 'down' is given")
    assert why[("up", 5)] == (False, "the job's latest attempt")
    assert why[("up", 6)] == (False, "an attempt the log does not record")
    assert why[("run", 1)] == (False, "its job is running")
    assert why[("rev", 2)] == (False, "the latest attempt, waiting for review")
    assert [key for key, (delete, _) in why.items() if delete] == [("up", 1), ("up", 2), ("up", 4), ("rev", 1)]


def test_no_attempt_of_a_dependency_goes_while_a_dependent_runs() -> None:
    """The running dependent was handed attempt 1, up's last success when it was claimed; up has succeeded
    again since, so 2 is now the output given, and 1 is still being read."""
    spec = make_spec([{"id": "up"}, {"id": "down", "depends_on": ["up"]}, {"id": "other"}], {"keep_attempts": 1})
    running = state("down", [ended(1)._replace(ended=None, outcome=None)], Status.RUNNING, token=1)
    board = Board({"up": state("up", [ended(1), ended(2), ended(3)]), "down": running,
                   "other": state("other", [ended(1), ended(2)])})
    found = dirs("up", range(1, 4)) + [AttemptDir("default", "up", 1, NOW - DAY, ".lost-9")] + dirs("other", [1, 2])
    why = {d.attempt.where: (d.delete, d.why) for d in decide(spec, board, found, NOW)}
    assert why["default/runs/up/1"] == (False, "'down', which depends on it, is running")
    assert why["default/runs/up/2"] == (False, "'down', which depends on it, is running")
    assert why["default/runs/up/1.lost-9"][0]  # set aside: never handed to anyone
    assert why["default/runs/other/1"][0]
    board.jobs["down"] = state("down", [ended(1)])  # down has ended: up keeps what retention says
    assert removed(spec, board, found[:3]) == [1, 2]


def test_a_directory_set_aside_is_neither_the_latest_nor_a_given_output() -> None:
    spec = make_spec([{"id": "up"}, {"id": "down", "depends_on": ["up"]}], {"keep_days": 30})
    board = Board({"up": state("up", [ended(1), ended(2)]), "down": state("down", [ended(1)])})
    found = dirs("up", range(1, 3)) + [AttemptDir("default", "up", 2, NOW - 100 * DAY, ".lost-7"),
                                       AttemptDir("default", "up", 1, NOW - 10 * DAY, ".lost-4.2")]
    why = {d.attempt.where: (d.delete, d.why) for d in decide(spec, board, found, NOW)}
    assert why == {
        "default/runs/up/1": (True, "older than 30 days"),
        "default/runs/up/2": (False, "the job's latest attempt"),  # also the output 'down' is given
        "default/runs/up/2.lost-7": (True, "older than 30 days"),
        "default/runs/up/1.lost-4.2": (False, "younger than 30 days"),
    }


def test_an_attempt_still_ending_after_a_cancel_stays() -> None:
    spec = make_spec([{"id": "a"}], {"keep_attempts": 1})
    board = Board({"a": state("a", [ended(1), ended(2)._replace(ended=None, outcome=None)], Status.CANCELLED, token=2)})
    assert removed(spec, board, dirs("a", range(1, 3))) == []


OUTCOMES = st.sampled_from(["succeeded", "failed", "interrupted", "cancelled"])


@st.composite
def decks(draw: st.DrawFn) -> tuple[Spec, Board, list[AttemptDir]]:
    count = draw(st.integers(1, 6))
    jobs: list[dict[str, Any]] = []
    for i in range(count):
        deps = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=2)) if i else []
        job: dict[str, Any] = {"id": f"j{i}", "depends_on": [f"j{d}" for d in deps]}
        if draw(st.booleans()):
            job["retention"] = draw(st.fixed_dictionaries({}, optional={
                "keep_days": st.none() | st.integers(1, 5), "keep_attempts": st.none() | st.integers(1, 4)}))
        jobs.append(job)
    policy = draw(st.fixed_dictionaries({}, optional={"keep_days": st.integers(1, 5),
                                                      "keep_attempts": st.integers(1, 4)}))
    spec = make_spec(jobs, policy)
    board = Board()
    found: list[AttemptDir] = []
    for job in jobs:
        total = draw(st.integers(0, 25))
        first = max(1, total - 19)  # a JobState keeps the newest 20
        attempts = [ended(n, draw(OUTCOMES)) for n in range(first, total + 1)]
        status = draw(st.sampled_from(list(Status)))
        token = None
        if attempts and status == Status.RUNNING:
            attempts[-1] = attempts[-1]._replace(ended=None, outcome=None)
            token = attempts[-1].token
        board.jobs[job["id"]] = state(job["id"], attempts, status, token)
        for n in draw(st.lists(st.integers(1, total + 2), unique=True)):
            aside = draw(st.sampled_from(["", "", ".lost-9"]))
            found.append(AttemptDir("default", job["id"], n, NOW - draw(st.floats(0, 10)) * DAY, aside))
    return spec, board, found


@settings(max_examples=300, deadline=None)
@given(decks())
def test_retention_never_removes_what_is_still_needed(deck: tuple[Spec, Board, list[AttemptDir]]) -> None:
    spec, board, found = deck
    dependents = {dep for deps in spec.dependencies.values() for dep in deps}
    for attempt, why in plan(spec, board, found, NOW):
        job = board.state(attempt.job)
        assert job.status != Status.RUNNING and job.token is None
        if attempt.aside:  # not what the log records as attempt n: only the policy keeps it
            assert attempt.n < job.next_attempt, "a directory numbered past the log stays"
        else:
            assert attempt.n < job.next_attempt - 1, "the latest attempt (and anything newer) stays"
        if attempt.job in dependents and not attempt.aside:
            assert job.last_success is None or job.last_success.n != attempt.n
        keep_days, keep_attempts = spec.retention_for(attempt.job)
        assert keep_days is not None or keep_attempts is not None
        if keep_attempts is not None:
            assert attempt.n <= job.next_attempt - 1 - keep_attempts
        if keep_days is not None:
            assert NOW - attempt.mtime >= keep_days * DAY
        assert why
