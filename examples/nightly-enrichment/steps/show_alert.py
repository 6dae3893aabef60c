"""The example's alert hook: what jobdeck would send to a phone or a channel, kept in alerts.log.

jobs.json's "notify" section runs it (a `command` target) for every "needs you"
alert, with the alert as JSON on stdin and JOBDECK_ALERT_* variables. Point a
target at an Apprise URL instead (`{"url": {"env": "NTFY_URL"}}`) to be told for
real; see docs/notifications.md.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    alert = json.load(sys.stdin)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open("alerts.log", "a", encoding="utf-8") as log:  # the hook runs in the deck directory
        log.write(f"{stamp}  {os.environ['JOBDECK_ALERT_TITLE']}\n")
        log.write("".join(f"    {line}\n" for line in alert["body"].splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
