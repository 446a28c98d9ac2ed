"""Tests of oneDNN's float32 math mode (--onednn_fpmath_mode) and the CPU flags it depends on."""

import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tf_cnn_benchmarks import hardware
from tf_cnn_benchmarks import precision

TIMEOUT_SECONDS = 600

# Applies the mode after importing TensorFlow, as the runner does, then saves the result of
# one float32 convolution of fixed inputs.
CONVOLUTION_SCRIPT = """
import sys
import numpy as np
import tensorflow as tf
from tf_cnn_benchmarks import precision
precision.set_onednn_fpmath_mode(sys.argv[1])
generator = np.random.default_rng(0)
images = tf.constant(generator.standard_normal((2, 17, 17, 64)), tf.float32)
kernel = tf.constant(generator.standard_normal((3, 3, 64, 96)), tf.float32)
output = tf.nn.conv2d(images, kernel, 1, "SAME").numpy()
np.save(sys.argv[2], output)
"""


@pytest.mark.parametrize("mode, expected", [
    ("bf16", {"TF_SET_ONEDNN_FPMATH_MODE": "BF16", "OTHER": "1"}),
    ("strict", {"OTHER": "1"}),
    (None, {"TF_SET_ONEDNN_FPMATH_MODE": "BF16", "ONEDNN_DEFAULT_FPMATH_MODE": "ANY",
            "OTHER": "1"}),
])
def test_set_mode_changes_only_its_variables(mode, expected):
    environ = {"TF_SET_ONEDNN_FPMATH_MODE": "BF16", "ONEDNN_DEFAULT_FPMATH_MODE": "ANY",
               "OTHER": "1"}
    if mode == "bf16":
        environ = {"OTHER": "1"}
    precision.set_onednn_fpmath_mode(mode, environ)
    assert environ == expected


@pytest.mark.parametrize("environ, expected", [
    ({}, False),
    ({"TF_SET_ONEDNN_FPMATH_MODE": "BF16"}, True),
    ({"TF_SET_ONEDNN_FPMATH_MODE": "bf16"}, False),  # TensorFlow compares case-sensitively.
    ({"ONEDNN_DEFAULT_FPMATH_MODE": "any"}, True),
    ({"ONEDNN_DEFAULT_FPMATH_MODE": "STRICT"}, False),
])
def test_bf16_math_read_from_either_variable(environ, expected):
    assert precision.onednn_bf16_math(environ) is expected


def test_notes_warn_without_amx():
    environ = {"TF_SET_ONEDNN_FPMATH_MODE": "BF16"}
    text, notes = precision.onednn_fpmath_notes({"avx512_bf16"}, [], environ)
    assert text == ", oneDNN bfloat16 math for float32 CPU ops"
    assert len(notes) == 1
    assert "most likely has no effect on this CPU" in notes[0]

    text, notes = precision.onednn_fpmath_notes({"avx512_bf16", "amx_bf16"}, ["GPU:0"],
                                                environ)
    assert text == ", oneDNN bfloat16 math for float32 CPU ops"
    assert notes == ["--onednn_fpmath_mode=bf16 changes only the ops that run on the CPU; the "
                     "GPUs compute as --use_fp16/--use_bf16 say."]


def test_notes_empty_in_strict_mode():
    assert precision.onednn_fpmath_notes(set(), ["GPU:0"], {}) == ("", [])


def test_cpu_flags_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx512f "
                       "amx_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert hardware.cpu_flags(str(cpuinfo)) == {"fpu", "avx512f", "amx_bf16"}
    assert hardware.cpu_flags(str(tmp_path / "missing")) == set()


@pytest.mark.keras3
def test_bf16_math_applies_after_import_on_amx(tmp_path):
    """The runner sets the variable after importing TensorFlow; oneDNN must still read it."""
    if "amx_bf16" not in hardware.cpu_flags():
        pytest.skip("oneDNN rounds float32 to bfloat16 only on CPUs with AMX-BF16; this CPU "
                    "has none")
    outputs = {}
    for mode in ("strict", "bf16"):
        path = str(tmp_path / ("%s.npy" % mode))
        subprocess.run([sys.executable, "-c", CONVOLUTION_SCRIPT, mode, path], cwd=REPO_ROOT,
                       check=True, timeout=TIMEOUT_SECONDS)
        outputs[mode] = np.load(path)

    difference = np.abs(outputs["bf16"] - outputs["strict"]).max()
    scale = np.abs(outputs["strict"]).max()
    # bfloat16 keeps 8 significant bits, so rounding moves each input by up to 2**-9 of
    # itself. On an AMX CPU the largest change was about 2**-9 of the largest output, and
    # 2**-6 leaves margin for the sums of 576 products.
    assert difference > 0
    assert difference < 2 ** -6 * scale


@pytest.mark.keras3
def test_runner_reports_bf16_math():
    result = subprocess.run(
        [sys.executable, "-m", "tf_cnn_benchmarks", "--onednn_fpmath_mode=bf16",
         "--forward_only", "--num_batches=1", "--num_warmup_batches=0", "--image_size=75",
         "--batch_size=2"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("Precision:   float32 compute, float32 variables, oneDNN bfloat16 math for "
            "float32 CPU ops") in result.stdout
    warned = "most likely has no effect on this CPU" in result.stdout
    assert warned == ("amx_bf16" not in hardware.cpu_flags())
