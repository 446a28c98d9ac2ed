"""The datasets that benchmarks/pipeline_levers.py times, one per variant and mode.

Every variant except `straightforward` and the plain_stage_* profile reads the records the
way data/imagenet_tfrecord.py does (record_reading's checked shards, the shuffle buffer and
one seed per record), so only the lever differs from `ours`.
"""

import tensorflow as tf

from data import imagenet_tfrecord
from data import inception_preprocessing as preprocessing
from data import record_reading

SEED = 0

# Cumulative stages of our training preprocessing: stage_k runs stages 1..k of a record.
STAGES = ("parse", "seeds", "window", "decode", "flip", "resize", "scale")

# Cumulative stages of the straightforward training pipeline.
PLAIN_STAGES = ("parse", "decode", "crop", "flip", "resize", "scale")

STAGE_VARIANTS = (tuple("stage_" + stage for stage in STAGES)
                  + tuple("plain_stage_" + stage for stage in PLAIN_STAGES))

# Shuffle buffer of the straightforward pipeline, as in benchmarks/input_pipeline.py.
PLAIN_SHUFFLE_BUFFER = 1024

# JPEG DCT scaling factors that tf.io.decode_jpeg and decode_and_crop_jpeg accept.
DCT_RATIOS = (1, 2, 4, 8)

# Keyword arguments of the datasets for the tf.data setting variants.
TUNING_VARIANTS = {
    "ours": {},
    "private_threadpool": {"num_private_threads": "usable cores"},
    "parallel_1": {"num_parallel_calls": 1},
    "parallel_2": {"num_parallel_calls": 2},
    "prefetch_0": {"prefetch_batches": 0},
    "prefetch_1": {"prefetch_batches": 1},
    "prefetch_4": {"prefetch_batches": 4},
    "uint8_output": {"image_dtype": "uint8"},
    "threaded_reads": {"num_parallel_reads": tf.data.AUTOTUNE},
    "uint8_threaded_reads": {"image_dtype": "uint8", "num_parallel_reads": tf.data.AUTOTUNE},
    "unthreaded_reads": {"num_parallel_reads": 0},
}


# Environment variables of the child process for the allocator variants, which otherwise
# build `ours` or `straightforward`. TF_CPU_ALLOCATOR_USE_BFC=true makes TensorFlow keep
# freed CPU memory in its own BFC pool instead of returning large blocks to the system.
ENV_VARIANTS = {
    "bfc_allocator": ("ours", {"TF_CPU_ALLOCATOR_USE_BFC": "true"}),
    "straightforward_bfc": ("straightforward", {"TF_CPU_ALLOCATOR_USE_BFC": "true"}),
    # What the runner feeds: uint8 batches in a process with the BFC allocator.
    "runner": ("uint8_output", {"TF_CPU_ALLOCATOR_USE_BFC": "true"}),
    # The runner, reading the shards from tf.data's threads even on one core.
    "runner_threaded_reads": ("uint8_threaded_reads", {"TF_CPU_ALLOCATOR_USE_BFC": "true"}),
}


def supports(variant, mode):
    """Return whether `variant` has a dataset for `mode`; the stage profile is training only."""
    return mode == "training" or variant not in STAGE_VARIANTS


def build_dataset(variant, mode, config):
    """Return the endless dataset of (images or probes, labels) batches of one variant."""
    if variant in ENV_VARIANTS:
        variant = ENV_VARIANTS[variant][0]
    if variant in TUNING_VARIANTS:
        return tuned_dataset(TUNING_VARIANTS[variant], mode, config)
    if variant == "straightforward":
        from benchmarks import input_pipeline

        train, evaluation = input_pipeline.straightforward_datasets(
            config["data_dir"], config["batch_size"], config["image_size"])
        return train if mode == "training" else evaluation
    if variant.startswith("plain_stage_"):
        return plain_stage_dataset(variant[len("plain_stage_"):], config)
    if variant.startswith("stage_"):
        return our_stage_dataset(variant[len("stage_"):], config)
    return variant_dataset(variant, mode, config)


def tuned_dataset(tuning, mode, config):
    """Return our own training or (repeated) evaluation dataset with tf.data settings."""
    tuning = dict(tuning)
    if tuning.get("num_private_threads") == "usable cores":
        tuning["num_private_threads"] = record_reading.usable_cores()
    if mode == "training":
        return imagenet_tfrecord.training_dataset(
            config["data_dir"], config["batch_size"], config["image_size"], seed=SEED,
            **tuning)
    return imagenet_tfrecord.evaluation_dataset(
        config["data_dir"], config["batch_size"], config["image_size"], **tuning).repeat()


def our_records(mode, data_dir):
    """Return our (serialized, element seed) training records or serialized evaluation records."""
    if mode == "training":
        paths = imagenet_tfrecord.find_shards(data_dir, "train")
        return imagenet_tfrecord.training_records(
            paths, 1, 0, SEED, use_caching=False,
            shuffle_buffer_size=imagenet_tfrecord.DEFAULT_SHUFFLE_BUFFER_SIZE,
            skip_records=0, skip_corrupt_records=False)
    paths = imagenet_tfrecord.find_shards(data_dir, "validation")
    return imagenet_tfrecord.worker_records(paths, 1, 0, shuffle_files=False,
                                            seed=None).repeat()


def batched(records, preprocess, batch_size):
    dataset = records.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def decode_whole(image_buffer, window_of_shape):
    """Decode the whole JPEG, then slice the window that window_of_shape returns."""
    image = tf.io.decode_jpeg(image_buffer, channels=3)
    window = window_of_shape(tf.shape(image))
    return tf.slice(image, [window[0], window[1], 0], [window[2], window[3], 3])


def dct_decoder(image_size):
    """Return decode(image_buffer, window_of_shape) that uses JPEG DCT scaling when it can.

    The ratio is the largest of DCT_RATIOS with the crop's shorter side at least ratio x
    image_size, so the reduced crop is still no smaller than the output. The window is
    given to decode_and_crop_jpeg in the reduced image's pixels, rounded down.
    """
    def decode(image_buffer, window_of_shape):
        window = window_of_shape(tf.image.extract_jpeg_shape(image_buffer))
        shorter_side = tf.minimum(window[2], window[3])
        ratio_index = tf.constant(0)
        for index, ratio in enumerate(DCT_RATIOS[1:], start=1):
            ratio_index = tf.where(shorter_side >= ratio * image_size, index, ratio_index)

        def branch(ratio):
            return lambda: tf.image.decode_and_crop_jpeg(image_buffer, window // ratio,
                                                         channels=3, ratio=ratio)

        image = tf.switch_case(ratio_index, [branch(ratio) for ratio in DCT_RATIOS])
        image.set_shape([None, None, 3])
        return image

    return decode


def variant_dataset(variant, mode, config):
    """Return ours with another JPEG decode: whole_decode or dct_ratio."""
    image_size = config["image_size"]
    finish = preprocessing.scale_to_unit_range
    if variant == "whole_decode":
        decode = decode_whole
    elif variant == "dct_ratio":
        decode = dct_decoder(image_size)
    else:
        raise ValueError("unknown pipeline variant %r." % (variant,))

    def train_preprocess(serialized, element_seed):
        image_buffer, label, bboxes = imagenet_tfrecord.parse_train_record(serialized)
        crop_seed, flip_seed = preprocessing.split_train_seed(tf.stack([element_seed, 0]))
        image = decode(image_buffer, lambda shape: preprocessing.distorted_crop_window(
            shape, bboxes, crop_seed))
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
        return finish(preprocessing.resize(image, image_size)), label

    def eval_preprocess(serialized):
        image_buffer, label = imagenet_tfrecord.parse_eval_record(serialized)
        image = decode(image_buffer, lambda shape: preprocessing.central_crop_window(
            shape, preprocessing.DEFAULT_EVAL_CROP_FRACTION))
        return finish(preprocessing.resize(image, image_size)), label

    preprocess = train_preprocess if mode == "training" else eval_preprocess
    return batched(our_records(mode, config["data_dir"]), preprocess, config["batch_size"])


def probe(tensor):
    """Return one float32 value that depends on `tensor`, so its stage cannot be pruned.

    A stage ends in this probe instead of the image, so that tensors of varying shape can be
    batched and the batch copy of whole images stays out of the stage's time.
    """
    if tensor.dtype == tf.string:
        return tf.cast(tf.strings.length(tensor), tf.float32)
    return tf.cast(tf.reshape(tensor, [-1])[0], tf.float32)


def our_stage_dataset(stop, config):
    """Return our training pipeline stopped after stage `stop` (one of STAGES)."""
    last = STAGES.index(stop)
    image_size = config["image_size"]

    def preprocess(serialized, element_seed):
        image_buffer, label, bboxes = imagenet_tfrecord.parse_train_record(serialized)
        stages = [image_buffer]
        if last >= STAGES.index("seeds"):
            crop_seed, flip_seed = preprocessing.split_train_seed(tf.stack([element_seed, 0]))
            stages.append(crop_seed)
        if last >= STAGES.index("window"):
            window = preprocessing.distorted_crop_window(
                tf.image.extract_jpeg_shape(image_buffer), bboxes, crop_seed)
            stages.append(window)
        if last >= STAGES.index("decode"):
            stages.append(tf.image.decode_and_crop_jpeg(image_buffer, window, channels=3))
        if last >= STAGES.index("flip"):
            stages.append(tf.image.stateless_random_flip_left_right(stages[-1], seed=flip_seed))
        if last >= STAGES.index("resize"):
            stages.append(preprocessing.resize(stages[-1], image_size))
        if last >= STAGES.index("scale"):
            stages.append(preprocessing.scale_to_unit_range(stages[-1]))
        return probe(stages[-1]), label

    return batched(our_records("training", config["data_dir"]), preprocess,
                   config["batch_size"])


def plain_stage_dataset(stop, config):
    """Return the straightforward training pipeline stopped after `stop` (of PLAIN_STAGES)."""
    last = PLAIN_STAGES.index(stop)
    image_size = config["image_size"]

    def preprocess(serialized):
        image_buffer, label, bboxes = imagenet_tfrecord.parse_train_record(serialized)
        stages = [image_buffer]
        if last >= PLAIN_STAGES.index("decode"):
            stages.append(tf.io.decode_jpeg(image_buffer, channels=3))
        if last >= PLAIN_STAGES.index("crop"):
            begin, size, _ = tf.image.sample_distorted_bounding_box(
                tf.shape(stages[-1]), bounding_boxes=preprocessing.boxes_or_whole_image(bboxes),
                min_object_covered=preprocessing.MIN_OBJECT_COVERED,
                aspect_ratio_range=preprocessing.ASPECT_RATIO_RANGE,
                area_range=preprocessing.AREA_RANGE, max_attempts=preprocessing.MAX_ATTEMPTS,
                use_image_if_no_bounding_boxes=True)
            stages.append(tf.slice(stages[-1], begin, size))
        if last >= PLAIN_STAGES.index("flip"):
            stages.append(tf.image.random_flip_left_right(stages[-1]))
        if last >= PLAIN_STAGES.index("resize"):
            stages.append(tf.image.resize(stages[-1], [image_size, image_size]))
        if last >= PLAIN_STAGES.index("scale"):
            stages.append(stages[-1] / 127.5 - 1.0)
        return probe(stages[-1]), label

    paths = imagenet_tfrecord.find_shards(config["data_dir"], "train")
    records = tf.data.TFRecordDataset(paths).shuffle(PLAIN_SHUFFLE_BUFFER, seed=SEED).repeat()
    return batched(records, preprocess, config["batch_size"])
