"""TensorFlow settings of --deterministic, beyond the thread counts."""

import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.core.protobuf import rewriter_config_pb2
from tensorflow.python.eager import context


def turn_off_memory_optimizer():
    """Turn off Grappler's memory optimizer for the tf.function calls of this thread.

    TensorFlow's public options have no switch for it, so this edits the configuration that
    the eager context passes to every function call.
    """
    options = context.context().function_call_options
    config = config_pb2.ConfigProto()
    config.ParseFromString(options.config_proto_serialized)
    config.graph_options.rewrite_options.memory_optimization = (
        rewriter_config_pb2.RewriterConfig.NO_MEM_OPT)
    options.config_proto_serialized = config


def enable_determinism():
    """Make every training step compute the same values in every process.

    Deterministic kernels are not enough. When Grappler's memory optimizer estimates a peak
    above 80 % of the device's memory, it rewrites a sum of more than two gradients (AddN)
    into a temporary variable that adds each gradient as it arrives. The arrival order
    depends on thread timing, so the rounding of the sum changes from run to run. With the
    auxiliary head this hit the gradient into mixed_6e.
    """
    tf.config.experimental.enable_op_determinism()
    turn_off_memory_optimizer()
