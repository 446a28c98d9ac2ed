"""Compute precision (float32, mixed float16, mixed bfloat16), oneDNN's float32 math mode,
and what they mean on this machine."""

import os

import tensorflow as tf

# TensorFlow reads this variable once, when it creates its first oneDNN primitive. "BF16"
# lets oneDNN round the float32 inputs of its convolutions to bfloat16 and accumulate the
# products in float32, much like TensorFloat-32 on NVIDIA GPUs but with fewer mantissa bits.
# oneDNN's own variable had the same effect in a test, and its "ANY" allows bfloat16 too.
ONEDNN_FPMATH_VARIABLE = "TF_SET_ONEDNN_FPMATH_MODE"
ONEDNN_OWN_FPMATH_VARIABLE = "ONEDNN_DEFAULT_FPMATH_MODE"
ONEDNN_FPMATH_MODES = ("strict", "bf16")


def set_onednn_fpmath_mode(mode, environ=None):
    """Apply --onednn_fpmath_mode to the environment; call it before TensorFlow's first op.

    mode: "bf16", "strict" (float32 math, whatever the environment sets) or None, which
    leaves the environment as the user set it.
    """
    environ = os.environ if environ is None else environ
    if mode == "bf16":
        environ[ONEDNN_FPMATH_VARIABLE] = "BF16"
    elif mode == "strict":
        environ.pop(ONEDNN_FPMATH_VARIABLE, None)
        environ.pop(ONEDNN_OWN_FPMATH_VARIABLE, None)


def onednn_bf16_math(environ=None):
    """Return whether the environment lets oneDNN compute float32 ops in bfloat16."""
    environ = os.environ if environ is None else environ
    return (environ.get(ONEDNN_FPMATH_VARIABLE) == "BF16"
            or environ.get(ONEDNN_OWN_FPMATH_VARIABLE, "").upper() in ("BF16", "ANY"))


def onednn_fpmath_notes(cpu_flags, gpus, environ=None):
    """Return (text for the Precision line or "", list of one-line notes) for oneDNN's mode."""
    if not onednn_bf16_math(environ):
        return "", []
    notes = []
    if "amx_bf16" not in cpu_flags:
        notes.append("WARNING: oneDNN's bfloat16 math for float32 (--onednn_fpmath_mode=bf16) "
                     "most likely has no effect on this CPU: it sped up convolutions on a CPU "
                     "with AMX-BF16, and on one with AVX512_BF16 alone the results stayed "
                     "bitwise float32 (docs/BENCHMARKS.md). /proc/cpuinfo lists no amx_bf16.")
    if gpus:
        notes.append("--onednn_fpmath_mode=bf16 changes only the ops that run on the CPU; "
                     "the GPUs compute as --use_fp16/--use_bf16 say.")
    return ", oneDNN bfloat16 math for float32 CPU ops", notes


def configure_precision(flag_values, gpus):
    """Set Keras' global dtype policy; return (compute dtype name, list of one-line notes).

    Variables stay float32 in every mode; float16 also needs loss scaling, which the training
    step does.
    """
    notes = []
    if flag_values.use_fp16:
        policy, compute_dtype = "mixed_float16", "float16"
        if not gpus:
            notes.append("--use_fp16 without a GPU: CPUs emulate most float16 math, so this "
                         "run is slower than float32. Use --use_fp16 on GPUs.")
    elif flag_values.use_bf16:
        policy, compute_dtype = "mixed_bfloat16", "bfloat16"
        if not gpus:
            notes.append("--use_bf16 on the CPU is faster than float32 only on CPUs with AMX "
                         "or AVX512-BF16; measure before relying on it.")
    else:
        policy, compute_dtype = "float32", "float32"

    tf.keras.mixed_precision.set_global_policy(policy)
    return compute_dtype, notes
