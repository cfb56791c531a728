"""Headless Chromium driven through its DevTools protocol on a pipe (``--remote-debugging-pipe``:
commands on the browser's fd 3, replies on its fd 4). A page can be given request headers, so a
test logs in to a basic-auth server without the password on a command line, in a URL (Chromium
refuses the UI's requests from a page whose URL holds credentials) or in a file."""

import contextlib
import itertools
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any


class Browser:
    def __init__(self, process: subprocess.Popen, commands: int, replies: int) -> None:
        self.process = process
        self.commands = os.fdopen(commands, "wb")
        self.replies = os.fdopen(replies, "rb")
        self.ids = itertools.count(1)
        self.buffer = b""

    def call(self, method: str, session: str | None = None, **params: Any) -> dict:
        """Send one command and wait for its reply (events on the way are skipped)."""
        number = next(self.ids)
        message = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.commands.write(json.dumps(message).encode() + b"\0")
        self.commands.flush()
        while True:
            while b"\0" not in self.buffer:
                chunk = self.replies.read1(65536)
                if not chunk:
                    raise RuntimeError(f"chromium closed its DevTools pipe during {method}")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == number:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def page(self, headers: dict[str, str] | None = None) -> str:
        """A new tab (its session id), sending ``headers`` with every request it makes."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        if headers:
            self.call("Network.enable", session)
            self.call("Network.setExtraHTTPHeaders", session, headers=headers)
        return session

    def text(self, session: str, url: str, expected: list[str], patience: float = 240) -> str:
        """The page's visible text once it holds every ``expected`` string (or after
        ``patience`` seconds: the UI fetches its data after it loads, slowly on a busy machine)."""
        self.call("Page.navigate", session, url=url)
        deadline = time.monotonic() + patience
        while True:
            shown = self.call(
                "Runtime.evaluate",
                session,
                expression="document.body ? document.body.innerText : ''",
                returnByValue=True,
            )["result"].get("value", "")
            if all(part in shown for part in expected) or time.monotonic() > deadline:
                return shown
            time.sleep(1)


@contextlib.contextmanager
def chromium(program: str) -> Iterator[Browser]:
    to_browser, from_browser = os.pipe(), os.pipe()

    def on_fds_3_and_4() -> None:  # in the child, before exec
        os.dup2(to_browser[0], 3)
        os.dup2(from_browser[1], 4)

    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(
            [program, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=1400,900", "--remote-debugging-pipe"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=on_fds_3_and_4, pass_fds=(3, 4),
        )  # fmt: skip
        os.close(to_browser[0])
        os.close(from_browser[1])
        browser = Browser(process, to_browser[1], from_browser[0])
        try:
            yield browser
        finally:
            with contextlib.suppress(Exception):
                browser.call("Browser.close")
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
            process.kill()
            process.wait()
            browser.commands.close()
            browser.replies.close()
