"""Headless Chromium driven over the DevTools protocol, for tests that must see a page as a
person does, after its scripts have fetched their data, and click on it.

Chromium's ``--remote-debugging-pipe`` reads commands on its file descriptor 3 and writes the
replies on 4, each a JSON message ended by a NUL byte: no port, no websocket, nothing to race
for, and the browser dies with the pipe.
"""

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any


class BrowserError(RuntimeError):
    """Chromium refused a command, went away, or a page never showed what was awaited."""


def above_four(fd: int) -> int:
    """The same open file on a descriptor above 4 (``fd`` itself is closed)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 5)
    os.close(fd)
    return moved


class Browser:
    """One headless Chromium with one tab; ``close()`` (or ``with``) ends the process."""

    def __init__(
        self, chromium: str, window: tuple[int, int] = (1400, 900), cancel_logins: bool = False
    ) -> None:
        """``cancel_logins``: answer a page's login prompt (a 401 asking for basic auth) as a
        person who has no password does, so that the page shows the server's 401 body; without
        it, headless Chromium leaves a blank page waiting for the prompt."""
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True)
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()
        # above 4, so that neither end is overwritten while the shell moves them to 3 and 4
        commands_read, replies_write = (above_four(fd) for fd in (commands_read, replies_write))
        # bash puts the two pipe ends where Chromium looks for them, then becomes Chromium (dash,
        # Debian's sh, takes only one-digit descriptors in a redirection)
        self.process = subprocess.Popen(
            [
                "bash",
                "-c",
                f'exec "$@" 3<&{commands_read} 4>&{replies_write}',
                "bash",
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={self._profile.name}",
                f"--window-size={window[0]},{window[1]}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            pass_fds=(commands_read, replies_write),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(replies_write)
        self._buffer = b""
        self._last_id = 0
        self._handlers: dict[str, Callable[[dict], None]] = {}
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        if cancel_logins:
            # every request then waits for a word from us: let it go, and cancel each prompt
            self._handlers["Fetch.requestPaused"] = lambda event: self._post(
                "Fetch.continueRequest", requestId=event["requestId"]
            )
            self._handlers["Fetch.authRequired"] = lambda event: self._post(
                "Fetch.continueWithAuth",
                requestId=event["requestId"],
                authChallengeResponse={"response": "CancelAuth"},
            )
            self.send("Fetch.enable", in_tab=True, handleAuthRequests=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Ask Chromium to quit; then end its whole process group (renderers included)."""
        with contextlib.suppress(OSError, BrowserError):
            self.send("Browser.close")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        os.close(self._commands)
        os.close(self._replies)
        self._profile.cleanup()

    def send(self, method: str, *, in_tab: bool = False, **params: Any) -> dict:
        """One DevTools command (to the browser, or to the tab); its result. Events that
        arrive meanwhile go to their handlers."""
        sent = self._post(method, in_tab=in_tab, **params)
        while True:
            reply = self._read()
            if reply.get("id") == sent:  # other replies are to commands nobody waits for
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply["result"]
            if (handler := self._handlers.get(reply.get("method", ""))) is not None:
                handler(reply["params"])

    def _post(self, method: str, *, in_tab: bool = True, **params: Any) -> int:
        """Send a command without waiting for its reply (to the tab unless told); its id."""
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params}
        if in_tab:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        return self._last_id

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                raise BrowserError(f"chromium exited (status {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send_headers(self, headers: dict[str, str]) -> None:
        """Send ``headers`` with every request the tab makes from now on (``{}``: none), e.g. a
        login, kept off the command line, the URL (Chromium refuses the UI's requests from a
        page whose URL holds credentials) and the disk."""
        self.send("Network.enable", in_tab=True)
        self.send("Network.setExtraHTTPHeaders", in_tab=True, headers=headers)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.send(
            "Runtime.evaluate",
            in_tab=True,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def text(self) -> str:
        """The page's text as rendered (what a person can read on it), a line per line of
        text, its spaces (non-breaking ones too) single."""
        text = self.evaluate("document.body ? document.body.innerText : ''") or ""
        return "\n".join(filter(None, (" ".join(line.split()) for line in text.splitlines())))

    def open(self, url: str, *expected: str, timeout: float = 300) -> str:
        """Load ``url`` and wait until its text holds every one of ``expected``; that text."""
        self.send("Page.navigate", in_tab=True, url=url)
        return self.wait_for(*expected, timeout=timeout)

    def wait_for(self, *expected: str, timeout: float = 300) -> str:
        """The page's text once it holds every one of ``expected`` (the page fetches its data
        after it loads, later on a busy machine); an error naming what is missing if it never
        does within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            missing = [part for part in expected if part not in text]
            if not missing:
                return text
            if time.monotonic() > deadline:
                raise BrowserError(f"the page never showed {missing}; it shows: {text[:3000]}")
            time.sleep(0.5)
