"""Smoke test of benchmarks.levers: a tiny screen prints a row for each setting it runs."""

import json
import re
import subprocess
import sys

from tests.conftest import REPO_ROOT


def run_levers(arguments):
    command = [sys.executable, "-m", "benchmarks.levers"] + arguments
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
                          check=False)


def test_memory_optimizer_lever_prints_rows(tmp_path):
    json_path = tmp_path / "levers.json"
    completed = run_levers(["--image_size=75", "--batch_size=2", "--warmup_steps=1",
                            "--windows=1", "--levers=memory_optimizer_off",
                            "--json_output=%s" % json_path])
    output = completed.stdout + completed.stderr

    assert completed.returncode == 0, output
    for name in ("baseline", "memory_optimizer_off", "baseline_end"):
        assert re.search(r"^%s +.* [0-9.]+ images/sec" % name, output, re.MULTILINE), output
    report = json.loads(json_path.read_text(encoding="utf-8"))
    for name in ("baseline", "memory_optimizer_off", "baseline_end"):
        assert report["results"][name]["summary"]["median"] > 0


def test_unknown_lever_is_rejected():
    completed = run_levers(["--levers=warp_drive"])

    assert completed.returncode == 2
    assert "warp_drive" in completed.stderr
    assert "memory_optimizer_off" in completed.stderr
