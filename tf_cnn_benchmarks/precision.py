"""Compute precision (float32, mixed float16, mixed bfloat16) and what it means on this
machine."""

import tensorflow as tf


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
