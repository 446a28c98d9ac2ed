"""Top-1 and top-5 accuracy over the validation shards."""

import time

import tensorflow as tf

from data import imagenet_tfrecord


def _logits_only(outputs):
    # Models with the auxiliary head return [logits, aux_logits]; evaluation uses the main one.
    if isinstance(outputs, (list, tuple)):
        return outputs[0]
    return outputs


def make_eval_step(model):
    @tf.function
    def eval_step(images, labels):
        outputs = model(imagenet_tfrecord.model_input(images), training=False)
        logits = tf.cast(_logits_only(outputs), tf.float32)
        labels = tf.cast(labels, tf.int32)
        top_1 = tf.math.in_top_k(labels, logits, 1)
        top_5 = tf.math.in_top_k(labels, logits, min(5, logits.shape[-1]))
        return (tf.reduce_sum(tf.cast(top_1, tf.int64)),
                tf.reduce_sum(tf.cast(top_5, tf.int64)),
                tf.shape(labels, out_type=tf.int64)[0])

    return eval_step


def count_correct(eval_step, dataset, max_images=None):
    """Return a dict with correct_top_1, correct_top_5, num_images and seconds.

    Scores every image the dataset yields once, or the first `max_images` of them.
    """
    correct_top_1 = 0
    correct_top_5 = 0
    num_images = 0
    start = time.time()

    for images, labels in dataset:
        if max_images is not None and num_images + int(labels.shape[0]) > max_images:
            keep = max_images - num_images
            images, labels = images[:keep], labels[:keep]
        top_1, top_5, count = eval_step(images, labels)
        correct_top_1 += int(top_1)
        correct_top_5 += int(top_5)
        num_images += int(count)
        if max_images is not None and num_images >= max_images:
            break

    return {"correct_top_1": correct_top_1, "correct_top_5": correct_top_5,
            "num_images": num_images, "seconds": time.time() - start}


def sum_over_workers(counts, replicas):
    """Return the counts of count_correct() summed over the workers' parts of the set.

    The time is the slowest worker's, since the workers score their parts in parallel.
    """
    if replicas.num_workers == 1:
        return counts
    own_seconds = [0.0] * replicas.num_workers
    own_seconds[replicas.worker_index] = counts["seconds"]
    summed = replicas.sum_over_workers(
        [counts["correct_top_1"], counts["correct_top_5"], counts["num_images"]] + own_seconds)
    return {"correct_top_1": int(round(summed[0])), "correct_top_5": int(round(summed[1])),
            "num_images": int(round(summed[2])), "seconds": float(max(summed[3:]))}


def accuracies(counts):
    """Return top_1_accuracy, top_5_accuracy, num_images and images_per_sec of `counts`."""
    num_images = counts["num_images"]
    if num_images == 0:
        raise ValueError("the validation dataset yielded no images.")
    return {
        "top_1_accuracy": counts["correct_top_1"] / num_images,
        "top_5_accuracy": counts["correct_top_5"] / num_images,
        "num_images": num_images,
        "images_per_sec": num_images / max(counts["seconds"], 1e-9),
    }

