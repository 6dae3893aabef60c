"""Templates: dependency outputs are read only when named, and only up to MAX_TEMPLATE_BYTES."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobdeck.agents.base import AttemptContext
from jobdeck.agents.output_sink import OutputSink
from jobdeck.agents.template import MAX_TEMPLATE_BYTES, render, values_for
from jobdeck.state.errors import AgentError
from jobdeck.state.redact import Redactor
from jobdeck.state.spec import Job


def context(tmp_path: Path, deps: dict[str, bytes | int], inputs: dict[str, str] | None = None,
            depends_on: list[str] | None = None) -> AttemptContext:
    """An attempt whose dependencies wrote these outputs (an int: a sparse file that size), given ``inputs``;
    the job depends on ``depends_on`` (default: the jobs of ``deps``)."""
    outputs = {}
    for job_id, content in deps.items():
        path = tmp_path / f"{job_id}.out"
        with path.open("wb") as f:
            if isinstance(content, int):
                f.truncate(content)
            else:
                f.write(content)
        outputs[job_id] = path
    job = Job.model_validate({"id": "j", "command": ["true"],
                              "depends_on": list(deps) if depends_on is None else depends_on})
    return AttemptContext(job=job, agent_spec=None, attempt=1, attempt_dir=tmp_path, workspace_dir=tmp_path,
                          output=OutputSink(tmp_path / "output", Redactor({}), lazy=True),
                          stderr_path=tmp_path / "stderr.log", env={}, dep_outputs=outputs, inputs=inputs or {})


def test_dependency_outputs_fill_their_placeholders(tmp_path: Path) -> None:
    values, lookup = values_for(context(tmp_path, {"fetch": b"rows"}))
    assert render("{{deps.fetch}} / {{input}}", values, lookup) == "rows / rows"


def test_a_dependency_output_too_big_for_a_template_is_refused_unread(tmp_path: Path) -> None:
    values, lookup = values_for(context(tmp_path, {"fetch-all": 1 << 40}))  # 1 TiB, sparse
    for placeholder in ("deps.fetch-all", "input"):
        with pytest.raises(AgentError) as caught:
            render("{{%s}}" % placeholder, values, lookup)
        assert str(caught.value) == (
            "{{%s}}: the output of 'fetch-all' is 1 TiB, more than the 1 MiB a template value may hold "
            "(hint: read it from the file named by $JOBDECK_INPUT_FETCH_ALL instead)" % placeholder)


def test_a_big_dependency_output_no_template_names_is_never_read(tmp_path: Path) -> None:
    values, lookup = values_for(context(tmp_path, {"fetch": 1 << 40}))
    assert render("summarise {{output}}", values, lookup) == f"summarise {tmp_path / 'output'}"


def test_a_dependency_output_of_exactly_the_bound_is_taken_whole(tmp_path: Path) -> None:
    values, lookup = values_for(context(tmp_path, {"fetch": b"a" * MAX_TEMPLATE_BYTES}))
    assert len(render("{{deps.fetch}}", values, lookup)) == MAX_TEMPLATE_BYTES


def test_an_input_this_run_was_not_given_is_named_with_how_to_give_it(tmp_path: Path) -> None:
    """{{inputs.NAME}} is valid in jobs.json; a run without that input (a cron fire, say) fails saying which
    input it lacks, not that the placeholder is unknown."""
    values, lookup = values_for(context(tmp_path, {}))
    with pytest.raises(AgentError) as caught:
        render("Summarise in {{inputs.lang}}", values, lookup)
    assert str(caught.value) == ("{{inputs.lang}}: this run was given no input 'lang' "
                                 "(hint: start it with `jobdeck trigger JOB --input lang=VALUE`)")


def test_the_runs_own_input_comes_before_the_dependency_output(tmp_path: Path) -> None:
    """An inbox file's path (or `trigger --input input=...`, or a default) is {{input}}; the output stays {{deps.X}}."""
    values, lookup = values_for(context(tmp_path, {"fetch": b"rows"}, inputs={"input": "/inbox/a.csv"}))
    assert render("{{input}} / {{deps.fetch}}", values, lookup) == "/inbox/a.csv / rows"


@pytest.mark.parametrize(("deps", "depends_on", "message"), [
    ({}, [], "{{input}}: this run was given no input, and the job depends on none "
             "(hint: start it with `jobdeck trigger j --input input=VALUE`)"),
    ({"a": b"x", "b": b"y"}, None, "{{input}}: this run was given no input, and the job depends on 2 jobs "
                                   "(hint: start it with `jobdeck trigger j --input input=VALUE`)"),
    ({}, ["fetch"], "{{input}}: 'fetch' has no output to give (no attempt of it succeeded) "
                    "(hint: `jobdeck trigger fetch` runs it, then this job)"),
])
def test_input_with_nothing_to_hold_is_an_error_never_an_empty_string(
        tmp_path: Path, deps: dict[str, bytes | int], depends_on: list[str] | None, message: str) -> None:
    values, lookup = values_for(context(tmp_path, deps, depends_on=depends_on))
    with pytest.raises(AgentError) as caught:
        render("Summarise {{input}}", values, lookup)
    assert str(caught.value) == message
