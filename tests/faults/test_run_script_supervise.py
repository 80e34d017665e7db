"""Issue 15: killing the worker made scripts/run.sh stop the web server too. run.sh now starts each
worker and beat under `supervise`, which starts a command again when it exits. This runs run.sh's own
`supervise` function (cut out of the script, so the test follows any change to it) on a stand-in
command: SIGKILL the command, it comes back; SIGTERM the loop, command and loop both stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.web_server import RUN_SH

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RESTART_WITHIN_S = 30  # run.sh waits 3 s before starting it again; generous for a loaded machine


def _supervise_function() -> str:
    match = re.search(r"^supervise\(\) \{\n.*?^\}\n", RUN_SH.read_text(), flags=re.MULTILINE | re.DOTALL)
    assert match, "scripts/run.sh has no supervise() function"
    return match.group(0)


def _pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_killed_worker_is_started_again_and_sigterm_stops_the_loop(tmp_path):
    started = tmp_path / "started"  # one line per start of the stand-in worker: its pid
    script = (
        "set -euo pipefail\n"
        f"VAR_DIR={tmp_path}\nmkdir -p $VAR_DIR/log\npids=()\n"
        + _supervise_function()
        + f"supervise worker bash -c 'echo $$ >> {started}; exec sleep 300'\n"
        + 'echo "${pids[0]}"\nwait\n'
    )
    loop = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        supervisor = int(loop.stdout.readline())
        _wait(lambda: len(_pids(started)) == 1, RESTART_WITHIN_S, "the worker starting")
        first = _pids(started)[0]
        os.kill(first, signal.SIGKILL)  # the worker dies (kill -9, out of memory)
        _wait(lambda: len(_pids(started)) == 2, RESTART_WITHIN_S, "the worker starting again")
        second = _pids(started)[1]
        assert second != first and _alive(second) and _alive(supervisor)

        os.kill(supervisor, signal.SIGTERM)  # what run.sh's stop_all sends
        _wait(lambda: not _alive(second) and not _alive(supervisor), RESTART_WITHIN_S, "the loop stopping")
        time.sleep(4)  # longer than the restart delay: nothing starts again after a stop
        assert len(_pids(started)) == 2
        assert (tmp_path / "log" / "worker.log").exists()
    finally:
        loop.kill()
        loop.wait(timeout=10)
        for pid in _pids(started):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
