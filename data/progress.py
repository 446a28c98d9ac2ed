"""A progress line with images/sec and the estimated time left.

On a terminal the line is redrawn in place at most every REDRAW_SECONDS; otherwise (a log
file, a pipe) a full line is printed every LOG_SECONDS, so logs stay short.
"""

import sys
import time

REDRAW_SECONDS = 0.5
LOG_SECONDS = 30.0


def format_duration(seconds):
    """Return `seconds` as h:mm:ss, the runner's ETA format too."""
    seconds = int(round(seconds))
    return "%d:%02d:%02d" % (seconds // 3600, seconds % 3600 // 60, seconds % 60)


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
        # Time and count of the first decoded images. The ETA uses the rate after them,
        # because the time before them includes the start-up of the decode workers.
        self._first = None
        self._last_print = None
        self._interactive = hasattr(self._stream, "isatty") and self._stream.isatty()

    def advance(self, count=1, resumed=False):
        self.done += count
        if resumed:
            self.resumed += count
        now = self._clock()
        if self._first is None and self.done > self.resumed:
            self._first = (now, self.done - self.resumed)
        interval = REDRAW_SECONDS if self._interactive else LOG_SECONDS
        if self._last_print is None or now - self._last_print >= interval:
            self._last_print = now
            self._print(self.line())

    def rate(self):
        """Return the images per second decoded by this run."""
        seconds = self._clock() - self._start
        return (self.done - self.resumed) / seconds if seconds > 0 else 0.0

    def steady_rate(self):
        """Return the images per second since the first decoded images, or None before."""
        if self._first is None:
            return None
        first_time, first_count = self._first
        seconds = self._clock() - first_time
        images = self.done - self.resumed - first_count
        if seconds <= 0 or images <= 0:
            return None
        return images / seconds

    def line(self):
        rate = self.rate()
        steady_rate = self.steady_rate()
        remaining = self.total - self.done
        if remaining <= 0:
            eta = format_duration(0)
        elif steady_rate:
            eta = format_duration(remaining / steady_rate)
        else:
            eta = "unknown"
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
