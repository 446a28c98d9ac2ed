"""Tests of the input pipeline on damaged shards, odd image formats and its options."""

import io
import logging
import os
import shutil
import threading

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data import dataset_info
from data import imagenet_tfrecord as pipeline
from data import inception_preprocessing as preprocessing
from data import record_reading
from tests import shard_helpers

pytestmark = pytest.mark.keras3

# Upper bound of a pass over the 20 validation records; a stall would pass it.
PASS_TIMEOUT_SECONDS = 120


@pytest.fixture()
def shard_copy(demo_shards, tmp_path):
    """The session's demo shards (4 x 20 training, 2 x 10 validation records), copied."""
    return shutil.copytree(demo_shards, str(tmp_path / "shards"))


def eval_labels(data_dir, **options):
    """Return the labels of one evaluation pass, run in a thread with a time limit."""
    labels = []
    errors = []

    def run():
        try:
            dataset = pipeline.evaluation_dataset(data_dir, 4, 32, **options)
            for _, batch_labels in dataset.take(100):
                labels.extend(batch_labels.numpy())
        except tf.errors.OpError as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(PASS_TIMEOUT_SECONDS)
    assert not thread.is_alive(), "the evaluation pass stalled"
    if errors:
        raise errors[0]
    return labels


@pytest.mark.parametrize("num_parallel_reads", [None, 0])
def test_bit_flip_names_shard(shard_copy, num_parallel_reads):
    path = shard_helpers.shard_paths(shard_copy, "validation")[1]
    shard_helpers.flip_bit(path, record_index=4)
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        eval_labels(shard_copy, num_parallel_reads=num_parallel_reads)
    assert path in raised.value.message
    assert "after 4 good records" in raised.value.message
    assert "--skip_corrupt_records" in raised.value.message

    message = record_reading.corrupt_shard_message(str(raised.value))
    assert message.startswith('Corrupt or truncated record in shard "%s" after 4 ' % path)
    assert message.endswith("to skip the rest of a damaged shard.")


def test_corrupt_shard_message_ignores_others():
    assert record_reading.corrupt_shard_message("Invalid JPEG data, size 11") is None


def test_cut_header_names_shard(shard_copy):
    # A cut inside a record's 8-byte length ends TFRecordDataset without any error.
    path = shard_helpers.shard_paths(shard_copy, "validation")[0]
    shard_helpers.cut_shard(path, record_index=7, extra_bytes=5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="after 7 good records"):
        eval_labels(shard_copy)


def test_bit_flip_training_names_shard(shard_copy):
    path = shard_helpers.shard_paths(shard_copy, "train")[2]
    shard_helpers.flip_bit(path, record_index=0)
    dataset = pipeline.training_dataset(shard_copy, 8, 32, seed=0)
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        for _ in dataset.take(20):
            pass
    assert path in raised.value.message


def test_skip_corrupt_counts(shard_copy):
    path = shard_helpers.shard_paths(shard_copy, "validation")[1]
    shard_helpers.flip_bit(path, record_index=4)
    shard_helpers.cut_shard(shard_helpers.shard_paths(shard_copy, "validation")[0],
                            record_index=9, extra_bytes=30)
    before = record_reading.corrupt_shards.count

    labels = eval_labels(shard_copy, skip_corrupt_records=True)
    assert len(labels) == 9 + 4
    assert record_reading.corrupt_shards.count == before + 2


def test_skipped_shard_reported_once(shard_copy, caplog):
    path = shard_helpers.shard_paths(shard_copy, "validation")[1]
    shard_helpers.flip_bit(path, record_index=4)
    before = record_reading.corrupt_shards.count

    with caplog.at_level(logging.WARNING):
        first_pass = eval_labels(shard_copy, skip_corrupt_records=True)
        second_pass = eval_labels(shard_copy, skip_corrupt_records=True)
    assert len(first_pass) == len(second_pass) == 10 + 4
    assert record_reading.corrupt_shards.count == before + 1
    warnings = [record.getMessage() for record in caplog.records
                if "Skipped the rest of shard" in record.getMessage()]
    assert len(warnings) == 1
    assert "--verify --output_dir=%s`" % shard_copy in warnings[0]


def test_reading_threads_need_spare_cores(monkeypatch):
    monkeypatch.setattr(record_reading, "usable_cores", lambda: 1)
    assert record_reading.reading_threads(None) is None
    monkeypatch.setattr(record_reading, "usable_cores", lambda: 2)
    assert record_reading.reading_threads(None) == tf.data.AUTOTUNE
    assert record_reading.reading_threads(0) is None
    assert record_reading.reading_threads(3) == 3


def test_many_threads_widen_cycle_length():
    # tf.data rejects more threads than shards read at once (cycle_length).
    assert record_reading.shards_read_at_once(None) == record_reading.PARALLEL_READS
    assert record_reading.shards_read_at_once(tf.data.AUTOTUNE) == record_reading.PARALLEL_READS
    assert record_reading.shards_read_at_once(3) == record_reading.PARALLEL_READS
    assert record_reading.shards_read_at_once(64) == 64


def test_skip_corrupt_clean_unchanged(shard_copy):
    assert len(eval_labels(shard_copy, skip_corrupt_records=True)) == 20


def test_missing_shard_rejected(shard_copy):
    os.remove(shard_helpers.shard_paths(shard_copy, "train")[2])
    with pytest.raises(pipeline.DataDirError) as raised:
        pipeline.find_shards(shard_copy, "train")
    assert "train-00002-of-00004" in str(raised.value)
    assert "Rerun the converter" in str(raised.value)


def test_mixed_totals_rejected(shard_copy):
    shutil.copy(shard_helpers.shard_paths(shard_copy, "train")[0],
                os.path.join(shard_copy, "train-00000-of-00001"))
    with pytest.raises(pipeline.DataDirError, match="different totals"):
        pipeline.find_shards(shard_copy, "train")


def test_label_offset_zero(demo_shards):
    stored = eval_labels(demo_shards)
    shifted = eval_labels(demo_shards, label_offset=0)
    assert min(stored) == 1
    assert list(shifted) == [label - 1 for label in stored]


def test_label_offset_one_as_stored(demo_shards):
    assert eval_labels(demo_shards, label_offset=1) == eval_labels(demo_shards)


def test_label_check_with_offset(demo_shards):
    pipeline.check_label_range(demo_shards, num_classes=10, label_offset=0)
    with pytest.raises(pipeline.LabelRangeError, match="--num_classes=11"):
        pipeline.check_label_range(demo_shards, num_classes=10)


def test_label_offset_invalid(demo_shards):
    with pytest.raises(ValueError, match="label_offset must be 0, 1 or None"):
        pipeline.evaluation_dataset(demo_shards, 4, 32, label_offset=2)


def test_resize_method_bicubic(demo_shards):
    dataset = pipeline.training_dataset(demo_shards, 8, 48, seed=1, resize_method="bicubic")
    images, _ = next(iter(dataset))
    assert images.shape == (8, 48, 48, 3)
    assert float(tf.reduce_min(images)) >= -1.0
    assert float(tf.reduce_max(images)) <= 1.0


def test_resize_method_invalid(demo_shards):
    with pytest.raises(ValueError, match="resize_method must be one of"):
        pipeline.evaluation_dataset(demo_shards, 4, 32, resize_method="cubic")


def first_batch(data_dir, **options):
    images, _ = next(iter(pipeline.training_dataset(data_dir, 8, 40, seed=3, **options)))
    return images.numpy()


def test_distort_color_changes_pixels(demo_shards):
    plain = first_batch(demo_shards)
    distorted = first_batch(demo_shards, distort_color=True)
    assert np.abs(plain - distorted).mean() > 0.01
    assert distorted.min() >= -1.0
    assert distorted.max() <= 1.0


def test_distort_color_repeats_with_seed(demo_shards):
    np.testing.assert_array_equal(first_batch(demo_shards, distort_color=True),
                                  first_batch(demo_shards, distort_color=True))


def test_flip_off_keeps_crops_unmirrored(demo_shards):
    # With the same seed both batches have the same records and crops, so each image of the
    # default batch equals the unflipped image at its index or that image's mirror. Seed 3
    # mirrors some of the 8 images and not others.
    flipped = first_batch(demo_shards)
    unflipped = first_batch(demo_shards, flip_left_right=False)
    is_same = [np.allclose(flip, plain, atol=1e-5) for flip, plain in zip(flipped, unflipped)]
    is_mirror = [np.allclose(flip, plain[:, ::-1], atol=1e-5)
                 for flip, plain in zip(flipped, unflipped)]

    for index in range(len(flipped)):
        assert is_same[index] or is_mirror[index], index
    assert any(is_mirror)
    assert any(is_same)


def encoded_variants(photo):
    """Return {name: encoded bytes} of `photo` as PNG, grayscale PNG, CMYK and gray JPEG."""
    variants = {}
    for name, mode, image_format in (("png", "RGB", "PNG"), ("gray_png", "L", "PNG"),
                                     ("rgba_png", "RGBA", "PNG"), ("cmyk", "CMYK", "JPEG"),
                                     ("gray_jpeg", "L", "JPEG")):
        buffer = io.BytesIO()
        photo.convert(mode).save(buffer, format=image_format)
        variants[name] = buffer.getvalue()
    return variants


@pytest.fixture(scope="module")
def variant_shards(demo_imagenet_dir, tmp_path_factory):
    """Validation and training shards with one record per encoded variant of a demo photo."""
    class_dir = os.path.join(demo_imagenet_dir, "val", sorted(os.listdir(
        os.path.join(demo_imagenet_dir, "val")))[0])
    photo = Image.open(os.path.join(class_dir, sorted(os.listdir(class_dir))[0]))
    variants = encoded_variants(photo)
    data_dir = str(tmp_path_factory.mktemp("variants"))
    for split in ("train", "validation"):
        path = os.path.join(data_dir, dataset_info.shard_filename(split, 0, 1))
        with tf.io.TFRecordWriter(path) as writer:
            for encoded in variants.values():
                feature = {
                    "image/encoded": tf.train.Feature(
                        bytes_list=tf.train.BytesList(value=[encoded])),
                    "image/class/label": tf.train.Feature(
                        int64_list=tf.train.Int64List(value=[1])),
                }
                example = tf.train.Example(features=tf.train.Features(feature=feature))
                writer.write(example.SerializeToString())
    return data_dir, variants


def test_variants_eval_three_channels(variant_shards):
    data_dir, variants = variant_shards
    images, _ = next(iter(pipeline.evaluation_dataset(data_dir, len(variants), 40)))
    assert images.shape == (len(variants), 40, 40, 3)


def test_variants_train_three_channels(variant_shards):
    data_dir, variants = variant_shards
    images, _ = next(iter(pipeline.training_dataset(data_dir, len(variants), 40, seed=0)))
    assert images.shape == (len(variants), 40, 40, 3)


def test_png_eval_matches_decoded(variant_shards):
    _, variants = variant_shards
    image = preprocessing.preprocess_for_eval(variants["png"], 40).numpy()
    decoded = tf.io.decode_png(variants["png"], channels=3)
    window = preprocessing.central_crop_window(tf.shape(decoded), 0.875).numpy()
    crop = decoded[window[0]:window[0] + window[2], window[1]:window[1] + window[3]]
    np.testing.assert_allclose(image, preprocessing.resize_and_scale(crop, 40).numpy(),
                               atol=1e-5)


def test_cache_warning_when_too_large():
    message = record_reading.cache_warning(cache_bytes=3e9, available_bytes=4e9)
    assert "--datasets_use_caching" in message
    assert "3.0 GB" in message


def test_cache_warning_when_fits():
    assert record_reading.cache_warning(cache_bytes=1e9, available_bytes=4e9) is None


def test_caching_logs_warning(demo_shards, monkeypatch, caplog):
    monkeypatch.setattr(record_reading, "available_memory_bytes", lambda: 1000)
    with caplog.at_level(logging.WARNING):
        pipeline.training_dataset(demo_shards, 8, 32, seed=0, use_caching=True)
    assert any("--datasets_use_caching" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("num_workers", [1, 4, 7, 25])
def test_eval_workers_score_once(demo_shards, num_workers):
    labels = []
    for worker in range(num_workers):
        dataset = pipeline.evaluation_dataset(demo_shards, 3, 24, num_shards=num_workers,
                                              shard_index=worker)
        for _, batch_labels in dataset:
            labels.extend(batch_labels.numpy())
    assert len(labels) == 20
    assert sorted(labels) == sorted(eval_labels(demo_shards))
