"""Horovod allreduce between processes, one per GPU: --variable_update=horovod.

horovodrun (or mpirun) starts one copy of the runner per GPU. Each process trains on its own
shard of the training records with its own shuffle seed, averages its gradients with the others
through hvd.DistributedGradientTape, and takes rank 0's variables after every restore. Only
rank 0 writes checkpoints, summaries and the dllogger file.

Batch-norm moving statistics are not averaged: each rank keeps its own during training, and
checkpoints hold rank 0's, which every rank takes at the next restore.
"""

import os

import tensorflow as tf

from tf_cnn_benchmarks.replicas import DistributionError
from tf_cnn_benchmarks.replicas import Replicas

INSTALL_HINT = ("Install it with `bash scripts/setup_venv.sh .venv-tf215 "
                "requirements-horovod.txt` (TensorFlow 2.15.1 and Horovod 0.28.1, built with "
                "Gloo, and with NCCL where a GPU is visible), or train on one host with "
                "--variable_update=replicated --num_gpus=N.")


def import_horovod():
    """Return the horovod.tensorflow module, or raise DistributionError saying why."""
    try:
        import horovod.tensorflow as hvd
    except ImportError as error:
        raise DistributionError(
            "--variable_update=horovod needs Horovod with TensorFlow support, but importing "
            "horovod.tensorflow failed (%s). %s" % (error, INSTALL_HINT)) from error
    return hvd


def _pin_to_local_gpu(hvd, gpus):
    """Give this process the GPU of its local rank, and let its memory grow as needed."""
    if hvd.local_size() > len(gpus):
        raise ValueError(
            "%d Horovod processes on this host but only %d GPU(s) are visible. Start at most "
            "%d processes per host (horovodrun -np, or the slots in -H host:slots)."
            % (hvd.local_size(), len(gpus), len(gpus)))
    gpu = gpus[hvd.local_rank()]
    tf.config.set_visible_devices(gpu, "GPU")
    tf.config.experimental.set_memory_growth(gpu, True)


def _share_cpu_threads(hvd, flag_values):
    """Without GPUs, split the cores between the processes of this host.

    Each TensorFlow process otherwise starts one intra-op thread per core, and the processes
    of one host then compete for the same cores.
    """
    if flag_values.num_intra_threads:
        return None
    threads = max(1, (os.cpu_count() or 1) // hvd.local_size())
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    return threads


class HorovodReplicas(Replicas):
    """One Horovod process per device; gradients, counts and signals cross by allreduce."""

    replicas_per_worker = 1

    def __init__(self, flag_values, gpus):
        hvd = import_horovod()
        hvd.init()
        self.hvd = hvd
        self.num_workers = hvd.size()
        self.worker_index = hvd.rank()
        self.compression = (hvd.Compression.fp16 if flag_values.horovod_fp16_allreduce
                            else hvd.Compression.none)
        self.description = "%d Horovod processes" % hvd.size()
        self.notes = []

        if gpus:
            _pin_to_local_gpu(hvd, gpus)
        else:
            threads = _share_cpu_threads(hvd, flag_values)
            if threads is not None:
                self.notes.append("Horovod on CPU: %d intra-op thread(s) for each of the %d "
                                  "process(es) of this host." % (threads, hvd.local_size()))
        if hvd.size() == 1:
            self.notes.append("Horovod runs 1 process. Start N with `horovodrun -np N python "
                              "-m tf_cnn_benchmarks ...` to train on N devices.")

    def average_gradients(self, tape):
        return self.hvd.DistributedGradientTape(tape, compression=self.compression)

    def run(self, replica_step, images, labels):
        terms = replica_step(images, labels)
        # One allreduce for all scalars, rather than one per scalar.
        names = sorted(terms)
        stacked = tf.stack([tf.cast(terms[name], tf.float32) for name in names])
        averaged = self.hvd.allreduce(stacked, op=self.hvd.Average, name="step_terms")
        return {name: averaged[i] for i, name in enumerate(names)}

    def broadcast_variables(self, variables):
        self.hvd.broadcast_variables(variables, root_rank=0)

    def sum_over_workers(self, values):
        summed = self.hvd.allreduce(tf.constant(values, tf.float64), op=self.hvd.Sum,
                                    name="sum_over_workers")
        return summed.numpy()

    def training_batches(self, make_dataset, start_step):
        return make_dataset(self.num_workers, self.worker_index, start_step)

    def create_checkpoint_manager(self, checkpoint, train_dir, max_to_keep):
        if not self.is_chief:
            return None
        return super().create_checkpoint_manager(checkpoint, train_dir, max_to_keep)
