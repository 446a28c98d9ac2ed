"""Tests of the TFRecord input pipeline on shards written from the demo folder's real JPEGs."""

import collections
import os

import numpy as np
import pytest
import tensorflow as tf

from data import dataset_info
from data import imagenet_tfrecord as pipeline

pytestmark = pytest.mark.keras3

NUM_TRAIN_SHARDS = 3
NUM_VALIDATION_SHARDS = 2

# Every other training record gets this box as [ymin, xmin, ymax, xmax], and the rest none.
TRAIN_BOX = (0.2, 0.1, 0.9, 0.7)


def bytes_feature(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def int64_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def float_feature(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def make_example(jpeg_path, label, synset, boxes):
    """Return a serialized Example with the standard ImageNet keys for one JPEG file."""
    with open(jpeg_path, "rb") as jpeg_file:
        encoded = jpeg_file.read()
    height, width = tf.image.extract_jpeg_shape(encoded).numpy()[:2]
    ymin, xmin, ymax, xmax = (list(corner) for corner in zip(*boxes)) if boxes else ([],) * 4

    features = {
        "image/encoded": bytes_feature([encoded]),
        "image/format": bytes_feature([b"JPEG"]),
        "image/class/label": int64_feature([label]),
        "image/class/synset": bytes_feature([synset.encode()]),
        "image/class/text": bytes_feature([b"demo " + synset.encode()]),
        "image/height": int64_feature([int(height)]),
        "image/width": int64_feature([int(width)]),
        "image/filename": bytes_feature([os.path.basename(jpeg_path).encode()]),
        "image/object/bbox/xmin": float_feature(xmin),
        "image/object/bbox/ymin": float_feature(ymin),
        "image/object/bbox/xmax": float_feature(xmax),
        "image/object/bbox/ymax": float_feature(ymax),
        "image/object/bbox/label": int64_feature([label] * len(boxes)),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def write_shards(output_dir, split, examples, num_shards):
    """Write `examples` in order into `num_shards` shards with the standard file names."""
    for index, part in enumerate(np.array_split(np.arange(len(examples)), num_shards)):
        path = os.path.join(output_dir, dataset_info.shard_filename(split, index, num_shards))
        with tf.io.TFRecordWriter(path) as writer:
            for position in part:
                writer.write(examples[position])


def list_images(demo_dir, split_folder):
    """Return (path, synset) of every JPEG in `demo_dir/split_folder`, sorted."""
    images = []
    for synset in sorted(os.listdir(os.path.join(demo_dir, split_folder))):
        synset_dir = os.path.join(demo_dir, split_folder, synset)
        images.extend((os.path.join(synset_dir, name), synset)
                      for name in sorted(os.listdir(synset_dir)))
    return images


ShardFolder = collections.namedtuple(
    "ShardFolder", "data_dir synsets train_labels shard_labels validation_labels")


@pytest.fixture(scope="module")
def shards(demo_imagenet_dir, tmp_path_factory):
    """Shards of the demo photos: 80 training records in 3 shards, 20 validation in 2.

    Training labels are 1..10 by synset. Every validation record has its own label, 1..20,
    so the tests can tell which records an evaluation pass returned.
    """
    data_dir = str(tmp_path_factory.mktemp("shards"))
    train_images = list_images(demo_imagenet_dir, "train")
    synsets = sorted({synset for _, synset in train_images})

    train_labels = [synsets.index(synset) + 1 for _, synset in train_images]
    train_examples = []
    for index, ((path, synset), label) in enumerate(zip(train_images, train_labels)):
        boxes = [TRAIN_BOX] if index % 2 == 0 else []
        if index % 10 == 4:
            boxes = [TRAIN_BOX, (0.0, 0.5, 0.4, 1.0)]
        train_examples.append(make_example(path, label, synset, boxes))
    write_shards(data_dir, "train", train_examples, NUM_TRAIN_SHARDS)

    validation_images = list_images(demo_imagenet_dir, "val")
    validation_labels = list(range(1, len(validation_images) + 1))
    validation_examples = [make_example(path, label, synset, [])
                           for (path, synset), label in zip(validation_images, validation_labels)]
    write_shards(data_dir, "validation", validation_examples, NUM_VALIDATION_SHARDS)

    shard_labels = [list(np.array(train_labels)[part]) for part in
                    np.array_split(np.arange(len(train_labels)), NUM_TRAIN_SHARDS)]
    return ShardFolder(data_dir, synsets, train_labels, shard_labels, validation_labels)


@pytest.fixture(scope="module")
def info_dir(shards, tmp_path_factory):
    """A folder with only a dataset info file for the 10 demo synsets and made-up counts."""
    data_dir = str(tmp_path_factory.mktemp("info_only"))
    dataset_info.write_dataset_info(data_dir, {
        "synsets": shards.synsets,
        "label_base": dataset_info.STANDARD_LABEL_BASE,
        "splits": {"train": {"num_images": 1234}, "validation": {"num_images": 56}},
    })
    return data_dir


def collect(dataset, max_batches):
    """Return (images, labels) of up to `max_batches` batches, concatenated."""
    images, labels = [], []
    for image_batch, label_batch in dataset.take(max_batches):
        images.append(image_batch.numpy())
        labels.append(label_batch.numpy())
    return np.concatenate(images), np.concatenate(labels)


def test_find_shards_sorted(shards):
    paths = pipeline.find_shards(shards.data_dir, "train")
    names = [os.path.basename(path) for path in paths]
    assert names == [dataset_info.shard_filename("train", index, NUM_TRAIN_SHARDS)
                     for index in range(NUM_TRAIN_SHARDS)]


def test_find_shards_missing_folder(tmp_path):
    missing = str(tmp_path / "no_such_folder")
    with pytest.raises(pipeline.DataDirError) as error:
        pipeline.find_shards(missing, "train")
    assert missing in str(error.value)
    assert "train-*-of-*" in str(error.value)


def test_find_shards_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("not a shard")
    with pytest.raises(pipeline.DataDirError) as error:
        pipeline.find_shards(str(tmp_path), "validation")
    assert str(tmp_path) in str(error.value)
    assert "validation-*-of-*" in str(error.value)
    assert "build_imagenet_tfrecord" in str(error.value)


def test_find_shards_file_not_folder(shards):
    shard_path = pipeline.find_shards(shards.data_dir, "train")[0]
    with pytest.raises(pipeline.DataDirError) as error:
        pipeline.find_shards(shard_path, "train")
    assert shard_path in str(error.value)
    assert "train-*-of-*" in str(error.value)


def test_data_dir_error_is_value_error():
    assert issubclass(pipeline.DataDirError, ValueError)


def test_find_shards_bad_split(shards):
    with pytest.raises(ValueError, match="split"):
        pipeline.find_shards(shards.data_dir, "test")


@pytest.mark.parametrize("image_size", [75, 107])
def test_train_shapes_and_range(shards, image_size):
    dataset = pipeline.training_dataset(shards.data_dir, batch_size=6, image_size=image_size,
                                        seed=1)
    assert dataset.element_spec[0].shape.as_list() == [6, image_size, image_size, 3]

    images, labels = collect(dataset, max_batches=2)
    assert images.dtype == np.float32
    assert labels.dtype == np.int32
    assert images.shape == (12, image_size, image_size, 3)
    assert images.min() >= -1.0
    assert images.max() <= 1.0


def test_train_epoch_labels_as_stored(shards):
    # 5 batches of 16 are one epoch of 80 records, and the shuffle precedes the repeat.
    dataset = pipeline.training_dataset(shards.data_dir, batch_size=16, image_size=32, seed=2)
    _, labels = collect(dataset, max_batches=5)
    assert sorted(labels) == sorted(shards.train_labels)


def test_train_repeats_past_epoch(shards):
    dataset = pipeline.training_dataset(shards.data_dir, batch_size=32, image_size=32, seed=3)
    _, labels = collect(dataset, max_batches=4)
    assert len(labels) == 128


def test_train_caching_epoch(shards):
    dataset = pipeline.training_dataset(shards.data_dir, batch_size=20, image_size=32, seed=4,
                                        use_caching=True)
    _, labels = collect(dataset, max_batches=8)
    assert sorted(labels[:80]) == sorted(shards.train_labels)
    assert sorted(labels[80:]) == sorted(shards.train_labels)


def test_train_same_seed_same_batches(shards):
    first = collect(pipeline.training_dataset(shards.data_dir, 8, 32, seed=5), max_batches=2)
    second = collect(pipeline.training_dataset(shards.data_dir, 8, 32, seed=5), max_batches=2)
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[0], second[0])


def test_train_seeds_differ(shards):
    first = collect(pipeline.training_dataset(shards.data_dir, 8, 32, seed=5), max_batches=1)
    second = collect(pipeline.training_dataset(shards.data_dir, 8, 32, seed=6), max_batches=1)
    assert not np.array_equal(first[0], second[0])


def test_train_workers_split_files(shards):
    # With 3 files and 2 workers, worker 1 reads only file 1: 27 records, 3 batches of 9.
    worker_1 = pipeline.training_dataset(shards.data_dir, 9, 32, num_shards=2, shard_index=1,
                                         seed=0)
    _, labels_1 = collect(worker_1, max_batches=3)
    assert sorted(labels_1) == sorted(shards.shard_labels[1])

    worker_0 = pipeline.training_dataset(shards.data_dir, 9, 32, num_shards=2, shard_index=0,
                                         seed=0)
    images_0, _ = collect(worker_0, max_batches=1)
    images_1, _ = collect(worker_1, max_batches=1)
    assert not np.array_equal(images_0, images_1)


def test_train_workers_split_records(shards):
    # With 3 files and 4 workers, each worker keeps every 4th record: 20 records each.
    all_labels = []
    first_batches = []
    for shard_index in range(4):
        dataset = pipeline.training_dataset(shards.data_dir, 10, 32, num_shards=4,
                                            shard_index=shard_index, seed=0)
        images, labels = collect(dataset, max_batches=2)
        all_labels.extend(labels)
        first_batches.append(images[:10])

    assert sorted(all_labels) == sorted(shards.train_labels)
    assert not np.array_equal(first_batches[0], first_batches[1])


@pytest.mark.parametrize("num_shards, shard_index", [(0, 0), (2, 2), (2, -1)])
def test_train_rejects_bad_worker(shards, num_shards, shard_index):
    with pytest.raises(ValueError, match="num_shards|shard_index"):
        pipeline.training_dataset(shards.data_dir, 4, 32, num_shards=num_shards,
                                  shard_index=shard_index)


@pytest.mark.parametrize("tuning", [
    {"num_parallel_calls": 1}, {"num_parallel_calls": 3}, {"prefetch_batches": 0},
    {"prefetch_batches": 2}, {"num_private_threads": 1}, {"num_parallel_reads": 0},
    {"num_parallel_reads": tf.data.AUTOTUNE}, {"num_parallel_reads": 12}])
def test_train_tuning_keeps_batches(shards, tuning):
    default = collect(pipeline.training_dataset(shards.data_dir, 8, 32, seed=7), max_batches=2)
    tuned = collect(pipeline.training_dataset(shards.data_dir, 8, 32, seed=7, **tuning),
                    max_batches=2)
    np.testing.assert_array_equal(tuned[1], default[1])
    np.testing.assert_array_equal(tuned[0], default[0])


@pytest.mark.parametrize("tuning", [{"num_parallel_calls": 1}, {"prefetch_batches": 0},
                                    {"num_private_threads": 2}, {"num_parallel_reads": 0},
                                    {"num_parallel_reads": np.int64(3)},
                                    {"num_parallel_reads": 16}])
def test_eval_tuning_keeps_batches(shards, tuning):
    default = collect(pipeline.evaluation_dataset(shards.data_dir, 7, 32), max_batches=3)
    tuned = collect(pipeline.evaluation_dataset(shards.data_dir, 7, 32, **tuning),
                    max_batches=3)
    np.testing.assert_array_equal(tuned[1], default[1])
    np.testing.assert_array_equal(tuned[0], default[0])


def test_uint8_batches_match_float(shards):
    float_images, float_labels = collect(pipeline.training_dataset(shards.data_dir, 8, 32, seed=8),
                                         max_batches=1)
    uint8_images, uint8_labels = collect(
        pipeline.training_dataset(shards.data_dir, 8, 32, seed=8, image_dtype=tf.uint8),
        max_batches=1)
    eval_float, _ = collect(pipeline.evaluation_dataset(shards.data_dir, 7, 32), max_batches=1)
    eval_uint8, _ = collect(pipeline.evaluation_dataset(shards.data_dir, 7, 32,
                                                        image_dtype="uint8"), max_batches=1)

    assert uint8_images.dtype == np.uint8
    assert eval_uint8.dtype == np.uint8
    np.testing.assert_array_equal(uint8_labels, float_labels)
    tolerance = 0.5 / 127.5 + 1e-6
    np.testing.assert_allclose(uint8_images / 127.5 - 1.0, float_images, atol=tolerance)
    np.testing.assert_allclose(eval_uint8 / 127.5 - 1.0, eval_float, atol=tolerance)


def test_model_input_scales_uint8_only():
    pixels = tf.constant([[[[0, 127, 255]]]], dtype=tf.uint8)
    floats = tf.constant([[[[-1.0, 0.25, 1.0]]]], dtype=tf.float32)

    scaled = pipeline.model_input(pixels)
    assert scaled.dtype == tf.float32
    np.testing.assert_allclose(scaled.numpy(), [[[[-1.0, 127 / 127.5 - 1.0, 1.0]]]], atol=1e-6)
    assert pipeline.model_input(floats) is floats


@pytest.mark.parametrize("tuning, name", [
    ({"num_parallel_calls": 0}, "num_parallel_calls"),
    ({"num_parallel_calls": -2}, "num_parallel_calls"),
    ({"prefetch_batches": -3}, "prefetch_batches"),
    ({"num_private_threads": 0}, "num_private_threads"),
    ({"num_parallel_calls": "fast"}, "num_parallel_calls"),
    ({"num_parallel_calls": 1.5}, "num_parallel_calls"),
    ({"prefetch_batches": "two"}, "prefetch_batches"),
    ({"num_private_threads": 2.0}, "num_private_threads"),
    ({"num_parallel_reads": -2}, "num_parallel_reads"),
    ({"num_parallel_reads": "all"}, "num_parallel_reads"),
    ({"num_parallel_reads": -1.0}, "num_parallel_reads"),
    ({"num_parallel_reads": True}, "num_parallel_reads"),
    ({"image_dtype": tf.float16}, "output_dtype")])
def test_tuning_rejects_bad_values(shards, tuning, name):
    with pytest.raises(ValueError, match=name):
        pipeline.training_dataset(shards.data_dir, 4, 32, **tuning)
    with pytest.raises(ValueError, match=name):
        pipeline.evaluation_dataset(shards.data_dir, 4, 32, **tuning)


@pytest.mark.parametrize("image_size", [75, 107])
def test_eval_shapes_and_range(shards, image_size):
    images, labels = collect(pipeline.evaluation_dataset(shards.data_dir, 8, image_size), 10)
    assert images.dtype == np.float32
    assert labels.dtype == np.int32
    assert images.shape == (20, image_size, image_size, 3)
    assert images.min() >= -1.0
    assert images.max() <= 1.0


def test_eval_every_image_once(shards):
    dataset = pipeline.evaluation_dataset(shards.data_dir, batch_size=7, image_size=32)
    batch_sizes = [int(labels.shape[0]) for _, labels in dataset]
    _, labels = collect(dataset, max_batches=10)

    assert batch_sizes == [7, 7, 6]
    assert sorted(labels) == shards.validation_labels


def test_eval_order_is_fixed(shards):
    dataset = pipeline.evaluation_dataset(shards.data_dir, batch_size=7, image_size=32)
    first = collect(dataset, max_batches=10)
    second = collect(dataset, max_batches=10)
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[0], second[0])


@pytest.mark.parametrize("num_shards", [2, 3])
def test_eval_workers_cover_once(shards, num_shards):
    # 2 workers split the 2 files, 3 workers split the records.
    labels_per_worker = []
    for shard_index in range(num_shards):
        dataset = pipeline.evaluation_dataset(shards.data_dir, 3, 32, num_shards=num_shards,
                                              shard_index=shard_index)
        labels_per_worker.append(collect(dataset, max_batches=10)[1])

    assert all(len(labels) > 0 for labels in labels_per_worker)
    assert sorted(np.concatenate(labels_per_worker)) == shards.validation_labels


def test_synthetic_shapes_and_range():
    dataset = pipeline.synthetic_dataset(batch_size=4, image_size=75, num_classes=1001)
    (images, labels), (images_again, _) = list(dataset.take(2))

    assert images.dtype == tf.float32
    assert labels.dtype == tf.int32
    assert images.shape == (4, 75, 75, 3)
    assert labels.shape == (4,)
    assert float(tf.reduce_min(images)) >= -1.0
    assert float(tf.reduce_max(images)) <= 1.0
    assert int(tf.reduce_min(labels)) >= 1
    assert int(tf.reduce_max(labels)) < 1001
    np.testing.assert_array_equal(images.numpy(), images_again.numpy())


def test_synthetic_rejects_one_class():
    with pytest.raises(ValueError, match="num_classes"):
        pipeline.synthetic_dataset(batch_size=2, image_size=8, num_classes=1)


def test_count_records(shards):
    assert pipeline.count_records(pipeline.find_shards(shards.data_dir, "train")) == 80
    assert pipeline.count_records(pipeline.find_shards(shards.data_dir, "validation")) == 20


def test_num_examples_counts_without_info(shards):
    assert pipeline.num_examples(shards.data_dir, "train") == 80
    assert pipeline.num_examples(shards.data_dir, "validation") == 20


def test_num_examples_reads_info(info_dir):
    assert pipeline.num_examples(info_dir, "train") == 1234
    assert pipeline.num_examples(info_dir, "validation") == 56


def test_label_check_records_in_range(shards):
    pipeline.check_label_range(shards.data_dir, num_classes=21)


def test_label_check_records_out_of_range(shards):
    with pytest.raises(pipeline.LabelRangeError) as error:
        pipeline.check_label_range(shards.data_dir, num_classes=20)
    message = str(error.value)
    assert "Label 20 " in message
    assert dataset_info.shard_filename("validation", 1, NUM_VALIDATION_SHARDS) in message
    assert "--num_classes=21" in message


def test_label_check_info_in_range(info_dir):
    pipeline.check_label_range(info_dir, num_classes=11)


def test_label_check_info_out_of_range(info_dir):
    with pytest.raises(pipeline.LabelRangeError) as error:
        pipeline.check_label_range(info_dir, num_classes=10)
    message = str(error.value)
    assert "Label 10 " in message
    assert dataset_info.DATASET_INFO_FILENAME in message
    assert "--num_classes=11" in message


def test_label_check_negative_label(tmp_path):
    path = str(tmp_path / dataset_info.shard_filename("train", 0, 1))
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(tf.train.Example().SerializeToString())

    with pytest.raises(pipeline.LabelRangeError) as error:
        pipeline.check_label_range(str(tmp_path), num_classes=10)
    assert "Label -1 " in str(error.value)
    assert path in str(error.value)


def test_label_check_no_shards(tmp_path):
    with pytest.raises(pipeline.DataDirError, match="train-"):
        pipeline.check_label_range(str(tmp_path), num_classes=10)


def test_label_range_error_is_value_error():
    assert issubclass(pipeline.LabelRangeError, ValueError)
