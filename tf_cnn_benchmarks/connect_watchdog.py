"""Stop a worker whose cluster does not connect in time, from a process of its own.

MultiWorkerMirroredStrategy waits for the other workers inside TensorFlow's C++ code, which
holds Python's global interpreter lock, so no Python thread or signal handler of the waiting
process runs, and TensorFlow catches SIGTERM. A separate process can still print the error
and send SIGKILL. The runner creates the strategy before it writes any file, so the kill
loses nothing.

    python connect_watchdog.py PARENT_PID TIMEOUT_SECONDS MESSAGE
"""

import os
import signal
import subprocess
import sys
import time

# How often the watchdog checks that its parent still runs, in seconds.
POLL_SECONDS = 1.0


class ConnectWatchdog:
    """A child process that kills this process after `timeout` seconds unless stopped."""

    def __init__(self, timeout, message):
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), str(os.getpid()), str(timeout),
             message])

    def stop(self):
        self._process.kill()
        self._process.wait()


def watch(parent_pid, timeout, message):
    """Wait `timeout` seconds, then print `message` and kill `parent_pid` if it still runs.

    A parent that ended is noticed as a change of this process's parent, so a reused
    process id is never killed.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.getppid() != parent_pid:
            return
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    if os.getppid() != parent_pid:
        return
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    os.kill(parent_pid, signal.SIGKILL)


if __name__ == "__main__":
    watch(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3])
