"""The cockpit: a Textual kanban of one deck (`jobdeck cockpit`).

How it is put together, and where it departs from the target design:

- ``model.DeckModel`` (no Textual) owns the last good spec, a reading Store and
  one Card per job; ``refresh()`` returns a ``Delta`` of the cards that changed.
- ``app.CockpitApp`` runs a ``watchfiles`` worker (group "watch") over the deck
  root, .jobdeck/ and .jobdeck/runners/ (each folder non-recursively, so the
  attempt directories under workspaces/ never reach the watcher) and posts
  ``DeckChanged``; bursts coalesce via ``can_replace``. A slow poll (5 s) backs it
  up. ``OutputTail`` watches only the attempt directory it shows.
- ``board.Board`` holds one ``CardTable`` (DataTable keyed by job id) per
  column and applies deltas row by row; large rebuilds add the first screenful
  at once and the rest after the first paint, one chunk per event-loop turn (on
  a provisional board, only once the deck is read). A column shows at most
  1,000 cards (DataTable's per-change cost is linear in its rows); the title
  says how many are shown and the filter reaches the rest.
- ``fast_start`` paints the cards last saved in .jobdeck/cards.jsonl (by
  `jobdeck ls` or the cockpit on quit) when they come from the jobs.json on
  disk, or else a preview of jobs.json (state/preview.py, no pydantic) over
  the folded log; the full model is read in a thread worker
  behind them.
- Keys act through ``operations.Operator``: events via ``state.actions.act``
  with ``via="cockpit"`` on a second Store (``act`` folds what it reads into the
  Store it is given, which would hide those records from the board's refresh);
  jobs.json only via ``state.specfile`` (edit and new job).
- ``advice`` (no Textual) is the decision service as the board shows it: in
  advise and live modes the backlog in its ranking with a reason line per card,
  ranked in a thread worker over a snapshot of the board (``snapshot``); `w`
  opens ``why_screen.WhyScreen``, `jobdeck why` for the selected job.
- The footer is ``key_hints.KeyHints``, one Text line: Textual's Footer
  rebuilds a widget per key on each bindings change, i.e. on every cursor move;
  when the hints are wider than the terminal, the screen's shared job keys give
  way first, so quit, help and the palette stay.
- Agent output and every string from a file are shown through
  ``jobdeck.state.terminal.inert`` and ``rich.text.Text``, never as markup.
"""
