"""Device discovery, data layout and thread settings."""

import os

import tensorflow as tf


def visible_gpus():
    """Return the GPUs this process may use (after any tf.config.set_visible_devices)."""
    return tf.config.get_visible_devices("GPU")


def resolve_data_format(requested, gpus):
    """Return ('channels_first' or 'channels_last', note or None) for the --data_format flag.

    TensorFlow's CPU kernels do not implement every op in NCHW (max pooling and fused batch
    norm among them), so NCHW falls back to NHWC without a GPU.
    """
    if requested is None:
        return ("channels_first" if gpus else "channels_last"), None
    if requested == "NCHW" and not gpus:
        return "channels_last", ("--data_format=NCHW needs a GPU; no GPU is visible, so this "
                                 "run uses NHWC.")
    return ("channels_first" if requested == "NCHW" else "channels_last"), None


def cpu_flags(path="/proc/cpuinfo"):
    """Return the set of CPU feature flags in `path` (empty where it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def configure_threads(num_intra_threads, num_inter_threads):
    """Apply the thread flags; must run before TensorFlow executes its first op."""
    if num_intra_threads:
        tf.config.threading.set_intra_op_parallelism_threads(num_intra_threads)
    if num_inter_threads:
        tf.config.threading.set_inter_op_parallelism_threads(num_inter_threads)


def cpu_allocator_description():
    """Return which allocator TensorFlow uses for CPU memory, from TF_CPU_ALLOCATOR_USE_BFC."""
    if os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", "").lower() in ("true", "1"):
        return "TensorFlow's BFC pool (TF_CPU_ALLOCATOR_USE_BFC=true)"
    return "the system allocator (TF_CPU_ALLOCATOR_USE_BFC unset or false)"


def device_description(gpus):
    if not gpus:
        return "CPU (no GPU visible)"
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return "%d GPU(s): %s" % (len(gpus), ", ".join(names))
