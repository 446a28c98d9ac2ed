"""Helpers shared by the benchmarks: child processes, their peak memory, and summaries.

Every measurement runs in its own Python process, so that the dtype policy, the thread
settings and TF_ENABLE_ONEDNN_OPTS of one configuration cannot leak into the next, and so
that each process's peak resident memory belongs to one configuration only.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A worker prints its figures on one line that starts with this marker, as JSON.
RESULT_MARKER = "BENCHMARK_RESULT "

# Seconds between polls while a child process runs.
POLL_SECONDS = 0.2


class ChildFailed(RuntimeError):
    """A benchmark child process exited non-zero, timed out or printed no result."""


def load_average():
    """Return the 1, 5 and 15 minute load averages (processes ready to run, Linux)."""
    return os.getloadavg()


def format_load(load=None):
    load = load or load_average()
    return "load average %.2f, %.2f, %.2f (1, 5, 15 min) on %d CPU cores" % (
        load[0], load[1], load[2], os.cpu_count() or 1)


def cpu_model():
    """Return the CPU model name from /proc/cpuinfo, or platform's guess elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def peak_memory_mib():
    """Return this process's peak resident memory in MiB (ru_maxrss is in KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def summarize(rates):
    """Return {median, min, max, mad, n} of a list of rates.

    mad is 1.4826 times the median absolute deviation, which estimates the standard
    deviation of normally distributed values and ignores a few outliers.
    """
    values = np.asarray(rates, dtype=np.float64)
    median = float(np.median(values))
    return {"median": median, "min": float(values.min()), "max": float(values.max()),
            "mad": float(1.4826 * np.median(np.abs(values - median))), "n": int(values.size)}


def format_rate(summary, unit="images/sec"):
    return "%.2f %s (median of %d, min %.2f, max %.2f, MAD %.2f)" % (
        summary["median"], unit, summary["n"], summary["min"], summary["max"], summary["mad"])


class HelpFormatter(argparse.RawDescriptionHelpFormatter,
                    argparse.ArgumentDefaultsHelpFormatter):
    """--help layout: the module docstring as written, and each flag's default."""


def argument_parser(module_doc):
    """Return an ArgumentParser whose --help shows `module_doc` with its layout kept."""
    return argparse.ArgumentParser(description=module_doc, formatter_class=HelpFormatter)


def parse_name_list(parser, text, choices, flag_name):
    """Return the names in comma-separated `text`, or every choice for "all".

    Calls parser.error, which exits with status 2, for a name that is not in `choices`.
    """
    if text == "all":
        return list(choices)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        parser.error("--%s is empty; give names from %s, or all."
                     % (flag_name, ", ".join(choices)))
    unknown = [name for name in names if name not in choices]
    if unknown:
        parser.error("unknown --%s %s; choose from %s."
                     % (flag_name, ", ".join(unknown), ", ".join(choices)))
    return names


# Shard names that data.build_imagenet_tfrecord writes, by split.
SHARD_PATTERNS = {"train": "train-*-of-*", "validation": "validation-*-of-*"}


def check_at_least(parser, arguments, names, minimum=1):
    """Call parser.error (exit status 2) for the first flag of `names` below `minimum`."""
    for name in names:
        value = getattr(arguments, name)
        if value < minimum:
            parser.error("--%s must be at least %d, got %d." % (name, minimum, value))


def check_shard_folder(parser, data_dir, splits):
    """Call parser.error (exit status 2) unless `data_dir` contains shards of every split.

    Runs before any measurement, so that a wrong folder costs no time.
    """
    if not os.path.isdir(data_dir):
        parser.error("--data_dir=%s is not a folder. Pass the folder of TFRecord shards that "
                     "data.build_imagenet_tfrecord writes." % data_dir)
    for split in splits:
        pattern = SHARD_PATTERNS[split]
        if not glob.glob(os.path.join(data_dir, pattern)):
            parser.error("--data_dir=%s contains no files matching %s. Convert the images "
                         "with python -m data.build_imagenet_tfrecord first."
                         % (data_dir, pattern))


def check_json_output(parser, path):
    """Call parser.error (exit status 2) when `path` cannot be written; None is accepted.

    Runs before any measurement, so that a typo in the path does not throw the figures away.
    """
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        parser.error("--json_output=%s is a folder; pass a file name such as %s."
                     % (path, os.path.join(path, "figures.json")))
    if not os.path.isdir(folder):
        parser.error("--json_output=%s: the folder %s does not exist; create it first."
                     % (path, folder))
    if not os.access(folder, os.W_OK):
        parser.error("--json_output=%s: the folder %s is not writable; choose another path."
                     % (path, folder))


def write_json(path, report):
    """Write `report` to `path` as indented JSON; do nothing when `path` is None.

    Writes a temporary file in the same folder and renames it, so an earlier file at `path`
    is replaced whole or not at all. Adds the time of writing as `written_at` (UTC).
    """
    if path is None:
        return
    report = dict(report)
    report.setdefault("written_at", datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"))
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary_path = tempfile.mkstemp(prefix=".json_output.", dir=folder)
    try:
        # mkstemp creates the file readable by its owner only.
        os.fchmod(descriptor, 0o644)
        with os.fdopen(descriptor, "w", encoding="utf-8") as output_file:
            json.dump(report, output_file, indent=1)
        os.replace(temporary_path, path)
    except BaseException:
        os.unlink(temporary_path)
        raise


def emit_result(result):
    """Print a worker's result line, which run_worker parses."""
    result = dict(result)
    result["peak_memory_mib"] = peak_memory_mib()
    print(RESULT_MARKER + json.dumps(result), flush=True)


def _wait_with_timeout(process, timeout_seconds):
    """Wait for `process`; return (exit status, ru_maxrss in KiB) of that process alone.

    os.wait4 gives the rusage of one child, unlike RUSAGE_CHILDREN, which keeps the maximum
    over every child this process has waited for.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_maxrss
        if time.monotonic() > deadline:
            process.kill()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            raise ChildFailed("timed out after %.0f s: %s" % (timeout_seconds,
                                                             " ".join(process.args)))
        time.sleep(POLL_SECONDS)


def child_environment(env_overrides=None):
    """Return this process's environment with `env_overrides` applied; None removes a name."""
    env = dict(os.environ)
    for name, value in (env_overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env


def run_child(command, timeout_seconds, env_overrides=None, cpus=None, echo=False):
    """Run `command` from the repository root; return (exit code, output, peak MiB).

    env_overrides: variables set (or removed, when the value is None) for the child.
    cpus: a set of CPU indices the child may run on (its affinity), or None for all.
    """
    env = child_environment(env_overrides)
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")

    def set_affinity():
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as output_file:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output_file,
                                   stderr=subprocess.STDOUT, preexec_fn=set_affinity)
        try:
            exit_code, maxrss_kib = _wait_with_timeout(process, timeout_seconds)
        finally:
            output_file.seek(0)
            output = output_file.read()
            if echo:
                sys.stdout.write(output)
    return exit_code, output, maxrss_kib / 1024.0


def run_worker(module, config, timeout_seconds, env_overrides=None, cpus=None):
    """Run `python -m module --config=JSON` and return the dict of its result line.

    Raises ChildFailed with the end of the child's output when it exits non-zero or prints
    no result line.
    """
    command = [sys.executable, "-m", module, "--config", json.dumps(config)]
    exit_code, output, maxrss_mib = run_child(command, timeout_seconds, env_overrides, cpus)
    result_lines = [line for line in output.splitlines() if line.startswith(RESULT_MARKER)]
    if exit_code != 0 or not result_lines:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise ChildFailed("%s %s exited with status %d and no result:\n%s"
                          % (module, json.dumps(config), exit_code, tail))
    result = json.loads(result_lines[-1][len(RESULT_MARKER):])
    result["child_peak_memory_mib"] = maxrss_mib
    return result


def configure_threads(intra_threads, inter_threads):
    """Apply TensorFlow's thread pool sizes; 0 or None keeps TensorFlow's default.

    Must run before TensorFlow executes its first op.
    """
    import tensorflow as tf

    if intra_threads:
        tf.config.threading.set_intra_op_parallelism_threads(intra_threads)
    if inter_threads:
        tf.config.threading.set_inter_op_parallelism_threads(inter_threads)
