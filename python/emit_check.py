"""Runs modules written by `lossc emit` in the real frameworks, for
crates/lossc-emit/tests/it/frameworks.rs.

Usage: python emit_check.py CASES.json

CASES.json (written by the Rust test) holds:
  "cases": a list of {"name", "loss", "modules": {TARGET: code}, "params":
      {NAME: default}, "wrt": [NAME, ...], "points": [{INPUT: nested list}]}.
      For every case, target and point, in float64 and float32, this script
      calls the emitted `LOSS(...)` (the inputs positionally, by the
      function's own signature; the `wrt` params as keyword arguments) and
      takes the framework's own gradient of it with respect to the `wrt`
      variables: jax.grad (JAX, and Keras 3 on the JAX backend), torch's
      backward(), tf.GradientTape. A per-sample result is reduced by its mean,
      as Keras's loss reduction does. The NumPy target's gradient is the
      emitted `LOSS_grad` (lossc's own gradient, written as NumPy code).
      Targets whose name ends in `_naive` are run like their framework (the
      plain transcription, for the "double where" test).
  "training": {"module": keras code, "loss": name}: a small Keras 3 model is
      trained with the emitted loss for a few epochs; the epoch losses come back.

Output, on stdout, one JSON object:
    {"versions": {FRAMEWORK: version}, "missing": {TARGET: why},
     "results": {CASE: {TARGET: {DTYPE: [{"value": v, "gradient": {VAR: nested}}
                                         | {"error": message}, ...one per point]}}},
     "errors": {CASE: {TARGET: traceback}},
     "training": {"losses": [...]} | {"error": traceback} | null}
Non-finite numbers are written as "NaN", "inf", "-inf".

One process runs everything: importing the frameworks takes seconds.
Exit status 77 if numpy cannot be imported (the Rust test then skips).
"""

import json
import math
import os
import sys
import traceback
import types

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

try:
    import numpy as np
except Exception as exc:
    print(f"cannot import numpy: {exc!r}", file=sys.stderr)
    sys.exit(77)

VERSIONS = {"numpy": np.__version__}
MISSING = {}
FRAMEWORKS = {}

try:
    import jax

    jax.config.update("jax_enable_x64", True)
    # JAX compiles every operation on first use (most of this script's time);
    # a persistent cache beside the virtual environment makes later runs fast.
    cache = os.environ.get("LOSSC_JAX_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lossc", "jax-cache"
    )
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    import jax.numpy as jnp

    FRAMEWORKS["jax"] = jax
    VERSIONS["jax"] = jax.__version__
except Exception as exc:
    MISSING["jax"] = f"cannot import jax: {exc!r}"

try:
    import torch

    torch.set_num_threads(1)
    FRAMEWORKS["torch"] = torch
    VERSIONS["torch"] = torch.__version__
except Exception as exc:
    MISSING["torch"] = f"cannot import torch: {exc!r}"

try:
    if "jax" not in FRAMEWORKS:
        raise ImportError("the tests run Keras on the JAX backend, and jax is missing")
    import keras

    if keras.backend.backend() != "jax":
        raise ImportError(f"Keras runs on the {keras.backend.backend()} backend, not jax")
    FRAMEWORKS["keras"] = keras
    VERSIONS["keras"] = keras.__version__
except Exception as exc:
    MISSING["keras"] = f"cannot import keras with the JAX backend: {exc!r}"

try:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    FRAMEWORKS["tf"] = tf
    VERSIONS["tensorflow"] = tf.__version__
except Exception as exc:
    MISSING["tf"] = f"cannot import tensorflow: {exc!r}"


def to_json(x):
    """A float array as nested lists, non-finite numbers as strings."""

    def number(v):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v

    def nest(v):
        return [nest(row) for row in v] if isinstance(v, list) else number(float(v))

    return nest(np.asarray(x, dtype=np.float64).tolist())


def load(name, code):
    module = types.ModuleType(name)
    exec(compile(code, f"<{name}>", "exec"), module.__dict__)
    return module


def positional_names(function):
    import inspect

    return [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]


def call_args(function, values, wrt_values):
    """Positional inputs by the function's signature; `wrt` params by keyword."""
    names = positional_names(function)
    merged = dict(values)
    merged.update(wrt_values)
    args = [merged.get(n) for n in names]
    kwargs = {n: v for n, v in wrt_values.items() if n not in names}
    return args, kwargs


def framework(target):
    return target[: -len("_naive")] if target.endswith("_naive") else target


def run_autodiff(target, function, point, params, wrt, dtype):
    """(value, {var: gradient}) of the scalar loss (the mean of a per-sample one)."""
    name = framework(target)
    start = {**point, **{p: v for p, v in params.items() if p in wrt}}
    if name in ("jax", "keras"):
        values = {k: jnp.asarray(v, dtype=dtype) for k, v in point.items()}

        def scalar(*variables):
            args, kwargs = call_args(function, values, dict(zip(wrt, variables)))
            out = jnp.asarray(function(*args, **kwargs))
            return jnp.mean(out) if out.ndim == 1 else out

        variables = [jnp.asarray(start[w], dtype=dtype) for w in wrt]
        value, grads = jax.value_and_grad(scalar, argnums=tuple(range(len(wrt))))(*variables)
        return float(value), {w: np.asarray(g) for w, g in zip(wrt, grads)}
    if name == "torch":
        tdtype = torch.float64 if dtype == "float64" else torch.float32
        values = {k: torch.tensor(v, dtype=tdtype) for k, v in point.items()}
        variables = {w: torch.tensor(start[w], dtype=tdtype, requires_grad=True) for w in wrt}
        args, kwargs = call_args(function, values, variables)
        out = function(*args, **kwargs)
        if out.ndim == 1:
            out = out.mean()
        if out.requires_grad:  # not when the loss is piecewise constant
            out.backward()
        grads = {
            w: (t.grad.numpy() if t.grad is not None else np.zeros(t.shape)) for w, t in variables.items()
        }
        return float(out.detach()), grads
    if name == "tf":
        values = {k: tf.constant(v, dtype=dtype) for k, v in point.items()}
        variables = {w: tf.constant(start[w], dtype=dtype) for w in wrt}
        with tf.GradientTape() as tape:
            for t in variables.values():
                tape.watch(t)
            args, kwargs = call_args(function, values, variables)
            out = function(*args, **kwargs)
            if len(out.shape) == 1:
                out = tf.reduce_mean(out)
        grads = tape.gradient(out, list(variables.values()))
        return float(out), {
            w: (g.numpy() if g is not None else np.zeros(variables[w].shape)) for w, g in zip(wrt, grads)
        }
    raise KeyError(target)


def run_numpy(module, loss, point, params, wrt, dtype):
    values = {k: np.asarray(v, dtype=dtype) for k, v in point.items()}
    wrt_params = {p: np.asarray(v, dtype=dtype) for p, v in params.items() if p in wrt}
    function = getattr(module, loss)
    args, kwargs = call_args(function, values, wrt_params)
    value = function(*args, **kwargs)
    gradient = getattr(module, f"{loss}_grad")(*args, **kwargs)
    if len(wrt) == 1:
        gradient = (gradient,)
    return float(value), {w: np.asarray(g) for w, g in zip(wrt, gradient)}


def run_case(case, results, errors):
    for target, code in case["modules"].items():
        if framework(target) in MISSING:
            continue
        try:
            module = load(f"{case['loss']}_{target}", code)
        except Exception:
            errors.setdefault(case["name"], {})[target] = traceback.format_exc(limit=4)
            continue
        by_dtype = {}
        for dtype in ("float64", "float32"):
            runs = []
            for point in case["points"]:
                try:
                    if target == "numpy":
                        value, grads = run_numpy(module, case["loss"], point, case["params"], case["wrt"], dtype)
                    else:
                        function = getattr(module, case["loss"])
                        value, grads = run_autodiff(target, function, point, case["params"], case["wrt"], dtype)
                    runs.append({"value": to_json(value), "gradient": {w: to_json(g) for w, g in grads.items()}})
                except Exception:
                    runs.append({"error": traceback.format_exc(limit=4)})
            by_dtype[dtype] = runs
        results.setdefault(case["name"], {})[target] = by_dtype


def train(spec):
    """Trains a small model with an emitted Keras loss; returns the epoch losses."""
    module = load("training", spec["module"])
    loss = getattr(module, spec["loss"])
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 1.5]) + 0.3 * rng.normal(size=512) > 0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02), loss=loss)
    history = model.fit(x, y, epochs=6, batch_size=64, verbose=0)
    return [float(v) for v in history.history["loss"]]


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    results, errors = {}, {}
    for case in spec["cases"]:
        run_case(case, results, errors)
    training = None
    if spec.get("training") and "keras" not in MISSING:
        try:
            training = {"losses": train(spec["training"])}
        except Exception:
            training = {"error": traceback.format_exc(limit=6)}
    json.dump(
        {"versions": VERSIONS, "missing": MISSING, "results": results, "errors": errors, "training": training},
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
