"""Smoke test of the training benchmark: one tiny run must print its figures.

It checks that the benchmark runs end to end, not how fast anything is. Tracing the training
step takes most of its time.
NOTE: its run time on an idle 2-core machine is not measured yet. On a machine shared with
other test suites (load 5-7, run at nice 19) it took 11 minutes.
"""

import re
import subprocess
import sys

from tests.conftest import REPO_ROOT

def test_train_throughput_prints_figures():
    command = [sys.executable, "-m", "benchmarks.train_throughput", "--skip_keras",
               "--batch_size=2", "--image_size=75", "--warmup_steps=1", "--windows=1",
               "--matmul_size=256", "--matmul_repeats=1", "--timeout=600"]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=900, check=False)
    output = completed.stdout + completed.stderr

    assert completed.returncode == 0, output
    assert re.search(r"^ours \(synthetic\): +[0-9.]+ images/sec \(median of 1", output,
                     re.MULTILINE), output
    assert re.search(r"^matmul 256x256 float32: [0-9.]+ GFLOP/s", output, re.MULTILINE), output
    assert re.search(r"matmul-bound [0-9.]+ images/sec, reached [0-9]+ %", output), output
