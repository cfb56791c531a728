"""Ports are picked by the kernel (``daemon.free_port``) and only then given to a service, so
another program can take one in between. A service that answers on its port must be the one
started (``daemon.listens``), and the cluster then starts it on other ports."""

import http.server
import threading
from collections.abc import Iterator

import pytest

from pipeline.cluster import daemon, s3, services


@pytest.fixture
def foreign_http_server() -> Iterator[int]:
    """Another program's HTTP server on loopback, answering 200 to every GET: the port it holds."""

    class Everything(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Everything)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


needs_moto = pytest.mark.skipif(s3.executable() is None, reason="moto_server not installed")


@needs_moto
def test_a_port_another_program_answers_on_is_taken_not_started(foreign_http_server, tmp_path):
    """The other server answers the readiness check (moto's /moto-api/), but it is not the
    service: PortTaken, not a cluster whose S3 is someone else's."""
    folder = tmp_path / "s3"
    try:
        with pytest.raises(daemon.PortTaken, match=f"port {foreign_http_server}"):
            s3.start(folder, foreign_http_server)
    finally:
        s3.stop(folder)
    assert not daemon.listens(folder, s3.NAME, foreign_http_server)


@needs_moto
def test_the_cluster_starts_a_service_on_other_ports_when_one_is_taken(
    foreign_http_server, tmp_path, monkeypatch
):
    picks = iter([foreign_http_server])
    free_port = daemon.free_port
    monkeypatch.setattr(daemon, "free_port", lambda: next(picks, None) or free_port())
    folder = tmp_path / "s3"
    try:
        url = services.on_free_ports(lambda port: s3.start(folder, port), s3.stop, folder)
        port = int(url.rsplit(":", 1)[1])
        assert port != foreign_http_server
        assert daemon.listens(folder, s3.NAME, port)
    finally:
        s3.stop(folder)
