"""The decision service in the cockpit: `w` on a card, the advised backlog, pin / hold / release / accept keys."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.cockpit.advice import Advisor
from jobdeck.cockpit.app import make_app
from jobdeck.cockpit.why_screen import WhyScreen
from cockpit_decks import NOW, column_ids, commit, events, new_deck, wait_until, write_spec

pytestmark = pytest.mark.anyio

# NOW is 15:06:40 UTC; "due" must end by 15:26:40 and is assumed to take 5 minutes (no history).
JOBS: list[dict[str, Any]] = [
    {"id": "big", "title": "Important", "command": ["true"], "priority": 5},
    {"id": "due", "title": "Nightly export", "command": ["true"], "deadline": "2025-06-15T15:26:40+00:00"},
    {"id": "plain", "title": "Tidy up", "command": ["true"]},
    {"id": "costly", "title": "Summarise", "model": "openai/gpt-4o-mini", "prompt": "Summarise."},
    {"id": "after", "title": "Publish", "command": ["true"], "depends_on": ["big"]},
]
ADVISED = ["due", "big", "plain", "costly", "after"]
OPERATORS_ORDER = ["big", "due", "plain", "costly", "after"]


def decide(mode: str) -> dict[str, Any]:
    return {"mode": mode, "budget": {"per_job": 0.01}, "default_cost": 0.05}


@pytest.fixture
def advised(tmp_path: Path):
    return new_deck(tmp_path / "deck", JOBS, decide=decide("advise"))


@pytest.fixture
def machine_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """``machine_zone("Europe/Paris")``: this process's local time zone, as ``TZ`` sets it, until the test ends."""
    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


def board_of(app):
    from jobdeck.cockpit.board_screen import BoardScreen

    return next(s for s in app.screen_stack if isinstance(s, BoardScreen)).board


def reason(app, job: str) -> str:
    return board_of(app).columns["backlog"].table.cell(job).lines[1].plain


async def advice_shown(pilot, app) -> None:
    await wait_until(pilot, lambda: board_of(app).advice is not None, what="the ranking")


def why_text(app) -> str:
    return str(app.screen.query_one("#why-text").render())


async def ask_why(pilot, app, job: str) -> str:
    assert board_of(app).select(job)
    await pilot.press("w")
    assert isinstance(app.screen, WhyScreen)
    await wait_until(pilot, lambda: "asking" not in why_text(app), what="the answer")
    return why_text(app)


# -- the advised backlog ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["advise", "live"])
async def test_the_backlog_follows_the_ranking_with_a_reason_on_each_card(tmp_path: Path, mode: str,
                                                                          machine_zone) -> None:
    machine_zone("UTC")  # the deadline's own zone: its time shows bare
    deck = new_deck(tmp_path / "deck", JOBS, decide=decide(mode))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await advice_shown(pilot, app)
        assert column_ids(app, "backlog") == ADVISED  # the deadline job above the priority-5 one
        assert reason(app, "due") == "▲ due 15:26, slack 15m"
        assert reason(app, "big") == "· priority 5"
        assert reason(app, "costly") == "⏸ budget"  # held: $0.05 expected over the $0.01 per-job budget
        assert reason(app, "after") == "blocked by big"  # not ready: its own flags, as in off


@pytest.mark.parametrize(("local", "shown"), [("UTC", "▲ due 17:26 CEST, slack 15m"),
                                              ("Europe/Berlin", "▲ due 17:26, slack 15m")])
async def test_a_deadline_on_a_card_names_its_zone_where_the_machines_clock_differs(tmp_path: Path, machine_zone,
                                                                                      local: str, shown: str) -> None:
    machine_zone(local)
    jobs = [{**job, "deadline": "2025-06-15T17:26:40", "timezone": "Europe/Paris"} if job["id"] == "due" else job
            for job in JOBS]  # the same moment as JOBS's, written in Paris
    deck = new_deck(tmp_path / "deck", jobs, decide=decide("advise"))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await advice_shown(pilot, app)
        assert reason(app, "due") == shown


@pytest.mark.parametrize("mode", ["off", "shadow"])
async def test_off_and_shadow_keep_the_operators_order(tmp_path: Path, mode: str) -> None:
    deck = new_deck(tmp_path / "deck", JOBS, decide=decide(mode))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert column_ids(app, "backlog") == OPERATORS_ORDER
        assert not [worker for worker in app.screen.workers if worker.group == "ranking"]
        assert reason(app, "due") == "true" and reason(app, "costly") == "openai/gpt-4o-mini"


async def test_a_change_of_mode_in_jobs_json_reorders_the_backlog_both_ways(tmp_path: Path) -> None:
    deck = new_deck(tmp_path / "deck", JOBS, decide=decide("off"))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, poll=None)
    async with app.run_test(size=(120, 40)) as pilot:
        assert column_ids(app, "backlog")[0] == "big"  # the cursor is on the top card
        write_spec(deck, JOBS, decide=decide("advise"))
        app.sync()
        await wait_until(pilot, lambda: column_ids(app, "backlog") == ADVISED, what="the advised order")
        assert board_of(app).selected_id == "due"  # still on the top card, not dragged down with "big"
        write_spec(deck, JOBS, decide=decide("off"))
        app.sync()
        assert column_ids(app, "backlog") == OPERATORS_ORDER and reason(app, "due") == "true"


async def test_the_ranking_runs_in_a_worker_and_only_when_the_board_changes(advised, monkeypatch) -> None:
    threads: list[str] = []
    advise = Advisor.advise

    def counted(self: Advisor, *args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return advise(self, *args)

    monkeypatch.setattr(Advisor, "advise", counted)
    app = make_app(advised.root, fast_start=False, watch=False, now=NOW, poll=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await advice_shown(pilot, app)
        assert len(threads) == 1 and threads[0] != threading.main_thread().name
        app.sync()  # nothing new on disk
        await pilot.pause()
        assert len(threads) == 1
        commit(advised, [{"type": "pinned", "job": "plain", "by": "ops@host", "via": "cli"}], NOW)
        app.sync()
        await wait_until(pilot, lambda: column_ids(app, "backlog")[0] == "plain", what="the pin ranked first")
        assert len(threads) == 2 and reason(app, "plain") == "▲ pinned"


# -- w -------------------------------------------------------------------------------------


async def test_w_shows_why_a_ready_job_is_ranked_where_it_is(advised) -> None:
    app = make_app(advised.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await advice_shown(pilot, app)
        text = await ask_why(pilot, app, "due")
        assert "it is ready: 2 of 4 in the order the runner starts jobs" in text
        # the service would start 3 of the 4 ready jobs: it holds costly for the budget
        assert "decision service (advise, policy " in text and "rank 1 of 3 it would start" in text
        assert "deadline 15:26 UTC, p90 duration 5m00s, slack 15m00s" in text
        dialog = app.screen.query_one("#why")
        assert dialog.region.bottom <= 24 and dialog.max_scroll_y == 0  # all of it readable at 80x24
        await pilot.press("escape")
        assert not isinstance(app.screen, WhyScreen)


async def test_w_shows_what_blocks_a_job(advised) -> None:
    app = make_app(advised.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        text = await ask_why(pilot, app, "after")
        assert "it cannot start yet\n  - depends on big, which is in the backlog\n" in text
        assert "decision service (advise, policy " in text and "once it is ready: score 100" in text
        await pilot.press("w")  # w closes it too
        text = await ask_why(pilot, app, "costly")
        assert "hold (needs budget)" in text and "it may cost $0.05, over the per-job budget $0.01" in text


async def test_w_in_off_mode_gives_the_runners_order(tmp_path: Path) -> None:
    deck = new_deck(tmp_path / "deck", JOBS, decide=decide("off"))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        text = await ask_why(pilot, app, "due")
        assert "it is ready: 2 of 4 in the order the runner starts jobs" in text
        assert "decision service off (decide.mode)" in text


# -- overrides -------------------------------------------------------------------------------


def last_event(deck) -> dict[str, Any]:
    return events(deck)[-1]


def enabled(app, key: str) -> bool:
    """Whether the key applies now (the footer's hints and the key itself go by this)."""
    active = app.screen.active_bindings.get(key)
    return active is not None and active.enabled


def count(deck) -> int:
    return len(events(deck)) if deck.events_path.exists() else 0


def accepting(app) -> bool:
    """Whether A accepts advice now (the footer shows it); else a hidden A says why it does nothing."""
    active = app.screen.active_bindings.get("A")
    return active is not None and active.enabled and active.binding.action == "accept"


def toasts(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_pin_hold_and_release_keys_append_events_and_move_the_card(advised) -> None:
    app = make_app(advised.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await advice_shown(pilot, app)
        assert board_of(app).select("plain")
        await pilot.pause()
        assert enabled(app, "P") and enabled(app, "H")
        await pilot.press("P")
        event = last_event(advised)
        assert (event["type"], event["job"], event["via"]) == ("pinned", "plain", "cockpit") and "@" in event["by"]
        await wait_until(pilot, lambda: column_ids(app, "backlog")[0] == "plain", what="the pinned job first")
        assert reason(app, "plain") == "▲ pinned"
        assert enabled(app, "u")
        before = count(advised)
        await pilot.press("P")  # already pinned: the key does not apply, and says so
        assert count(advised) == before
        await wait_until(pilot, lambda: "cannot pin job 'plain': it is already pinned" in toasts(app),
                         what="the refusal")
        await pilot.press("u")
        assert (last_event(advised)["type"], last_event(advised)["job"]) == ("released", "plain")
        await wait_until(pilot, lambda: column_ids(app, "backlog") == ADVISED, what="the ranking again")
        assert board_of(app).select("big")
        await pilot.pause()
        await pilot.press("H")
        event = last_event(advised)
        assert (event["type"], event["job"], event["via"]) == ("held", "big", "cockpit")
        await wait_until(pilot, lambda: reason(app, "big") == "⏸ held", what="the hold shown")
        assert column_ids(app, "backlog") == ["due", "plain", "big", "costly", "after"]  # among the held ones
        assert enabled(app, "u")


async def test_accept_pins_the_top_ranked_job(advised) -> None:
    app = make_app(advised.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await advice_shown(pilot, app)
        assert board_of(app).select("after")  # the key acts on the ranking, not on the card under the cursor
        await pilot.pause()
        assert accepting(app)
        await pilot.press("A")
        event = last_event(advised)
        assert (event["type"], event["job"], event["via"]) == ("pinned", "due", "cockpit")
        await wait_until(pilot, lambda: reason(app, "due") == "▲ pinned", what="the pin shown")
        assert not accepting(app)
        before = count(advised)
        await pilot.press("A")  # nothing to accept: it says so
        assert count(advised) == before
        await wait_until(pilot, lambda: "due, the job the decision service would start first, is pinned already"
                         in toasts(app), what="why A does nothing")


async def test_accept_is_only_for_advise_mode(tmp_path: Path) -> None:
    deck = new_deck(tmp_path / "deck", JOBS, decide=decide("live"))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await advice_shown(pilot, app)
        assert not accepting(app)
        await pilot.press("A")  # live: the runner follows the ranking already
        assert count(deck) == 0
        await wait_until(pilot, lambda: "decide.mode is live: A accepts the decision service's advice in advise "
                         "mode" in toasts(app), what="why A does nothing")


async def test_pin_is_refused_outside_the_backlog(tmp_path: Path) -> None:
    from cockpit_decks import run

    deck = new_deck(tmp_path / "deck", JOBS, decide=decide("advise"))
    run(deck, "big", NOW - 600, 5.0)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        assert board_of(app).select("big")  # done
        await pilot.pause()
        before = count(deck)
        await pilot.press("P", "H", "u")
        assert count(deck) == before
        await wait_until(pilot, lambda: len(toasts(app)) >= 3, what="three refusals")
        assert toasts(app)[-3:] == [  # what `jobdeck pin big` (hold, release) says
            f"cannot {action} job 'big': it is done (hint: pin, hold and release apply to jobs in the backlog)"
            for action in ("pin", "hold", "release")]


async def test_run_now_on_a_job_outside_its_window_says_it_waits_and_that_a_pin_runs_it(tmp_path: Path) -> None:
    deck = new_deck(tmp_path / "deck", [{"id": "night", "command": ["true"], "window": "22:00-23:00"}],
                    decide={"mode": "off"})
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)  # 15:06 UTC: the window is closed
    async with app.run_test(size=(120, 40)) as pilot:
        assert board_of(app).select("night")
        await pilot.pause()
        await pilot.press("t")  # the question says it before the answer: a `triggered` that starts nothing
        from textual.widgets import Static

        asked = " ".join(str(widget.render()) for widget in app.screen.query(Static))
        assert "It waits: window 22:00-23:00 (UTC) opens at 22:00, in 6h53m (P pins it to run now)." in asked
        await pilot.press("y")
        await wait_until(pilot, lambda: any("night triggered" in t for t in toasts(app)), what="the trigger")
        [said] = [t for t in toasts(app) if "night triggered" in t]
        assert said == ("night triggered, but it waits: window 22:00-23:00 (UTC) opens at 22:00, in 6h53m "
                        "(P pins it to run now)")
        assert last_event(deck)["type"] == "triggered"


async def test_at_80_columns_the_shared_job_keys_give_way_in_the_footer(advised) -> None:
    """A backlog card at the top of the ranking has more hints than 80 columns hold."""
    from jobdeck.cockpit.key_hints import KeyHints

    def footer(app) -> str:
        return str(app.screen.query_one(KeyHints).render())

    for size, shown, gave_way in (((120, 40), ["x  cancel", "w  why", "A  accept"], []),
                                  ((80, 24), ["x  cancel", "A  accept"], ["w  why"])):
        app = make_app(advised.root, fast_start=False, watch=False, now=NOW)
        async with app.run_test(size=size) as pilot:
            await advice_shown(pilot, app)
            await pilot.pause()
            text = footer(app)
            assert len(text) <= size[0] and text.endswith("?  help  ^p  palette")
            assert all(hint in text for hint in shown) and not any(hint in text for hint in gave_way), text


async def test_pin_says_in_its_toast_the_hold_it_replaces_and_what_still_keeps_the_job_back(advised) -> None:
    commit(advised, [{"type": "held", "job": "plain", "by": "ops@host", "via": "cli", "reason": "site down"}], NOW)
    app = make_app(advised.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await advice_shown(pilot, app)
        assert board_of(app).select("plain")
        await pilot.pause()
        await pilot.press("P")  # what `jobdeck pin plain` says on stderr
        assert (last_event(advised)["type"], last_event(advised)["job"]) == ("pinned", "plain")
        await wait_until(pilot, lambda: "plain pinned to start next; it replaces the hold by ops@host since "
                         "2025-06-15 15:06 UTC: site down" in toasts(app), what="the replaced hold told")
        assert board_of(app).select("after")
        await pilot.pause()
        await pilot.press("P")
        assert (last_event(advised)["type"], last_event(advised)["job"]) == ("pinned", "after")
        await wait_until(pilot, lambda: "after pinned to start next; it depends on big, which is in the backlog"
                         in toasts(app), what="the dependency it still waits for")
        assert app._notifications and list(app._notifications)[-1].severity == "warning"


async def test_release_of_a_job_the_decision_service_holds_says_so_and_that_a_pin_starts_it(advised) -> None:
    commit(advised, [{"type": "decided", "job": "costly", "action": "hold", "needs": "budget", "mode": "live",
                      "note": "⏸ budget", "reasons": ["it may cost $0.05, over the per-job budget $0.01"]}], NOW)
    app = make_app(advised.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await advice_shown(pilot, app)
        assert board_of(app).select("costly")
        await pilot.pause()
        before = count(advised)
        await pilot.press("u")
        assert count(advised) == before
        await wait_until(pilot, lambda: "cannot release job 'costly': the operator did not pin or hold it; the "
                         "decision service holds it: it may cost $0.05, over the per-job budget $0.01 (hint: "
                         "key P starts it anyway)" in toasts(app), what="who holds it, and why")


async def test_a_card_shows_the_reason_of_the_operators_hold(tmp_path: Path) -> None:
    deck = new_deck(tmp_path / "deck", JOBS)
    commit(deck, [{"type": "held", "job": "plain", "by": "ops@host", "via": "cli", "reason": "site down"}], NOW)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "plain" in column_ids(app, "backlog"), what="the board")
        assert reason(app, "plain") == "held by the operator: site down"


async def test_w_names_the_cockpits_key_for_what_lifts_a_block_as_keys_toml_maps_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobdeck.decide.why import why
    from jobdeck.state.board import open_store
    from jobdeck.state.loader import load_spec

    keys = tmp_path / "keys.toml"
    keys.write_text('[keys]\napprove = "ctrl+a"\n')
    monkeypatch.setenv("JOBDECK_KEYS", str(keys))
    deck = new_deck(tmp_path / "deck", [*JOBS, {"id": "risky", "command": ["true"], "risk": "high"}],
                    decide=decide("advise"))
    commit(deck, [{"type": "paused", "job": "risky", "by": "ops@host", "via": "cli"},
                  {"type": "held", "by": "ops@host", "via": "cli", "reason": "maintenance"}], NOW)
    with open_store(deck) as store:  # the CLI's `why` keeps its commands
        answer = why(load_spec(deck.spec_path).spec, store.board, "risky", NOW)
    cli_text = "\n".join(line for line, _ in answer.lines(NOW))
    assert "`jobdeck approve risky`" in cli_text and "`jobdeck resume risky`" in cli_text
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        text = await ask_why(pilot, app, "risky")
        assert "`jobdeck" not in text, text
        assert "(key ^a)" in text and "(key p)" in text and "(key D)" in text
