"""Regenerate docs/cockpit.svg: a real screenshot of the cockpit on a demo deck.

Usage: .venv/bin/python docs/gen_cockpit_svg.py

The deck is the one the cockpit tests use (every column and most card flags),
built from real events; the clock is frozen so the picture is reproducible.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "functional")]

from jobdeck.cockpit.app import make_app  # noqa: E402
from cockpit_decks import NOW, busy_deck  # noqa: E402


async def shoot(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        deck = busy_deck(Path(tmp) / "deck")
        app = make_app(deck.root, watch=False, now=NOW, poll=None)
        async with app.run_test(size=(120, 32)) as pilot:
            await pilot.press("j")
            await pilot.pause(0.3)
            app.save_screenshot(filename=out.name, path=str(out.parent))


if __name__ == "__main__":
    os.environ["TZ"] = "UTC"
    time.tzset()
    target = ROOT / "docs" / "cockpit.svg"
    asyncio.run(shoot(target))
    print(f"wrote {target}")
