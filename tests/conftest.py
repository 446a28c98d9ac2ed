"""Fixtures shared by the test modules.

Building InceptionV3 and converting images is slow on CPU, so folders, shards and
checkpoints are made once per test session and shared.
"""

import os

import pytest

from data import make_demo_imagenet

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The standard 1000-synset list and synset names, kept outside the project.
SHARED_IMAGENET_DIR = os.path.join(os.path.dirname(REPO_ROOT), "shared", "imagenet")


@pytest.fixture(scope="session")
def demo_imagenet_dir(tmp_path_factory):
    """An ImageNet-layout folder of real photos: 10 synsets, 8 train and 2 val JPEGs each."""
    output_dir = str(tmp_path_factory.mktemp("demo_imagenet"))
    return make_demo_imagenet.make_demo_imagenet(output_dir, shorter_side=160)


@pytest.fixture(scope="session")
def shared_imagenet_dir():
    if not os.path.isdir(SHARED_IMAGENET_DIR):
        pytest.skip("the shared ImageNet label files are not at %s" % SHARED_IMAGENET_DIR)
    return SHARED_IMAGENET_DIR


@pytest.fixture(scope="session")
def demo_shards(demo_imagenet_dir, tmp_path_factory):
    """TFRecord shards of the demo folder: 80 train images in 4 shards, 20 validation in 2."""
    from data import build_imagenet_tfrecord

    output_dir = str(tmp_path_factory.mktemp("demo_shards"))
    build_imagenet_tfrecord.convert(demo_imagenet_dir, output_dir, train_shards=4,
                                    validation_shards=2)
    return output_dir
