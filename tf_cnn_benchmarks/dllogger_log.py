"""The dllogger JSON log: flags as PARAMETER, metric metadata, per-step and summary records.

Uses NVIDIA's `dllogger` package when it is importable. It is not on PyPI, so otherwise a
built-in writer produces the same lines: `DLLL ` followed by one JSON object with
`timestamp`, `datetime`, `elapsedtime`, `type` and either `step` and `data` (LOG records) or
`metric` and `metadata` (METADATA records).
"""

import datetime
import json
import os
import time

try:
    import dllogger
except ImportError:
    dllogger = None

LINE_PREFIX = "DLLL "


class _JsonLinesWriter:
    """Writes dllogger's JSON-stream format without the dllogger package."""

    def __init__(self, path):
        self.start_time = time.time()
        self.log_file = open(path, "a", encoding="utf-8")

    def _write(self, record):
        now = time.time()
        line = {
            "timestamp": str(now),
            "datetime": str(datetime.datetime.fromtimestamp(now, datetime.timezone.utc)),
            "elapsedtime": str(now - self.start_time),
        }
        line.update(record)
        self.log_file.write(LINE_PREFIX + json.dumps(line) + "\n")

    def log(self, step, data):
        self._write({"type": "LOG", "step": step, "data": data})

    def metadata(self, metric, metadata):
        self._write({"type": "METADATA", "metric": metric, "metadata": metadata})

    def flush(self):
        self.log_file.flush()

    def close(self):
        self.log_file.close()


class _DlloggerPackageWriter:
    """Forwards to the dllogger package's JSON-stream backend."""

    def __init__(self, path):
        dllogger.init(backends=[dllogger.JSONStreamBackend(dllogger.Verbosity.VERBOSE, path,
                                                           append=True)])

    def log(self, step, data):
        dllogger.log(step=step, data=data)

    def metadata(self, metric, metadata):
        dllogger.metadata(metric, metadata)

    def flush(self):
        dllogger.flush()

    def close(self):
        dllogger.flush()


class DlloggerLog:
    """The run's dllogger file; all methods do nothing when no path is given."""

    def __init__(self, path):
        self.path = path
        self.writer = None
        if path is None:
            return
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if dllogger is not None:
            self.writer = _DlloggerPackageWriter(path)
        else:
            self.writer = _JsonLinesWriter(path)

    def log_parameters(self, parameters):
        if self.writer:
            self.writer.log("PARAMETER", parameters)

    def log_metadata(self, metric, unit=None, metric_format=None):
        if self.writer:
            metadata = {}
            if unit:
                metadata["unit"] = unit
            if metric_format:
                metadata["format"] = metric_format
            self.writer.metadata(metric, metadata)

    def log_step(self, step, data):
        """Log `data` at `step`: a tuple such as (epoch, step), or () for the run summary."""
        if self.writer:
            self.writer.log(list(step), data)
            self.writer.flush()

    def close(self):
        if self.writer:
            self.writer.close()
            self.writer = None
