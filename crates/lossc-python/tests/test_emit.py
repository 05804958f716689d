"""Loss.emit and the ready functions, against NumPy."""

import sys

import numpy as np
import pytest

import lossc
from conftest import framework

SOURCE = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss bce = mean(-xlogy(y_true, clip(y_pred, 1e-7, 1)) - xlogy(1 - y_true, clip(1 - y_pred, 1e-7, 1)))\n"
T = np.array([1.0, 0.0, 1.0, 0.0])
P = np.array([0.9, 0.2, 1.0, 0.0])  # the edges: the guarded code stays finite


def expected():
    p = np.clip(P, 1e-7, 1)
    q = np.clip(1 - P, 1e-7, 1)
    return float(np.mean(-(T * np.log(p)) - np.where(T == 1, 0.0, (1 - T) * np.log(q))))


@pytest.fixture
def loss():
    return lossc.compile(SOURCE, dtype="float64")


@pytest.mark.parametrize("target", lossc.TARGETS)
def test_emit_returns_the_module_source(loss, target):
    module = loss.emit(target)
    assert "def bce(" in module
    assert f"lossc emit --target {target}" in module
    compile(module, "<emitted>", "exec")  # valid Python


def test_unknown_targets_are_value_errors(loss):
    with pytest.raises(ValueError, match='unknown emit target "onnx": one of jax, torch, keras, tf, numpy'):
        loss.emit("onnx")
    with pytest.raises(TypeError):
        loss.emit(None)


def test_to_numpy(loss):
    assert np.isclose(loss.to_numpy()(T, P), expected(), rtol=1e-12)


def test_to_jax(loss):
    jax = framework("jax")
    jax.config.update("jax_enable_x64", True)
    f = loss.to_jax()
    assert np.isclose(float(f(T, P)), expected(), rtol=1e-12)
    g = jax.grad(f, argnums=1)(T, P)
    assert np.all(np.isfinite(np.asarray(g)))
    assert np.allclose(np.asarray(g)[:2], lossc.compile(SOURCE, dtype="float64").eval(y_true=T, y_pred=P).gradient["y_pred"][:2])


def test_to_torch(loss):
    torch = framework("torch")
    f = loss.to_torch()
    value = f(torch.tensor(T), torch.tensor(P))
    assert np.isclose(float(value), expected(), rtol=1e-12)


def test_to_keras(loss):
    framework("keras")
    f = loss.to_keras()
    assert np.isclose(float(np.asarray(f(T, P))), expected(), rtol=1e-6)


def test_to_tf(loss):
    tf = framework("tensorflow")
    f = loss.to_tf()
    assert np.isclose(float(f(tf.constant(T), tf.constant(P))), expected(), rtol=1e-12)


def test_a_missing_framework_is_an_import_error_naming_it(loss, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    with pytest.raises(ImportError, match="needs PyTorch"):
        loss.to_torch()


def test_a_program_without_a_loss_cannot_be_emitted():
    with pytest.raises(lossc.LossError, match="defines no `loss`"):
        lossc.compile("output o = 2 * y_pred\n").emit("jax")


STOPPED = """input y_true: real [N]
input y_pred: real [N]
let target = stop_gradient(0.5 * y_pred + 0.5 * y_true)
loss l = mean(square(y_pred - target))
"""
ST = np.array([1.0, 2.0, -1.0])
SP = np.array([0.0, 0.5, 3.0])
# By hand: the target is a constant to the derivative, so d/dp = 2 (p - target) / N.
STOPPED_GRADIENT = 2 * (SP - 0.5 * (SP + ST)) / 3


@pytest.mark.parametrize("target", ["jax", "torch", "tf"])
def test_stop_gradient_stops_the_frameworks_autodiff(target):
    loss = lossc.compile(STOPPED, dtype="float64")
    np.testing.assert_allclose(loss.eval(y_true=ST, y_pred=SP).gradient["y_pred"], STOPPED_GRADIENT, rtol=1e-12)
    if target == "jax":
        jax = framework("jax")
        jax.config.update("jax_enable_x64", True)
        f = loss.to_jax()
        gradient = np.asarray(jax.grad(f, argnums=1)(ST, SP))
    elif target == "torch":
        torch = framework("torch")
        p = torch.tensor(SP, requires_grad=True)
        loss.to_torch()(torch.tensor(ST), p).backward()
        gradient = p.grad.numpy()
    else:
        tf = framework("tensorflow")
        p = tf.Variable(SP)
        with tf.GradientTape() as tape:
            value = loss.to_tf()(tf.constant(ST), p)
        gradient = tape.gradient(value, p).numpy()
    np.testing.assert_allclose(gradient, STOPPED_GRADIENT, rtol=1e-12)
