#!/usr/bin/env bash
# The test command: the full suite on TensorFlow 2.15.1 (Keras 2, with Horovod), then the
# tests marked keras3 on TensorFlow 2.21 (Keras 3). Each line gets its own virtual
# environment, created on the first run.
#
#   bash scripts/run_tests.sh [extra pytest arguments]
#
# Prints the time of each phase.
set -uo pipefail

cd "$(dirname "$0")/.."

phase_start=$(date +%s)
phase() {
    local now
    now=$(date +%s)
    echo "== [$(date +%H:%M:%S)] $1 (previous phase: $((now - phase_start)) s) =="
    phase_start=$now
}

run_pytest() {
    # pytest exits 5 when it selects no test; that is a failure of this command too.
    "$@"
    local status=$?
    if [ "$status" -ne 0 ]; then
        echo "error: '$*' exited with status $status" >&2
        exit "$status"
    fi
}

phase "Setting up .venv-tf215 (TensorFlow 2.15.1, Horovod)"
bash scripts/setup_venv.sh .venv-tf215 requirements-horovod.txt || exit 1

phase "Setting up .venv (TensorFlow 2.21, Keras 3)"
bash scripts/setup_venv.sh .venv requirements.txt || exit 1

# RUN_SLOW_TESTS=0 leaves out the tests marked slow (the digits learning test).
slow_filter=()
if [ "${RUN_SLOW_TESTS:-1}" = "0" ]; then
    slow_filter=(-m "not slow")
fi

phase "Full suite on TensorFlow 2.15.1"
# REQUIRE_HOROVOD=1: a missing Horovod fails the multi-process tests instead of skipping them.
run_pytest env REQUIRE_HOROVOD=1 .venv-tf215/bin/python -m pytest -q -p no:cacheprovider --durations=10 \
    "${slow_filter[@]}" "$@"

phase "Tests marked keras3 on TensorFlow 2.21"
run_pytest .venv/bin/python -m pytest -q -p no:cacheprovider --durations=10 -m keras3 "$@"

phase "Done"
