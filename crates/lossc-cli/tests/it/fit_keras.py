"""Trains in Keras 3 (JAX backend) the model `lossc fit` trained, with the
loss `lossc emit --target keras` wrote, and judges the run by the rules of
`lossc fit`'s verdict (crates/lossc-fit/src/verdict.rs), for
crates/lossc-cli/tests/it/fit.rs.

Usage: python fit_keras.py CASES.json

CASES.json holds {"cases": [{"name", "module" (the emitted Keras code),
"loss" (its function's name), "activation" ("linear", "sigmoid", "softmax"),
"x" [[...]], "y" [...], "kernel" [[...]], "bias" [...], "epochs",
"batch_size", "lr", "labels" (the target's set of values, or null for a
regression)}]}.

The model is `Dense(outputs, activation)` from the given initial weights,
trained as `model.fit(x, y, epochs, batch_size, shuffle=False)` trains it
(one `train_on_batch` per batch, Keras's own train step) with
`keras.optimizers.Adam(lr)` (Keras's other defaults) in float32: the same
batches in the same order as `lossc fit --no-shuffle`. Before each step the
gradient of the emitted loss with respect to `y_pred` (jax.grad, the
framework's own autodiff) on that batch shows which samples the loss teaches.

Output, on stdout, one JSON object: {"versions": {...}, "results": {NAME:
{"status", "summary", "history" [epoch losses], "before", "after",
"accuracy_before", "accuracy_after", "zero_after", "dead_misfit",
"blind" [{"label", "fraction", "taught"}]}}}; non-finite numbers as
"NaN"/"inf"/"-inf". Exit status 77 if Keras or JAX cannot be imported (the
Rust test then skips).
"""

import json
import math
import os
import sys
import types

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

try:
    import numpy as np
    import jax
    import jax.numpy as jnp
    import keras
except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
    print(f"cannot import keras with the JAX backend: {exc!r}", file=sys.stderr)
    sys.exit(77)

# The thresholds of crates/lossc-fit/src/verdict.rs.
STALLED_DEAD_MISFIT = 0.1
MIN_PROGRESS = 0.01
MAX_ACCURACY_DROP = 0.02


def finite_or_text(value):
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def load(name, code):
    module = types.ModuleType(name)
    exec(compile(code, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - lossc's own output
    return module


def run(case):
    loss_fn = getattr(load(case["name"], case["module"]), case["loss"])
    x = np.asarray(case["x"], dtype=np.float32)
    y = np.asarray(case["y"], dtype=np.float32)
    kernel = np.asarray(case["kernel"], dtype=np.float32)
    bias = np.asarray(case["bias"], dtype=np.float32)
    n, outputs = len(x), kernel.shape[1]
    labels = case["labels"]
    sparse = case["activation"] == "softmax" and y.ndim == 1

    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(outputs, activation=case["activation"])])
    model.set_weights([kernel, bias])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=case["lr"]), loss=loss_fn)

    layer = model.layers[-1]
    activation = {"linear": lambda z: z, "sigmoid": jax.nn.sigmoid, "softmax": jax.nn.softmax}[case["activation"]]

    def predict():
        """The model's output, from its current weights (Keras's own Dense
        would be called eagerly, which is slow)."""
        z = jnp.asarray(x) @ jnp.asarray(layer.kernel.value) + jnp.asarray(layer.bias.value)
        return np.asarray(activation(z))

    def loss_value(targets, predictions):
        return float(loss_fn(jnp.asarray(targets), jnp.asarray(predictions)))

    grad = jax.jit(jax.grad(lambda p, t: loss_fn(t, p)))

    def loss_gradient(targets, predictions):
        """dL/dy_pred as JAX's autodiff gives it, shaped as the predictions."""
        return np.asarray(grad(jnp.asarray(predictions), jnp.asarray(targets)))

    def logit_gradient(predictions, g):
        """dL/dz: the activation's vector-Jacobian product, as in lossc-fit."""
        if case["activation"] == "sigmoid":
            return g * (predictions * (1 - predictions))
        if case["activation"] == "softmax":
            return predictions * (g - np.sum(predictions * g, axis=-1, keepdims=True))
        return g

    def label_of(i):
        return float(np.argmax(y[i])) if y.ndim == 2 else float(y[i])

    # A regression's tolerance: a tenth of the targets' standard deviation.
    tolerance = 0.1 * max(float(np.std(y.astype(np.float64))), 1e-6)

    def misfit(i, prediction):
        row = np.atleast_1d(prediction)
        if labels is None:
            return bool(np.any(~(np.abs(row - np.atleast_1d(y[i])) <= tolerance)))
        if sparse or y.ndim == 2:
            return float(np.argmax(row)) != label_of(i)
        distances = [abs(label - float(row[0])) for label in labels]
        best = min(distances)
        return distances.count(best) > 1 or labels[distances.index(best)] != float(y[i])

    # The epochs of `model.fit(x, y, batch_size, shuffle=False)`, one
    # `train_on_batch` (the same train step) per batch, so that before each
    # step we can see which samples the loss teaches.
    taught = np.zeros(n, dtype=bool)
    batch_size = case["batch_size"]
    before_predictions = predict()
    before = loss_value(y, before_predictions)
    accuracy_before = 1 - np.mean([misfit(i, p) for i, p in enumerate(before_predictions)])
    history = []
    for _ in range(case["epochs"]):
        total = 0.0
        for start in range(0, n, batch_size):
            rows = slice(start, min(start + batch_size, n))
            predictions = predict()[rows]
            if predictions.shape[-1] == 1 and y.ndim == 1:
                predictions = predictions[:, 0]
            g = loss_gradient(y[rows], predictions).reshape(predictions.shape[0], -1)
            taught[rows] |= np.any(g != 0, axis=1)
            total += float(model.train_on_batch(x[rows], y[rows])) * (rows.stop - rows.start)
        history.append(total / n)
        if not math.isfinite(history[-1]):
            break
    after_predictions = predict()
    after = loss_value(y, after_predictions)

    g = loss_gradient(y, after_predictions)
    dz = logit_gradient(after_predictions, g.reshape(after_predictions.shape)).reshape(n, -1)
    dead = np.all(dz == 0, axis=1)
    wrong = np.array([misfit(i, p) for i, p in enumerate(after_predictions)])
    dead_misfit = float(np.mean(dead & wrong))
    accuracy_after = 1 - float(np.mean(wrong))

    # The classes the loss does not correct: zero gradient at a wrong prediction.
    blind = []
    for label in [] if labels is None else sorted({label_of(i) for i in range(n)}):
        members = [i for i in range(n) if label_of(i) == label]
        if y.ndim == 1 and not sparse:
            farthest = max(labels, key=lambda v: abs(v - label))
            wrong_predictions = np.full((len(members), 1), label + 0.8 * (farthest - label), dtype=np.float32)
        else:
            wrong_predictions = np.full((len(members), outputs), 0.2 / max(outputs - 1, 1), dtype=np.float32)
            wrong_predictions[:, (int(label) + 1) % outputs] = 0.8
        g = loss_gradient(y[members], wrong_predictions)
        if np.all(g == 0):
            blind.append({"label": label, "fraction": len(members) / n, "taught": bool(taught[members].any())})

    never_taught = sum(c["fraction"] for c in blind if not c["taught"])
    if not all(math.isfinite(v) for v in history) or not math.isfinite(after):
        status, summary = "diverged", "the loss became non-finite"
    elif never_taught >= STALLED_DEAD_MISFIT or dead_misfit >= STALLED_DEAD_MISFIT:
        status, summary = "stalled", f"never taught {never_taught:.2f}, dead and wrong {dead_misfit:.2f}"
    elif (
        before != 0
        and (before - after) / abs(before) < MIN_PROGRESS
        and not (labels is not None and accuracy_after > accuracy_before + MAX_ACCURACY_DROP)
    ):
        status, summary = "stalled", f"the loss did not fall ({before:.4g} to {after:.4g})"
    elif labels is not None and accuracy_after < accuracy_before - MAX_ACCURACY_DROP:
        status, summary = "stalled", f"accuracy fell ({accuracy_before:.2f} to {accuracy_after:.2f})"
    else:
        status, summary = "learning", f"the loss fell ({before:.4g} to {after:.4g})"
    return {
        "status": status,
        "summary": summary,
        "history": [finite_or_text(v) for v in history],
        "before": finite_or_text(before),
        "after": finite_or_text(after),
        "accuracy_before": float(accuracy_before),
        "accuracy_after": accuracy_after,
        "zero_after": float(np.mean(dead)),
        "dead_misfit": dead_misfit,
        "blind": blind,
    }


def main():
    with open(sys.argv[1], encoding="utf-8") as file:
        spec = json.load(file)
    results = {case["name"]: run(case) for case in spec["cases"]}
    versions = {"keras": keras.__version__, "jax": jax.__version__, "numpy": np.__version__}
    json.dump({"versions": versions, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
