"""A worker for the multi-process tests: trains through the runner's own classes and writes
what each process ended with to a JSON file in --output_dir.

Started once per process, by horovodrun or as a plain process:

  python tests/replica_check.py update --output_dir=DIR [--horovod] --batch_size=B
      One training step of a fixed model on fixed images, with batch norm in inference mode
      and no dropout, so the update does not depend on how the batch is split. Process k of n
      trains on images [k*B, (k+1)*B) of the n*B images. Writes the updated weights (.npz).

  python tests/replica_check.py checksums --output_dir=DIR -- RUNNER_FLAGS...
      Builds the runner's training run from RUNNER_FLAGS, restores --train_dir, trains to
      --num_batches and saves, and writes SHA-256 digests of the variables after the restore
      and after training.
"""

import argparse
import hashlib
import json
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from models import inception_v3  # noqa: E402
from tf_cnn_benchmarks import checkpoints  # noqa: E402
from tf_cnn_benchmarks import flags  # noqa: E402
from tf_cnn_benchmarks import optimizers  # noqa: E402
from tf_cnn_benchmarks import training_loop  # noqa: E402
from tf_cnn_benchmarks.replicas import Replicas  # noqa: E402
from tf_cnn_benchmarks.replicas import create_replicas  # noqa: E402
from tf_cnn_benchmarks.train_step import TrainStep  # noqa: E402

NUM_CLASSES = 10
IMAGE_SIZE = 75


def digest(variables):
    hasher = hashlib.sha256()
    for variable in variables:
        hasher.update(np.ascontiguousarray(variable.numpy()).tobytes())
    return hasher.hexdigest()


def write_result(output_dir, rank, result):
    with open(os.path.join(output_dir, "rank%d.json" % rank), "w", encoding="utf-8") as file:
        json.dump(result, file)


def check_update(args):
    replicas = Replicas()
    if args.horovod:
        flag_values = argparse.Namespace(horovod_fp16_allreduce=False, num_intra_threads=None)
        from tf_cnn_benchmarks import horovod_replicas
        replicas = horovod_replicas.HorovodReplicas(flag_values, [])

    tf.keras.utils.set_random_seed(1)
    model = inception_v3.inception_v3(NUM_CLASSES, image_size=IMAGE_SIZE,
                                      dropout_keep_prob=1.0)
    # Frozen batch norm runs in inference mode, so each image's gradient is independent of the
    # other images in its batch.
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.trainable = False
    trainable = checkpoints.named_trainable_variables(model)
    optimizer = optimizers.RMSProp(trainable, decay=0.9, momentum=0.9, epsilon=1.0)
    global_step = tf.Variable(0, dtype=tf.int64, trainable=False)
    step = TrainStep(model, list(trainable.values()), optimizer, lambda step: 0.01, global_step,
                     label_smoothing=0.1, aux_loss_weight=0.4, weight_decay=4e-5,
                     gradient_clip=2.0, replicas=replicas)
    replicas.broadcast_variables(model.variables)

    random = np.random.RandomState(0)
    total = args.batch_size * replicas.num_workers
    images = random.uniform(-1, 1, (total, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    labels = random.randint(0, NUM_CLASSES, total)
    own = slice(replicas.worker_index * args.batch_size,
                (replicas.worker_index + 1) * args.batch_size)
    initial = {key: variable.numpy() for key, variable in trainable.items()}
    terms = step(tf.constant(images[own]), tf.constant(labels[own]))
    max_change = max(float(np.abs(variable.numpy() - initial[key]).max())
                     for key, variable in trainable.items())

    np.savez(os.path.join(args.output_dir, "weights_rank%d.npz" % replicas.worker_index),
             **{key: variable.numpy() for key, variable in trainable.items()})
    write_result(args.output_dir, replicas.worker_index,
                 {"total_loss": float(terms["total_loss"]), "max_change": max_change,
                  "workers": replicas.num_workers})


def check_checksums(args, runner_args):
    flag_values = flags.FLAGS
    flag_values(["replica_check"] + runner_args)
    from tf_cnn_benchmarks import runner

    gpus = []
    replicas = create_replicas(flag_values, gpus)
    num_classes = runner.prepare_data(flag_values)
    tf.keras.utils.set_random_seed(flag_values.tf_random_seed)
    with replicas.scope():
        model = runner.build_model(flag_values, num_classes, "channels_last")
        run = training_loop._Run(flag_values, model, num_classes, "float32", replicas)
        start_step = run.restore()
        after_restore = digest(run.variables())

        batches = iter(run.dataset(start_step))
        for _ in range(start_step, run.total_steps):
            images, labels = next(batches)
            run.train_step(images, labels)
        run.save(int(run.global_step))

    trained = list(run.model.trainable_variables) + list(run.optimizer.variables)
    write_result(args.output_dir, replicas.worker_index, {
        "start_step": start_step,
        "global_step": int(run.global_step),
        "after_restore": after_restore,
        "trained_and_slots": digest(trained),
        "workers": replicas.num_workers,
    })


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["update", "checksums"])
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--horovod", action="store_true")
    parser.add_argument("--batch_size", type=int, default=2)
    args, runner_args = parser.parse_known_args()
    if args.mode == "update":
        check_update(args)
    else:
        check_checksums(args, [arg for arg in runner_args if arg != "--"])


if __name__ == "__main__":
    main()
