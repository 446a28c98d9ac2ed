"""Sharing of each training step between the devices and processes of a run.

A run trains on one device, on several Horovod processes (one per GPU, gradients averaged by
allreduce), or under a tf.distribute strategy (MirroredStrategy over the devices of one host,
MultiWorkerMirroredStrategy across hosts). The training loop, the training step and evaluation
call the `Replicas` interface below, so their code is the same for all three.

Terms: a worker is one process, a replica is one device, and the global batch is
--batch_size times the number of replicas over all workers.
"""

import contextlib

import numpy as np
import tensorflow as tf

from tf_cnn_benchmarks import checkpoints


class DistributionError(RuntimeError):
    """The requested devices or processes cannot be set up, such as Horovod missing."""


class Replicas:
    """One device in one process. Subclasses share the step between devices and processes."""

    description = "1 device"
    # Lines for the runner to print at start-up, such as how the CPU was split.
    notes = ()
    num_workers = 1
    worker_index = 0
    replicas_per_worker = 1

    @property
    def num_replicas(self):
        return self.num_workers * self.replicas_per_worker

    @property
    def is_chief(self):
        """True on the worker that prints the step table and writes every file."""
        return self.worker_index == 0

    def scope(self):
        """Return the context in which the model, optimizer and EMA variables are created."""
        return contextlib.nullcontext()

    def average_gradients(self, tape):
        """Return `tape`, or a wrapper whose gradient() averages over all replicas."""
        return tape

    def create_checkpoint_manager(self, checkpoint, train_dir, max_to_keep):
        """Return the manager that restores and saves this worker's checkpoints, or None
        on a worker that leaves both to the chief."""
        return checkpoints.create_manager(checkpoint, train_dir, max_to_keep)

    def run(self, replica_step, images, labels):
        """Run `replica_step(images, labels)` on each replica, inside the caller's tf.function.

        replica_step returns a dict of scalars; the result is their mean over all replicas, so
        every worker logs the same loss.
        """
        return replica_step(images, labels)

    def broadcast_variables(self, variables):
        """Copy the chief's values of `variables` to every other worker."""
        del variables

    def sum_over_workers(self, values):
        """Return the element-wise sum of `values` (a list of numbers) over all workers."""
        return np.asarray(values, dtype=np.float64)

    def any_worker(self, condition):
        """Return True on every worker when `condition` is true on at least one of them."""
        return bool(self.sum_over_workers([float(bool(condition))])[0] > 0)

    def training_batches(self, make_dataset, start_step):
        """Return this worker's iterable of training batches, continuing after `start_step`.

        make_dataset(num_shards, shard_index, skip_batches) returns one input pipeline's
        dataset of per-replica batches.
        """
        return make_dataset(1, 0, start_step)

    def shard_of_images(self, num_images):
        """Return how many of `num_images` images (spread over all workers) this one scores."""
        share, remainder = divmod(num_images, self.num_workers)
        return share + (1 if self.worker_index < remainder else 0)


def create_replicas(flag_values, gpus):
    """Return the Replicas for --variable_update and --num_gpus.

    Call it before TensorFlow creates its first tensor: Horovod pins this process to one GPU
    and MirroredStrategy may split the CPU into logical devices, and both only work then.
    """
    update = flag_values.variable_update
    if update == "horovod":
        from tf_cnn_benchmarks import horovod_replicas
        return horovod_replicas.HorovodReplicas(flag_values, gpus)
    if update == "collective_all_reduce":
        from tf_cnn_benchmarks import strategy_replicas
        return strategy_replicas.multi_worker_replicas(flag_values, gpus)
    if flag_values.num_gpus > 1:
        from tf_cnn_benchmarks import strategy_replicas
        return strategy_replicas.mirrored_replicas(flag_values, gpus)
    return Replicas()
