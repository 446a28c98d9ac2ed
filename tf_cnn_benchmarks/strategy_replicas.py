"""tf.distribute backends of the Replicas interface: MirroredStrategy over the devices of one
host (--variable_update=replicated or mirrored, or --num_gpus above 1) and
MultiWorkerMirroredStrategy across hosts (--variable_update=collective_all_reduce).

The training step runs inside `strategy.run`, so each replica computes the gradients of its
own batch, averages them with an all-reduce and applies them to its copy of the variables.
The work after the update (the moving average of the weights, the loss scale and the step
counter) runs once per step in cross-replica context. Evaluation calls the model in
cross-replica context too, with the variables of the worker's first replica.

NOTE: each replica updates its own batch-norm moving statistics from its own batches.
Checkpoints hold the chief's first replica's statistics, and each worker evaluates with its own
first replica's, so the summed accuracy of several workers mixes slightly different statistics.
NOTE: the replicas draw the same dropout mask at each step (the same seed and call count),
each applied to its own images.

Multi-host runs need --train_dir on a filesystem that every host reads: every worker restores
the chief's latest checkpoint from it, and only the chief writes there.
"""

import contextlib
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from tf_cnn_benchmarks import checkpoints
from tf_cnn_benchmarks import connect_watchdog
from tf_cnn_benchmarks.replicas import Replicas

TF_CONFIG = "TF_CONFIG"

# Task types of TF_CONFIG that train. A "chief" task, when present, is worker 0.
TRAINING_TASK_TYPES = ("chief", "worker")

# Elements per all-reduce in broadcast_variables (64 MiB of float32). A few flat tensors travel
# much faster than one all-reduce input per variable, and the limit bounds the memory of the
# concatenated copy.
BROADCAST_CHUNK_ELEMENTS = 16 * 1024 * 1024


class _AllReduceTape:
    """Wrapper of a GradientTape whose gradient() averages each gradient over all replicas.

    Call gradient() in replica context, inside `strategy.run`. None gradients (variables the
    loss does not reach) stay None and take no part in the all-reduce.
    """

    def __init__(self, tape):
        self.tape = tape

    def gradient(self, target, sources):
        gradients = self.tape.gradient(target, sources)
        present = [index for index, gradient in enumerate(gradients) if gradient is not None]
        if not present:
            return gradients

        context = tf.distribute.get_replica_context()
        averaged = context.all_reduce(tf.distribute.ReduceOp.MEAN,
                                      [gradients[index] for index in present])
        gradients = list(gradients)
        for index, gradient in zip(present, averaged):
            gradients[index] = gradient
        return gradients


def _replica_local_statistics(next_creator, **kwargs):
    """Variable creator that keeps variables which are synchronized on read (Keras 2's
    batch-norm moving statistics) as one copy per replica, synchronized on write.

    Reading a variable that is synchronized on read in cross-replica context averages its
    copies. Under MultiWorkerMirroredStrategy that is a collective across workers, issued
    once per variable in every evaluation batch and every moving-average update. Workers can
    score different numbers of validation batches, and then their collectives stop matching.
    With this change Keras 2 behaves as Keras 3 does under a strategy: each replica updates
    its own copy of the statistics, and cross-replica reads take the first replica's.
    """
    if kwargs.get("synchronization") == tf.VariableSynchronization.ON_READ:
        kwargs["synchronization"] = tf.VariableSynchronization.ON_WRITE
        kwargs["aggregation"] = tf.VariableAggregation.NONE
    return next_creator(**kwargs)


def _broadcast_groups(variables):
    """Split `variables` into lists of one dtype with at most BROADCAST_CHUNK_ELEMENTS
    elements each; a larger variable gets a list of its own."""
    variables_by_dtype = {}
    for variable in variables:
        variables_by_dtype.setdefault(tf.as_dtype(variable.dtype), []).append(variable)

    groups = []
    for same_dtype in variables_by_dtype.values():
        group = []
        num_elements = 0
        for variable in same_dtype:
            count = variable.shape.num_elements()
            if group and num_elements + count > BROADCAST_CHUNK_ELEMENTS:
                groups.append(group)
                group = []
                num_elements = 0
            group.append(variable)
            num_elements += count
        groups.append(group)
    return groups


def _copy_from_first_replica(group):
    """Set every replica's copy of the variables in `group` to replica 0's values.

    Call it in replica context. Replica 0 is the chief's first device.
    """
    context = tf.distribute.get_replica_context()
    flat = tf.concat([tf.reshape(variable, [-1]) for variable in group], axis=0)
    # Replica 0 sends its values and every other replica zeros, so the sum is replica 0's.
    share = tf.where(context.replica_id_in_sync_group == 0, flat, tf.zeros_like(flat))
    values = context.all_reduce(tf.distribute.ReduceOp.SUM, share)

    offset = 0
    for variable in group:
        count = variable.shape.num_elements()
        # The variables of this runner aggregate no updates, so an assignment in replica
        # context sets this replica's own copy.
        variable.assign(tf.reshape(values[offset:offset + count], variable.shape))
        offset += count


class StrategyReplicas(Replicas):
    """The replicas of a tf.distribute strategy, on one worker unless num_workers is above 1."""

    def __init__(self, strategy, description, num_workers=1, worker_index=0, notes=()):
        self.strategy = strategy
        self.description = description
        self.notes = tuple(notes)
        self.num_workers = num_workers
        self.worker_index = worker_index
        self.replicas_per_worker = strategy.num_replicas_in_sync // num_workers

    @contextlib.contextmanager
    def scope(self):
        with self.strategy.scope(), tf.variable_creator_scope(_replica_local_statistics):
            yield

    def average_gradients(self, tape):
        return _AllReduceTape(tape)

    def run(self, replica_step, images, labels):
        per_replica_terms = self.strategy.run(replica_step, args=(images, labels))
        return {name: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                for name, value in per_replica_terms.items()}

    def training_batches(self, make_dataset, start_step):
        def dataset_for_pipeline(input_context):
            # Each replica takes the next batch of its pipeline, so every step consumes
            # this many batches of each pipeline.
            replicas_per_pipeline = (input_context.num_replicas_in_sync
                                     // input_context.num_input_pipelines)
            return make_dataset(input_context.num_input_pipelines,
                                input_context.input_pipeline_id,
                                start_step * replicas_per_pipeline)

        return self.strategy.distribute_datasets_from_function(dataset_for_pipeline)


class MultiWorkerReplicas(StrategyReplicas):
    """The replicas of MultiWorkerMirroredStrategy: one process per host."""

    def sum_over_workers(self, values):
        values = tf.constant(np.asarray(values, dtype=np.float64))
        replicas_per_worker = float(self.replicas_per_worker)

        def replica_share():
            # Every local replica adds an equal share, so the sum over all replicas is the
            # sum over workers.
            context = tf.distribute.get_replica_context()
            return context.all_reduce(tf.distribute.ReduceOp.SUM, values / replicas_per_worker)

        summed = self.strategy.run(replica_share)
        return self.strategy.experimental_local_results(summed)[0].numpy()

    def broadcast_variables(self, variables):
        for group in _broadcast_groups(variables):
            self.strategy.run(_copy_from_first_replica, args=(group,))

    def create_checkpoint_manager(self, checkpoint, train_dir, max_to_keep):
        # Checkpoint.save_counter is a variable created on first use, and creating a variable
        # under this strategy is a collective. Create it now on every worker, so that a
        # restore on one worker and not on another cannot make the collectives diverge.
        checkpoint.save_counter  # pylint: disable=pointless-statement
        if self.is_chief:
            return checkpoints.create_manager(checkpoint, train_dir, max_to_keep)
        return _NonChiefCheckpointManager(checkpoint, train_dir, max_to_keep,
                                          self.worker_index)


class _NonChiefCheckpointManager:
    """Checkpoint manager of a worker other than the chief.

    It restores from --train_dir as the chief does. A save can run collectives (reading a
    variable that is synchronized on read is one), so every worker takes part in each save,
    as in Keras' ModelCheckpoint under this strategy. Here save() writes the checkpoint into
    a temporary folder outside --train_dir and deletes it, and the chief's files are the
    checkpoint. `checkpoints` and `latest_checkpoint` name the chief's files, so the save
    decisions that depend on them match on every worker.
    """

    def __init__(self, checkpoint, train_dir, max_to_keep, worker_index):
        self.checkpoint = checkpoint
        self.directory = train_dir
        self.max_to_keep = max_to_keep
        self.worker_index = worker_index
        # A CheckpointManager only reads the folder until it saves.
        reader = checkpoints.create_manager(checkpoint, train_dir, max_to_keep)
        self.checkpoints = list(reader.checkpoints)

    @property
    def latest_checkpoint(self):
        return self.checkpoints[-1] if self.checkpoints else None

    def save(self, checkpoint_number):
        temporary_dir = tempfile.mkdtemp(prefix="worker%d_checkpoint_" % self.worker_index)
        try:
            writer = checkpoints.create_manager(self.checkpoint, temporary_dir, max_to_keep=1)
            writer.save(checkpoint_number=checkpoint_number)
        finally:
            shutil.rmtree(temporary_dir, ignore_errors=True)

        chief_path = os.path.join(self.directory, "model.ckpt-%d" % checkpoint_number)
        self.checkpoints = (self.checkpoints + [chief_path])[-self.max_to_keep:]
        return chief_path


def _use_first_gpus(flag_values, gpus, strategy_name):
    """Make the first --num_gpus GPUs the visible ones; raise ValueError when fewer exist."""
    num_gpus = flag_values.num_gpus
    if len(gpus) < num_gpus:
        raise ValueError(
            "--num_gpus=%d, but this process sees %d GPU(s). Lower --num_gpus to %d, or check "
            "CUDA_VISIBLE_DEVICES and the driver (%s)."
            % (num_gpus, len(gpus), len(gpus), strategy_name))
    tf.config.set_visible_devices(gpus[:num_gpus], "GPU")


def _split_cpu(num_devices):
    """Split the CPU into `num_devices` logical devices and return their names."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)])
    except RuntimeError as error:
        raise RuntimeError("cannot split the CPU into %d logical devices after TensorFlow "
                           "started (%s); create the replicas before anything else runs."
                           % (num_devices, error)) from error
    return ["/cpu:%d" % index for index in range(num_devices)]


def mirrored_replicas(flag_values, gpus):
    """Return the replicas of MirroredStrategy over --num_gpus devices of this host.

    Without a GPU the CPU is split into --num_gpus logical devices, which runs the multi-device
    code path on any machine. Raises ValueError when some GPUs are visible, but fewer than
    --num_gpus.
    """
    num_devices = flag_values.num_gpus
    notes = []
    if gpus:
        _use_first_gpus(flag_values, gpus, "MirroredStrategy")
        devices = ["/gpu:%d" % index for index in range(num_devices)]
        description = "%d GPUs, MirroredStrategy" % num_devices
    else:
        devices = _split_cpu(num_devices)
        notes.append("No GPU visible: the CPU is split into %d logical devices for "
                     "--num_gpus=%d. This tests the multi-device path but trains no faster "
                     "than one device." % (num_devices, num_devices))
        description = "%d logical CPU devices, MirroredStrategy" % num_devices
    return StrategyReplicas(tf.distribute.MirroredStrategy(devices), description, notes=notes)


def _parse_tf_config(text):
    """Return (worker addresses, this worker's index) of a TF_CONFIG JSON string.

    A "chief" task comes first, then the "worker" tasks. Raises ValueError for a TF_CONFIG
    without them or whose task is of another type.
    """
    try:
        config = json.loads(text)
        cluster = config["cluster"]
        task = config["task"]
        task_type = task["type"]
        task_index = int(task.get("index", 0))
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError("TF_CONFIG is not valid (%s). Expected JSON such as "
                         '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
                         '"task": {"type": "worker", "index": 0}}.' % error) from error

    chief = list(cluster.get("chief", []))
    workers = list(cluster.get("worker", []))
    if len(chief) > 1:
        raise ValueError("TF_CONFIG lists %d chief tasks. Give at most one." % len(chief))
    if task_type not in TRAINING_TASK_TYPES:
        raise ValueError("TF_CONFIG's task type %r is not supported. Use one of %s."
                         % (task_type, ", ".join(TRAINING_TASK_TYPES)))
    addresses = chief + workers
    if not addresses:
        raise ValueError("TF_CONFIG's cluster has no chief or worker addresses.")
    index = task_index if task_type == "chief" else len(chief) + task_index
    if not 0 <= index < len(addresses):
        raise ValueError("TF_CONFIG's task index %d is out of range for its %d %s task(s)."
                         % (task_index, len(chief) if task_type == "chief" else len(workers),
                            task_type))
    return addresses, index


def resolve_cluster(worker_hosts, task_index, environment):
    """Return (worker addresses, this worker's index) from TF_CONFIG in `environment` or from
    --worker_hosts and --task_index. Without TF_CONFIG, set it there from the flags, because
    MultiWorkerMirroredStrategy reads it.

    Raises ValueError when neither is given, or when both are given and disagree.
    """
    text = environment.get(TF_CONFIG)
    hosts = None
    if worker_hosts:
        hosts = [host.strip() for host in worker_hosts.split(",")]

    if text is None and hosts is None:
        raise ValueError(
            "--variable_update=collective_all_reduce needs the cluster: set TF_CONFIG, or pass "
            "--worker_hosts=host1:port,host2:port (the same list on every host) and "
            "--task_index (this host's position, 0 for the chief).")
    if text is None:
        environment[TF_CONFIG] = json.dumps(
            {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": task_index}})
        return hosts, task_index

    addresses, index = _parse_tf_config(text)
    if hosts is not None and hosts != addresses:
        raise ValueError("--worker_hosts=%s disagrees with TF_CONFIG's workers %s. Give one of "
                         "them, or the same list in both." % (worker_hosts, ",".join(addresses)))
    if hosts is not None and task_index != index:
        raise ValueError("--task_index=%d disagrees with TF_CONFIG, which makes this worker %d. "
                         "Give one of them, or the same index in both." % (task_index, index))
    return addresses, index


def _connect_error(timeout, addresses, worker_index):
    return ("error: the cluster's workers did not all connect within "
            "--cluster_connect_timeout_secs=%d (workers %s, this is worker %d). Start the same "
            "command on every host with its own --task_index (or TF_CONFIG), and check that "
            "each host:port is reachable from the others."
            % (timeout, ",".join(addresses), worker_index))


def multi_worker_replicas(flag_values, gpus):
    """Return the replicas of MultiWorkerMirroredStrategy, one worker per host.

    Each worker trains on its first --num_gpus GPUs, or on its CPU as one replica when it has
    no GPU. Raises ValueError for too few GPUs, or for a missing or contradictory cluster.
    """
    if gpus:
        _use_first_gpus(flag_values, gpus, "MultiWorkerMirroredStrategy")
        device_text = "%d GPU(s)" % flag_values.num_gpus
    elif flag_values.num_gpus > 1:
        raise ValueError(
            "--num_gpus=%d with --variable_update=collective_all_reduce needs that many GPUs "
            "on each host, and this one has none. Use --num_gpus=1 to train on each host's "
            "CPU as one replica." % flag_values.num_gpus)
    else:
        device_text = "CPU"
    addresses, worker_index = resolve_cluster(flag_values.worker_hosts, flag_values.task_index,
                                              os.environ)

    # The strategy returns once every worker of the cluster has connected, so a worker that
    # never starts leaves the others waiting. In a test under TensorFlow 2.15 a worker still
    # waited after 13 minutes, and TensorFlow caught its SIGTERM without stopping it.
    timeout = flag_values.cluster_connect_timeout_secs
    print("Waiting for the %d workers of the cluster (%s) to connect; this is worker %d%s."
          % (len(addresses), ",".join(addresses), worker_index,
             ", for up to %d s" % timeout if timeout else ""), flush=True)
    watchdog = None
    if timeout:
        watchdog = connect_watchdog.ConnectWatchdog(
            timeout, _connect_error(timeout, addresses, worker_index))
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    if watchdog is not None:
        watchdog.stop()
    description = ("%d workers x %s, MultiWorkerMirroredStrategy, this is worker %d"
                   % (len(addresses), device_text, worker_index))
    return MultiWorkerReplicas(strategy, description, num_workers=len(addresses),
                               worker_index=worker_index)
