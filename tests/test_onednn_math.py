"""Tests of oneDNN's float32 math mode (--onednn_fpmath_mode) and the CPU flags it depends on."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tf_cnn_benchmarks import hardware
from tf_cnn_benchmarks import onednn_math

TIMEOUT_SECONDS = 600

BF16_TEXT = ", oneDNN bfloat16 math for float32 CPU ops"

# Applies the mode after importing TensorFlow, as the runner does, then saves the result of
# one float32 convolution of fixed inputs.
CONVOLUTION_SCRIPT = """
import sys
import numpy as np
import tensorflow as tf
from tf_cnn_benchmarks import onednn_math
onednn_math.set_mode(sys.argv[1])
generator = np.random.default_rng(0)
images = tf.constant(generator.standard_normal((2, 17, 17, 64)), tf.float32)
kernel = tf.constant(generator.standard_normal((3, 3, 64, 96)), tf.float32)
output = tf.nn.conv2d(images, kernel, 1, "SAME").numpy()
np.save(sys.argv[2], output)
"""

ALL_BF16 = {"TF_SET_ONEDNN_FPMATH_MODE": "BF16", "ONEDNN_DEFAULT_FPMATH_MODE": "ANY",
            "DNNL_DEFAULT_FPMATH_MODE": "BF16"}


@pytest.mark.parametrize("mode, environ, expected", [
    ("bf16", {"ONEDNN_DEFAULT_FPMATH_MODE": "STRICT", "OTHER": "1"},
     {"TF_SET_ONEDNN_FPMATH_MODE": "BF16", "ONEDNN_DEFAULT_FPMATH_MODE": "STRICT",
      "OTHER": "1"}),
    ("strict", dict(ALL_BF16, OTHER="1"), {"OTHER": "1"}),
    (None, dict(ALL_BF16, OTHER="1"), dict(ALL_BF16, OTHER="1")),
])
def test_set_mode_changes_only_its_variables(mode, environ, expected):
    onednn_math.set_mode(mode, environ)
    assert environ == expected


@pytest.mark.parametrize("environ, expected", [
    ({}, False),
    ({"TF_SET_ONEDNN_FPMATH_MODE": "BF16"}, True),
    ({"TF_SET_ONEDNN_FPMATH_MODE": "bf16"}, False),  # TensorFlow compares case-sensitively.
    ({"ONEDNN_DEFAULT_FPMATH_MODE": "any"}, True),
    ({"ONEDNN_DEFAULT_FPMATH_MODE": "STRICT"}, False),
    ({"DNNL_DEFAULT_FPMATH_MODE": "BF16"}, True),
    ({"TF_SET_ONEDNN_FPMATH_MODE": "BF16", "TF_ENABLE_ONEDNN_OPTS": "0"}, False),
])
def test_bf16_math_from_each_variable(environ, expected):
    assert onednn_math.bf16_math(environ) is expected


def test_describe_strict_is_silent():
    assert onednn_math.describe(set(), ["GPU:0"], {}) == ("", [])


def test_describe_with_amx():
    environ = {"TF_SET_ONEDNN_FPMATH_MODE": "BF16"}
    assert onednn_math.describe({"amx_bf16"}, [], environ) == (BF16_TEXT, [])


def test_describe_warns_without_amx():
    environ = {"DNNL_DEFAULT_FPMATH_MODE": "BF16"}
    text, notes = onednn_math.describe({"avx512_bf16"}, [], environ)
    assert text == BF16_TEXT
    assert len(notes) == 1
    assert notes[0].startswith("WARNING: oneDNN's bfloat16 math for float32 "
                               "(--onednn_fpmath_mode=bf16 or one of TF_SET_ONEDNN_FPMATH_MODE, "
                               "ONEDNN_DEFAULT_FPMATH_MODE, DNNL_DEFAULT_FPMATH_MODE) most "
                               "likely has no effect on this CPU")


def test_describe_with_gpus_skips_amx_warning():
    environ = {"TF_SET_ONEDNN_FPMATH_MODE": "BF16"}
    text, notes = onednn_math.describe(set(), ["GPU:0"], environ)
    assert text == BF16_TEXT
    assert len(notes) == 1
    assert "changes only the ops that run on the CPU" in notes[0]


def test_describe_with_onednn_off():
    environ = {"TF_SET_ONEDNN_FPMATH_MODE": "BF16", "TF_ENABLE_ONEDNN_OPTS": "0"}
    text, notes = onednn_math.describe({"amx_bf16"}, [], environ)
    assert text == ""
    assert len(notes) == 1
    assert "has no effect, because TF_ENABLE_ONEDNN_OPTS=0 turns oneDNN off" in notes[0]


def test_cpu_flags_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx512f "
                       "amx_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert hardware.cpu_flags(str(cpuinfo)) == {"fpu", "avx512f", "amx_bf16"}
    assert hardware.cpu_flags(str(tmp_path / "missing")) == set()


def convolution(mode, environment_changes, path):
    environment = dict(os.environ, **environment_changes)
    subprocess.run([sys.executable, "-c", CONVOLUTION_SCRIPT, mode, path], cwd=REPO_ROOT,
                   env=environment, check=True, timeout=TIMEOUT_SECONDS)
    return np.load(path)


@pytest.mark.keras3
def test_modes_change_convolution_on_amx(tmp_path):
    """The runner sets the mode after importing TensorFlow; oneDNN must still apply it."""
    if "amx_bf16" not in hardware.cpu_flags():
        pytest.skip("oneDNN rounds float32 to bfloat16 only on CPUs with AMX-BF16; this CPU "
                    "has none")
    strict = convolution("strict", {}, str(tmp_path / "strict.npy"))
    bf16 = convolution("bf16", {}, str(tmp_path / "bf16.npy"))
    strict_over_variables = convolution("strict", ALL_BF16, str(tmp_path / "override.npy"))

    difference = np.abs(bf16 - strict).max()
    scale = np.abs(strict).max()
    # bfloat16 keeps 8 significant bits, so rounding moves each input by up to 2**-8 of
    # itself. On an AMX CPU the largest change was about 2**-9 of the largest output, and
    # 2**-6 leaves margin for the sums of 576 products.
    assert difference > 0
    assert difference < 2 ** -6 * scale
    np.testing.assert_array_equal(strict_over_variables, strict)


@pytest.mark.keras3
def test_runner_reports_bf16_math(tmp_path):
    train_dir = tmp_path / "train_dir"
    # The flag's values are case-insensitive, so the variable's spelling works too.
    result = subprocess.run(
        [sys.executable, "-m", "tf_cnn_benchmarks", "--onednn_fpmath_mode=BF16",
         "--num_batches=1", "--num_warmup_batches=0", "--image_size=75", "--batch_size=2",
         "--train_dir=%s" % train_dir],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("Precision:   float32 compute, float32 variables" + BF16_TEXT) in result.stdout
    warned = "most likely has no effect on this CPU" in result.stdout
    assert warned == ("amx_bf16" not in hardware.cpu_flags())

    parameters = {}
    for line in (train_dir / "dllogger.json").read_text().splitlines():
        record = json.loads(line[len("DLLL "):])
        if record.get("step") == "PARAMETER":
            parameters.update(record["data"])
    assert parameters["onednn_fpmath_mode"] == "bf16"
    assert parameters["onednn_bf16_math"] is True
