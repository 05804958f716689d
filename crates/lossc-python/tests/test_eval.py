"""Loss.eval: numbers against NumPy, finite differences and jax.grad; inputs read in place."""

import numpy as np
import pytest

import lossc
from conftest import framework

BCE = "input y_true: {0, 1}\ninput y_pred: (0, 1)\nloss bce = mean(-(y_true * log(y_pred) + (1 - y_true) * log(1 - y_pred)))\n"


def bce(t, p):
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))


def finite_difference(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad


RNG = np.random.default_rng(7)
T = RNG.integers(0, 2, size=16).astype(np.float64)
P = RNG.uniform(0.05, 0.95, size=16)


def test_value_and_gradient_match_numpy_and_finite_differences():
    ev = lossc.compile(BCE, dtype="float64").eval(y_true=T, y_pred=P)
    assert ev.name == "bce"
    assert ev.value.shape == () and ev.value.dtype == np.float64
    assert np.isclose(float(ev.value), bce(T, P), rtol=1e-12)
    assert ev.per_sample is None
    assert set(ev.gradient) == {"y_pred"}
    assert np.allclose(ev.gradient["y_pred"], finite_difference(lambda p: bce(T, p), P), rtol=1e-6, atol=1e-9)
    assert ev.dims == {"N": 16}


def test_the_gradient_matches_jax_grad():
    jax = framework("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def reference(t, p):
        return jnp.mean(-(t * jnp.log(p) + (1 - t) * jnp.log(1 - p)))

    ev = lossc.compile(BCE, dtype="float64").eval(y_true=T, y_pred=P)
    assert np.allclose(ev.gradient["y_pred"], np.asarray(jax.grad(reference, argnums=1)(T, P)), rtol=1e-12)


def test_float32_results_are_float32_arrays():
    ev = lossc.compile(BCE).eval(y_true=T.astype(np.float32), y_pred=P.astype(np.float32))
    assert ev.value.dtype == np.float32 and ev.gradient["y_pred"].dtype == np.float32
    assert np.isclose(float(ev.value), bce(T, P), rtol=1e-5)


def test_per_sample_losses_give_their_samples():
    source = "input y_pred: real\nloss per = square(y_true - y_pred)\n"
    ev = lossc.compile(source, dtype="float64").eval({"y_true": T, "y_pred": P})
    assert np.allclose(ev.per_sample, (T - P) ** 2)
    assert np.isclose(float(ev.value), np.mean((T - P) ** 2))
    assert np.allclose(ev.gradient["y_pred"], 2 * (P - T) / len(T))


def test_outputs_are_evaluated_without_a_gradient():
    loss = lossc.compile("loss l = mean(y_pred)\noutput twice = 2 * y_pred\n", dtype="float64")
    ev = loss.eval_output("twice", y_pred=P)
    assert np.array_equal(ev.value, 2 * P) and ev.gradient == {}


def test_arrays_of_every_layout_and_numeric_type_are_read_without_conversion():
    loss = lossc.compile(BCE, dtype="float64")
    expected = loss.eval(y_true=T, y_pred=P)
    before = lossc._converted_inputs
    wide = np.stack([P, P])  # rows are contiguous; a column view is strided
    strided = np.empty(32)
    strided[::2] = P
    reversed_ = P[::-1].copy()[::-1]  # negative stride
    layouts = [wide[0], strided[::2], reversed_, np.stack([P, P], axis=1)[:, 1]]
    assert [p.flags.c_contiguous for p in layouts] == [True, False, False, False]
    for p in layouts:
        for t in [T, T.astype(np.int64), T.astype(np.uint8), T.astype(bool), T.astype(np.float32)]:
            got = loss.eval(y_true=t, y_pred=p)
            assert float(got.value) == float(expected.value)
            assert np.array_equal(got.gradient["y_pred"], expected.gradient["y_pred"])
    # None of these was converted (copied) on the Python side; the extension
    # views each in its own element type and strides.
    assert lossc._converted_inputs == before
    loss.eval(y_true=T.tolist(), y_pred=P.astype(np.float16))
    assert lossc._converted_inputs == before + 2
    # Byte-swapped and unaligned arrays are copied, and give the same numbers.
    raw = np.zeros(P.nbytes + 1, dtype=np.uint8)
    unaligned = raw[1:].view(np.float64)
    unaligned[:] = P
    assert not unaligned.flags.aligned
    for p in [unaligned, P.astype(">f8")]:
        got = loss.eval(y_true=T, y_pred=p)
        assert float(got.value) == float(expected.value)
    assert lossc._converted_inputs == before + 4


def test_bad_inputs_are_value_and_type_errors():
    loss = lossc.compile(BCE, dtype="float64")
    with pytest.raises(ValueError, match="y_true"):
        loss.eval(y_pred=P)
    with pytest.raises(ValueError):
        loss.eval(y_true=T[:3], y_pred=P)
    for bad in [np.array(["a", "b"]), [None, 1.0], P.astype(complex)]:
        with pytest.raises(TypeError, match="not an array of real numbers"):
            loss.eval(y_true=T, y_pred=bad)
    with pytest.raises(TypeError, match="given twice"):
        loss.eval({"y_true": T}, y_true=T, y_pred=P)
    with pytest.raises(ValueError):
        loss.eval_output("nothing", y_true=T, y_pred=P)


def test_grad_and_simplify_return_loss_text_that_evaluates_to_the_same_numbers():
    loss = lossc.compile(BCE, dtype="float64")
    gradient = loss.grad()
    assert "output d_bce_d_y_pred =" in gradient
    ev = lossc.compile(gradient, dtype="float64").eval_output("d_bce_d_y_pred", y_true=T, y_pred=P)
    assert np.allclose(ev.value, loss.eval(y_true=T, y_pred=P).gradient["y_pred"], rtol=1e-12)
    simplified = loss.simplify()
    assert "loss bce =" in simplified
    again = lossc.compile(simplified, dtype="float64").eval(y_true=T, y_pred=P)
    assert np.isclose(float(again.value), bce(T, P), rtol=1e-12)
    two = lossc.compile("input a: real\nloss l = mean(a * y_pred)\n", wrt=["a", "y_pred"]).grad()
    assert "d_l_d_a" in two and "d_l_d_y_pred" in two
    assert "d_l_d_a" in lossc.compile("input a: real\nloss l = mean(a * y_pred)\n").grad(wrt="a")


def test_data_outside_the_declared_domains_is_evaluated_with_a_warning():
    loss = lossc.compile(BCE)
    with pytest.warns(lossc.OutsideDomainWarning, match=r"`y_true` holds 1 value outside its declared domain \{0, 1\}"):
        ev = loss.eval(y_true=np.array([1.0, 0.5]), y_pred=np.array([0.9, 0.2]))
    assert np.isclose(float(ev.value), bce(np.array([1.0, 0.5]), np.array([0.9, 0.2])))
    rows = lossc.compile("input y_pred: simplex [N, C]\nloss = mean(-log(take(y_pred, 0)))")
    with pytest.warns(lossc.OutsideDomainWarning, match=r"1 row that does not sum to 1.*at \[1\]"):
        rows.eval(y_pred=np.array([[0.5, 0.5], [0.9, 0.9]]))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss.eval(y_true=T, y_pred=P)
        rows.eval(y_pred=np.array([[0.5, 0.5], [0.1, 0.9]]))
