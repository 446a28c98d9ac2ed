"""--forward_only: time inference (forward passes in inference mode) without training."""

import time

import tensorflow as tf

from data import imagenet_tfrecord
from tf_cnn_benchmarks import throughput


def log(message):
    print(message, flush=True)


def run_forward_only(flag_values, model, dataset):
    """Run --num_batches forward passes and print the step table without a loss column."""
    num_batches = flag_values.num_batches or 100

    @tf.function(jit_compile=flag_values.xla or None)
    def forward(images):
        outputs = model(imagenet_tfrecord.model_input(images), training=False)
        return outputs[0] if isinstance(outputs, (list, tuple)) else outputs

    meter = throughput.ThroughputMeter(flag_values.batch_size, flag_values.num_warmup_batches)
    iterator = iter(dataset)
    log("Running warm up")
    log("Step\tImg/sec")
    for step in range(1, num_batches + 1):
        start = time.time()
        images, _ = next(iterator)
        forward(images).numpy()
        meter.record_step(time.time() - start)
        if step == 1 or step % flag_values.display_every == 0 or step == num_batches:
            mean, uncertainty, jitter = meter.speed_summary()
            log("%d\timages/sec: %.1f +/- %.1f (jitter = %.1f)" % (step, mean, uncertainty,
                                                                   jitter))
    log(throughput.format_total(meter))
    return meter.total_images_per_sec()
