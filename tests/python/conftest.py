"""Starts the real server binary on 127.0.0.1 with a free port for each test module."""
import os
import re
import signal
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("MLOPS_BIN", os.path.join(ROOT, "target", "debug", "mlops-debug-env"))


class Server:
    def __init__(self, *flags):
        defaults = [] if "--drain-timeout-secs" in flags else ["--drain-timeout-secs", "1"]
        self.proc = subprocess.Popen(
            [BIN, "serve", "--host", "127.0.0.1", "--port", "0", *defaults, *flags],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        first = self.proc.stdout.readline()
        match = re.search(r"http://([\d.]+:\d+)", first)
        assert match, f"unexpected start-up line: {first!r}"
        self.addr = match.group(1)
        self.url = f"http://{self.addr}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def start_server():
    started = []

    def start(*flags):
        s = Server(*flags)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
