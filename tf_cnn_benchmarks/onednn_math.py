"""oneDNN's math for float32 ops on the CPU: float32 throughout, or bfloat16 products.

In bfloat16 math oneDNN rounds the float32 inputs of its convolutions to bfloat16 and
accumulates the products in float32, much like TensorFloat-32 on NVIDIA GPUs but with fewer
mantissa bits. Variables, activations and the API stay float32. TensorFlow reads the
variables below once, when it creates its first oneDNN primitive, so --onednn_fpmath_mode is
applied before the first op. This module imports no TensorFlow, so that the benchmarks can
set up their child processes with it.
"""

import os

MODES = ("strict", "bf16")

# TensorFlow's variable: "BF16" turns bfloat16 math on, and nothing else does.
TENSORFLOW_VARIABLE = "TF_SET_ONEDNN_FPMATH_MODE"
# oneDNN's own default mode, under its current and its older name. "BF16" and "ANY" allow
# bfloat16. In a test on an AMX CPU each changed a convolution as TensorFlow's variable does.
ONEDNN_VARIABLES = ("ONEDNN_DEFAULT_FPMATH_MODE", "DNNL_DEFAULT_FPMATH_MODE")
VARIABLES = (TENSORFLOW_VARIABLE,) + ONEDNN_VARIABLES

# TF_ENABLE_ONEDNN_OPTS=0 turns TensorFlow's oneDNN kernels off, and with them the mode.
ONEDNN_OFF_VALUES = ("0", "false")


def set_mode(mode, environ=None):
    """Apply --onednn_fpmath_mode to the environment; call it before TensorFlow's first op.

    mode: "bf16", "strict" (float32 math, whatever the environment sets) or None, which
    leaves the environment as the user set it.
    """
    environ = os.environ if environ is None else environ
    if mode == "bf16":
        environ[TENSORFLOW_VARIABLE] = "BF16"
    elif mode == "strict":
        for name in VARIABLES:
            environ.pop(name, None)


def strict_environment():
    """Return environment changes that keep a child process in float32 math."""
    return {name: None for name in VARIABLES}


def bf16_math_requested(environ=None):
    """Return whether a variable requests bfloat16 math in oneDNN's float32 ops."""
    environ = os.environ if environ is None else environ
    if environ.get(TENSORFLOW_VARIABLE) == "BF16":
        return True
    return any(environ.get(name, "").upper() in ("BF16", "ANY") for name in ONEDNN_VARIABLES)


def onednn_off(environ=None):
    environ = os.environ if environ is None else environ
    return environ.get("TF_ENABLE_ONEDNN_OPTS", "").lower() in ONEDNN_OFF_VALUES


def bf16_math(environ=None):
    """Return whether oneDNN may compute float32 ops in bfloat16 in this environment."""
    return bf16_math_requested(environ) and not onednn_off(environ)


def describe(cpu_flags, gpus, environ=None):
    """Return (text for the runner's Precision line or "", list of one-line notes)."""
    if not bf16_math_requested(environ):
        return "", []
    setting = ("oneDNN's bfloat16 math for float32 (--onednn_fpmath_mode=bf16 or one of %s)"
               % ", ".join(VARIABLES))
    if onednn_off(environ):
        environ = os.environ if environ is None else environ
        return "", ["WARNING: %s has no effect, because TF_ENABLE_ONEDNN_OPTS=%s turns oneDNN "
                    "off. This run computes in float32."
                    % (setting, environ["TF_ENABLE_ONEDNN_OPTS"])]
    if gpus:
        # The GPUs run the convolutions, so whether the CPU has AMX matters little.
        return (", oneDNN bfloat16 math for float32 CPU ops",
                ["%s changes only the ops that run on the CPU. The GPUs compute as "
                 "--use_fp16 and --use_bf16 say." % setting])
    if "amx_bf16" not in cpu_flags:
        return (", oneDNN bfloat16 math for float32 CPU ops",
                ["WARNING: %s most likely has no effect on this CPU: it sped up convolutions "
                 "on a CPU with AMX-BF16, and on one with AVX512_BF16 alone the results "
                 "stayed bitwise float32 (docs/BENCHMARKS.md). /proc/cpuinfo lists no "
                 "amx_bf16." % setting])
    return ", oneDNN bfloat16 math for float32 CPU ops", []
