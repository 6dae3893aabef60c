"""Every operator key appends its event (via the cockpit) and the board shows the result."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from jobdeck.cockpit.app import make_app
from jobdeck.cockpit.confirm_screen import ConfirmScreen
from jobdeck.cockpit.new_job_screen import NewJobScreen
from jobdeck.cockpit.reason_screen import ReasonScreen
from jobdeck.cockpit.review_screen import ReviewScreen
from cockpit_decks import NOW, busy_deck, column_ids, error_toasts, events, shown_columns, toast_said, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def deck(tmp_path: Path):
    return busy_deck(tmp_path / "deck")


def last_event(deck) -> dict:
    return events(deck)[-1]


def select(app, job_id: str) -> None:
    assert app.screen.board.select(job_id), f"{job_id} is not on the board"


def footer(app) -> str:
    return app.screen.query_one("#key-hints").render().plain


async def test_approve_in_review_moves_the_job_to_done(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "report")
        await pilot.press("a")
        await wait_until(pilot, lambda: last_event(deck)["type"] == "approved", what="the approve, once its undo ends")
        event = last_event(deck)
        assert (event["type"], event["job"], event["via"]) == ("approved", "report", "cockpit")
        assert "@" in event["by"]
        assert "report" in column_ids(app, "done")
        assert "report" not in column_ids(app, "review")


async def test_an_approve_waits_out_its_undo_and_z_drops_it(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=60)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "report")
        before = len(events(deck))
        await pilot.press("a")
        assert len(events(deck)) == before  # not written while the undo lasts
        assert any("z to undo" in n.message for n in app._notifications)
        assert " z  undo " in footer(app)
        await pilot.press("z")
        assert len(events(deck)) == before and app.undo.pending is None
        assert " z  undo " not in footer(app)
        assert "report" in column_ids(app, "review")


async def test_quitting_writes_the_approve_that_waits_for_its_undo(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=60)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "report")
        await pilot.press("a", "q")
    assert (last_event(deck)["type"], last_event(deck)["job"]) == ("approved", "report")


async def test_approve_before_a_high_risk_job_runs_asks_first(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "publish")
        before = len(events(deck))
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # the default keeps it waiting
        assert not isinstance(app.screen, ConfirmScreen) and len(events(deck)) == before
        await pilot.press("a", "y")
        assert (last_event(deck)["type"], last_event(deck)["job"]) == ("approved", "publish")
        cell = app.screen.board.columns["backlog"].table.cell("publish")
        assert "awaiting approval" not in cell.lines[1].plain
        before = len(events(deck))
        await pilot.press("a")  # already approved: the key no longer applies
        assert len(events(deck)) == before and not isinstance(app.screen, ConfirmScreen)


async def test_retry_a_failed_job(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "lint")
        await pilot.press("r")
        await wait_until(pilot, lambda: last_event(deck)["type"] == "retried", what="the retry")
        assert (last_event(deck)["type"], last_event(deck)["job"]) == ("retried", "lint")
        assert shown_columns(app)["lint"] == "backlog"
        # deploy was blocked by the failed lint; now only by a lint that has not run
        deploy = app.screen.board.columns["backlog"].table.cell("deploy")
        assert deploy.lines[1].plain == "blocked by lint"


async def test_cancel_asks_first(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "summarise")
        before = len(events(deck))
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        # no runner's heartbeat: nothing stops the processes until one starts, and the dialog says so
        assert app.screen.detail == ("Its running process group will be terminated. No runner is up: that happens "
                                     "when one starts (jobdeck run).")
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert len(events(deck)) == before
        await pilot.press("x")
        await pilot.press("y")
        event = last_event(deck)
        assert (event["type"], event["job"], event["via"]) == ("cancelled", "summarise", "cockpit")
        assert "summarise" not in shown_columns(app)  # cancelled is hidden by default


async def test_cancelling_a_job_on_a_cluster_says_its_batch_job_goes(deck) -> None:
    spec = json.loads(deck.spec_path.read_text())
    spec["executors"] = {"gpu": {"type": "slurm", "partition": "gpu"}}
    next(job for job in spec["jobs"] if job["id"] == "summarise")["executor"] = "gpu"
    deck.spec_path.write_text(json.dumps(spec))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "summarise")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.detail.startswith("Its batch job on gpu will be cancelled. No runner is up")


async def test_with_a_runner_up_cancel_says_only_what_goes(deck) -> None:
    from jobdeck.state.heartbeat import Heartbeat, write_heartbeat

    deck.runners_dir.mkdir(parents=True, exist_ok=True)
    write_heartbeat(deck.runners_dir, Heartbeat("r1", 1, "elsewhere", NOW, 4, ("summarise",)))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "summarise")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.detail == "Its running process group will be terminated."


async def test_reject_asks_for_a_reason(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "report")
        before = len(events(deck))
        await pilot.press("R")
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press("enter")  # no reason yet: refused, the dialog stays
        assert isinstance(app.screen, ReasonScreen) and len(events(deck)) == before
        await pilot.press("y", "enter", "y")  # y taken for the confirmation is typed in the field: not a reason
        assert isinstance(app.screen, ReasonScreen) and len(events(deck)) == before
        await pilot.press("escape")
        assert len(events(deck)) == before
        await pilot.press("R", *"no summary, y missing", "enter")  # y in the field is text
        assert isinstance(app.screen, ReasonScreen) and len(events(deck)) == before
        await pilot.press("enter")  # on the buttons, Enter keeps the job, as in every confirmation
        assert not isinstance(app.screen, ReasonScreen) and len(events(deck)) == before
        await pilot.press("R", *"summary is missing", "enter", "y")
        event = last_event(deck)
        assert (event["type"], event["job"], event["reason"]) == ("rejected", "report", "summary is missing")
        assert shown_columns(app)["report"] == "failed"


async def test_pause_then_resume(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "flaky")
        await pilot.press("p")
        assert (last_event(deck)["type"], last_event(deck)["job"]) == ("paused", "flaky")
        assert "paused" in app.screen.board.columns["backlog"].table.cell("flaky").lines[1].plain
        await pilot.press("p")
        assert (last_event(deck)["type"], last_event(deck)["job"]) == ("resumed", "flaky")
        select(app, "held")  # paused in jobs.json: p resumes it
        await pilot.press("p")
        assert (last_event(deck)["type"], last_event(deck)["job"]) == ("resumed", "held")


async def test_z_undoes_a_pause_with_a_resume_and_u_still_releases(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "flaky")
        await pilot.press("p")
        assert any(n.message == "flaky paused — z to undo" for n in app._notifications)
        await pilot.press("z")
        assert [e["type"] for e in events(deck)[-2:]] == ["paused", "resumed"]
        assert "paused" not in app.screen.board.columns["backlog"].table.cell("flaky").lines[1].plain
        before = len(events(deck))
        await pilot.press("z")  # the undo is spent
        assert len(events(deck)) == before


async def test_run_now_asks_first_then_triggers_the_job_and_its_dependents(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "lint")
        await pilot.press("t")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert not [e for e in events(deck) if e["type"] == "triggered"]
        await pilot.press("t", "y")
        triggered = [e for e in events(deck) if e["type"] == "triggered"]
        assert [(e["job"], e["root"]) for e in triggered] == [("lint", "lint"), ("deploy", "lint")]
        assert shown_columns(app)["lint"] == "backlog"


async def test_run_now_on_a_blocked_job_says_what_it_waits_for(deck) -> None:
    """"deploy triggered" read as if it ran; its dependency failed, so the new cycle waits (a cycle runs no
    dependency again)."""
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "deploy")
        await pilot.press("t", "y")
        assert [e["job"] for e in events(deck) if e["type"] == "triggered"] == ["deploy"]
        assert "deploy triggered, but it waits for lint (failed)" in [str(n.message) for n in app._notifications]


async def test_a_refused_action_is_an_error_toast_not_a_traceback(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "fetch")  # done; its dependent summarise is running
        before = len(events(deck))
        await pilot.press("t", "y")
        assert len(events(deck)) == before
        assert any("summarise" in message and "running" in message for message in error_toasts(app))
        assert app.is_running


OPERATOR_KEYS = ("a", "r", "x", "R", "p", "t", "P", "H", "u")
"""The keys that act on the selected job."""


@pytest.mark.parametrize("job_id", ["deploy", "summarise", "report", "fetch", "lint", "old"])
async def test_every_operator_key_acts_or_says_why_on_a_card_of_every_column(deck, job_id: str) -> None:
    """backlog, running, review, done, failed, cancelled: a key that does not apply says why, never nothing."""
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=60)
    async with app.run_test(size=(120, 40)) as pilot:
        if job_id == "old":
            await pilot.press("c")
        select(app, job_id)
        for key in OPERATOR_KEYS:
            shown, before = {id(toast) for toast in app._notifications}, len(events(deck))
            await pilot.press(key)
            await pilot.pause()
            asked = isinstance(app.screen, (ConfirmScreen, ReasonScreen))
            new = [toast for toast in app._notifications if id(toast) not in shown]  # (not a count: one may expire)
            assert asked or new, f"{key} on {job_id}: nothing happened"
            if asked:
                await pilot.press("escape")
            if app.undo.pending is not None:
                await pilot.press("z")
            if key in "PH" and len(events(deck)) > before:  # pinned, held: released for the next key
                await pilot.press("u")
            select(app, job_id)


async def test_cancel_on_a_failed_card_says_why_as_pin_does(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "lint")
        before = len(events(deck))
        await pilot.press("x", "P")
        await pilot.pause()
        assert len(events(deck)) == before and not isinstance(app.screen, ConfirmScreen)
        said = [(n.title, n.message) for n in app._notifications if n.severity == "error"]
        assert said == [("cannot cancel", "cannot cancel job 'lint': it is failed"),
                        ("cannot pin", "cannot pin job 'lint': it is failed "
                                       "(hint: pin, hold and release apply to jobs in the backlog)")]
        assert " x  cancel " not in footer(app)  # the footer still offers only the keys that apply
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Cancel job")
        await command.callback()  # the palette's entry says it too
        await pilot.pause()
        assert [n.message for n in app._notifications][-1] == "cannot cancel job 'lint': it is failed"


async def test_an_action_raced_by_another_process_is_refused_cleanly(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, poll=None)
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "lint")
        from cockpit_decks import commit

        commit(deck, [{"type": "retried", "job": "lint", "by": "someone", "via": "cli"}], NOW)
        app.undo.seconds = 0.01
        await pilot.press("r")  # the board still shows lint failed; the log says backlog
        await wait_until(pilot, lambda: app.undo.pending is None, what="the retry's undo to end")
        assert any("cannot retry" in message for message in error_toasts(app))
        assert [e["type"] for e in events(deck)].count("retried") == 1


def write_editor(tmp_path: Path, script: str) -> str:
    editor = tmp_path / "editor.py"
    editor.write_text(f"#!{sys.executable}\nimport sys, json\npath = sys.argv[1]\n{script}\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    return str(editor)


async def test_edit_installs_a_valid_jobs_json(deck, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", write_editor(tmp_path, (
        "doc = json.load(open(path))\n"
        "doc['jobs'].append({'id': 'added', 'command': ['true']})\n"
        "json.dump(doc, open(path, 'w'))")))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        await wait_until(pilot, lambda: "added" in column_ids(app, "backlog"), what="the new job")
        assert [job["id"] for job in json.loads(deck.spec_path.read_text())["jobs"]][-1] == "added"
        assert not list(deck.state_dir.glob("jobs.*.json")), "the private copy is removed"


async def test_edit_shows_why_an_invalid_edit_is_not_installed(deck, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", write_editor(tmp_path, (
        "doc = json.load(open(path))\n"
        "doc['jobs'][0]['depends_on'] = ['nope']\n"
        "json.dump(doc, open(path, 'w'), indent=1)")))
    original = deck.spec_path.read_bytes()
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        assert isinstance(app.screen, ConfirmScreen)
        assert "depends on unknown job 'nope'" in app.screen.detail
        assert "job 'fetch'" in app.screen.detail
        await pilot.press("n")
        assert deck.spec_path.read_bytes() == original
        assert any("kept at" in n.message for n in app._notifications)


async def test_at_80x24_an_invalid_edits_dialog_shows_every_error_and_nothing_covers_its_buttons(
        deck, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", write_editor(tmp_path, (
        "doc = json.load(open(path))\n"
        "for n, job in enumerate(doc['jobs']):\n"
        "    job['depends_on'] = ['missing-%d' % n]\n"
        "json.dump(doc, open(path, 'w'), indent=1)")))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("e")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and "missing-10" in dialog.detail
        await pilot.pause()
        buttons = [button.region for button in dialog.query("Button")]
        toasts = [toast.region for toast in app.screen.query("Toast")]
        assert all(button.height for button in buttons)
        assert not [(b, t) for b in buttons for t in toasts if b.overlaps(t)], (buttons, toasts)
        detail = dialog.query_one(".dialog-detail")
        detail.scroll_end(animate=False)
        await pilot.pause()
        assert detail.max_scroll_y > 0 and detail.scroll_y == detail.max_scroll_y  # the last error can be read
        await pilot.press("n")
        assert any("kept at" in toast_said(n.message) for n in app._notifications)


async def test_new_job_form_adds_to_jobs_json(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, NewJobScreen)
        await pilot.press(*"lint", "ctrl+s")  # duplicate id: the error stays on the form
        assert isinstance(app.screen, NewJobScreen)
        assert "already exists" in str(app.screen.query_one("#form-error").render())
        app.screen.query_one("#field-id").value = "hello"
        app.screen.query_one("#field-command").value = "echo 'hello world'"
        app.screen.query_one("#field-labels").value = "demo, new"
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, NewJobScreen)
        job = json.loads(deck.spec_path.read_text())["jobs"][-1]
        assert job == {"id": "hello", "command": ["echo", "hello world"], "labels": ["demo", "new"]}
        assert "hello" in column_ids(app, "backlog")


async def test_at_80x24_the_new_job_forms_error_is_brought_into_view(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await pilot.press(*"lint", "ctrl+s")  # duplicate id
        await pilot.pause()
        error = app.screen.query_one("#form-error")
        assert "already exists" in str(error.render())
        shown = app.screen.query_one("#new-job").region
        assert error.region.height and shown.contains_region(error.region), (error.region, shown)


async def test_edit_never_overwrites_a_save_made_meanwhile(deck, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    spec = str(deck.spec_path)
    monkeypatch.setenv("EDITOR", write_editor(tmp_path, (
        f"other = json.load(open({spec!r}))\n"
        "other['jobs'].append({'id': 'saved-by-hand', 'command': ['true']})\n"
        f"json.dump(other, open({spec!r}, 'w'))\n"
        "mine = json.load(open(path))\n"
        "mine['jobs'].append({'id': 'mine', 'command': ['true']})\n"
        "json.dump(mine, open(path, 'w'))")))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        assert isinstance(app.screen, ConfirmScreen)
        assert "changed on disk" in app.screen.question
        await pilot.press("n")
        ids = [job["id"] for job in json.loads(deck.spec_path.read_text())["jobs"]]
        assert "saved-by-hand" in ids and "mine" not in ids


async def test_edit_of_a_read_only_jobs_json_is_refused_before_the_editor_and_an_edit_made_meanwhile_is_kept(
        deck, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    opened = tmp_path / "opened"
    monkeypatch.setenv("EDITOR", write_editor(tmp_path, (
        f"open({str(opened)!r}, 'a').write('x')\n"
        "doc = json.load(open(path))\n"
        "doc['jobs'].append({'id': 'mine', 'command': ['true']})\n"
        "json.dump(doc, open(path, 'w'))\n"
        f"import os; os.chmod({str(deck.spec_path)!r}, 0o444)")))
    original = deck.spec_path.read_bytes()
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        deck.spec_path.chmod(0o444)
        await pilot.press("e")
        assert any("it is read-only" in message for message in error_toasts(app))
        assert not opened.exists()  # refused before the editor opened: nothing to lose
        deck.spec_path.chmod(0o644)
        await pilot.press("e")  # the editor makes it read-only while it edits
        await wait_until(pilot, lambda: any("kept at" in message for message in error_toasts(app)),
                         what="the kept copy to be named")
        assert deck.spec_path.read_bytes() == original
        kept = next(message for message in error_toasts(app) if "kept at" in message).rsplit("kept at ", 1)[1]
        assert "mine" in [job["id"] for job in json.loads(Path(kept).read_text())["jobs"]]


async def test_the_new_job_forms_errors_name_its_fields_and_give_no_cli_advice(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, NewJobScreen)
        form.query_one("#field-command").value = "true"
        await pilot.press(*"lint", "ctrl+s")  # taken: `jobdeck add` would say "or pass --replace"
        said = str(form.query_one("#form-error").render())
        assert said == "id: job 'lint' already exists (hint: pick another id)", said
        form.query_one("#field-id").value = "fresh"
        form.query_one("#field-depends_on").value = "nope"
        await pilot.press("ctrl+s")
        said = str(form.query_one("#form-error").render())
        assert said.startswith("depends on: depends on unknown job 'nope'") and "command line" not in said, said


def written(deck, since: int) -> list[tuple[str, str]]:
    """(type, job) of every event appended after the first ``since``."""
    return [(event["type"], event.get("job", "")) for event in events(deck)[since:]]


async def test_a_cancel_confirmed_while_a_retry_waits_out_its_undo_is_the_last_word(deck) -> None:
    """In the review queue, `r` then `x y`: the retry was written seconds after the cancel, and the job ran."""
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=60)
    before = len(events(deck))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")
        assert isinstance(app.screen, ReviewScreen) and app.screen.selected_job_id() == "report"
        await pilot.press("r")
        assert app.undo.pending is not None and written(deck, before) == []
        await pilot.press("x", "y")
        assert written(deck, before) == [("cancelled", "report")]  # the operator's last word on it
        assert app.undo.pending is None  # nothing waits to be written after it, nothing for z to take back
        assert "retry report dropped, nothing written: cancel replaces it" in [n.message for n in app._notifications]
        await pilot.press("z", "q")
    assert written(deck, before) == [("cancelled", "report")]


async def test_a_reject_after_an_approve_that_waits_replaces_it(deck) -> None:
    """`a` then `R` with a reason: 5 s later "cannot approve ... it is failed" (the reject was written first)."""
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=60)
    before = len(events(deck))
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "report")
        await pilot.press("a", "R", *"no summary", "enter", "y")
        await wait_until(pilot, lambda: written(deck, before) != [], what="the rejection")
        assert written(deck, before) == [("rejected", "report")] and app.undo.pending is None
        await pilot.press("q")
    assert written(deck, before) == [("rejected", "report")] and error_toasts(app) == []


async def test_a_retry_after_an_approve_that_waits_on_the_same_job_replaces_it(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=60)
    before = len(events(deck))
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "report")
        await pilot.press("a", "r")
        assert written(deck, before) == [] and (app.undo.pending.job_id, app.undo.pending.action) == ("report", "retry")
        await pilot.press("q")
    assert written(deck, before) == [("retried", "report")] and error_toasts(app) == []


async def test_z_after_a_cancel_does_not_take_back_the_pause_before_it(deck) -> None:
    """`p` on a running job, then `x y`: z wrote "resumed" on the cancelled job."""
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=60)
    before = len(events(deck))
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "summarise")
        await pilot.press("p")
        assert written(deck, before) == [("paused", "summarise")]
        await pilot.press("x", "y")
        assert app.undo.pending is None and " z  undo " not in footer(app)
        await pilot.press("z")
        await pilot.pause()
    assert written(deck, before) == [("paused", "summarise"), ("cancelled", "summarise")]


async def test_an_action_on_another_job_writes_the_one_that_waits_first(deck) -> None:
    """`r` on one job, then any action on another: the retry is written first, and z cannot reach back to it."""
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=60)
    before = len(events(deck))
    async with app.run_test(size=(120, 40)) as pilot:
        select(app, "lint")
        await pilot.press("r")
        select(app, "summarise")
        await pilot.press("x", "y")
        assert written(deck, before) == [("retried", "lint"), ("cancelled", "summarise")]
        select(app, "report")
        await pilot.press("r")
        select(app, "deploy")
        await pilot.press("H")  # an override, written at once, writes it too
        assert written(deck, before)[2:] == [("retried", "report"), ("held", "deploy")]
        assert app.undo.pending is None
        await pilot.press("z", "q")
    assert len(written(deck, before)) == 4


async def test_enter_in_the_new_job_form_goes_to_the_next_field_and_ctrl_s_adds(deck) -> None:
    """Enter in the id field sent the whole form, scrolled to an error naming an 'agent' field it has not."""
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, NewJobScreen)
        await pilot.press(*"fresh", "enter")
        assert app.screen is form and app.focused.id == "field-title"
        assert str(form.query_one("#form-error").render()) == ""
        await pilot.press(*"Fresh job", "enter")
        assert app.focused.id == "field-command" and app.focused.region.height  # in view, to be typed in
        await pilot.press("ctrl+s")  # no command, no model
        said = str(form.query_one("#form-error").render())
        assert said.startswith("command: ") and "'agent'" not in said and "model" in said, said
        assert app.screen is form and "fresh" not in deck.spec_path.read_text()
        await pilot.press(*"true", "enter")
        assert app.focused.id == "field-model"
        await pilot.press("ctrl+s")
        assert app.screen is not form
        assert json.loads(deck.spec_path.read_text())["jobs"][-1] == {"id": "fresh", "title": "Fresh job",
                                                                      "command": ["true"]}


async def test_an_editor_that_fails_is_said_once_and_the_copy_named_only_when_kept(deck, tmp_path, monkeypatch) -> None:
    """"the editor exited with code 1; nothing was installed (hint: your copy is kept at P); nothing installed,
    your edit is kept at P": twice, and of a copy that held no edit."""
    monkeypatch.delenv("VISUAL", raising=False)
    edits = tmp_path / "edits"
    monkeypatch.setenv("EDITOR", write_editor(tmp_path, (
        f"import os\nif os.path.exists({str(edits)!r}):\n"
        "    doc = json.load(open(path))\n"
        "    doc['jobs'].append({'id': 'mine', 'command': ['true']})\n"
        "    json.dump(doc, open(path, 'w'))\n"
        "sys.exit(1)")))
    original = deck.spec_path.read_bytes()
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        await wait_until(pilot, lambda: error_toasts(app), what="the editor's failure")
        assert error_toasts(app) == ["the editor exited with code 1; nothing was installed"]
        assert not list(deck.state_dir.glob("jobs.*.json"))  # nothing edited: no copy left behind
        edits.touch()
        await pilot.press("e")
        await wait_until(pilot, lambda: len(error_toasts(app)) == 2, what="the second failure")
        said = error_toasts(app)[-1]
        assert said.startswith("the editor exited with code 1; nothing was installed, your copy is kept at "), said
        assert said.count("kept at") == 1 and said.count("installed") == 1, said
        kept = Path(said.rsplit("kept at ", 1)[1])
        assert "mine" in [job["id"] for job in json.loads(kept.read_text())["jobs"]]
        assert deck.spec_path.read_bytes() == original


@pytest.mark.parametrize("meanwhile", ["copy-removed", "jobs-json-unreadable"])
async def test_an_edit_whose_files_go_wrong_meanwhile_is_one_error_and_the_cockpit_carries_on(
        deck, tmp_path, monkeypatch, meanwhile) -> None:
    """The private copy removed while the editor had it, or jobs.json turned into something that cannot be read:
    an OSError out of the install crashed the cockpit with a traceback."""
    monkeypatch.delenv("VISUAL", raising=False)
    spec = str(deck.spec_path)
    script = {
        "copy-removed": "import os\nos.remove(path)",
        "jobs-json-unreadable": ("import os\ndoc = json.load(open(path))\n"
                                 "doc['jobs'].append({'id': 'mine', 'command': ['true']})\n"
                                 "json.dump(doc, open(path, 'w'))\n"
                                 f"saved = open({spec!r}).read()\nos.remove({spec!r})\nos.mkdir({spec!r})"),
    }[meanwhile]
    monkeypatch.setenv("EDITOR", write_editor(tmp_path, script))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, poll=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        await wait_until(pilot, lambda: error_toasts(app), what="the error")
        (said,) = error_toasts(app)
        assert "(hint: " in said and "Traceback" not in said, said
        if meanwhile == "copy-removed":
            assert said.startswith("your copy of jobs.json was removed while you edited it"), said
        else:
            assert said.startswith(f"cannot install jobs.json: {spec}: Is a directory"), said
            kept = Path(said.rsplit("kept at ", 1)[1])
            assert "mine" in [job["id"] for job in json.loads(kept.read_text())["jobs"]]
        await pilot.press("right")  # still the board, still taking keys
        assert app.is_running and app.screen.board is not None
