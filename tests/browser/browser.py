"""Headless Chromium driven through the DevTools protocol (python3-websocket),
for the tests of pages: the status page and the example dashboard.

    with Browser() as page:
        page.navigate("http://127.0.0.1:8080/")
        page.wait_for("document.querySelectorAll('tr').length > 2")
        names = page.evaluate("[...document.querySelectorAll('td')]"
                              ".map(td => td.textContent)")

Each Browser is one chromium process with a profile directory of its own;
leaving the `with` block closes it, kills what is left of it (its whole
process group) and removes the profile, also when the test failed.
"""

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import websocket

from serverproc import die_with_us

CHROMIUM = os.environ.get("MATCACHE_CHROMIUM", "/usr/bin/chromium")
STARTUP_SECONDS = 30
CALL_SECONDS = 30
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


class PageError(AssertionError):
    """A script run in the page threw, or the page did not get where a test
    waited for it to go."""


class Browser:
    """One headless Chromium with one page (tab), `width` x `height` CSS
    pixels, driven through the DevTools protocol."""

    def __init__(self, width=1200, height=800):
        self.width = width
        self.height = height
        self._profile = None
        self._process = None
        self._socket = None
        self._next_id = 0
        self._events = []  # received, not yet taken by wait_event
        self.console = []  # "level: text" of every console message

    # ---- lifetime

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _start(self):
        self._profile = tempfile.mkdtemp(prefix="matcache-chromium-")
        log_path = os.path.join(self._profile, "stderr.log")
        with open(log_path, "wb") as log:
            # Root needs --no-sandbox; a session of its own lets close()
            # end every process chromium forked.
            self._process = subprocess.Popen(
                die_with_us([
                    CHROMIUM, "--headless=new", "--no-sandbox",
                    "--disable-gpu", "--remote-debugging-port=0",
                    f"--user-data-dir={self._profile}",
                    f"--window-size={self.width},{self.height}",
                    "--no-first-run", "--disable-extensions",
                    "--disable-background-networking", "--mute-audio",
                    "about:blank"]),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            with open(log_path, errors="replace") as log:
                text = log.read()
            match = _LISTENING.search(text)
            if match:
                break
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start:\n{text}")
            time.sleep(0.05)
        port = re.match(r"ws://[^:/]+:(\d+)/", match[1])[1]
        # The tab chromium opened on about:blank.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                    timeout=CALL_SECONDS) as response:
            targets = json.load(response)
        page = next(t for t in targets if t["type"] == "page")
        self._socket = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=CALL_SECONDS,
            suppress_origin=True)
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=self.width,
                  height=self.height, deviceScaleFactor=1, mobile=False)

    def close(self):
        """Closes the browser, kills what is left of it, removes its
        profile. Harmless twice."""
        if self._socket is not None:
            try:
                self._socket.send(json.dumps(
                    {"id": self._take_id(), "method": "Browser.close"}))
            except (OSError, websocket.WebSocketException):
                pass
            self._socket.close()
            self._socket = None
        if self._process is not None:
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._process.wait()
            self._process = None
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    # ---- the protocol

    def _take_id(self):
        self._next_id += 1
        return self._next_id

    def _receive(self):
        message = json.loads(self._socket.recv())
        if message.get("method") == "Runtime.consoleAPICalled":
            params = message["params"]
            text = " ".join(str(arg.get("value", arg.get("description", "")))
                            for arg in params["args"])
            self.console.append(f"{params['type']}: {text}")
        elif message.get("method") == "Runtime.exceptionThrown":
            details = message["params"]["exceptionDetails"]
            self.console.append("exception: " + details.get(
                "exception", {}).get("description", details.get("text", "")))
        return message

    def call(self, method, **params):
        """Sends one DevTools command and returns its result; the events
        that arrive meanwhile are kept for wait_event."""
        ident = self._take_id()
        self._socket.send(json.dumps(
            {"id": ident, "method": method, "params": params}))
        while True:
            message = self._receive()
            if message.get("id") == ident:
                if "error" in message:
                    raise PageError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)

    def wait_event(self, method, timeout=CALL_SECONDS):
        """The params of the first event `method` not taken yet, waiting up
        to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method:
                    del self._events[i]
                    return event["params"]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PageError(f"no {method} within {timeout} s")
            self._socket.settimeout(remaining)
            try:
                message = self._receive()
            except websocket.WebSocketTimeoutException:
                continue
            finally:
                self._socket.settimeout(CALL_SECONDS)
            if "method" in message:
                self._events.append(message)

    # ---- the page

    def navigate(self, url):
        """Loads `url` and waits for its load event."""
        self._events = [e for e in self._events
                        if e["method"] != "Page.loadEventFired"]
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise PageError(f"{url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression):
        """The value of the JavaScript `expression` in the page (awaited if
        it is a promise), as JSON gives it; PageError if it throws."""
        result = self.call("Runtime.evaluate", expression=expression,
                           awaitPromise=True, returnByValue=True,
                           userGesture=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise PageError(
                f"{expression}: " + details.get("exception", {}).get(
                    "description", details.get("text", "threw")))
        return result["result"].get("value")

    def wait_for(self, expression, timeout=10):
        """Waits until the JavaScript `expression` is truthy and returns its
        value; PageError after `timeout` seconds, with the last value and
        the page's console."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise PageError(
                    f"still {value!r} after {timeout} s: {expression}\n"
                    "console:\n" + "\n".join(self.console))
            time.sleep(0.05)

    def box(self, selector):
        """The element's bounding box in CSS pixels: (x, y, width, height),
        after scrolling it into view."""
        return tuple(self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'});"
            " const b = e.getBoundingClientRect();"
            " return [b.x, b.y, b.width, b.height]; })()"))

    def click(self, x, y):
        """A left click at (x, y), in CSS pixels of the viewport."""
        self.mouse("mousePressed", x, y)
        self.mouse("mouseReleased", x, y)

    def drag(self, start, end, steps=5):
        """Presses the left button at `start`, moves to `end` in `steps`
        moves and releases it there."""
        self.mouse("mousePressed", *start)
        for i in range(1, steps + 1):
            self.mouse("mouseMoved",
                       start[0] + (end[0] - start[0]) * i / steps,
                       start[1] + (end[1] - start[1]) * i / steps,
                       buttons=1)
        self.mouse("mouseReleased", *end)

    def mouse(self, kind, x, y, buttons=None):
        """One Input.dispatchMouseEvent with the left button."""
        params = {"type": kind, "x": x, "y": y, "button": "left"}
        if kind != "mouseMoved":
            params["clickCount"] = 1
            params["buttons"] = 1 if kind == "mousePressed" else 0
        elif buttons is not None:
            params["buttons"] = buttons
        self.call("Input.dispatchMouseEvent", **params)

    def type_text(self, text):
        """Types `text` into the focused element."""
        self.call("Input.insertText", text=text)

    def screenshot(self, path):
        """Writes a PNG of the viewport to `path`."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
