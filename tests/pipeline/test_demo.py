"""The drawing page: MNIST's framing of a drawing, the server's answers and refusals, and the
page in headless Chromium, where strokes drawn with the mouse are classified."""

import base64
import itertools
import json
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.data.digit_frame import frame_digit
from pipeline.demo.server import Demo, serve, shown
from pipeline.network.models import load_model
from tests.browser import Browser
from tests.pipeline.test_plots import CHROMIUM, require_tool

MODEL = PROJECT_ROOT / "examples" / "original_weights"  # the original script's MNIST weights
ONE = [[(140, 40), (140, 240)]]
SEVEN = [[(70, 50), (210, 50), (120, 240)]]


def test_a_drawing_is_framed_as_mnist_digits_are():
    drawing = np.zeros((84, 84))
    drawing[2:42, 60:70] = 1.0  # a tall bar in the top right corner
    digit = frame_digit(drawing)
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    assert len(rows) == 20 and len(cols) == 5  # the longer side scaled to 20, proportions kept
    mass = digit.sum()
    centre = (digit.sum(axis=1) @ np.arange(28) / mass, digit.sum(axis=0) @ np.arange(28) / mass)
    np.testing.assert_allclose(centre, (13.5, 13.5), atol=0.5)


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    server = serve(Demo(load_model(MODEL), str(MODEL)), 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url + "/predict", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_drawing_gets_probabilities_and_every_layers_output(demo_url):
    drawing = np.zeros((28, 28))
    drawing[4:24, 13:15] = 1.0
    status, answer = post(
        demo_url, json.dumps({"side": 28, "pixels": drawing.ravel().tolist()}).encode()
    )
    assert status == 200
    assert sum(answer["probabilities"]) == pytest.approx(1) and answer["predicted"] == 1
    assert [layer["name"] for layer in answer["layers"]][:2] == ["0_dense", "1_relu"]
    assert np.array(answer["digit"]).shape == (28, 28)


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"not json", 400, "not JSON"),
        (b'{"side": 28}', 400, "expected"),
        (b'{"side": 28, "pixels": [0.5, 0.5]}', 400, "expected 28x28 = 784, got 2"),
        (b'{"side": 5000, "pixels": []}', 400, "side=5000"),
        (json.dumps({"side": 28, "pixels": ["a"] * 784}).encode(), 400, "finite number"),
        (json.dumps({"side": 28, "pixels": [2.0] * 784}).encode(), 400, "in [0, 1]"),
    ],
)
def test_bad_requests_get_a_4xx_and_a_message(demo_url, body, status, says):
    got, answer = post(demo_url, body)
    assert got == status and says in answer["error"]


def test_a_body_too_large_is_refused_before_it_is_read(demo_url):
    """The server answers from the declared length alone: the client has sent no body yet."""
    port = int(demo_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n")
        reply = connection.makefile("rb").read().decode()
    assert reply.startswith("HTTP/1.0 413") and "9999999 bytes; at most 1048576" in reply


def test_a_model_that_cannot_be_loaded_is_one_line_at_start_up(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.demo", str(tmp_path / "none.npz"), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'none.npz'}: no such weights file"
    ]


def draw(browser: Browser, strokes: list[list[tuple[int, int]]]) -> None:
    """Draw ``strokes`` (lists of points on the 280x280 board) with the mouse."""
    box = browser.evaluate(
        "(() => { const b = document.getElementById('board').getBoundingClientRect();"
        " return [b.left, b.top]; })()"
    )
    browser.evaluate("document.getElementById('clear').click()")
    for points in strokes:
        path = [
            (a[0] + (b[0] - a[0]) * t / 10, a[1] + (b[1] - a[1]) * t / 10)
            for a, b in itertools.pairwise(points)
            for t in range(11)
        ]
        for kind, (x, y) in (
            [("mousePressed", path[0])]
            + [("mouseMoved", p) for p in path]
            + [("mouseReleased", path[-1])]
        ):
            browser.send(
                "Input.dispatchMouseEvent",
                in_tab=True,
                type=kind,
                x=box[0] + x,
                y=box[1] + y,
                button="left",
                buttons=0 if kind == "mouseReleased" else 1,
                clickCount=1,
            )


def predicted_after(browser: Browser, strokes) -> str:
    draw(browser, strokes)
    browser.evaluate("new Promise((done) => setTimeout(done, 300))")
    for _ in range(100):  # the last answer is in when no request is under way
        if browser.evaluate("!busy && !again"):
            break
        browser.evaluate("new Promise((done) => setTimeout(done, 100))")
    return browser.evaluate("document.getElementById('predicted').textContent")


def screenshot(browser: Browser, path: Path) -> None:
    shot = browser.send("Page.captureScreenshot", in_tab=True, format="png")
    path.write_bytes(base64.b64decode(shot["data"]))


def test_strokes_drawn_on_the_page_are_classified(demo_url, tmp_path):
    require_tool(CHROMIUM, "chromium", "it draws on the page headless")
    with Browser(CHROMIUM, window=(1300, 1000)) as browser:
        browser.open(demo_url + "/", "model:", "Probabilities")
        assert predicted_after(browser, ONE) == "1"
        assert predicted_after(browser, SEVEN) == "7"
        text = browser.text()
        assert "0_dense [128]" in text or "0_dense" in text
        panels = browser.evaluate("document.querySelectorAll('.layer canvas').length")
        assert panels == len(load_model(MODEL).layers)
        assert browser.evaluate("document.querySelectorAll('.bar').length") == 10
        screenshot(browser, tmp_path / "demo.png")
        assert (tmp_path / "demo.png").stat().st_size > 10_000


def test_each_kind_of_layer_output_has_its_panel():
    maps = shown(np.ones((28, 28, 16)))
    assert maps["shape"] == [28, 28, 16] and np.array(maps["maps"]).shape == (8, 28, 28)
    sequence = shown(np.ones((17, 64)))  # tokens or steps: one map, a row each
    assert np.array(sequence["maps"]).shape == (1, 17, 64)
    assert len(shown(np.ones(1000))["units"]) == 256


def test_the_server_listens_on_127_0_0_1_only():
    server = serve(Demo(load_model(MODEL), str(MODEL)), 0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()
