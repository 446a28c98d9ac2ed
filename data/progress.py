"""A progress line with images/sec and the estimated time left.

On a terminal the line is redrawn in place at most every REDRAW_SECONDS; otherwise (a log
file, a pipe) a full line is printed every LOG_SECONDS, so logs stay short.
"""

import sys
import time

REDRAW_SECONDS = 0.5
LOG_SECONDS = 30.0


def format_duration(seconds):
    seconds = int(round(seconds))
    hours, remainder = divmod(seconds, 3600)
    minutes, seconds = divmod(remainder, 60)
    if hours:
        return "%dh%02dm" % (hours, minutes)
    return "%dm%02ds" % (minutes, seconds)


class Progress:
    """Counts the images of one split and prints their rate and ETA to `stream`."""

    def __init__(self, label, total, stream=None, clock=time.monotonic):
        self.label = label
        self.total = total
        self.done = 0
        self.resumed = 0  # images in shards that an earlier run finished, not timed
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._start = clock()
        self._last_print = None
        self._interactive = hasattr(self._stream, "isatty") and self._stream.isatty()

    def advance(self, count=1, resumed=False):
        self.done += count
        if resumed:
            self.resumed += count
        now = self._clock()
        interval = REDRAW_SECONDS if self._interactive else LOG_SECONDS
        if self._last_print is None or now - self._last_print >= interval:
            self._last_print = now
            self._print(self.line())

    def rate(self):
        """Return the images per second decoded by this run."""
        seconds = self._clock() - self._start
        return (self.done - self.resumed) / seconds if seconds > 0 else 0.0

    def line(self):
        rate = self.rate()
        remaining = self.total - self.done
        eta = format_duration(remaining / rate) if rate > 0 else "unknown"
        percent = 100.0 * self.done / self.total if self.total else 100.0
        return "%s: %d/%d images (%.1f %%), %.1f images/sec, ETA %s" % (
            self.label, self.done, self.total, percent, rate, eta)

    def close(self):
        if self._interactive:
            self._print(self.line())
            self._stream.write("\n")
            self._stream.flush()

    def _print(self, line):
        if self._interactive:
            self._stream.write("\r" + line)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
