"""Run in a process of its own (Keras 3 picks its backend once): imports
every keras.losses function of (y_true, y_pred) with Keras 3 on the
TensorFlow backend, compares lossc's value and gradient with TensorFlow's,
and prints one JSON line per function."""

import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import inspect  # noqa: E402
import json  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import lossc  # noqa: E402

assert keras.backend.backend() == "tensorflow"
rng = np.random.default_rng(0)
for name, function in sorted(vars(keras.losses).items()):
    if not inspect.isfunction(function) or list(inspect.signature(function).parameters)[:2] != ["y_true", "y_pred"]:
        continue
    sparse = "sparse" in name
    shapes = {"y_true": ("N",), "y_pred": ("N", 4)} if sparse else {"y_true": ("N", 4), "y_pred": ("N", 4)}
    try:
        loss = lossc.compile(function, shapes=shapes, inputs={"y_true": "{0..3}"} if sparse else {},
                             dtype="float64", framework="tf")
    except lossc.LossError as error:
        print(json.dumps({"name": name, "error": str(error)}))
        continue
    t = rng.integers(0, 4, 8).astype(np.int32) if sparse else rng.uniform(0.05, 0.95, (8, 4))
    p = rng.uniform(0.05, 0.95, (8, 4))
    true, pred = tf.constant(t), tf.constant(p)
    with tf.GradientTape() as tape:
        tape.watch(pred)
        value = tf.reduce_mean(function(true, pred))
    gradient = tape.gradient(value, pred).numpy()
    ev = loss.eval(y_true=t, y_pred=p)
    print(json.dumps({
        "name": name,
        "value": abs(float(ev.value) - float(value)) / abs(float(value)),
        "gradient": float(np.max(np.abs(ev.gradient["y_pred"] - gradient)) / np.max(np.abs(gradient))),
    }))
