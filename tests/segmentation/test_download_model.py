"""`manage.py download_model`: fetched from a real HTTP server on 127.0.0.1 (never the internet), resumed
with Range requests, verified by sha256, registered through the model registry."""

from __future__ import annotations

import dataclasses
import hashlib
import random
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from segmentation.models import SamModel
from segmentation.sam.loader import build_sam
from segmentation.services import downloads

PAYLOAD = random.Random(12).randbytes(3 * downloads.CHUNK_BYTES + 12345)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that stops reading (a refused size) closes the socket under the handler: expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class CheckpointServer:
    """Serves bytes by path with Range support; a path in drop_once is cut off halfway on its first GET
    (the headers promise the whole body, then the connection closes)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.drop_once: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-")) if self.headers["Range"] else 0
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.end_headers()
                    return
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if self.path in server.drop_once:
                    server.drop_once.discard(self.path)
                    self.wfile.write(body[start : start + (len(body) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body[start:])

            def log_message(self, *args):
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/weights"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def serve(self, filename: str, body: bytes) -> str:
        self.files[f"/weights/{filename}"] = body
        return f"{self.base_url}/{filename}"


@pytest.fixture
def server():
    checkpoint_server = CheckpointServer()
    checkpoint_server.thread.start()
    yield checkpoint_server
    checkpoint_server.httpd.shutdown()
    checkpoint_server.httpd.server_close()


@pytest.fixture
def fake_vit_b(server, monkeypatch, settings):
    """The vit_b catalogue entry describing PAYLOAD (its hash and size), served under its published
    name by the local server, which SAM_DOWNLOAD_BASE_URL points at."""
    entry = dataclasses.replace(
        downloads.OFFICIAL_CHECKPOINTS["vit_b"], sha256=hashlib.sha256(PAYLOAD).hexdigest(), size=len(PAYLOAD)
    )
    monkeypatch.setitem(downloads.OFFICIAL_CHECKPOINTS, "vit_b", entry)
    server.serve(entry.filename, PAYLOAD)
    settings.SEGMENTATION_DOWNLOAD_BASE_URL = server.base_url
    return entry


@pytest.fixture
def dest(tmp_path):
    """The download folder (tmp_path itself also holds the test's media folder)."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    return folder


def _run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("download_model", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_catalogue_names_the_official_files():
    catalogue = downloads.OFFICIAL_CHECKPOINTS
    assert set(catalogue) == {"vit_h", "vit_l", "vit_b", "vit_t"}
    for name, entry in catalogue.items():
        assert entry.architecture == name and len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
        assert entry.url.endswith("/" + entry.filename)
    assert catalogue["vit_b"].url == "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth"
    assert catalogue["vit_t"].url.startswith("https://github.com/ChaoningZhang/MobileSAM/raw/")
    mirror = downloads.checkpoint_url(catalogue["vit_h"], base_url="http://mirror/sam/")
    assert mirror == "http://mirror/sam/sam_vit_h_4b8939.pth"


def test_download_verifies_the_hash_and_reports_progress(fake_vit_b, server, dest):
    out, err = _run("vit_b", "--dest", str(dest), "--no-register")
    path = dest / fake_vit_b.filename
    assert path.read_bytes() == PAYLOAD
    assert not (dest / f"{fake_vit_b.filename}.part").exists()
    assert server.requests == [(f"/weights/{fake_vit_b.filename}", None)]
    assert f"sha256 {fake_vit_b.sha256} verified" in out and "register_model --checkpoint" in out
    # Not a terminal: plain progress lines, each with bytes, percentage and speed, the last at 100%.
    lines = [line for line in err.splitlines() if "MB/s" in line]
    assert 2 <= len(lines) <= 11 and "\r" not in err
    assert "100.0%" in lines[-1] and f"{len(PAYLOAD) / 1e6:.1f} / {len(PAYLOAD) / 1e6:.1f} MB" in lines[-1]
    # A second run finds the verified file and fetches nothing.
    _run("vit_b", "--dest", str(dest), "--no-register")
    assert len(server.requests) == 1


def test_dropped_connection_is_resumed_with_range(fake_vit_b, server, dest):
    server.drop_once.add(f"/weights/{fake_vit_b.filename}")
    _run("vit_b", "--dest", str(dest), "--no-register")
    half = len(PAYLOAD) // 2
    assert server.requests == [
        (f"/weights/{fake_vit_b.filename}", None),
        (f"/weights/{fake_vit_b.filename}", f"bytes={half}-"),
    ]
    assert (dest / fake_vit_b.filename).read_bytes() == PAYLOAD


def test_part_file_of_a_broken_run_is_resumed_from_url(fake_vit_b, server, dest, settings):
    settings.SEGMENTATION_DOWNLOAD_BASE_URL = "http://127.0.0.1:9/nothing-listens-here"  # --url wins
    url = server.serve("elsewhere.pth", PAYLOAD)
    (dest / f"{fake_vit_b.filename}.part").write_bytes(PAYLOAD[:1000])
    _out, err = _run("vit_b", "--dest", str(dest), "--url", url, "--no-register")
    assert "Resuming" in err
    assert server.requests == [("/weights/elsewhere.pth", "bytes=1000-")]
    assert (dest / fake_vit_b.filename).read_bytes() == PAYLOAD


def test_wrong_hash_is_refused_and_the_partial_file_removed(server, dest, monkeypatch, settings):
    entry = downloads.OFFICIAL_CHECKPOINTS["vit_b"]  # the real published hash; the server has other bytes
    monkeypatch.setitem(downloads.OFFICIAL_CHECKPOINTS, "vit_b", dataclasses.replace(entry, size=len(PAYLOAD)))
    server.serve(entry.filename, PAYLOAD)
    settings.SEGMENTATION_DOWNLOAD_BASE_URL = server.base_url
    with pytest.raises(CommandError, match=f"sha256 is {hashlib.sha256(PAYLOAD).hexdigest()}, not the published"):
        _run("vit_b", "--dest", str(dest), "--no-register")
    assert list(dest.iterdir()) == []


def test_wrong_size_is_refused_before_downloading(fake_vit_b, server, dest):
    server.serve(fake_vit_b.filename, PAYLOAD + b"trailing")
    with pytest.raises(CommandError, match="not the published"):
        _run("vit_b", "--dest", str(dest), "--no-register")
    assert list(dest.iterdir()) == []


def test_unknown_model_name_is_a_clear_error(dest):
    with pytest.raises(CommandError, match=r"Unknown model 'vit_x': choose one of vit_h, vit_l, vit_b, vit_t"):
        _run("vit_x", "--dest", str(dest))


def test_progress_bar_redraws_one_line_on_a_terminal():
    written: list[str] = []
    clock = iter([0.0, 0.05, 1.0, 2.0]).__next__
    bar = downloads.ProgressBar(written.append, tty=True, clock=clock)
    bar(1_000_000, 4_000_000)  # drawn (first)
    bar(2_000_000, 4_000_000)  # 50 ms later: skipped
    bar(3_000_000, 4_000_000)  # 2 MB in 1 s
    bar(4_000_000, 4_000_000)  # complete: always drawn
    bar.finish()
    assert len(written) == 4 and all(text.startswith("\r[") for text in written[:3]) and written[3] == "\n"
    assert " 75.0%  3.0 / 4.0 MB  2.0 MB/s" in written[1]
    assert "[" + "#" * 30 + "] 100.0%" in written[2]
    # Stopped between two redraws (a dropped connection, Ctrl+C): the line is brought up to date first.
    written.clear()
    bar = downloads.ProgressBar(written.append, tty=True, clock=iter([0.0, 0.05, 1.0]).__next__)
    bar(1_000_000, 4_000_000)
    bar(2_000_000, 4_000_000)
    bar.finish()
    assert len(written) == 2 and written[1].startswith("\r[") and " 50.0%  2.0 / 4.0 MB  1.0 MB/s\n" in written[1]


@pytest.mark.slow
@pytest.mark.django_db
def test_downloaded_mobile_sam_is_registered_as_default(server, tmp_path, monkeypatch, settings):
    """A MobileSAM-shaped checkpoint with random weights stands in for mobile_sam.pt: the registry
    loads it strictly and exports its decoders, as it would the published file."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    source = tmp_path / "source.pt"
    torch.save(build_sam("vit_t").state_dict(), source)
    body = source.read_bytes()
    entry = dataclasses.replace(
        downloads.OFFICIAL_CHECKPOINTS["vit_t"], sha256=hashlib.sha256(body).hexdigest(), size=len(body)
    )
    monkeypatch.setitem(downloads.OFFICIAL_CHECKPOINTS, "vit_t", entry)
    server.serve(entry.filename, body)
    settings.SEGMENTATION_DOWNLOAD_BASE_URL = server.base_url
    settings.SEGMENTATION_CHECKPOINT_DIR = tmp_path / "checkpoints"  # the default --dest; decoder cache too
    out, _err = _run("vit_t", "--default")
    model = SamModel.objects.get(is_default=True)
    path = tmp_path / "checkpoints" / "mobile_sam.pt"
    assert (model.architecture, model.checkpoint_sha256, model.checkpoint_path) == ("vit_t", entry.sha256, str(path))
    assert model.name == "vit_t (mobile_sam.pt)" and model.decoder_int8_sha256
    assert "now the default model" in out and f"SAM_CHECKPOINT={path} SAM_CHECKPOINT_TYPE=vit_t" in out
