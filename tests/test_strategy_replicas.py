"""The tf.distribute backends: MirroredStrategy on 2 logical CPU devices and
MultiWorkerMirroredStrategy with 2 worker processes on 127.0.0.1, through real training steps
and real runner processes.

TensorFlow splits the CPU into logical devices only before it starts, so every check that
needs a strategy runs in a fresh process.
"""

import argparse
import glob
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

# Not imported from tests.conftest: the worker processes import this module, and conftest's
# imports define absl flags that the runner's flag parsing then requires.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.keras3

# Small enough for 2 CPU cores: the 75-pixel minimum of InceptionV3 and 2 images per replica.
SMALL_FLAGS = ["--image_size=75", "--batch_size=2", "--num_warmup_batches=1",
               "--display_every=1", "--batchnorm_decay=0.9"]

TIMEOUT_SECONDS = 300

NUM_CLASSES = 10
IMAGE_SIZE = 75
IMAGES_PER_REPLICA = 2
UPDATE_STEPS = 2

# Largest difference allowed between the weights of 2 replicas with 2 images each and of 1
# device with 4 images, as a fraction of the update each variable took (L2 norms). Under
# TensorFlow 2.15 and 2.21, 1.2e-5 was measured on a quiet machine and 3.2e-3 in a CI run
# beside other jobs. The gradients differ in their float32 summation order, which depends on
# the thread schedule. The second RMSProp step amplifies that for variables with small
# updates. A missing or wrong all-reduce changes updates by tens of percent.
UPDATE_TOLERANCE = 2e-2
# High, so that the updates are large against that rounding. At 0.01 the rounding alone made
# some variables differ by 2 % of their update.
UPDATE_LEARNING_RATE = 0.1

DLLOGGER_PREFIX = "DLLL "


def cpu_environment():
    """Return this process's environment without GPUs and without TF_CONFIG, so the
    processes of these tests split the CPU on any machine and start no cluster by accident."""
    environment = {name: value for name, value in os.environ.items() if name != "TF_CONFIG"}
    environment["CUDA_VISIBLE_DEVICES"] = ""
    return environment


def run_runner(args):
    return subprocess.run([sys.executable, "-m", "tf_cnn_benchmarks"] + args, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                          env=cpu_environment())


def run_in_fresh_process(function_name, args):
    """Run `function_name(args)` of this module in a new Python process."""
    code = ("import sys\n"
            "from tests import test_strategy_replicas as module\n"
            "module.%s(sys.argv[1:])\n" % function_name)
    return [sys.executable, "-c", code] + list(args)


def read_dllogger(path):
    """Return the records of a dllogger file; fail on a line that is not `DLLL {json}`."""
    records = []
    with open(path, encoding="utf-8") as log_file:
        for line in log_file:
            assert line.startswith(DLLOGGER_PREFIX), line
            records.append(json.loads(line[len(DLLOGGER_PREFIX):]))
    return records


def logged_training_steps(records):
    """Return the step numbers of the per-step training records, in file order."""
    return [record["step"][1] for record in records
            if isinstance(record.get("step"), list) and len(record["step"]) == 2
            and "images_per_sec" in record["data"]]


def update_difference(initial, expected, actual):
    """Return |expected - actual| as a fraction of the update |expected - initial| (L2
    norms)."""
    update = float(np.linalg.norm(expected - initial))
    return float(np.linalg.norm(expected - actual)) / max(update, 1e-12)


# One update on 1 device against 2 mirrored replicas ------------------------------------------

def replica_copies(strategy, variable):
    """Return each replica's copy of a variable created under `strategy`."""
    import tensorflow as tf

    # A Keras 3 variable wraps the strategy's variable, which `value` returns.
    if not isinstance(variable, tf.Variable):
        variable = variable.value
    return strategy.experimental_local_results(variable)


def compare_update(argv):
    """Train UPDATE_STEPS steps on 1 device with 4 images per step and on 2 MirroredStrategy
    replicas with 2 each, from the same weights and images, and write the differences as JSON
    to argv[0].

    Batch norm runs in inference mode (frozen layers) and dropout is off, so the loss of the 4
    images does not depend on how they are split, and both runs must take the same update.
    """
    import tensorflow as tf

    from models import inception_v3
    from tf_cnn_benchmarks import checkpoints
    from tf_cnn_benchmarks import learning_rate
    from tf_cnn_benchmarks import moving_average
    from tf_cnn_benchmarks import optimizers
    from tf_cnn_benchmarks import strategy_replicas
    from tf_cnn_benchmarks.replicas import Replicas
    from tf_cnn_benchmarks.train_step import TrainStep

    mirrored = strategy_replicas.mirrored_replicas(argparse.Namespace(num_gpus=2), gpus=[])

    def build(replicas):
        with replicas.scope():
            tf.keras.utils.set_random_seed(1)
            model = inception_v3.inception_v3(NUM_CLASSES, image_size=IMAGE_SIZE,
                                              dropout_keep_prob=1.0)
            for layer in model.layers:
                if isinstance(layer, tf.keras.layers.BatchNormalization):
                    layer.trainable = False
            trainable = checkpoints.named_trainable_variables(model)
            optimizer = optimizers.RMSProp(trainable, decay=0.9, momentum=0.9, epsilon=1.0)
            global_step = tf.Variable(0, dtype=tf.int64, trainable=False)
            weight_average = moving_average.WeightAverage(
                checkpoints.named_model_variables(model), 0.9999)
            step = TrainStep(model, list(trainable.values()), optimizer,
                             learning_rate.StaircaseDecay(UPDATE_LEARNING_RATE, 1000, 1.0),
                             global_step,
                             label_smoothing=0.1, aux_loss_weight=0.4, weight_decay=4e-5,
                             gradient_clip=2.0, weight_average=weight_average,
                             replicas=replicas)
        return model, step, global_step, weight_average

    single_model, single_step, single_global_step, single_average = build(Replicas())
    mirrored_model, mirrored_step, mirrored_global_step, mirrored_average = build(mirrored)
    mirrored_model.set_weights(single_model.get_weights())
    single_average.reset()
    mirrored_average.reset()
    initial_weights = [variable.numpy() for variable in single_model.trainable_variables]
    initial_averages = {key: shadow.numpy() for key, shadow in single_average.shadows.items()}

    num_images = IMAGES_PER_REPLICA * mirrored.num_replicas
    images = tf.random.stateless_uniform([num_images, IMAGE_SIZE, IMAGE_SIZE, 3], seed=[1, 2],
                                         minval=-1.0, maxval=1.0)
    labels = tf.range(num_images, dtype=tf.int32) % NUM_CLASSES

    def replica_slice(tensor):
        def slice_for(context):
            start = context.replica_id_in_sync_group * IMAGES_PER_REPLICA
            return tensor[start:start + IMAGES_PER_REPLICA]
        return mirrored.strategy.experimental_distribute_values_from_function(slice_for)

    single_losses = []
    mirrored_losses = []
    with mirrored.scope():
        for _ in range(UPDATE_STEPS):
            single_losses.append(float(single_step(images, labels)["total_loss"]))
            terms = mirrored_step(replica_slice(images), replica_slice(labels))
            mirrored_losses.append(float(terms["total_loss"]))

    weight_differences = []
    for initial, expected, variable in zip(initial_weights, single_model.trainable_variables,
                                           mirrored_model.trainable_variables):
        for copy in replica_copies(mirrored.strategy, variable):
            weight_differences.append(update_difference(initial, expected.numpy(),
                                                        copy.numpy()))
    average_differences = []
    for key, shadow in single_average.shadows.items():
        for copy in replica_copies(mirrored.strategy, mirrored_average.shadows[key]):
            average_differences.append(update_difference(initial_averages[key], shadow.numpy(),
                                                          copy.numpy()))
    updates = [float(np.linalg.norm(copy.numpy() - initial))
               for initial, variable in zip(initial_weights, mirrored_model.trainable_variables)
               for copy in replica_copies(mirrored.strategy, variable)]

    result = {
        "num_replicas": mirrored.num_replicas,
        "num_trainable": len(single_model.trainable_variables),
        "num_weight_copies": len(weight_differences),
        "single_losses": single_losses,
        "mirrored_losses": mirrored_losses,
        "max_weight_difference": max(weight_differences),
        "max_average_difference": max(average_differences),
        "min_weight_update": min(updates),
        "single_global_step": int(single_global_step.numpy()),
        "mirrored_global_step": int(mirrored_global_step.numpy()),
    }
    with open(argv[0], "w", encoding="utf-8") as result_file:
        json.dump(result, result_file)


@pytest.fixture(scope="module")
def update_comparison(tmp_path_factory):
    result_path = str(tmp_path_factory.mktemp("update") / "result.json")
    process = subprocess.run(run_in_fresh_process("compare_update", [result_path]),
                             cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=TIMEOUT_SECONDS, env=cpu_environment())
    assert process.returncode == 0, process.stdout + process.stderr[-5000:]
    with open(result_path, encoding="utf-8") as result_file:
        result = json.load(result_file)
    print("mirrored update: %s" % result)
    return result


def test_mirrored_update_compares_every_replica(update_comparison):
    assert update_comparison["num_replicas"] == 2
    assert update_comparison["num_weight_copies"] == 2 * update_comparison["num_trainable"]


def test_mirrored_update_moves_every_copy(update_comparison):
    assert update_comparison["min_weight_update"] > 0.0


def test_mirrored_update_matches_one_device(update_comparison):
    assert update_comparison["max_weight_difference"] < UPDATE_TOLERANCE


def test_mirrored_losses_match_one_device(update_comparison):
    np.testing.assert_allclose(update_comparison["mirrored_losses"],
                               update_comparison["single_losses"], rtol=UPDATE_TOLERANCE)


def test_mirrored_moving_average_matches(update_comparison):
    assert update_comparison["max_average_difference"] < UPDATE_TOLERANCE


def test_mirrored_step_counts_once_per_step(update_comparison):
    assert update_comparison["single_global_step"] == UPDATE_STEPS
    assert update_comparison["mirrored_global_step"] == UPDATE_STEPS


# The runner with --num_gpus=2 ----------------------------------------------------------------

@pytest.fixture(scope="module")
def mirrored_runs(demo_shards, tmp_path_factory):
    """Two steps with an evaluation at step 2, then a second run that resumes to step 3."""
    train_dir = str(tmp_path_factory.mktemp("mirrored") / "train_dir")
    common = ["--data_dir=" + demo_shards, "--train_dir=" + train_dir, "--num_gpus=2",
              "--variable_update=replicated"] + SMALL_FLAGS
    first = run_runner(common + ["--num_batches=2", "--eval_during_training_every_n_steps=2"])
    second = run_runner(common + ["--num_batches=3"])
    return {"first": first, "second": second, "train_dir": train_dir,
            "data_dir": demo_shards}


def test_mirrored_runs_succeed(mirrored_runs):
    for name in ("first", "second"):
        result = mirrored_runs[name]
        assert result.returncode == 0, name + ": " + result.stdout + result.stderr[-5000:]


def test_mirrored_run_notes_cpu_split(mirrored_runs):
    stdout = mirrored_runs["first"].stdout
    assert "the CPU is split into 2 logical devices for --num_gpus=2" in stdout
    assert "trains no faster than one device" in stdout


def test_mirrored_run_uses_global_batch(mirrored_runs):
    assert "Batch size:  4 global (2 per device, 2 logical CPU devices, MirroredStrategy)" \
        in mirrored_runs["first"].stdout


def test_mirrored_run_prints_per_device_rate(mirrored_runs):
    assert "per device: " in mirrored_runs["first"].stdout
    assert "(2 devices)" in mirrored_runs["first"].stdout


def test_mirrored_run_writes_checkpoints(mirrored_runs):
    for step in (2, 3):
        assert os.path.exists(os.path.join(mirrored_runs["train_dir"],
                                           "model.ckpt-%d.index" % step))


def test_mirrored_dllogger_one_record_per_step(mirrored_runs):
    records = read_dllogger(os.path.join(mirrored_runs["train_dir"], "dllogger.json"))
    assert logged_training_steps(records) == [1, 2, 3]


def test_mirrored_eval_scores_each_image_once(mirrored_runs):
    from data import imagenet_tfrecord

    num_images = imagenet_tfrecord.num_examples(mirrored_runs["data_dir"], "validation")
    stdout = mirrored_runs["first"].stdout
    assert stdout.count("[%d examples] (step 2" % num_images) == 2


def test_mirrored_second_run_resumes(mirrored_runs):
    stdout = mirrored_runs["second"].stdout
    assert "Resuming from checkpoint" in stdout
    assert "at step 2; continuing at step 3" in stdout
    assert "\n3\timages/sec: " in stdout
    assert "\n1\timages/sec: " not in stdout


# Bad input --------------------------------------------------------------------------------

def test_mirrored_with_xla_is_rejected():
    result = run_runner(["--num_gpus=2", "--xla", "--num_batches=1"] + SMALL_FLAGS)
    assert result.returncode == 2
    assert "--xla cannot compile a step whose replicas run on several devices" in result.stderr


def test_collective_without_cluster_is_rejected():
    result = run_runner(["--variable_update=collective_all_reduce", "--num_batches=1"]
                        + SMALL_FLAGS)
    assert result.returncode == 1
    assert "needs the cluster: set TF_CONFIG, or pass --worker_hosts" in result.stderr


def test_missing_worker_stops_after_timeout():
    hosts = ",".join("127.0.0.1:%d" % port for port in free_local_ports(2))
    result = run_runner(["--variable_update=collective_all_reduce", "--worker_hosts=" + hosts,
                         "--task_index=0", "--cluster_connect_timeout_secs=5",
                         "--num_batches=1"] + SMALL_FLAGS)
    assert result.returncode == -signal.SIGKILL
    assert ("error: the cluster's workers did not all connect within "
            "--cluster_connect_timeout_secs=5 (workers %s, this is worker 0)." % hosts
            in result.stderr)


def test_watchdog_kills_waiting_process():
    waiting = ("from tf_cnn_benchmarks import connect_watchdog; import time; "
               "connect_watchdog.ConnectWatchdog(1, 'cluster missing'); time.sleep(60)")
    result = subprocess.run([sys.executable, "-c", waiting], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert result.returncode == -signal.SIGKILL
    assert result.stderr == "cluster missing\n"


def test_stopped_watchdog_kills_nothing():
    finished = ("from tf_cnn_benchmarks import connect_watchdog; import time; "
                "watchdog = connect_watchdog.ConnectWatchdog(1, 'cluster missing'); "
                "watchdog.stop(); time.sleep(2); print('done')")
    result = subprocess.run([sys.executable, "-c", finished], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert result.returncode == 0
    assert result.stdout == "done\n"
    assert result.stderr == ""


def test_watchdog_spares_other_process():
    from tf_cnn_benchmarks import connect_watchdog

    # A process that is not the watchdog's parent, such as one that reused the parent's id.
    other = subprocess.Popen(["sleep", "30"])
    try:
        connect_watchdog.watch(other.pid, 0.1, "cluster missing")
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_mirrored_with_too_few_gpus_is_rejected():
    from tf_cnn_benchmarks import strategy_replicas

    # Raised before the GPU list is used, so a placeholder stands for the one GPU.
    with pytest.raises(ValueError, match=r"--num_gpus=2, but this process sees 1 GPU"):
        strategy_replicas.mirrored_replicas(argparse.Namespace(num_gpus=2), gpus=["GPU:0"])


def test_collective_on_cpu_rejects_num_gpus():
    from tf_cnn_benchmarks import strategy_replicas

    flag_values = argparse.Namespace(num_gpus=2, worker_hosts="127.0.0.1:1,127.0.0.1:2",
                                     task_index=0)
    with pytest.raises(ValueError, match=r"--num_gpus=2 .* Use --num_gpus=1"):
        strategy_replicas.multi_worker_replicas(flag_values, gpus=[])


def test_cluster_from_worker_hosts_sets_tf_config():
    from tf_cnn_benchmarks import strategy_replicas

    environment = {}
    addresses, index = strategy_replicas.resolve_cluster("127.0.0.1:1, 127.0.0.1:2", 1,
                                                         environment)
    assert addresses == ["127.0.0.1:1", "127.0.0.1:2"]
    assert index == 1
    assert json.loads(environment["TF_CONFIG"]) == {
        "cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
        "task": {"type": "worker", "index": 1}}


def test_cluster_from_tf_config_puts_chief_first():
    from tf_cnn_benchmarks import strategy_replicas

    tf_config = {"cluster": {"chief": ["host0:1"], "worker": ["host1:1", "host2:1"]},
                 "task": {"type": "worker", "index": 1}}
    environment = {"TF_CONFIG": json.dumps(tf_config)}
    addresses, index = strategy_replicas.resolve_cluster(None, 0, environment)
    assert addresses == ["host0:1", "host1:1", "host2:1"]
    assert index == 2


def test_cluster_missing_is_rejected():
    from tf_cnn_benchmarks import strategy_replicas

    with pytest.raises(ValueError, match="set TF_CONFIG, or pass --worker_hosts"):
        strategy_replicas.resolve_cluster(None, 0, {})


@pytest.mark.parametrize("worker_hosts, task_index, message", [
    ("host0:1,host9:1", 0, "--worker_hosts=host0:1,host9:1 disagrees with TF_CONFIG"),
    ("host0:1,host1:1", 0, "--task_index=0 disagrees with TF_CONFIG"),
])
def test_cluster_flags_disagreeing_with_tf_config(worker_hosts, task_index, message):
    from tf_cnn_benchmarks import strategy_replicas

    tf_config = {"cluster": {"worker": ["host0:1", "host1:1"]},
                 "task": {"type": "worker", "index": 1}}
    with pytest.raises(ValueError, match=message):
        strategy_replicas.resolve_cluster(worker_hosts, task_index,
                                          {"TF_CONFIG": json.dumps(tf_config)})


@pytest.mark.parametrize("tf_config, message", [
    ("not json", "TF_CONFIG is not valid"),
    ('{"cluster": {"worker": ["host0:1"]}, "task": {"type": "ps", "index": 0}}',
     "task type 'ps' is not supported"),
    ('{"cluster": {"worker": ["host0:1"]}, "task": {"type": "worker", "index": 3}}',
     "task index 3 is out of range"),
])
def test_cluster_invalid_tf_config(tf_config, message):
    from tf_cnn_benchmarks import strategy_replicas

    with pytest.raises(ValueError, match=message):
        strategy_replicas.resolve_cluster(None, 0, {"TF_CONFIG": tf_config})


# MultiWorkerMirroredStrategy with 2 worker processes ----------------------------------------

def run_worker(argv):
    """Run the runner with argv[1:] in this process, then write the step it reached and a
    SHA-256 digest of the trainable variables as JSON to argv[0]."""
    from absl import app

    import tf_cnn_benchmarks.__main__ as entry_point
    from tf_cnn_benchmarks import training_loop

    runs = []
    original_init = training_loop._Run.__init__

    def recording_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        runs.append(self)

    training_loop._Run.__init__ = recording_init
    exit_code = 0
    try:
        app.run(entry_point.main, argv=["tf_cnn_benchmarks"] + argv[1:])
    except SystemExit as exit_request:
        exit_code = exit_request.code or 0

    result = {"exit_code": exit_code}
    if runs:
        run = runs[-1]
        digest = hashlib.sha256()
        for variable in run.model.trainable_variables:
            digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
        result["global_step"] = int(run.global_step.numpy())
        result["trainable_sha256"] = digest.hexdigest()
    with open(argv[0], "w", encoding="utf-8") as result_file:
        json.dump(result, result_file)
    sys.exit(exit_code)


def free_local_ports(count):
    """Return `count` TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for open_socket in sockets:
            open_socket.bind(("127.0.0.1", 0))
        return [open_socket.getsockname()[1] for open_socket in sockets]
    finally:
        for open_socket in sockets:
            open_socket.close()


def wait_for_workers(processes, timeout_seconds):
    """Wait for every process; kill all of them once `timeout_seconds` passed. Return True
    when they all ended in time."""
    deadline = time.monotonic() + timeout_seconds
    for process in processes:
        try:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            for other in processes:
                other.wait(timeout=30)
            return False
    return True


@pytest.fixture(scope="module")
def multi_worker_run(demo_shards, tmp_path_factory):
    """Two steps on 2 workers sharing --train_dir, with an evaluation of 9 validation images
    at step 2. Worker 0 scores 5 images in 3 batches and worker 1 4 images in 2, so a
    collective inside evaluation would leave the workers waiting on each other."""
    work_dir = tmp_path_factory.mktemp("multi_worker")
    train_dir = str(work_dir / "train_dir")
    hosts = ",".join("127.0.0.1:%d" % port for port in free_local_ports(2))
    common = ["--data_dir=" + demo_shards, "--train_dir=" + train_dir,
              "--variable_update=collective_all_reduce", "--worker_hosts=" + hosts,
              "--num_batches=2", "--eval_during_training_every_n_steps=2",
              "--num_eval_epochs=0.45"] + SMALL_FLAGS

    processes = []
    workers = []
    for index in range(2):
        worker_dir = work_dir / ("worker%d" % index)
        temporary_dir = worker_dir / "tmp"
        temporary_dir.mkdir(parents=True)
        environment = cpu_environment()
        environment["TMPDIR"] = str(temporary_dir)
        worker = {"result": str(worker_dir / "result.json"),
                  "stdout": str(worker_dir / "stdout.txt"),
                  "stderr": str(worker_dir / "stderr.txt"),
                  "tmp": str(temporary_dir)}
        command = run_in_fresh_process(
            "run_worker", [worker["result"]] + common + ["--task_index=%d" % index])
        # Files, not pipes: a worker blocked on a full pipe would stall the other's
        # collectives.
        with open(worker["stdout"], "w", encoding="utf-8") as stdout_file, \
                open(worker["stderr"], "w", encoding="utf-8") as stderr_file:
            processes.append(subprocess.Popen(command, cwd=REPO_ROOT, env=environment,
                                              stdout=stdout_file, stderr=stderr_file))
        workers.append(worker)

    finished = wait_for_workers(processes, TIMEOUT_SECONDS)
    for worker, process in zip(workers, processes):
        worker["returncode"] = process.returncode
        with open(worker["stdout"], encoding="utf-8") as stdout_file:
            worker["stdout_text"] = stdout_file.read()
        with open(worker["stderr"], encoding="utf-8") as stderr_file:
            worker["stderr_text"] = stderr_file.read()
        worker["summary"] = None
        if os.path.exists(worker["result"]):
            with open(worker["result"], encoding="utf-8") as result_file:
                worker["summary"] = json.load(result_file)
    return {"finished": finished, "workers": workers, "train_dir": train_dir}


def worker_report(multi_worker_run):
    return "\n".join("worker %d (exit %s):\n%s\n%s" % (index, worker["returncode"],
                                                       worker["stdout_text"][-3000:],
                                                       worker["stderr_text"][-3000:])
                     for index, worker in enumerate(multi_worker_run["workers"]))


def test_workers_finish_in_time(multi_worker_run):
    assert multi_worker_run["finished"], worker_report(multi_worker_run)
    for worker in multi_worker_run["workers"]:
        assert worker["returncode"] == 0, worker_report(multi_worker_run)


def test_workers_reach_same_step(multi_worker_run):
    summaries = [worker["summary"] for worker in multi_worker_run["workers"]]
    assert None not in summaries, worker_report(multi_worker_run)
    assert [summary["global_step"] for summary in summaries] == [2, 2]


def test_workers_end_with_same_weights(multi_worker_run):
    summaries = [worker["summary"] for worker in multi_worker_run["workers"]]
    assert None not in summaries, worker_report(multi_worker_run)
    assert summaries[0]["trainable_sha256"] == summaries[1]["trainable_sha256"]


def test_only_chief_writes_train_dir(multi_worker_run):
    names = sorted(os.listdir(multi_worker_run["train_dir"]))
    events = [name for name in names if name.startswith("events.out.tfevents.")]
    assert len(events) == 1, names
    assert sorted(set(names) - set(events)) == [
        "checkpoint", "dllogger.json", "model.ckpt-2.data-00000-of-00001",
        "model.ckpt-2.index", "model_config.json"]


def test_other_worker_deletes_its_checkpoints(multi_worker_run):
    leftovers = glob.glob(os.path.join(multi_worker_run["workers"][1]["tmp"],
                                       "worker1_checkpoint_*"))
    assert leftovers == []


def test_multi_worker_dllogger_parses(multi_worker_run):
    records = read_dllogger(os.path.join(multi_worker_run["train_dir"], "dllogger.json"))
    assert logged_training_steps(records) == [1, 2]


def test_multi_worker_eval_sums_workers(multi_worker_run):
    stdout = multi_worker_run["workers"][0]["stdout_text"]
    assert stdout.count("[9 examples] (step 2") == 2, worker_report(multi_worker_run)


def test_multi_worker_describes_cluster(multi_worker_run):
    stdout = multi_worker_run["workers"][0]["stdout_text"]
    assert "Batch size:  4 global (2 per device, 2 workers x CPU" in stdout
