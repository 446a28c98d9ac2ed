#!/usr/bin/env bash
# Create or update a virtual environment from a requirements file.
#
#   bash scripts/setup_venv.sh VENV_DIR REQUIREMENTS_FILE
#
# Skips the install when VENV_DIR was last set up from the same file content. On a machine
# where nvidia-smi finds a GPU, tensorflow-cpu is replaced by tensorflow[and-cuda] of the same
# version. A horovod line is installed last, built against the installed TensorFlow with Gloo
# and without MPI; where nvidia-smi finds a GPU, the build adds NCCL for the allreduce of GPU
# tensors (HOROVOD_GPU_OPERATIONS=NCCL) and keeps Gloo as the controller.
set -euo pipefail

venv_dir=$1
requirements=$2
python=${PYTHON:-python3}

if [ ! -f "$requirements" ]; then
    echo "error: requirements file $requirements not found" >&2
    exit 2
fi

stamp="$venv_dir/.requirements.sha256"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && [ -x "$venv_dir/bin/python" ]; then
    echo "$venv_dir is up to date with $requirements"
    exit 0
fi

if [ ! -x "$venv_dir/bin/python" ]; then
    "$python" -m venv "$venv_dir"
fi

has_gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    has_gpu=1
fi

packages=$(mktemp)
trap 'rm -f "$packages"' EXIT
grep -v -E '^[[:space:]]*horovod' "$requirements" > "$packages"
if [ "$has_gpu" = 1 ]; then
    sed -i -E 's/^tensorflow-cpu==/tensorflow[and-cuda]==/' "$packages"
fi

"$venv_dir/bin/pip" install --quiet --disable-pip-version-check -r "$packages"

horovod=$(grep -E '^[[:space:]]*horovod' "$requirements" || true)
if [ -n "$horovod" ]; then
    if [ "$has_gpu" = 1 ]; then
        # NOTE: this build needs the CUDA toolkit and NCCL's headers on the machine; no GPU
        # machine has run it for this project yet.
        export HOROVOD_GPU_OPERATIONS=NCCL
        echo "GPU found: building Horovod with Gloo and NCCL."
    else
        echo "No GPU found: building Horovod with Gloo (CPU)."
    fi
    HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 \
        HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 \
        "$venv_dir/bin/pip" install --quiet --disable-pip-version-check \
        --no-build-isolation $horovod
fi

echo "$wanted" > "$stamp"
echo "$venv_dir is set up from $requirements"
