"""Importing TensorFlow / tf.keras losses: lossc.compile(fn) on the graph of
tf.function, checked against TensorFlow's own values and gradients."""

import importlib.util
import inspect
import pathlib

import numpy as np
import pytest

from conftest import framework

tf = framework("tensorflow")
tf_keras = framework("tf_keras")

import lossc  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
SEED_FILE = HERE / "import_losses" / "seed_tf.py"
CASES_FILE = HERE / "import_losses" / "cases_tf.py"


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seed = _load(SEED_FILE, "seed_tf")
cases = _load(CASES_FILE, "cases_tf")

SIGMOID = {"y_true": "{0, 1}", "y_pred": "sigmoid"}


def _lines(function):
    """The line numbers of a function's body in its file."""
    source, first = inspect.getsourcelines(function)
    return set(range(first, first + len(source)))


def _line_of(function, text):
    source, first = inspect.getsourcelines(function)
    [index] = [i for i, line in enumerate(source) if text in line]
    return first + index


def _findings(loss):
    return sorted((d.code, d.severity) for d in loss.check())


# --- the seed losses ----------------------------------------------------------


@pytest.mark.parametrize(
    "name, example",
    [
        ("step_where", "faulty_step_where.loss"),
        ("step_switch", "faulty_step_where.loss"),
        ("log_eps", "faulty_log_eps.loss"),
        ("mse", "mse_sigmoid.loss"),
    ],
)
def test_seed_losses_give_the_findings_of_the_hand_written_programs(name, example, examples):
    function = getattr(seed, name)
    imported = lossc.compile(function, inputs=SIGMOID)
    assert imported.framework.startswith("TensorFlow ")
    hand_written = lossc.compile(examples / example)
    assert _findings(imported) == _findings(hand_written)
    for d in imported.check():
        assert pathlib.Path(d.file).resolve() == SEED_FILE
        assert d.line in _lines(function)


def test_seed_findings_are_on_the_lines_that_cause_them():
    step = {d.code: d.line for d in lossc.compile(seed.step_where, inputs=SIGMOID).check()}
    where_line = _line_of(seed.step_where, "tf.where(")
    assert step == {"dead-gradient": where_line, "discontinuity": where_line}
    switch = lossc.compile(seed.step_switch, inputs=SIGMOID)
    # K.zeros_like(y_pred) is the number 0 where the other branch has the shape anyway.
    assert "where(y_pred > 0.5, square(y_true - y_pred), 0)" in switch.source
    switch_line = _line_of(seed.step_switch, "K.switch(")
    assert {d.code: d.line for d in switch.check()} == {"dead-gradient": switch_line, "discontinuity": switch_line}
    log_eps = {d.code: d.line for d in lossc.compile(seed.log_eps, inputs=SIGMOID).check()}
    assert log_eps["exploding-gradient"] == _line_of(seed.log_eps, "tf.math.log(")
    assert "dead-gradient" in log_eps


def test_seed_program_text_follows_the_python_lines():
    source = lossc.compile(seed.step_where, inputs=SIGMOID).source
    assert "let loss = where(y_pred > 0.5, square(y_true - y_pred), 0)" in source
    assert "loss step_where = mean(loss)" in source
    assert "traced with TensorFlow" in source


@pytest.mark.parametrize("name", ["step_where", "step_switch", "log_eps", "mse"])
def test_seed_losses_evaluate_as_tensorflow_does(name):
    function = getattr(seed, name)
    rng = np.random.default_rng(7)
    t = rng.integers(0, 2, 64).astype(np.float64)
    p = rng.uniform(0.01, 0.99, 64)
    _agree(lossc.compile(function, inputs=SIGMOID, dtype="float64"), function, {"y_true": t, "y_pred": p}, "y_pred")


# --- tf_keras.losses ----------------------------------------------------------

# The loss functions of tf_keras.losses that map (y_true, y_pred) to a loss:
# name -> (domains, shapes, data maker).
C = 4


def _labels01(rng, shape):
    return rng.integers(0, 2, shape).astype(np.float64)


def _simplex(rng, shape):
    x = rng.uniform(0.05, 1.0, shape)
    return x / x.sum(axis=-1, keepdims=True)


def _real(rng, shape):
    return rng.normal(0, 2, shape)


BINARY = ({"y_true": "{0, 1}", "y_pred": "sigmoid"}, lambda r, s: _labels01(r, s), lambda r, s: r.uniform(0.01, 0.99, s))
REGRESSION = ({"y_true": "real", "y_pred": "real"}, _real, _real)
PROBABILITIES = ({"y_true": "[0, 1]", "y_pred": "softmax"}, _simplex, _simplex)

KERAS_LOSSES = {
    "mean_squared_error": REGRESSION,
    "mean_absolute_error": REGRESSION,
    "mean_absolute_percentage_error": REGRESSION,
    "mean_squared_logarithmic_error": ({"y_true": "[0, inf)", "y_pred": "[0, inf)"},
                                       lambda r, s: r.uniform(0, 5, s), lambda r, s: r.uniform(0, 5, s)),
    "log_cosh": REGRESSION,
    "cosine_similarity": REGRESSION,
    "binary_crossentropy": BINARY,
    "binary_focal_crossentropy": BINARY,
    "categorical_crossentropy": PROBABILITIES,
    "categorical_focal_crossentropy": PROBABILITIES,
    "kl_divergence": PROBABILITIES,
    "poisson": ({"y_true": "[0, inf)", "y_pred": "[0, inf)"}, lambda r, s: r.poisson(2.0, s).astype(np.float64),
                lambda r, s: r.uniform(0.1, 5, s)),
    "hinge": ({"y_true": "{-1, 1}", "y_pred": "real"}, lambda r, s: 2 * _labels01(r, s) - 1, _real),
    "squared_hinge": ({"y_true": "{0, 1}", "y_pred": "real"}, _labels01, _real),
    "categorical_hinge": ({"y_true": "{0, 1}", "y_pred": "real"},
                          lambda r, s: np.eye(s[-1])[r.integers(0, s[-1], s[:-1])], _real),
}

# Names of tf_keras.losses that are other names of the functions above.
ALIASES = {"MSE": "mean_squared_error", "mse": "mean_squared_error", "MAE": "mean_absolute_error",
           "mae": "mean_absolute_error", "MAPE": "mean_absolute_percentage_error",
           "mape": "mean_absolute_percentage_error", "MSLE": "mean_squared_logarithmic_error",
           "msle": "mean_squared_logarithmic_error", "logcosh": "log_cosh", "KLD": "kl_divergence",
           "kld": "kl_divergence", "kullback_leibler_divergence": "kl_divergence"}


def test_every_tf_keras_loss_function_is_covered():
    functions = {
        name for name, f in vars(tf_keras.losses).items()
        if inspect.isfunction(f) and not name.startswith("_")
        and list(inspect.signature(f).parameters)[:2] == ["y_true", "y_pred"]
    }
    covered = set(KERAS_LOSSES) | set(ALIASES) | {"sparse_categorical_crossentropy", "huber"}
    assert functions == covered
    for alias, name in ALIASES.items():
        assert getattr(tf_keras.losses, alias) is getattr(tf_keras.losses, name)


def _tf_value_and_gradient(function, data, wrt):
    tensors = {k: tf.constant(v) for k, v in data.items()}
    with tf.GradientTape() as tape:
        tape.watch(tensors[wrt])
        value = tf.reduce_mean(function(**tensors))
    return float(value), tape.gradient(value, tensors[wrt]).numpy()


def _agree(loss, function, data, wrt, rtol=1e-9):
    value, gradient = _tf_value_and_gradient(function, data, wrt)
    ev = loss.eval(**data)
    np.testing.assert_allclose(float(ev.value), value, rtol=rtol, atol=0)
    # An entry that is the cancellation of terms of the gradient's size is
    # only known to the rounding of those terms: atol is that rounding.
    scale = np.max(np.abs(gradient[np.isfinite(gradient)]), initial=0.0)
    np.testing.assert_allclose(ev.gradient[wrt], gradient, rtol=rtol, atol=1e-14 * scale)
    # The emitted TensorFlow module gives the same numbers.
    emitted = loss.to_tf()(*(tf.constant(data[name]) for name in loss.inputs))
    np.testing.assert_allclose(float(tf.reduce_mean(emitted)), value, rtol=rtol, atol=0)


@pytest.mark.parametrize("name", sorted(KERAS_LOSSES))
def test_tf_keras_losses_import_and_agree_with_tensorflow(name):
    domains, make_true, make_pred = KERAS_LOSSES[name]
    function = getattr(tf_keras.losses, name)
    loss = lossc.compile(function, inputs=domains, shapes={"y_true": ("N", C), "y_pred": ("N", C)},
                         dtype="float64")
    assert loss.inputs == {"y_true": f"[N, {C}]", "y_pred": f"[N, {C}]"}
    rng = np.random.default_rng(sum(map(ord, name)))
    data = {"y_true": make_true(rng, (16, C)), "y_pred": make_pred(rng, (16, C))}
    _agree(loss, function, data, "y_pred")
    loss.check()  # the analysis runs on the imported program


def test_huber_computes_in_float32_and_imports_at_that_precision():
    # tf_keras's huber casts its inputs, and delta, to backend.floatx() (float32):
    # in float64 the cast is refused (lossc computes a program in one float type),
    # in float32 it imports, and is compared at float32's precision.
    function = tf_keras.losses.huber
    shapes = {"y_true": ("N", C), "y_pred": ("N", C)}
    with pytest.raises(lossc.LossError, match="cannot import `Cast`: a cast to float32 in a float64 program") as raised:
        lossc.compile(function, shapes=shapes, dtype="float64")
    assert "tf_keras/src/losses.py:" in str(raised.value)  # tf_keras's own line
    loss = lossc.compile(function, shapes=shapes, dtype="float32")
    rng = np.random.default_rng(11)
    data = {"y_true": _real(rng, (16, C)).astype(np.float32), "y_pred": _real(rng, (16, C)).astype(np.float32)}
    _agree(loss, function, data, "y_pred", rtol=1e-6)


def test_sparse_categorical_crossentropy_imports_with_integer_labels():
    function = tf_keras.losses.sparse_categorical_crossentropy
    loss = lossc.compile(function, inputs={"y_true": "{0..3}", "y_pred": "softmax"},
                         shapes={"y_true": ("N",), "y_pred": ("N", C)}, dtype="float64")
    assert "one_hot(" in loss.source
    rng = np.random.default_rng(3)
    labels = rng.integers(0, C, 16).astype(np.int32)
    probabilities = _simplex(rng, (16, C))
    value, gradient = _tf_value_and_gradient(function, {"y_true": labels, "y_pred": probabilities}, "y_pred")
    ev = loss.eval(y_true=labels, y_pred=probabilities)
    np.testing.assert_allclose(float(ev.value), value, rtol=1e-9)
    np.testing.assert_allclose(ev.gradient["y_pred"], gradient, rtol=1e-9)
    emitted = loss.to_tf()(tf.constant(labels), tf.constant(probabilities))
    np.testing.assert_allclose(float(tf.reduce_mean(emitted)), value, rtol=1e-9)


def test_a_symbolic_class_dimension_is_kept():
    loss = lossc.compile(tf_keras.losses.categorical_crossentropy, inputs=PROBABILITIES[0],
                         shapes={"y_true": "[N, C]", "y_pred": "[N, C]"}, dtype="float64")
    assert loss.inputs == {"y_true": "[N, C]", "y_pred": "[N, C]"}
    rng = np.random.default_rng(5)
    data = {"y_true": _simplex(rng, (8, 5)), "y_pred": _simplex(rng, (8, 5))}
    _agree(loss, tf_keras.losses.categorical_crossentropy, data, "y_pred")


def test_softmax_rows_sum_to_one_for_the_analysis():
    # Keras divides by the row's sum before clipping: safe on softmax rows,
    # a division by zero if every element were independently in [0, 1].
    shapes = {"y_true": "[N, C]", "y_pred": "[N, C]"}
    function = tf_keras.losses.categorical_crossentropy
    rows = lossc.compile(function, inputs={"y_true": "onehot", "y_pred": "softmax"}, shapes=shapes)
    assert "input y_pred: simplex" in rows.source
    assert not [d for d in rows.check() if d.code == "div-by-zero"], rows.check()
    elements = lossc.compile(function, inputs={"y_true": "[0, 1]", "y_pred": "[0, 1]"}, shapes=shapes)
    assert [d for d in elements.check() if d.code == "div-by-zero"]


def test_a_witness_on_softmax_rows_is_whole_rows():
    def picked(y_true, y_pred):
        return -tf.math.log(tf.reduce_sum(y_true * y_pred, axis=-1))

    loss = lossc.compile(picked, inputs={"y_true": "onehot", "y_pred": "softmax"},
                         shapes={"y_true": "[N, C]", "y_pred": "[N, C]"})
    error = next(d for d in loss.check() if d.code == "log-domain")
    rows = error.witness_row_values
    assert set(rows) == {"y_true", "y_pred"}
    assert sorted(rows["y_true"]).count(1.0) == 1 and abs(sum(rows["y_pred"]) - 1) <= 1e-6
    assert error.witness["y_pred"] == rows["y_pred"][0]
    # At the witness, TensorFlow's own loss is infinite.
    value = picked(tf.constant([rows["y_true"]]), tf.constant([rows["y_pred"]], dtype=tf.float32))
    assert not np.isfinite(value.numpy()).any()
    assert "in each row" in error._repr_html_()


def test_softmax_needs_a_class_axis():
    with pytest.raises(lossc.LossError, match="no axis of classes"):
        lossc.compile(lambda y_true, y_pred: tf.reduce_mean(-tf.math.log(y_pred)),
                      inputs={"y_pred": "softmax"}, shapes={"y_true": "[N]", "y_pred": "[N]"})


# --- operations ---------------------------------------------------------------

MATRIX = {"y_true": ("N", 3), "y_pred": ("N", 3)}

OPERATIONS = {
    "clipped_bce": ({"y_true": "{0, 1}", "y_pred": "sigmoid"}, MATRIX, _labels01, lambda r, s: r.uniform(0.01, 0.99, s)),
    "keras_backend": ({"y_true": "{0, 1}", "y_pred": "sigmoid"}, MATRIX, _labels01,
                      lambda r, s: r.uniform(0.01, 0.99, s)),
    "logits_losses": ({"y_true": "[0, 1]", "y_pred": "real"}, MATRIX, _simplex, _real),
    "along_axes": ({"y_true": "[0, 1]", "y_pred": "real"}, MATRIX, _simplex, _real),
    "unary_functions": ({"y_true": "real", "y_pred": "real"}, MATRIX, _real,
                        lambda r, s: r.choice([-1, 1], s) * r.uniform(0.2, 3, s)),
    "shapes_and_sizes": ({}, MATRIX, _real, _real),
    "conditions": ({"y_true": "{0, 1}"}, MATRIX, _labels01, _real),
    "stable_built_ins": ({"y_true": "[0, 1]", "y_pred": "real"}, MATRIX, _simplex, _real),
    "per_sample_vector": ({}, {}, _real, _real),
    "nan_guards": ({}, MATRIX, _real, lambda r, s: r.choice([-1, 0, 1], s) * r.uniform(0.2, 3, s)),
    "decorated": ({}, {}, _real, _real),
    "norms": ({}, MATRIX, _real, _real),
    "constant_of_ones": ({}, MATRIX, _real, _real),
    "more_functions": ({}, MATRIX, _real, lambda r, s: r.choice([-1, 1], s) * r.uniform(0.2, 3, s)),
    "mean_over_batch": ({}, {}, _real, _real),
    "stops_gradient": ({}, MATRIX, _real, _real),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operations_import_and_agree_with_tensorflow(name):
    domains, shapes, make_true, make_pred = OPERATIONS[name]
    function = getattr(cases, name)
    loss = lossc.compile(function, inputs=domains, shapes=shapes, dtype="float64")
    rng = np.random.default_rng(sum(map(ord, name)))
    shape = (16, 3) if shapes else (16,)
    data = {"y_true": make_true(rng, shape), "y_pred": make_pred(rng, shape)}
    _agree(loss, function, data, "y_pred")


# name -> (the function of y_pred, the domain declared, points inside it, what the program reads).
# tf.experimental.numpy.log2 and log10 trace to `Log` divided by a constant.
ELEMENTARY = {
    "tan": (tf.math.tan, "[-1.2, 1.2]", lambda r, n: r.uniform(-1.2, 1.2, n), "tan(y_pred)"),
    "atan": (tf.math.atan, "real", lambda r, n: 3 * r.normal(size=n), "atan(y_pred)"),
    "asin": (tf.math.asin, "[-1, 1]", lambda r, n: r.uniform(-0.95, 0.95, n), "asin(y_pred)"),
    "acos": (tf.math.acos, "[-1, 1]", lambda r, n: r.uniform(-0.95, 0.95, n), "acos(y_pred)"),
    "log2": (tf.experimental.numpy.log2, "(0, inf)", lambda r, n: r.uniform(0.05, 20.0, n), "log(y_pred) /"),
    "log10": (tf.experimental.numpy.log10, "(0, inf)", lambda r, n: r.uniform(0.05, 20.0, n), "log(y_pred) /"),
    "erf": (tf.math.erf, "real", lambda r, n: 2 * r.normal(size=n), "erf(y_pred)"),
    "erfc": (tf.math.erfc, "real", lambda r, n: 2 * r.normal(size=n), "erfc(y_pred)"),
}


@pytest.mark.parametrize("name", sorted(ELEMENTARY))
def test_elementary_functions_agree_with_tensorflow(name):
    function, domain, points, text = ELEMENTARY[name]

    def squared_error(y_true, y_pred):
        return tf.square(function(y_pred) - y_true)

    loss = lossc.compile(squared_error, inputs={"y_true": "real", "y_pred": domain}, dtype="float64",
                         framework="tf")
    assert text in loss.source, loss.source
    rng = np.random.default_rng(sum(map(ord, name)))
    _agree(loss, squared_error, {"y_true": rng.normal(size=16), "y_pred": points(rng, 16)}, "y_pred")


def test_elementary_functions_agree_with_tensorflow_in_float32():
    def bounded(y_true, y_pred):
        angle = tf.math.atan(y_pred) + tf.math.asin(y_true) - tf.math.acos(y_true) + tf.math.tan(0.5 * y_pred)
        return tf.reduce_mean(tf.square(angle) + tf.math.erf(y_pred) * y_true + tf.math.erfc(y_pred), axis=-1)

    loss = lossc.compile(bounded, inputs={"y_true": "[-1, 1]", "y_pred": "[-2, 2]"}, shapes=MATRIX, framework="tf")
    assert loss.dtype == "float32"
    rng = np.random.default_rng(14)
    data = {"y_true": rng.uniform(-0.9, 0.9, (16, 3)).astype(np.float32),
            "y_pred": rng.uniform(-2, 2, (16, 3)).astype(np.float32)}
    _agree(loss, bounded, data, "y_pred", rtol=2e-6)


def test_the_built_ins_the_graph_computes_are_the_stable_ones():
    source = lossc.compile(cases.along_axes, shapes=MATRIX, dtype="float64").source
    assert "log_softmax(y_pred)" in source and "softmax(y_pred)" in source
    assert "max(y_pred, axis=1, keepdims=true)" in source
    assert "clip(y_pred, 1e-7, 0.9999999)" in lossc.compile(cases.clipped_bce, shapes=MATRIX).source
    sizes = lossc.compile(cases.mean_over_batch, dtype="float64").source
    assert "/ N" in sizes
    shaped = lossc.compile(cases.shapes_and_sizes, shapes=MATRIX, dtype="float64").source
    assert "take(y_true, 0, axis=1)" in shaped and "expand_dims(" in shaped


def test_logsumexp_and_log_sigmoid_graphs_are_the_built_ins():
    source = lossc.compile(cases.stable_built_ins, shapes=MATRIX, dtype="float64").source
    assert "logsumexp(y_pred, axis=1)" in source
    assert "log_sigmoid(y_pred)" in source
    assert "softplus" not in source and "exp(" not in source.replace("logsumexp(", "")
    logits = lossc.compile(cases.logits_losses, shapes=MATRIX, dtype="float64").source
    assert "softplus(y_pred) - y_pred * y_true" in logits and "log1p" not in logits


@pytest.mark.parametrize(
    "make, domains",
    [
        (lambda: tf_keras.losses.BinaryCrossentropy(), BINARY[0]),
        (lambda: tf_keras.losses.BinaryCrossentropy(from_logits=True), {"y_true": "{0, 1}", "y_pred": "real"}),
        (lambda: tf_keras.losses.CategoricalCrossentropy(from_logits=True), {"y_true": "[0, 1]", "y_pred": "real"}),
        (lambda: tf_keras.losses.MeanSquaredError(), REGRESSION[0]),
    ],
)
def test_tf_keras_loss_objects_import_with_their_reduction(make, domains):
    function = make()
    loss = lossc.compile(function, inputs=domains, shapes={"y_true": ("N", C), "y_pred": ("N", C)},
                         dtype="float64", framework="tf")
    rng = np.random.default_rng(1)
    if domains["y_true"] == "[0, 1]":
        data = {"y_true": _simplex(rng, (16, C)), "y_pred": _real(rng, (16, C))}
    else:
        pred = rng.uniform(0.01, 0.99, (16, C)) if domains["y_pred"] == "[0, 1]" else _real(rng, (16, C))
        truth = _labels01(rng, (16, C)) if domains["y_true"] == "{0, 1}" else _real(rng, (16, C))
        data = {"y_true": truth, "y_pred": pred}
    _agree(loss, function, data, "y_pred")
    for d in loss.check():
        assert pathlib.Path(d.file).parts[-3:] == ("tf_keras", "src", "losses.py")


def test_tf_functions_and_calls_of_them_are_inlined_on_their_lines():
    loss = lossc.compile(cases.decorated, dtype="float64")
    assert loss.name.endswith("cases_tf.py::decorated")
    assert _at("squared", "tf.square(") in loss.source
    assert _at("decorated", "tf.reduce_mean(squared(") in loss.source


def test_nan_and_inf_tests_are_comparisons():
    source = lossc.compile(cases.nan_guards, shapes=MATRIX, dtype="float64").source
    assert "abs(ratio) < inf" in source and "ratio != ratio" in source and "abs(ratio) == inf" in source
    data = {"y_true": np.array([[1.0, 0.0, 2.0]]), "y_pred": np.array([[0.0, 0.0, 4.0]])}  # inf, NaN, 0.5
    _agree(lossc.compile(cases.nan_guards, shapes=MATRIX, dtype="float64"), cases.nan_guards, data, "y_pred")


def test_norms_are_the_norm_built_in():
    source = lossc.compile(cases.norms, shapes=MATRIX, dtype="float64").source
    assert "norm(y_true - y_pred, axis=1, keepdims=true)" in source
    assert "norm(y_pred, axis=1)" in source
    assert "minimum(relu(y_pred * 4), 6)" in source


def test_one_hot_of_integer_labels():
    function = cases.one_hot_labels
    loss = lossc.compile(function, inputs={"labels": "{0..2}"}, shapes={"logits": ("N", 3)}, dtype="float64")
    assert "one_hot(labels, 3)" in loss.source
    rng = np.random.default_rng(2)
    data = {"labels": rng.integers(0, 3, 16).astype(np.int32), "logits": _real(rng, (16, 3))}
    _agree(loss, function, data, "logits")


def test_an_operation_is_located_on_its_python_line():
    loss = lossc.compile(cases.clipped_bce, inputs={"y_true": "{0, 1}", "y_pred": "sigmoid"}, shapes=MATRIX)
    clip_line = _line_of(cases.clipped_bce, "tf.clip_by_value(")
    assert f"cases_tf.py:{clip_line}" in loss.source
    for d in loss.check():
        assert pathlib.Path(d.file).resolve() == CASES_FILE
        assert d.line in _lines(cases.clipped_bce)


# --- what does not import -------------------------------------------------------


def _error(name, shapes=MATRIX, **kwargs):
    with pytest.raises(lossc.LossError) as raised:
        lossc.compile(getattr(cases, name), shapes=shapes, dtype="float64", **kwargs)
    return str(raised.value)


def _at(name, text):
    return f"cases_tf.py:{_line_of(getattr(cases, name), text)}"


@pytest.mark.parametrize(
    "name, op, line",
    [
        ("cumulative", "Cumsum", "tf.math.cumsum("),
        ("flattens", "Reshape", "tf.reshape("),
        ("stacks", "Pack", "tf.stack("),
        ("float32_inside", "Cast", "tf.cast(y_pred, tf.float32)"),
        ("range_slice", "StridedSlice", "y_pred[:, 1:]"),
    ],
)
def test_an_unsupported_operation_names_the_op_and_the_line(name, op, line):
    message = _error(name)
    assert f"lossc cannot import `{op}`" in message
    assert _at(name, line) in message
    assert "traced with TensorFlow" in message


@pytest.mark.parametrize(
    "name, text, line",
    [
        ("python_branch_on_a_tensor", "TensorFlow could not trace the function", "if tf.reduce_mean"),
        ("calls_numpy", "TensorFlow could not trace the function: AttributeError", ".numpy()"),
        ("raises", "ValueError: this loss is broken", "raise ValueError"),
    ],
)
def test_a_function_that_cannot_be_traced_is_a_loss_error_at_its_line(name, text, line):
    message = _error(name, framework="tf")
    assert text in message
    assert _at(name, line) in message


def test_results_that_are_not_a_loss_are_errors():
    assert "returned tuple, not one tensor" in _error("returns_a_pair")
    message = _error("returns_a_matrix")
    assert "shape [N, 3]" in message and "a loss is a scalar or one value per sample" in message


def test_mismatched_example_shapes_are_errors():
    message = _error("per_sample_vector", shapes={"y_true": np.zeros((8, 3)), "y_pred": np.zeros((8, 4))})
    assert "TensorFlow could not trace the function" in message
    assert _at("per_sample_vector", "tf.square(") in message
    symbolic = _error("per_sample_vector", shapes={"y_true": "[N, C]", "y_pred": "[N, D]"})
    assert "lossc cannot import `Sub`" in symbolic and "[N, C] and [N, D]" in symbolic


def test_the_truncated_mean_of_integer_labels_is_refused():
    message = _error("integer_mean", shapes=None, inputs={"y_true": "{0..4}"})
    assert "lossc cannot import `Mean`: the mean of integers" in message
    assert _at("integer_mean", "tf.reduce_mean(y_true)") in message


def test_captured_tensors_and_variables_are_refused_at_their_line():
    weights = _error("class_weights")
    assert "lossc cannot import `Mul`: a constant tensor of several values" in weights
    assert _at("class_weights", "WEIGHTS *") in weights
    variable = _error("scaled_by_a_variable")
    assert "lossc cannot import `tf.Variable`" in variable
    assert "cases_tf.py:" in variable


def test_a_constant_tensor_that_would_shape_the_result_is_refused():
    message = _error("constant_shapes_the_result", shapes=None)
    assert "lossc cannot import `Mul`: a constant tensor of shape [2, 1]" in message
    assert _at("constant_shapes_the_result", "tf.ones([2, 1]") in message


def test_when_both_traces_fail_the_integer_labels_error_is_reported():
    message = _error("one_hot_in_float32", shapes={"logits": ("N", 3)}, inputs={"labels": "{0..2}"})
    assert "TensorFlow could not trace the function: TypeError" in message
    assert "float32" in message and "float64" in message
    assert _at("one_hot_in_float32", "tf.one_hot(") in message


def test_keras3_losses_on_the_tensorflow_backend_in_a_process_of_their_own():
    # conftest runs Keras 3 on JAX in this process; its TensorFlow backend
    # needs a fresh interpreter.
    framework("keras")
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, KERAS_BACKEND="tensorflow",
               PYTHONPATH=os.pathsep.join([str(pathlib.Path(lossc.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, str(HERE / "import_losses" / "keras3_tf_check.py")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    results = {r["name"]: r for r in map(json.loads, filter(None, run.stdout.splitlines()))}
    failed = {name: r["error"] for name, r in results.items() if "error" in r}
    assert set(failed) == {"categorical_generalized_cross_entropy", "circle", "ctc"}
    assert "cannot import `OneHot`" in failed["categorical_generalized_cross_entropy"]
    assert "cannot import `Transpose`" in failed["circle"]
    assert "could not trace" in failed["ctc"]
    assert len(results) - len(failed) >= 19
    for name, r in results.items():
        if name not in failed:
            assert r["value"] <= 1e-9 and r["gradient"] <= 1e-9, (name, r)
