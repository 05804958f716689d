"""The JAX importer: Python losses written with JAX, optax and Keras 3
``keras.ops`` (JAX backend), traced with ``jax.make_jaxpr`` and translated
into ``.loss`` programs.

Each imported loss is checked against JAX itself: the value and the autodiff
gradient of the framework's function on random data inside the declared
domains (float64, rtol 1e-9), and the module lossc emits (``to_jax()``) gives
the same numbers. The seed losses give the findings of the hand-written
examples, on the lines of the Python file."""

import inspect
import pathlib

import numpy as np
import pytest

from conftest import framework

jax = framework("jax")
jnp = pytest.importorskip("jax.numpy")

import lossc  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
RTOL = 1e-9


def _line_of(path: pathlib.Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def _jax_value_and_grad(fn, args, wrt_index, dtype):
    """The framework's own batch-mean loss and its gradient."""
    with jax.enable_x64(dtype == "float64"):
        arrays = [jnp.asarray(a) for a in args]

        def mean_loss(x):
            call = list(arrays)
            call[wrt_index] = x
            return jnp.mean(fn(*call))

        value, grad = jax.value_and_grad(mean_loss)(arrays[wrt_index])
        return float(value), np.asarray(grad)


def _check_against_jax(fn, inputs, shapes, args, *, dtype="float64", rtol=RTOL, wrt=None, round_trip=True):
    names = list(inspect.signature(fn).parameters)
    wrt = wrt or names[-1]
    loss = lossc.compile(fn, inputs=inputs, shapes=dict(zip(names, shapes)), dtype=dtype, wrt=wrt)
    float_type = np.float64 if dtype == "float64" else np.float32
    args = [a.astype(float_type) if a.dtype.kind == "f" else a for a in args]
    ev = loss.eval(dict(zip(names, args)))
    value, grad = _jax_value_and_grad(fn, args, names.index(wrt), dtype)
    np.testing.assert_allclose(float(ev.value), value, rtol=rtol, atol=0)
    scale = max(1.0, float(np.max(np.abs(grad))))
    np.testing.assert_allclose(ev.gradient[wrt], grad, rtol=rtol, atol=rtol * scale * 1e-3)
    if round_trip:
        emitted = loss.to_jax()
        with jax.enable_x64(dtype == "float64"):
            again = float(emitted(*[jnp.asarray(a) for a in args]))
        np.testing.assert_allclose(again, value, rtol=rtol, atol=0)
    return loss


# ---- the seed losses of the Keras question, in keras.ops -------------------------------


@pytest.fixture(scope="module")
def seed():
    framework("keras")
    from import_losses import seed_keras_ops

    return seed_keras_ops


SEED_CASES = [
    ("confident_mse", "faulty_step_where.loss", {"dead-gradient": "ops.where(", "discontinuity": "ops.where("}),
    ("faulty_ce", "faulty_log_eps.loss", {"exploding-gradient": "-ops.log(y_pred + epsilon)",
                                          "dead-gradient": None}),
    ("mse", "mse_sigmoid.loss", {}),
]


@pytest.mark.parametrize("name, example, where", SEED_CASES, ids=[c[0] for c in SEED_CASES])
def test_seed_losses_give_the_findings_of_the_examples_on_the_python_lines(seed, examples, name, example, where):
    fn = getattr(seed, name)
    loss = lossc.compile(fn, inputs={"y_true": "{0, 1}", "y_pred": "sigmoid"})
    assert loss.framework.startswith("JAX ")
    reference = lossc.compile(examples / example)
    expected = sorted((d.code, d.severity) for d in reference.check())
    found = loss.check()
    assert sorted((d.code, d.severity) for d in found) == expected
    path = pathlib.Path(seed.__file__)
    body = range(fn.__code__.co_firstlineno, fn.__code__.co_firstlineno + 6)
    for d in found:
        assert pathlib.Path(d.file).name == "seed_keras_ops.py", d
        assert d.line in body, d
        needle = where.get(d.code)
        if needle is not None:
            line = _line_of(path, needle)
            assert d.line == line, (d.code, d.line, line)
            text = path.read_text().splitlines()[line - 1]
            assert d.column - 1 == text.index(needle.split("(")[0].lstrip("-")) or d.column - 1 == text.index(needle)


def test_seed_loss_program_reads_as_the_example(seed):
    loss = lossc.compile(seed.faulty_ce, inputs={"y_true": "{0, 1}", "y_pred": "sigmoid"})
    assert "input y_true: {0, 1} [N]" in loss.source
    assert "input y_pred: [0, 1] [N]" in loss.source
    assert "-log(y_pred + 1e-8) * y_true" in loss.source
    assert "mean(" in loss.source  # the keras.ops mean (sum / N) is the language's mean


def test_seed_losses_agree_with_keras_value_and_gradient(seed):
    rng = np.random.default_rng(1)
    t = rng.integers(0, 2, size=16).astype(np.float64)
    p = rng.uniform(0.01, 0.99, size=16)
    for name in ("confident_mse", "faulty_ce", "mse"):
        _check_against_jax(getattr(seed, name), {"y_true": "{0, 1}", "y_pred": "sigmoid"}, ("[N]", "[N]"), [t, p],
                           dtype="float32", rtol=2e-6)


# ---- keras.losses on the JAX backend ---------------------------------------------------

# Keras 3 on JAX computes `ops.mean` in float32 even for float64 data: these import at
# float64 (no mean inside); the others only at float32, and say so at float64.
KERAS_FLOAT64 = {
    "categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge", "cosine_similarity", "dice",
    "kl_divergence", "sparse_categorical_crossentropy", "tversky", "categorical_generalized_cross_entropy",
}


def _keras_cases():
    framework("keras")
    framework("optax")
    from import_losses.jax_library import KERAS

    return KERAS


def _keras_fn(name):
    import keras

    fn = getattr(keras.losses, name)
    if name == "categorical_generalized_cross_entropy":
        return lambda y_true, y_pred: fn(y_true, y_pred, q=0.5)
    return lambda y_true, y_pred: fn(y_true, y_pred)


KERAS_NAMES = [
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy",
    "categorical_hinge", "cosine_similarity", "dice", "hinge", "huber", "kl_divergence", "log_cosh",
    "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error", "mean_squared_logarithmic_error",
    "poisson", "sparse_categorical_crossentropy", "squared_hinge", "tversky", "categorical_generalized_cross_entropy",
]


def _shapes(shapes):
    return (shapes, shapes) if isinstance(shapes, str) else shapes


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_keras_loss_imports_float32(name):
    inputs, shapes, sample = _keras_cases()[name]
    args = sample(np.random.default_rng(2))
    _check_against_jax(_keras_fn(name), inputs, _shapes(shapes), list(args), dtype="float32", rtol=1e-5)


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_keras_loss_float64(name):
    inputs, shapes, sample = _keras_cases()[name]
    args = list(sample(np.random.default_rng(3)))
    fn = _keras_fn(name)
    if name in KERAS_FLOAT64:
        _check_against_jax(fn, inputs, _shapes(shapes), args)
    else:
        with pytest.raises(lossc.LossError) as error:
            lossc.compile(fn, inputs=inputs, shapes=dict(zip(("y_true", "y_pred"), _shapes(shapes))),
                          dtype="float64")
        message = str(error.value)
        assert "convert_element_type" in message and "float32" in message and "test_import_jax.py" in message


def test_every_keras_loss_of_y_true_y_pred_is_covered():
    import keras

    losses = {n for n in dir(keras.losses) if not n[0].isupper() and not n.startswith("_")
              and callable(getattr(keras.losses, n))}
    not_losses = {"get", "serialize", "deserialize"}
    # circle: pairwise (a matrix product of embeddings); ctc: a sequence loss (a scan).
    cannot = {"circle", "ctc"}
    assert losses - not_losses - cannot == set(KERAS_NAMES)


@pytest.mark.parametrize("name", ["circle"])
def test_keras_losses_that_cannot_import_say_why(name):
    import keras

    fn = getattr(keras.losses, name)
    with pytest.raises(lossc.LossError, match="dot_general|cannot import"):
        lossc.compile(lambda y_true, y_pred: fn(y_true, y_pred), shapes={"y_true": "[N]", "y_pred": "[N, 4]"},
                      inputs={"y_true": "{0..3}"})


# ---- optax.losses ----------------------------------------------------------------------

OPTAX_IMPORTED = [
    "sigmoid_binary_cross_entropy", "hinge_loss", "perceptron_loss", "huber_loss", "l2_loss", "log_cosh",
    "squared_error", "softmax_cross_entropy", "safe_softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels",
    "poly_loss_cross_entropy", "kl_divergence", "kl_divergence_with_log_targets", "convex_kl_divergence",
    "generalized_kl_divergence", "cosine_distance", "cosine_similarity", "multiclass_hinge_loss",
    "multiclass_perceptron_loss", "triplet_margin_loss", "binary_dice_loss", "dice_loss", "ranking_softmax_loss",
    "sparsemax_loss", "multiclass_generalized_dice_loss",
]
OPTAX_NOT_IMPORTED = {
    "sigmoid_focal_loss": "stack",
    "multiclass_sparsemax_loss": "sort",
}


def _optax_cases():
    framework("optax")
    from import_losses.jax_library import OPTAX

    return OPTAX


@pytest.mark.parametrize("name", OPTAX_IMPORTED)
def test_optax_loss_agrees_with_jax_float64(name):
    fn, inputs, shapes, sample = _optax_cases()[name]
    names = list(inspect.signature(fn).parameters)
    shapes = (shapes,) * len(names) if isinstance(shapes, str) else shapes
    args = list(sample(np.random.default_rng(4)))
    _check_against_jax(fn, inputs, shapes, args)


@pytest.mark.parametrize("name", sorted(OPTAX_NOT_IMPORTED))
def test_optax_losses_that_cannot_import_name_the_op(name):
    fn, inputs, shapes, _ = _optax_cases()[name]
    names = list(inspect.signature(fn).parameters)
    shapes = (shapes,) * len(names) if isinstance(shapes, str) else shapes
    with pytest.raises(lossc.LossError) as error:
        lossc.compile(fn, inputs=inputs, shapes=dict(zip(names, shapes)), dtype="float64")
    message = str(error.value)
    assert f"`{OPTAX_NOT_IMPORTED[name]}`" in message, message
    assert "jax_library.py:" in message


def test_every_optax_loss_is_covered():
    import optax

    names = {n for n in dir(optax.losses) if not n.startswith("_")}
    # ctc_loss*: sequence losses (a scan over time); ntxent: pairwise similarities of a batch
    # (a matrix product); make_fenchel_young_loss: a factory; smooth_labels: not a loss.
    others = {"ctc_loss", "ctc_loss_with_forward_probs", "ntxent", "make_fenchel_young_loss", "smooth_labels"}
    assert names - others == set(OPTAX_IMPORTED) | set(OPTAX_NOT_IMPORTED)


def test_a_dimension_needed_as_an_int_says_so():
    fn = _optax_cases()["multiclass_generalized_dice_loss"][0]
    with pytest.raises(lossc.LossError, match="give it as a number"):
        lossc.compile(fn, inputs={"y_true": "{0, 1}"}, shapes={"y_true": "[N, C]", "y_pred": "[N, C]"})


def test_optax_softmax_cross_entropy_uses_the_stable_builtin():
    fn = _optax_cases()["softmax_cross_entropy"][0]
    loss = lossc.compile(fn, inputs={"y_true": "[0, 1]"}, shapes={"y_true": "[N, C]", "y_pred": "[N, C]"})
    assert "log_softmax(y_pred, axis=-1)" in loss.source
    assert "stop_gradient" not in loss.source and "exp(" not in loss.source


# ---- hand-written JAX: the primitives real losses use ----------------------------------


def _kitchen_sink(y_true, y_pred):
    # sigmoid, log_sigmoid, softplus, logsumexp with keepdims, softmax, indexing, rsqrt, integer_pow, a row-wise dot.
    p = jax.nn.sigmoid(y_pred)
    a = jnp.where(y_true > 0.5, -jax.nn.log_sigmoid(y_pred), jax.nn.softplus(y_pred))
    lse = jax.scipy.special.logsumexp(y_pred, axis=-1, keepdims=True)
    sm = jax.nn.softmax(y_pred, axis=-1)
    first = y_pred[..., 0]
    dot = jnp.einsum("nc,nc->n", y_true, y_pred)
    r = jax.lax.rsqrt(1.0 + p ** 2) + jnp.clip(p, 0.1, 0.9) ** 3
    return jnp.mean(a + r - (y_pred - lse) * sm, axis=-1) + first * 0.5 + dot / 7.0 + jnp.max(jnp.abs(y_pred), axis=-1)


def test_primitives_of_hand_written_jax_agree_with_jax():
    rng = np.random.default_rng(5)
    t = rng.integers(0, 2, size=(9, 3)).astype(np.float64)
    p = rng.normal(size=(9, 3))
    loss = _check_against_jax(_kitchen_sink, {"y_true": "{0, 1}"}, ("[N, 3]", "[N, 3]"), [t, p])
    for builtin in ("sigmoid(", "log_sigmoid(", "softplus(", "logsumexp(", "softmax(", "take(", "clip("):
        assert builtin in loss.source, builtin
    assert "stop_gradient" not in loss.source


def test_symbolic_dimensions_become_names():
    def per_class_mse(y_true, y_pred):
        return jnp.mean(jnp.square(y_true - y_pred), axis=-1)

    loss = lossc.compile(per_class_mse, shapes={"y_true": ("N", "C"), "y_pred": ("N", "C")})
    # No domain given: declared without one, and check says what it assumed.
    assert "input y_pred [N, C]" in loss.source
    assumed = [d for d in loss.check() if d.code == "assumed-domain"]
    assert [d.severity for d in assumed] == ["note", "note"]
    assert "mean(square(y_true - y_pred), axis=-1)" in loss.source
    ev = loss.eval(y_true=np.zeros((2, 5), np.float32), y_pred=np.ones((2, 5), np.float32))
    assert float(ev.value) == 1.0


def test_float64_restores_the_users_x64_setting():
    before = jax.config.jax_enable_x64
    lossc.compile(lambda y_true, y_pred: jnp.square(y_true - y_pred), dtype="float64", framework="jax")
    assert jax.config.jax_enable_x64 == before
    assert jnp.zeros(1).dtype == (np.float64 if before else np.float32)


# ---- bad input --------------------------------------------------------------------------


def _not_traceable(y_true, y_pred):
    if jnp.mean(y_pred) > 0.5:  # a Python bool of a traced value
        return jnp.mean(y_pred)
    return jnp.mean(y_true)


def _sorts(y_true, y_pred):
    ranked = jnp.sort(y_pred, axis=-1)
    return jnp.mean(ranked * y_true, axis=-1)


def _argmax(y_true, y_pred):
    best = jnp.argmax(y_pred, axis=-1)
    return jnp.mean(jnp.square(y_true - best[..., None]), axis=-1)


def _raises(y_true, y_pred):
    raise ValueError("the loss is not ready")


def _stops_gradient(y_true, y_pred):
    return jnp.mean(jnp.square(y_true - jax.lax.stop_gradient(y_pred) * y_pred))


def _matrix_product(y_true, y_pred):
    return jnp.mean(jnp.einsum("nc,mc->nm", y_pred, y_true))


def _error_case(fn, shapes=None):
    with pytest.raises(lossc.LossError) as error:
        lossc.compile(fn, shapes=shapes or {"y_true": "[N, 4]", "y_pred": "[N, 4]"}, framework="jax")
    return str(error.value)


def _here(fn, needle):
    return f"test_import_jax.py:{_line_of(pathlib.Path(__file__), needle)}"


def test_a_function_that_is_not_traceable_is_a_loss_error():
    message = _error_case(_not_traceable)
    assert "not traceable" in message and "TracerBoolConversionError" in message
    assert _here(_not_traceable, "if jnp.mean(y_pred) > 0.5") in message


@pytest.mark.parametrize("fn, op, needle", [
    (_sorts, "sort", "jnp.sort(y_pred"),
    (_argmax, "argmax", "jnp.argmax(y_pred"),
    (_matrix_product, "dot_general", 'jnp.einsum("nc,mc->nm"'),
], ids=["sort", "argmax", "matmul"])
def test_an_unsupported_op_names_the_op_and_the_line(fn, op, needle):
    message = _error_case(fn)
    assert f"lossc cannot import `{op}`" in message
    assert _here(fn, needle) in message


def test_stop_gradient_imports_and_the_gradient_flows_around_it():
    rng = np.random.default_rng(11)
    t, p = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    # JAX's own gradient (2 (t - p^2)(-p), not (-2p)) is the reference.
    loss = _check_against_jax(_stops_gradient, {}, ("[N, 4]", "[N, 4]"), [t, p])
    assert "stop_gradient(y_pred)" in loss.source


def test_an_exception_inside_the_loss_is_a_loss_error():
    message = _error_case(_raises)
    assert "ValueError: the loss is not ready" in message
    assert _here(_raises, 'raise ValueError("the loss is not ready")') in message


def test_mismatched_shapes_are_a_loss_error():
    def mse(y_true, y_pred):
        return jnp.mean(jnp.square(y_true - y_pred), axis=-1)  # mismatched

    message = _error_case(mse, {"y_true": "[N, 3]", "y_pred": "[N, 4]"})
    assert "tracing with JAX failed" in message and "TypeError" in message
    assert "y_true: [N, 3], y_pred: [N, 4]" in message
    assert _here(mse, "return jnp.mean(jnp.square(y_true - y_pred), axis=-1)  # mismatched") in message


def test_example_arrays_give_the_shapes():
    def mse(y_true, y_pred):
        return jnp.mean(jnp.square(y_true - y_pred), axis=-1)

    t = np.zeros((5, 3), np.float32)
    loss = lossc.compile(mse, shapes={"y_true": t, "y_pred": t})
    assert "input y_true [N, 3]" in loss.source
    with pytest.raises(lossc.LossError, match="tracing with JAX failed"):
        lossc.compile(mse, shapes={"y_true": t, "y_pred": np.zeros((5, 4), np.float32)})


def test_a_result_that_is_not_a_loss_shape_is_a_loss_error():
    message = _error_case(lambda y_true, y_pred: jnp.square(y_true - y_pred))
    assert "shape [N, 4]" in message and "a loss is a scalar or one number per sample" in message


@jax.custom_vjp
def _clipped_gradient(x):
    return 2.0 * x


_clipped_gradient.defvjp(lambda x: (_clipped_gradient(x), None), lambda _, g: (jnp.clip(g, -1.0, 1.0),))


def _uses_own_derivative_rule(y_true, y_pred):
    return jnp.mean(jnp.square(_clipped_gradient(y_pred) - y_true))


def test_a_derivative_rule_of_the_users_own_is_not_imported():
    message = _error_case(_uses_own_derivative_rule, {"y_true": "[N]", "y_pred": "[N]"})
    assert "lossc cannot import `custom_vjp_call`" in message
    assert "`_clipped_gradient`" in message and "derivative rule of its own" in message
    assert _here(_uses_own_derivative_rule, "jnp.square(_clipped_gradient(y_pred) - y_true)") in message


def test_library_derivative_rules_are_the_builtins():
    def losses(y_true, y_pred):
        return jnp.mean(jax.nn.relu(y_pred) + jax.scipy.special.xlogy(y_true, jax.nn.sigmoid(y_pred)))

    loss = _check_against_jax(losses, {"y_true": "[0, 1]"}, ("[N]", "[N]"),
                              [np.random.default_rng(6).uniform(size=8), np.random.default_rng(7).normal(size=8)])
    assert "relu(y_pred)" in loss.source and "xlogy(y_true, sigmoid(y_pred))" in loss.source


def test_logsumexp_softmax_and_reshapes_in_their_variants():
    def variants(y_true, y_pred):
        total = jax.scipy.special.logsumexp(y_pred)  # all axes: a scalar
        rows = jax.nn.logsumexp(y_pred, axis=1)
        probs = jax.nn.softmax(y_pred)
        column = jnp.reshape(rows, (-1, 1))  # [N] to [N, 1]
        back = jnp.squeeze(column * y_true[:, 1:2], axis=1) + y_true[:, 0]
        return rows - total / 10 + jnp.sum(probs * y_true, axis=-1) + back + jnp.mean(y_pred * 0 + 1.0)

    rng = np.random.default_rng(8)
    t = rng.uniform(size=(6, 5))
    p = rng.normal(size=(6, 5))
    loss = _check_against_jax(variants, {"y_true": "[0, 1]"}, ("[N, 5]", "[N, 5]"), [t, p])
    assert "logsumexp(y_pred)" in loss.source and "logsumexp(y_pred, axis=-1)" in loss.source
    assert "softmax(y_pred, axis=-1)" in loss.source


def test_one_hot_of_labels_with_a_symbolic_class_count():
    def sparse_cce(labels, logits):
        return -jnp.sum(jax.nn.one_hot(labels, logits.shape[-1]) * jax.nn.log_softmax(logits), axis=-1)

    rng = np.random.default_rng(9)
    labels = rng.integers(0, 3, size=8).astype(np.int32)
    logits = rng.normal(size=(8, 3))
    loss = _check_against_jax(sparse_cce, {"labels": "{0..2}"}, ("[N]", "[N, C]"), [labels, logits])
    assert "one_hot(labels, C)" in loss.source and "log_softmax(logits, axis=-1)" in loss.source


def test_boolean_logic_agrees_with_jax():
    def gated(y_true, y_pred):
        confident = jnp.logical_xor(y_true > 0.5, y_pred > 0)
        either = jnp.logical_or(confident, jnp.logical_not(jnp.isfinite(y_pred)))
        both = jnp.logical_and(either, y_pred < 1.5)
        return jnp.where(both, jnp.square(y_pred), y_pred - y_true)

    rng = np.random.default_rng(10)
    loss = _check_against_jax(gated, {"y_true": "[0, 1]"}, ("[N]", "[N]"),
                              [rng.uniform(size=12), rng.normal(size=12) * 2])
    assert " and not " in loss.source and "abs(y_pred) < inf" in loss.source


# ---- trigonometric, error-function and base-2/10 logarithm primitives ---------------------

# name -> (the function of y_pred, the domain declared, points inside it, what the program reads).
# jnp.log2 and jnp.log10 trace to `log` divided by log(2) and multiplied by 1/log(10).
ELEMENTARY = {
    "tan": (jnp.tan, "[-1.2, 1.2]", lambda r, n: r.uniform(-1.2, 1.2, n), "tan(y_pred)"),
    "arctan": (jnp.arctan, "real", lambda r, n: 3 * r.normal(size=n), "atan(y_pred)"),
    "arcsin": (jnp.arcsin, "[-1, 1]", lambda r, n: r.uniform(-0.95, 0.95, n), "asin(y_pred)"),
    "arccos": (jnp.arccos, "[-1, 1]", lambda r, n: r.uniform(-0.95, 0.95, n), "acos(y_pred)"),
    "log2": (jnp.log2, "(0, inf)", lambda r, n: r.uniform(0.05, 20.0, n), "log(y_pred) /"),
    "log10": (jnp.log10, "(0, inf)", lambda r, n: r.uniform(0.05, 20.0, n), "log(y_pred) *"),
    "erf": (jax.scipy.special.erf, "real", lambda r, n: 2 * r.normal(size=n), "erf(y_pred)"),
    "erfc": (jax.scipy.special.erfc, "real", lambda r, n: 2 * r.normal(size=n), "erfc(y_pred)"),
}


@pytest.mark.parametrize("name", list(ELEMENTARY))
def test_elementary_functions_agree_with_jax(name):
    fn, domain, points, text = ELEMENTARY[name]

    def squared_error(y_true, y_pred):
        return jnp.square(fn(y_pred) - y_true)

    rng = np.random.default_rng(sum(map(ord, name)))
    loss = _check_against_jax(squared_error, {"y_true": "real", "y_pred": domain}, ("[N]", "[N]"),
                              [rng.normal(size=12), points(rng, 12)])
    assert text in loss.source, loss.source


def _gaussian_crps(y_true, sigma, mu):
    # The closed form of the CRPS of a normal distribution: the CDF is
    # jax.scipy.stats.norm's (`erf` or `erfc` selected by the size of z).
    z = (y_true - mu) / sigma
    cdf = jax.scipy.stats.norm.cdf(z)
    pdf = jnp.exp(-0.5 * jnp.square(z)) / jnp.sqrt(2 * jnp.pi)
    return sigma * (z * (2 * cdf - 1) + 2 * pdf - 1 / jnp.sqrt(jnp.pi))


def test_gaussian_crps_imports_with_the_error_functions():
    rng = np.random.default_rng(12)
    t, sigma, mu = rng.normal(size=16), rng.uniform(0.2, 3.0, size=16), rng.normal(size=16)
    loss = _check_against_jax(_gaussian_crps, {"y_true": "real", "sigma": "(0, inf)", "mu": "real"},
                              ("[N]", "[N]", "[N]"), [t, sigma, mu])
    assert "erf(" in loss.source and "erfc(" in loss.source


def test_elementary_functions_in_keras_ops_agree_with_jax_in_float32():
    framework("keras")
    from keras import ops

    def bounded(y_true, y_pred):
        angle = ops.arctan(y_pred) + ops.arcsin(y_true) - ops.arccos(y_true) + ops.tan(0.5 * y_pred)
        return ops.mean(ops.square(angle) + ops.erf(y_pred) * y_true + ops.log2(1 + ops.square(y_pred)), axis=-1)

    rng = np.random.default_rng(13)
    _check_against_jax(bounded, {"y_true": "[-1, 1]", "y_pred": "[-2, 2]"}, ("[N, 3]", "[N, 3]"),
                       [rng.uniform(-0.9, 0.9, size=(8, 3)), rng.uniform(-2, 2, size=(8, 3))], dtype="float32",
                       rtol=2e-6)


# ---- witnesses, checked in JAX -----------------------------------------------------------


def _weighted_log(y_true, y_pred):
    return -y_true * jnp.log(y_pred)


def _sqrt_of_difference(y_true, y_pred):
    return jnp.sqrt(y_pred - y_true)


def _relative_error(y_true, y_pred):
    return (y_pred - y_true) / y_pred


def _abs_as_sqrt(y_true, y_pred):
    return jnp.sqrt(jnp.square(y_pred - y_true))


@pytest.mark.parametrize("fn", [_weighted_log, _sqrt_of_difference, _relative_error, _abs_as_sqrt])
def test_every_error_witness_makes_jax_itself_non_finite(fn):
    """``Diagnostic.witness`` is a point at which the user's own function,
    run by JAX in float32, gives a non-finite loss or gradient. The witness
    names the inputs the finding is about; an input it leaves out takes a
    value of its domain (0, 0.5 or 1 here)."""
    loss = lossc.compile(fn, inputs={"y_true": "{0, 1}", "y_pred": "sigmoid"})
    errors = [d for d in loss.check() if d.severity == "error"]
    assert errors, loss.check()
    for d in errors:
        assert d.witness and set(d.witness) <= {"y_true", "y_pred"}, d
        for name, value in d.witness.items():
            assert f"`{name}` = " in d.message
            assert np.float32(value) == value, "exact in float32"
        shown = []
        for other in (0.0, 0.5, 1.0):
            point = {"y_true": other, "y_pred": other, **d.witness}
            args = [np.full((1,), point[name], dtype=np.float32) for name in ("y_true", "y_pred")]
            value, grad = _jax_value_and_grad(fn, args, 1, "float32")
            shown.append(not (np.isfinite(value) and np.all(np.isfinite(grad))))
        assert any(shown), d.message
