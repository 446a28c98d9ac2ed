"""run_train_inceptionV3_multigpu_imagenet.sh on the CPU with NUM_GPUS=2: two Horovod processes
through horovodrun where Horovod is installed (the TensorFlow 2.15 line), MirroredStrategy over
two logical CPU devices where it is not (the TensorFlow 2.21 line), and the errors a user meets
before training starts.

The horovodrun tests skip where Horovod is missing, unless REQUIRE_HOROVOD=1 (set by
scripts/run_tests.sh for the TensorFlow 2.15 line), which turns a missing Horovod into a failure.
"""

import glob
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.test_main_job import read_dllogger_records

SCRIPT = os.path.join(REPO_ROOT, "run_train_inceptionV3_multigpu_imagenet.sh")
HOROVOD_INSTALLED = importlib.util.find_spec("horovod") is not None

# Seconds for a run of two replicas that each build InceptionV3 on 2 shared cores, train 2
# steps and score the 20 validation images. A hang shows up as a timeout.
TIMEOUT_SECONDS = 600

# The 75-pixel minimum of InceptionV3, BATCH_SIZE=2 per replica and 2 steps.
SMALL_RUN_FLAGS = ["--image_size=75", "--num_batches=2", "--num_warmup_batches=1",
                   "--display_every=1", "--batchnorm_decay=0.9"]

needs_horovod = pytest.mark.skipif(
    not HOROVOD_INSTALLED and os.environ.get("REQUIRE_HOROVOD") != "1",
    reason="Horovod is not installed (requirements-horovod.txt installs it)")

without_horovod = pytest.mark.skipif(
    HOROVOD_INSTALLED, reason="Horovod is installed here, so the script launches horovodrun")


def host_has_gpu():
    """Return True when nvidia-smi or TensorFlow finds a GPU on this machine."""
    if shutil.which("nvidia-smi"):
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                 timeout=60)
        if listing.returncode == 0 and "GPU " in listing.stdout:
            return True
    import tensorflow as tf
    return bool(tf.config.list_physical_devices("GPU"))


def run_script(args, work_dir, **settings):
    """Run the script from `work_dir` with this interpreter and `settings` as environment
    variables. NUM_GPUS and HOSTS are taken from `settings` only."""
    environment = dict(os.environ, PYTHON=sys.executable, **settings)
    for name in ("NUM_GPUS", "HOSTS"):
        if name not in settings:
            environment.pop(name, None)
    # horovodrun is installed beside this interpreter, and the script also searches PATH.
    environment["PATH"] = os.path.dirname(sys.executable) + os.pathsep + environment["PATH"]
    return subprocess.run(["bash", SCRIPT] + args, cwd=work_dir, env=environment,
                          capture_output=True, text=True, timeout=TIMEOUT_SECONDS)


def run_two_replicas(demo_shards, work_dir):
    """Run the script with NUM_GPUS=2 on the demo shards and return the result and folders."""
    train_dir = str(work_dir / "train")
    log_dir = str(work_dir / "logs")
    result = run_script(SMALL_RUN_FLAGS, work_dir, NUM_GPUS="2", BATCH_SIZE="2",
                        DATA_DIR=demo_shards, TRAIN_DIR=train_dir, LOG_DIR=log_dir)
    return {"result": result, "train_dir": train_dir, "log_dir": log_dir}


def check_success(result):
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def run_parameters(train_dir):
    """Return the merged data of the PARAMETER records in the run's dllogger file."""
    merged = {}
    for record in read_dllogger_records(train_dir):
        if record.get("step") == "PARAMETER":
            merged.update(record["data"])
    return merged


def log_files(log_dir):
    return sorted(glob.glob(os.path.join(log_dir, "*.log")))


@pytest.fixture(scope="module")
def horovod_script_run(demo_shards, tmp_path_factory):
    return run_two_replicas(demo_shards, tmp_path_factory.mktemp("horovod_script"))


@pytest.fixture(scope="module")
def mirrored_script_run(demo_shards, tmp_path_factory):
    return run_two_replicas(demo_shards, tmp_path_factory.mktemp("mirrored_script"))


@needs_horovod
def test_horovod_names_launcher(horovod_script_run):
    stdout = horovod_script_run["result"].stdout
    assert "Launcher: horovodrun, 2 processes on localhost (Gloo)" in stdout


@needs_horovod
def test_horovod_run_finishes(horovod_script_run):
    result = horovod_script_run["result"]
    check_success(result)
    assert "total images/sec" in result.stdout


@needs_horovod
def test_horovod_run_has_two_workers(horovod_script_run):
    check_success(horovod_script_run["result"])
    parameters = run_parameters(horovod_script_run["train_dir"])
    assert parameters["world_size"] == 2
    assert parameters["global_batch_size"] == 4


@needs_horovod
def test_horovod_run_writes_checkpoint(horovod_script_run):
    check_success(horovod_script_run["result"])
    train_dir = horovod_script_run["train_dir"]
    assert os.path.isfile(os.path.join(train_dir, "model.ckpt-2.index"))
    assert os.path.isfile(os.path.join(train_dir, "checkpoint"))


@needs_horovod
def test_horovod_run_writes_log(horovod_script_run):
    files = log_files(horovod_script_run["log_dir"])
    assert len(files) == 1
    assert files[0].endswith("_default_2x2_rmsprop.log")
    with open(files[0], encoding="utf-8") as file:
        log_text = file.read()
    assert "Launcher: horovodrun" in log_text
    assert "total images/sec" in log_text


@pytest.mark.keras3
@without_horovod
def test_mirrored_names_launcher(mirrored_script_run):
    stdout = mirrored_script_run["result"].stdout
    assert "Launcher: one process, MirroredStrategy over 2 devices" in stdout
    assert "cannot import horovod.tensorflow" in stdout


@pytest.mark.keras3
@without_horovod
def test_mirrored_run_finishes(mirrored_script_run):
    result = mirrored_script_run["result"]
    check_success(result)
    assert "total images/sec" in result.stdout


@pytest.mark.keras3
@without_horovod
def test_mirrored_run_has_two_replicas(mirrored_script_run):
    check_success(mirrored_script_run["result"])
    parameters = run_parameters(mirrored_script_run["train_dir"])
    assert parameters["world_size"] == 2
    assert parameters["global_batch_size"] == 4


@pytest.mark.keras3
@without_horovod
def test_mirrored_run_writes_checkpoint(mirrored_script_run):
    check_success(mirrored_script_run["result"])
    train_dir = mirrored_script_run["train_dir"]
    assert os.path.isfile(os.path.join(train_dir, "model.ckpt-2.index"))
    assert os.path.isfile(os.path.join(train_dir, "checkpoint"))


@pytest.mark.keras3
@without_horovod
def test_mirrored_run_writes_log(mirrored_script_run):
    files = log_files(mirrored_script_run["log_dir"])
    assert len(files) == 1
    assert files[0].endswith("_default_2x2_rmsprop.log")
    with open(files[0], encoding="utf-8") as file:
        log_text = file.read()
    assert "Launcher: one process, MirroredStrategy" in log_text
    assert "total images/sec" in log_text


@pytest.mark.keras3
def test_no_gpu_needs_num_gpus(tmp_path):
    if host_has_gpu():
        pytest.skip("this machine has a GPU, so the script takes NUM_GPUS from it")
    result = run_script([], tmp_path)
    assert result.returncode == 2
    assert "NUM_GPUS is not set" in result.stderr
    assert "NUM_GPUS=2 runs two CPU processes" in result.stderr
    assert "Launcher:" not in result.stdout


@pytest.mark.keras3
@without_horovod
def test_hosts_without_horovod_rejected(tmp_path):
    result = run_script([], tmp_path, HOSTS="localhost:2")
    assert result.returncode == 2
    assert "HOSTS=localhost:2 needs Horovod" in result.stderr
    assert "collective_all_reduce" in result.stderr


@pytest.mark.keras3
def test_malformed_hosts_rejected(tmp_path):
    result = run_script([], tmp_path, HOSTS="host1,host2:8")
    assert result.returncode == 2
    assert "HOSTS=host1,host2:8 is invalid" in result.stderr


@pytest.mark.keras3
def test_invalid_num_gpus_rejected(tmp_path):
    result = run_script([], tmp_path, NUM_GPUS="two")
    assert result.returncode == 2
    assert "NUM_GPUS=two is invalid" in result.stderr
