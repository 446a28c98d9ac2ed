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


def test_levers_print_rows_and_recipe(tmp_path):
    json_path = tmp_path / "levers.json"
    names = ("baseline", "memory_optimizer_off", "keras_recipe", "baseline_end")
    completed = run_levers(["--image_size=75", "--batch_size=2", "--warmup_steps=1",
                            "--windows=1", "--levers=memory_optimizer_off,keras_recipe",
                            "--json_output=%s" % json_path])
    output = completed.stdout + completed.stderr

    assert completed.returncode == 0, output
    for name in names:
        assert re.search(r"^%s +.* [0-9.]+ images/sec" % name, output, re.MULTILINE), output
    results = json.loads(json_path.read_text(encoding="utf-8"))["results"]
    for name in names:
        assert results[name]["summary"]["median"] > 0
    assert results["baseline"]["recipe"].startswith("aux head on (weight 0.4), label smoothing "
                                                    "0.1, EMA decay 0.9999")
    assert results["keras_recipe"]["recipe"].startswith("aux head off (weight 0.4), label "
                                                        "smoothing 0, EMA decay 0")
    assert results["keras_recipe"]["recipe"].endswith("weight decay 0, gradient clip 0")


def test_unknown_lever_is_rejected():
    completed = run_levers(["--levers=warp_drive"])

    assert completed.returncode == 2
    assert "warp_drive" in completed.stderr
    assert "memory_optimizer_off" in completed.stderr
