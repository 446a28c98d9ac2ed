"""The flag-driven InceptionV3 runner, with tf_cnn_benchmarks' flags and output.

Run it as `python -m tf_cnn_benchmarks --model=inception3 ...`.
"""
