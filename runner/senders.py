"""Sending alerts and pings off the runner's loop: one worker thread and a bounded queue per target.

A target that hangs or fails holds up only its own thread: the loop only puts work
on a queue (a full queue drops the send and says so). Each send has a timeout and
a few retries; one that still fails is handed back through ``failed`` (a callable
safe to call from any thread) for the runner to record. Apprise is imported here,
on the worker thread, the first time a URL target sends: ~0.3 s that no other
command, and no runner without such a target, pays.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

QUEUE_LIMIT = 100
"""Sends waiting for one target; more are dropped (and counted) rather than piling up behind a dead target."""
BACKOFF_CAP = 30.0


@dataclass(frozen=True, slots=True)
class Send:
    """One message for one target."""

    title: str
    body: str
    needs_you: bool
    payload: Mapping[str, Any]
    """The alert as the command hook gets it on stdin."""
    job: str | None = None
    """The job a failure is recorded against, if the message is about one job."""


Failed = Callable[[dict[str, Any]], None]


class Worker:
    """One target's thread: takes sends off its queue and delivers each with a timeout and retries."""

    def __init__(self, name: str, deliver: Callable[[Send, float], str | None], *, timeout: float, retries: int,
                 failed: Failed, limit: int = QUEUE_LIMIT, abort: Callable[[], None] | None = None,
                 after: Worker | None = None) -> None:
        self.name = name
        self.after = after
        """The worker this one replaces (the target's settings changed): its send under way ends before this one
        starts, so the target gets its messages in order."""
        self.deliver = deliver
        """Delivers a send within a timeout; returns None on success, else why it failed (one line)."""
        self.abort = abort
        """Ends the delivery under way at once (a hook's process group), for a runner that will not wait."""
        self.current: Send | None = None
        """The send being delivered, if any."""
        self.timeout = timeout
        self.retries = retries
        self.failed = failed
        self.queue: queue.Queue[Send | None] = queue.Queue(limit)
        self.stopping = threading.Event()
        self.retiring = threading.Event()
        """Set by ``retire``: the thread ends once its queue is empty."""
        self.dropped = 0
        self.sent = 0
        self.thread = threading.Thread(target=self._serve, name=f"jobdeck-notify-{name}", daemon=True)
        self.thread.start()

    def put(self, send: Send) -> bool:
        """Queue ``send`` without waiting; False (and counted) when the queue is full."""
        try:
            self.queue.put_nowait(send)
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def idle(self) -> bool:
        """Whether everything queued has been handled."""
        return self.queue.unfinished_tasks == 0

    def unconfirmed(self) -> list[Send]:
        """The send under way and those queued behind it, oldest first."""
        with self.queue.mutex:
            queued = [send for send in self.queue.queue if send is not None]
        current = self.current
        return ([current] if current is not None else []) + queued

    def stop(self, *, abort: bool = False) -> None:
        """Stop after the send under way (or ending it, with ``abort``); waits between retries end at once, and
        queued sends are dropped."""
        self.stopping.set()
        if abort and self.abort is not None:
            self.abort()
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass

    def retire(self) -> None:
        """End once every queued send is delivered (``stop`` drops them): for a target the runner no longer uses."""
        self.retiring.set()
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass  # the thread has sends to take, and ends after the last of them

    def hand_over(self) -> list[Send]:
        """Take every queued send off this worker, which then ends after the send under way (retries included):
        what it held goes to its successor, with the target's new settings."""
        taken: list[Send] = []
        while True:
            try:
                send = self.queue.get_nowait()
            except queue.Empty:
                break
            self.queue.task_done()
            if send is not None:
                taken.append(send)
        self.retire()
        return taken

    def _serve(self) -> None:
        if self.after is not None:
            self.after.thread.join()
            self.after = None
        while True:
            send = self.queue.get()
            try:
                if send is not None and not self.stopping.is_set():
                    self.current = send
                    self._send(send)
            finally:
                self.current = None
                self.queue.task_done()
            # (a full queue left no room for the end marker)
            if send is None or (self.stopping.is_set() or self.retiring.is_set()) and self.queue.empty():
                return

    def _send(self, send: Send) -> None:
        why = "not sent"
        for attempt in range(self.retries + 1):
            if attempt and self.stopping.wait(min(2.0 ** (attempt - 1), BACKOFF_CAP)):
                break
            try:
                why = self.deliver(send, self.timeout)
            except Exception as exc:  # noqa: BLE001  a sender's bug or a library's surprise must not end the thread
                why = f"{type(exc).__name__}: {exc}"
            if why is None:
                self.sent += 1
                return
        if self.stopping.is_set() and self.abort is not None:
            return  # ended by ``stop(abort=True)``, whose caller reports what was not confirmed
        self.failed({"target": self.name, "job": send.job, "message": why, "tries": attempt + 1})


# -- the ways to deliver ---------------------------------------------------------------


def apprise_sender(url: str) -> Callable[[Send, float], str | None]:
    """Delivers through Apprise to ``url`` on the calling thread, within ``timeout`` (the URL's cto and rto).

    The Apprise object is built by the first send and kept: parsing the URL costs more than
    a local send. Each target's sends run on its one worker thread, so it is never shared.
    """
    bells: dict[float, Any] = {}

    def deliver(send: Send, timeout: float) -> str | None:
        import apprise  # lazily: only a runner with a URL target pays for it (~0.3 s, on this thread)

        bell = bells.get(timeout)
        if bell is None:
            # Sent on this (daemon) thread: async_mode off and no service deadline, since either puts
            # the send on Apprise's own thread pool, which an exiting interpreter waits for while a
            # target hangs. The URL's connect and read timeouts (cto, rto) bound it instead.
            bell = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False, service_timeout=0))
            if not bell.add(_with_timeouts(url, timeout)):
                return "Apprise does not understand the URL (check its scheme)"
            bells[timeout] = bell
        warnings: list[str] = []

        def keep(entry: Any, *_: Any) -> None:
            if entry.level in ("WARNING", "ERROR", "CRITICAL"):
                warnings.append(entry.message)

        result = bell.notify(title=send.title, body=send.body, log_callback=keep,
                             notify_type=apprise.NotifyType.FAILURE if send.needs_you else apprise.NotifyType.INFO)
        return None if result else (warnings[-1] if warnings else "Apprise reported a failure")

    return deliver


def _with_timeouts(url: str, timeout: float) -> str:
    """``url`` with Apprise's cto/rto (connect, read timeout) set, unless it sets them itself."""
    query = urlsplit(url).query
    extra = [f"{name}={timeout:g}" for name in ("cto", "rto") if f"{name}=" not in query]
    if not extra:
        return url
    return url + ("&" if "?" in url else "?") + "&".join(extra)


class CommandSender:
    """Runs ``argv`` (no shell) with the alert as JSON on stdin and JOBDECK_* variables; exit 0 is success."""

    def __init__(self, argv: list[str], environ: Mapping[str, str], cwd: str) -> None:
        self.argv, self.environ, self.cwd = argv, environ, cwd
        self.child: subprocess.Popen[bytes] | None = None
        """The hook running now, if any."""
        self.aborted = False
        """Set by ``abort``: no hook starts, or keeps running, after it."""

    def __call__(self, send: Send, timeout: float) -> str | None:
        argv, environ, cwd = self.argv, self.environ, self.cwd
        env = dict(environ)
        env.update({"JOBDECK_ALERT_TITLE": send.title, "JOBDECK_ALERT_BODY": send.body,
                    "JOBDECK_ALERT_NEEDS_YOU": "1" if send.needs_you else "0",
                    "JOBDECK_ALERT_KINDS": ",".join(sorted({a["kind"] for a in send.payload.get("alerts", [])})),
                    "JOBDECK_DECK": cwd})
        if send.job:
            env["JOBDECK_JOB_ID"] = send.job
        try:
            child = self.child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.PIPE, cwd=cwd, env=env, start_new_session=True)
        except OSError as exc:
            return f"cannot run {argv[0]}: {exc.strerror or exc}"
        if self.aborted:  # ``abort`` came as it started (it reads ``child`` after setting ``aborted``)
            self.child = None
            _kill_group(child)
            return f"{argv[0]} was stopped"
        try:
            _, err = child.communicate(json.dumps(send.payload).encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(child)
            return f"{argv[0]} did not finish within {timeout:g}s"
        finally:
            self.child = None
        if child.returncode != 0:
            tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
            return f"{argv[0]} exited with code {child.returncode}" + (f": {tail[0][:200]}" if tail else "")
        return None

    def abort(self) -> None:
        """Kill the running hook's process group, and any later one (from any thread); its delivery then fails."""
        self.aborted = True
        child = self.child
        if child is not None:
            _kill_group(child, wait=False)


def command_sender(argv: list[str], environ: Mapping[str, str], cwd: str) -> CommandSender:
    """A hook target's deliver function (see ``CommandSender``)."""
    return CommandSender(argv, environ, cwd)


def _kill_group(child: subprocess.Popen[bytes], *, wait: bool = True) -> None:
    """SIGKILL the hook's process group; with ``wait``, collect it (only from the thread that runs it)."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except OSError:
        pass
    if wait:
        child.communicate()


def ping_sender(url: str) -> Callable[[Send, float], str | None]:
    """GETs ``url`` (``/fail`` appended for a failure ping, as Healthchecks.io and Cronitor read it)."""

    def deliver(send: Send, timeout: float) -> str | None:
        import urllib.error  # with http.client and email: ~7 ms off every runner's start, most of which never ping
        import urllib.request

        target = url.rstrip("/") + "/fail" if send.needs_you else url
        try:
            with urllib.request.urlopen(target, timeout=timeout) as response:  # noqa: S310 (the operator's URL)
                response.read(1024)
        except urllib.error.HTTPError as exc:
            return f"ping answered HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return f"ping failed: {getattr(exc, 'reason', None) or exc}"
        return None

    return deliver
