"""The drawing page's server: the page itself, and the network's answer to a drawing.

GET  /          the page (page.html: plain HTML and JavaScript, nothing fetched from elsewhere)
GET  /model     what the page shows above the panels: the model's name, its layers
POST /predict   {"side": S, "pixels": [S*S numbers in 0..1, row by row]} -> the digit the
                network sees (28x28), the ten probabilities, the predicted class, and each
                layer's output for that digit

Bad requests get a 4xx and a one-line message in JSON ({"error": ...}). Inference is scratchnn's,
one drawing at a time (the network reuses its buffers: a lock keeps two requests apart).
"""

import json
import math
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

import scratchnn as sn
from pipeline.data.digit_frame import SIDE, frame_digit
from pipeline.data.image_csv import DataError

PAGE = Path(__file__).with_name("page.html")
MAX_BODY = 1 << 20  # bytes: a 280x280 drawing as JSON is well under this
SIDES = (SIDE, 280)  # the smallest and largest drawing the page may send
CHANNELS_SHOWN = 8  # of an image-shaped layer output, the first this many channels
UNITS_SHOWN = 256  # of a flat layer output, the first this many units


class BadRequest(ValueError):
    """A request the server refuses; ``status`` says how (400, 404, 411, 413)."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_drawing(body: bytes) -> np.ndarray:
    """The (side, side) drawing in a request body, or ``BadRequest`` saying what is wrong."""
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
    if not isinstance(request, dict) or not {"side", "pixels"} <= request.keys():
        raise BadRequest(HTTPStatus.BAD_REQUEST, 'expected {"side": S, "pixels": [S*S numbers]}')
    side, pixels = request["side"], request["pixels"]
    if not isinstance(side, int) or isinstance(side, bool) or not SIDES[0] <= side <= SIDES[1]:
        raise BadRequest(
            HTTPStatus.BAD_REQUEST, f"side={side!r}: an integer from {SIDES[0]} to {SIDES[1]}"
        )
    if not isinstance(pixels, list) or len(pixels) != side * side:
        got = len(pixels) if isinstance(pixels, list) else type(pixels).__name__
        raise BadRequest(
            HTTPStatus.BAD_REQUEST, f"pixels: expected {side}x{side} = {side * side}, got {got}"
        )
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in pixels
    ):
        raise BadRequest(HTTPStatus.BAD_REQUEST, "pixels: every value must be a finite number")
    drawing = np.array(pixels, dtype=np.float64).reshape(side, side)
    if drawing.min() < 0 or drawing.max() > 1:
        raise BadRequest(HTTPStatus.BAD_REQUEST, "pixels: every value must be in [0, 1]")
    return drawing


def layer_outputs(network: sn.Network, digit: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The logits (n_classes,) of one digit (784,) and each layer's output for it."""
    x = digit.reshape(1, *network.input_shape).astype(network.dtype)
    outputs = []
    for layer in network.layers:
        x = layer.forward(x, training=False)
        outputs.append(x[0].copy())  # the next layer may work in place over x
    return outputs[-1], outputs


def shown(values: np.ndarray) -> dict[str, Any]:
    """A layer's output as the page draws it: image-shaped ones (h, w, c) as their first
    channels, sequences (T, D) as one map, flat ones as their first units; rounded, to keep the
    answer small."""
    if values.ndim == 3:
        channels = values[:, :, :CHANNELS_SHOWN]
        return {
            "shape": list(values.shape),
            "maps": np.round(np.moveaxis(channels, 2, 0), 3).tolist(),
        }
    if values.ndim == 2:  # a sequence (steps or tokens, features): one map, a row per step
        return {"shape": list(values.shape), "maps": [np.round(values, 3).tolist()]}
    flat = values.reshape(-1)
    return {"shape": list(values.shape), "units": np.round(flat[:UNITS_SHOWN], 3).tolist()}


class Demo:
    """A loaded network and what the page asks of it."""

    def __init__(self, network: sn.Network, name: str) -> None:
        self.network, self.name = network, name
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        layers = [f"{i}_{layer.type_name}" for i, layer in enumerate(self.network.layers)]
        return {"name": self.name, "layers": layers, "classes": list(range(10))}

    def predict(self, drawing: np.ndarray) -> dict[str, Any]:
        try:
            digit = frame_digit(drawing)
        except DataError:  # nothing drawn (yet): an empty frame
            digit = np.zeros((SIDE, SIDE))
        with self._lock:
            logits, outputs = layer_outputs(self.network, digit)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        names = self.describe()["layers"]
        return {
            "digit": np.round(digit, 3).tolist(),
            "probabilities": [float(v) for v in p],
            "predicted": int(np.argmax(p)),
            "layers": [{"name": n, **shown(v)} for n, v in zip(names, outputs, strict=True)],
        }


def handler_for(demo: Demo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/":
                self._send(HTTPStatus.OK, PAGE.read_bytes(), "text/html; charset=utf-8")
            elif self.path == "/model":
                self._json(HTTPStatus.OK, demo.describe())
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"{self.path}: no such page"})

        def do_POST(self) -> None:
            try:
                if self.path != "/predict":
                    raise BadRequest(HTTPStatus.NOT_FOUND, f"{self.path}: POST goes to /predict")
                self._json(HTTPStatus.OK, demo.predict(parse_drawing(self._body())))
            except BadRequest as error:
                self._json(error.status, {"error": str(error)})

        def _body(self) -> bytes:
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required")
            if int(length) > MAX_BODY:
                raise BadRequest(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"the body has {int(length)} bytes; at most {MAX_BODY}",
                )
            return self.rfile.read(int(length))

        def _json(self, status: HTTPStatus, value: Any) -> None:
            self._send(status, json.dumps(value).encode(), "application/json")

        def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per stroke would bury the address

    return Handler


def serve(demo: Demo, port: int) -> ThreadingHTTPServer:
    """A server for ``demo`` on 127.0.0.1 only (``port`` 0: any free port); not yet serving."""
    return ThreadingHTTPServer(("127.0.0.1", port), handler_for(demo))
