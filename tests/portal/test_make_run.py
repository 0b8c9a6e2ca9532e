"""`make run` as someone trying the portal meets it: on another port, in a calm terminal, stopped cleanly."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

# Settings of the test run that must not leak into the embedded default.
NOT_PASSED_ON = ("DATABASE_URL", "REDIS_URL", "LOG_FILE", "LOG_LEVEL", "SITE_URL", "DJANGO_SETTINGS_MODULE", "PORT")


@dataclass
class Run:
    port: int
    before_stop: list[str]
    after_stop: list[str]
    returncode: int | None
    stop_seconds: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    """The processes `pid` started (Linux's /proc; none where that cannot be read)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _read_lines(stream: object, lines: queue.Queue) -> None:
    for raw in stream:
        lines.put(raw.rstrip("\n"))
    lines.put(None)


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    tmp = tmp_path_factory.mktemp("make-run")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key not in NOT_PASSED_ON}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "BROKER_DIR": str(tmp / "broker"),
        "DISPATCH_SECONDS": "2",  # the first booking confirmation goes out within seconds
        "PYTHONUNBUFFERED": "1",
    }
    venv = Path(sys.executable).parent.parent
    # `-o messages`: the translations are compiled already; the run recipe is what is tried here.
    command = ["make", "--no-print-directory", "-o", "messages", "run", f"PORT={port}", f"PY={sys.executable}"]
    command.append(f"VENV={venv}")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    before: list[str] = []
    # How long a person might wait; the loop ends as soon as the message is printed. Parallel test
    # workers on a busy 2-core machine (make test) can take most of a minute to migrate and start.
    deadline = time.monotonic() + 120
    try:
        # Wait for the first message the portal "sends", to its closing line.
        in_message = False
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            before.append(line)
            if line.startswith("----- "):
                in_message = True
            elif in_message and line == "-----":
                break
        # A moment more, as a person would leave it running.
        time.sleep(3)
        while not lines.empty():
            line = lines.get()
            if line is not None:
                before.append(line)
    finally:
        started = time.monotonic()
        # What a TERM to the group (a closed terminal) or to make alone does: both must end cleanly.
        recipe_shells = _children(process.pid)
        os.killpg(process.pid, signal.SIGTERM)
        # make passes its own TERM on to the recipe's shell, which so gets a second one. Sent here
        # while the shell is stopping the worker (the worst moment), not whenever make gets to it.
        time.sleep(0.1)
        for pid in recipe_shells:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        stop_seconds = time.monotonic() - started
    time.sleep(0.5)
    after = []
    while not lines.empty():
        line = lines.get()
        if line is not None:
            after.append(line)
    return Run(port, before, after, process.returncode, stop_seconds)


def test_make_run_on_another_port_prints_links_on_that_port(make_run: Run) -> None:
    text = "\n".join(make_run.before_stop)
    assert "----- " in text, "no message was printed:\n" + text
    messages = text[text.index("----- ") :]
    links = re.findall(r"https?://[^\s/]+/\S*", messages)
    assert links
    assert {link.split("/")[2] for link in links} == {f"127.0.0.1:{make_run.port}"}, links


def test_make_run_prints_no_request_lines_and_no_banners(make_run: Run) -> None:
    text = "\n".join(make_run.before_stop)
    assert '"logger": "portal.request"' not in text
    assert "-------------- celery@" not in text
    assert "Applying " not in text
    # Logins first, then the message: the message is near the logins, not hundreds of lines below.
    message_at = next(n for n, line in enumerate(make_run.before_stop) if line.startswith("----- "))
    assert message_at < 40, text


def test_make_run_stops_cleanly_on_term(make_run: Run) -> None:
    text = "\n".join(make_run.after_stop)
    assert make_run.stop_seconds < 20
    assert "Segmentation fault" not in text and "Traceback" not in text and "make: ***" not in text, text
    assert len(make_run.after_stop) < 5, text
