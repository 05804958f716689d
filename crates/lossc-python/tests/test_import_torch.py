"""lossc.compile on PyTorch functions: the torch.nn.functional losses import,
and on random data inside their domains Loss.eval agrees with torch's own
value and autograd gradient (float64, rtol 1e-9), as does the emitted
PyTorch module (to_torch); diagnostics and import errors point at the
user's lines."""

import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import lossc
from conftest import framework

torch = framework("torch")
F = torch.nn.functional

from import_losses import torch_losses  # noqa: E402

RTOL = 1e-9
FIXTURE = pathlib.Path(torch_losses.__file__)


def line_of(mark: str) -> int:
    """The line of the fixture module carrying `# at: mark`."""
    for number, text in enumerate(FIXTURE.read_text().splitlines(), start=1):
        if text.rstrip().endswith(f"# at: {mark}"):
            return number
    raise AssertionError(f"no line marked {mark}")


def rng():
    return np.random.default_rng(1234)


def real(*shape):
    return lambda r, n: r.normal(size=(n, *shape))


def unit(*shape):
    return lambda r, n: r.uniform(0.05, 0.95, size=(n, *shape))


def positive(*shape):
    return lambda r, n: r.uniform(0.1, 3.0, size=(n, *shape))


def signs(*shape):
    return lambda r, n: r.choice([-1.0, 1.0], size=(n, *shape))


def bits(*shape):
    return lambda r, n: r.choice([0.0, 1.0], size=(n, *shape))


def log_probs(c):
    def make(r, n):
        z = r.normal(size=(n, c))
        return z - np.log(np.exp(z).sum(-1, keepdims=True))

    return make


def probs(c):
    def make(r, n):
        z = np.exp(r.normal(size=(n, c)))
        return z / z.sum(-1, keepdims=True)

    return make


def labels(c):
    return lambda r, n: r.integers(0, c, size=(n,))


# name -> (function of torch tensors, {param: (domain, shape, data)}, per-sample reduction allowed)
CASES = {
    "mse_loss": (lambda red: lambda input, target: F.mse_loss(input, target, reduction=red),
                 {"input": ("real", "[N]", real()), "target": ("real", "[N]", real())}, True),
    "mse_loss_2d": (lambda red: lambda input, target: F.mse_loss(input, target, reduction=red),
                    {"input": ("real", "[N, D]", real(3)), "target": ("real", "[N, D]", real(3))}, False),
    "l1_loss": (lambda red: lambda input, target: F.l1_loss(input, target, reduction=red),
                {"input": ("real", "[N]", real()), "target": ("real", "[N]", real())}, True),
    "smooth_l1_loss": (lambda red: lambda input, target: F.smooth_l1_loss(input, target, reduction=red, beta=0.5),
                       {"input": ("real", "[N]", real()), "target": ("real", "[N]", real())}, True),
    "huber_loss": (lambda red: lambda input, target: F.huber_loss(input, target, reduction=red, delta=0.7),
                   {"input": ("real", "[N]", real()), "target": ("real", "[N]", real())}, True),
    "binary_cross_entropy": (lambda red: lambda input, target: F.binary_cross_entropy(input, target, reduction=red),
                             {"input": ("[0, 1]", "[N]", unit()), "target": ("[0, 1]", "[N]", unit())}, True),
    "binary_cross_entropy_with_logits": (
        lambda red: lambda input, target: F.binary_cross_entropy_with_logits(input, target, reduction=red),
        {"input": ("real", "[N]", real()), "target": ("[0, 1]", "[N]", unit())}, True),
    "binary_cross_entropy_with_logits_pos_weight": (
        lambda red: lambda input, target: F.binary_cross_entropy_with_logits(
            input, target, reduction=red, pos_weight=torch.tensor(3.0, dtype=input.dtype)),
        {"input": ("real", "[N]", real()), "target": ("{0, 1}", "[N]", bits())}, True),
    "cross_entropy_probabilities": (
        lambda red: lambda input, target: F.cross_entropy(input, target, reduction=red),
        {"input": ("real", "[N, C]", real(4)), "target": ("[0, 1]", "[N, C]", probs(4))}, True),
    "cross_entropy_indices": (
        lambda red: lambda input, target: F.cross_entropy(input, target, reduction=red),
        {"input": ("real", "[N, 4]", real(4)), "target": ("{0..3}", "[N]", labels(4))}, True),
    "nll_loss": (lambda red: lambda input, target: F.nll_loss(input, target, reduction=red),
                 {"input": ("real", "[N, 5]", log_probs(5)), "target": ("{0..4}", "[N]", labels(5))}, True),
    "kl_div": (lambda red: lambda input, target: F.kl_div(input, target, reduction=red),
               {"input": ("real", "[N, C]", log_probs(3)), "target": ("[0, 1]", "[N, C]", probs(3))}, False),
    "kl_div_batchmean": (lambda red: lambda input, target: F.kl_div(input, target, reduction="batchmean"),
                         {"input": ("real", "[N, C]", log_probs(3)), "target": ("[0, 1]", "[N, C]", probs(3))}, False),
    "kl_div_log_target": (
        lambda red: lambda input, target: F.kl_div(input, target, reduction=red, log_target=True),
        {"input": ("real", "[N, C]", log_probs(3)), "target": ("real", "[N, C]", log_probs(3))}, False),
    "poisson_nll_loss": (lambda red: lambda input, target: F.poisson_nll_loss(input, target, reduction=red),
                         {"input": ("real", "[N]", real()), "target": ("[0, inf)", "[N]", positive())}, True),
    "poisson_nll_loss_full": (
        lambda red: lambda input, target: F.poisson_nll_loss(input, target, log_input=False, full=True, reduction=red),
        {"input": ("(0, inf)", "[N]", positive()), "target": ("[0, inf)", "[N]", positive())}, True),
    "margin_ranking_loss": (
        lambda red: lambda input1, input2, target: F.margin_ranking_loss(input1, input2, target, margin=0.3,
                                                                         reduction=red),
        {"input1": ("real", "[N]", real()), "input2": ("real", "[N]", real()), "target": ("{-1, 1}", "[N]", signs())},
        True),
    "hinge_embedding_loss": (
        lambda red: lambda input, target: F.hinge_embedding_loss(input, target, margin=1.5, reduction=red),
        {"input": ("real", "[N]", real()), "target": ("{-1, 1}", "[N]", signs())}, True),
    "soft_margin_loss": (lambda red: lambda input, target: F.soft_margin_loss(input, target, reduction=red),
                         {"input": ("real", "[N]", real()), "target": ("{-1, 1}", "[N]", signs())}, True),
    "multilabel_soft_margin_loss": (
        lambda red: lambda input, target: F.multilabel_soft_margin_loss(input, target, reduction=red),
        {"input": ("real", "[N, C]", real(4)), "target": ("{0, 1}", "[N, C]", bits(4))}, True),
    "cosine_embedding_loss": (
        lambda red: lambda input1, input2, target: F.cosine_embedding_loss(input1, input2, target, margin=0.2,
                                                                           reduction=red),
        {"input1": ("real", "[N, D]", real(3)), "input2": ("real", "[N, D]", real(3)),
         "target": ("{-1, 1}", "[N]", signs())}, True),
    "triplet_margin_loss": (
        lambda red: lambda anchor, positive, negative: F.triplet_margin_loss(anchor, positive, negative, reduction=red),
        {"anchor": ("real", "[N, D]", real(3)), "positive": ("real", "[N, D]", real(3)),
         "negative": ("real", "[N, D]", real(3))}, True),
}

PER_SAMPLE = [name for name, (_, _, per_sample) in CASES.items() if per_sample]


def torch_reference(fn, arrays, wrt):
    tensors = {}
    for name, array in arrays.items():
        if np.issubdtype(array.dtype, np.integer):
            tensors[name] = torch.tensor(array, dtype=torch.int64)
        else:
            tensors[name] = torch.tensor(array, dtype=torch.float64, requires_grad=(name == wrt))
    out = fn(*tensors.values())
    value = out.mean()
    value.backward()
    return out.detach().numpy(), float(value.detach()), tensors[wrt].grad.numpy()


def import_case(name, reduction):
    make, spec, _ = CASES[name]
    fn = make(reduction)
    loss = lossc.compile(fn, inputs={k: v[0] for k, v in spec.items()}, shapes={k: v[1] for k, v in spec.items()},
                         dtype="float64", framework="torch")
    r = rng()
    arrays = {k: v[2](r, 7) for k, v in spec.items()}
    return fn, loss, arrays


def check_against_torch(fn, loss, arrays, per_sample):
    wrt = next(iter(arrays))  # PyTorch's convention: the first argument is the prediction
    expected_out, expected_value, expected_grad = torch_reference(fn, arrays, wrt)
    lossc_names = list(loss.inputs)
    data = dict(zip(lossc_names, arrays.values()))
    ev = loss.eval(data)
    np.testing.assert_allclose(float(ev.value), expected_value, rtol=RTOL)
    [(grad_name, grad)] = ev.gradient.items()
    assert grad_name == lossc_names[0]
    np.testing.assert_allclose(grad, expected_grad, rtol=RTOL, atol=1e-14)
    if per_sample:
        np.testing.assert_allclose(ev.per_sample, expected_out, rtol=RTOL, atol=1e-14)
    # The emitted PyTorch module gives the same numbers.
    emitted = loss.to_torch()
    args = [torch.tensor(a, dtype=torch.float64) for a in arrays.values()]
    np.testing.assert_allclose(float(emitted(*args)), expected_value, rtol=RTOL)


@pytest.mark.parametrize("name", list(CASES))
def test_functional_losses_import_with_reduction_mean(name):
    fn, loss, arrays = import_case(name, "mean")
    assert loss.framework == f"PyTorch {torch.__version__.split('+')[0]}"
    assert "traced with PyTorch" in loss.source
    check_against_torch(fn, loss, arrays, per_sample=False)


@pytest.mark.parametrize("name", PER_SAMPLE)
def test_functional_losses_import_with_reduction_none_as_per_sample_losses(name):
    fn, loss, arrays = import_case(name, "none")
    check_against_torch(fn, loss, arrays, per_sample=True)


# reduction="sum" on a sample of the cases (each import takes a few seconds).
SUMMABLE = ["mse_loss_2d", "binary_cross_entropy", "nll_loss", "kl_div", "poisson_nll_loss_full",
            "cosine_embedding_loss", "triplet_margin_loss"]


@pytest.mark.parametrize("name", SUMMABLE)
def test_functional_losses_import_with_reduction_sum(name):
    fn, loss, arrays = import_case(name, "sum")
    check_against_torch(fn, loss, arrays, per_sample=False)


@pytest.mark.parametrize("fn, inputs, shapes, make", [
    (torch_losses.one_hot_ce, {"target": "{0..3}"}, {"input": "[N, 4]"},
     lambda r: {"input": r.normal(size=(6, 4)), "target": r.integers(0, 4, size=6)}),
    (torch_losses.column_and_views, {"input": "[0, 1]", "target": "{0, 1}"}, {"input": "[N, 1]"},
     lambda r: {"input": r.uniform(0.05, 0.95, size=(6, 1)), "target": r.choice([0.0, 1.0], size=6)}),
    (torch_losses.with_std, None, {"input": "[N, D]", "target": "[N, D]"},
     lambda r: {"input": r.normal(size=(6, 3)), "target": r.normal(size=(6, 3))}),
    (torch_losses.boolean_masks, {"input": "[0, 1]", "target": "[0, 1]"}, None,
     lambda r: {"input": r.uniform(size=8), "target": r.uniform(size=8)}),
    (torch_losses.softmax_dot, {"target": "[0, 1]"}, {"input": "[N, C]", "target": "[N, C]"},
     lambda r: {"input": r.normal(size=(6, 3)), "target": probs(3)(r, 6)}),
])
def test_hand_written_losses_import(fn, inputs, shapes, make):
    loss = lossc.compile(fn, inputs=inputs, shapes=shapes, dtype="float64", framework="torch")
    check_against_torch(fn, loss, make(rng()), per_sample=False)


# name -> (the function of input, the domain declared, points inside it, what the program reads).
ELEMENTARY = {
    "tan": (torch.tan, "[-1.2, 1.2]", lambda r, n: r.uniform(-1.2, 1.2, n), "tan(input)"),
    "atan": (torch.atan, "real", lambda r, n: 3 * r.normal(size=n), "atan(input)"),
    "asin": (torch.asin, "[-1, 1]", lambda r, n: r.uniform(-0.95, 0.95, n), "asin(input)"),
    "acos": (torch.acos, "[-1, 1]", lambda r, n: r.uniform(-0.95, 0.95, n), "acos(input)"),
    "log2": (torch.log2, "(0, inf)", lambda r, n: r.uniform(0.05, 20.0, n), "log2(input)"),
    "log10": (torch.log10, "(0, inf)", lambda r, n: r.uniform(0.05, 20.0, n), "log10(input)"),
    "erf": (torch.erf, "real", lambda r, n: 2 * r.normal(size=n), "erf(input)"),
    "erfc": (torch.erfc, "real", lambda r, n: 2 * r.normal(size=n), "erfc(input)"),
    "special_erf": (torch.special.erf, "real", lambda r, n: 2 * r.normal(size=n), "erf(input)"),
    # The Gaussian CDF decomposes to (erf(x / sqrt(2)) + 1) / 2.
    "ndtr": (torch.special.ndtr, "real", lambda r, n: 2 * r.normal(size=n), "(erf(input * 0.7071067811865476) + 1)"),
}


@pytest.mark.parametrize("name", list(ELEMENTARY))
def test_elementary_functions_agree_with_torch(name):
    fn, domain, points, text = ELEMENTARY[name]

    def squared_error(input, target):
        return torch.square(fn(input) - target)

    loss = lossc.compile(squared_error, inputs={"input": domain, "target": "real"}, dtype="float64",
                         framework="torch")
    assert text in loss.source, loss.source
    r = rng()
    check_against_torch(squared_error, loss, {"input": points(r, 9), "target": r.normal(size=9)}, per_sample=True)


@pytest.mark.parametrize("name", ["mse_loss", "binary_cross_entropy", "nll_loss", "cosine_embedding_loss"])
def test_float32_imports_agree_with_torch_in_float32(name):
    make, spec, _ = CASES[name]
    fn = make("mean")
    loss = lossc.compile(fn, inputs={k: v[0] for k, v in spec.items()}, shapes={k: v[1] for k, v in spec.items()})
    assert loss.dtype == "float32"
    r = rng()
    arrays = {k: v[2](r, 7) for k, v in spec.items()}
    tensors = [torch.tensor(a) if np.issubdtype(a.dtype, np.integer) else torch.tensor(a, dtype=torch.float32)
               for a in arrays.values()]
    expected = float(fn(*tensors))
    data = {k: (a if np.issubdtype(a.dtype, np.integer) else a.astype(np.float32))
            for k, a in zip(loss.inputs, arrays.values())}
    np.testing.assert_allclose(float(loss.eval(data).value), expected, rtol=1e-5)


def test_float32_constants_are_written_as_float32_reads_them():
    loss = lossc.compile(torch_losses.log_eps, inputs={"input": "sigmoid", "target": "{0, 1}"})
    assert "log(input + 1e-8)" in loss.source


def test_a_library_loss_passed_as_it_is_imports_and_is_located_in_torch():
    loss = lossc.compile(F.smooth_l1_loss, dtype="float64")
    assert list(loss.inputs) == ["input", "target"]  # its hyperparameters have defaults
    assert "torch/nn/functional.py:" in loss.source.splitlines()[-1]
    r = rng()
    check_against_torch(F.smooth_l1_loss, loss, {"input": r.normal(size=5), "target": r.normal(size=5)},
                        per_sample=False)


def test_input_keeps_its_name_and_is_the_default_wrt():
    fn, loss, _ = import_case("binary_cross_entropy", "mean")
    assert list(loss.inputs) == ["input", "target"]
    assert "Renamed" not in loss.source
    assert "\nwrt input\n" in loss.source


def test_binary_cross_entropy_keeps_torchs_clamp_of_the_log_at_minus_100():
    _, loss, _ = import_case("binary_cross_entropy", "mean")
    assert "maximum(log(input), -100)" in loss.source
    # At the edges torch's clamp keeps the value finite; lossc computes the same.
    t = np.array([1.0, 0.0, 1.0])
    p = np.array([0.0, 1.0, 0.5])
    expected = float(F.binary_cross_entropy(torch.tensor(p), torch.tensor(t)))
    np.testing.assert_allclose(float(loss.eval(input=p, target=t).value), expected, rtol=RTOL)


def test_kl_div_with_per_class_output_is_refused_as_not_a_loss():
    make, spec, _ = CASES["kl_div"]
    with pytest.raises(lossc.LossError, match=r"shape \[N, C\]; a loss is a scalar or a per-sample value"):
        lossc.compile(make("none"), inputs={k: v[0] for k, v in spec.items()},
                      shapes={k: v[1] for k, v in spec.items()}, dtype="float64")


def test_stable_builtins_are_recognised():
    loss = lossc.compile(torch_losses.stable_builtins, shapes={"input": "[N, C]", "target": "[N, C]"},
                         dtype="float64")
    assert "logsumexp(input, axis=-1)" in loss.source
    assert "softplus(input)" in loss.source
    assert "log_sigmoid(input)" in loss.source
    r = rng()
    arrays = {"input": r.normal(size=(6, 3)) * 30, "target": probs(3)(r, 6)}
    check_against_torch(torch_losses.stable_builtins, loss, arrays, per_sample=False)


def test_keyword_hyperparameters_and_row_reductions():
    for fn, shapes in ((torch_losses.focal, None), (torch_losses.row_dot, {"input": "[N, C]", "target": "[N, C]"})):
        loss = lossc.compile(fn, inputs={"target": "[0, 1]"}, shapes=shapes, dtype="float64", framework="torch")
        r = rng()
        if shapes:
            arrays = {"input": r.normal(size=(5, 4)), "target": probs(4)(r, 5)}
        else:
            arrays = {"input": r.normal(size=5), "target": r.uniform(size=5)}
        check_against_torch(fn, loss, arrays, per_sample=False)


# ---- diagnostics on the user's lines ------------------------------------------------


def test_where_step_findings_are_on_the_where_line():
    loss = lossc.compile(torch_losses.confident_mse, inputs={"input": "sigmoid", "target": "{0, 1}"})
    findings = {(d.code, d.line) for d in loss.check()}
    assert ("dead-gradient", line_of("where")) in findings
    assert ("discontinuity", line_of("where")) in findings
    for d in loss.check():
        assert d.file.endswith("torch_losses.py")
    # The same findings as the hand-written .loss example.
    codes = {d.code for d in loss.check()}
    example = {d.code for d in lossc.compile(pathlib.Path(__file__).parents[3] / "examples/faulty_step_where.loss").check()}
    assert example <= codes


def test_log_epsilon_findings_are_on_the_log_line():
    loss = lossc.compile(torch_losses.log_eps, inputs={"input": "sigmoid", "target": "{0, 1}"})
    diagnostics = loss.check()
    exploding = [d for d in diagnostics if d.code == "exploding-gradient"]
    assert exploding and exploding[0].line == line_of("log")
    assert "`input`" in exploding[0].message  # the user's own name
    assert "torch.log(input + 1e-8)" in str(exploding[0])  # shown over the Python line
    example = {d.code for d in lossc.compile(pathlib.Path(__file__).parents[3] / "examples/faulty_log_eps.loss").check()}
    assert {d.code for d in diagnostics} == example


def test_an_operation_in_a_helper_is_located_in_the_helper():
    # Tensor methods only: the framework is named.
    loss = lossc.compile(torch_losses.uses_a_helper, inputs={"input": "[0, 1]", "target": "{0, 1}"}, framework="torch")
    logs = [d for d in loss.check() if "log" in d.message or "log" in d.label]
    assert logs and all(d.line == line_of("helper") for d in logs)
    assert f"torch_losses.py:{line_of('helper')}" in loss.source


# ---- bad input -------------------------------------------------------------------------


def test_data_dependent_control_flow_is_not_traceable():
    with pytest.raises(lossc.LossError) as raised:
        lossc.compile(torch_losses.data_dependent)
    message = str(raised.value)
    assert "not traceable" in message and "torch.where" in message
    assert f"torch_losses.py:{line_of('branch')}" in message


@pytest.mark.parametrize("fn, op, mark", [
    (torch_losses.sorted_loss, "aten.sort", "sort"),
    (torch_losses.argmax_loss, "aten.argmax", "argmax"),
    (torch_losses.detached, "aten.detach", "detach"),
    (torch_losses.no_grad_block, "torch.ops.higher_order.wrap_with_set_grad_enabled", "no_grad"),
])
def test_unsupported_operations_name_the_op_and_the_line(fn, op, mark):
    shapes = {"input": "[N, 4]"} if mark == "argmax" else None
    with pytest.raises(lossc.LossError) as raised:
        lossc.compile(fn, shapes=shapes, framework="torch")
    message = str(raised.value)
    assert f"lossc cannot import `{op}" in message
    assert f"torch_losses.py:{line_of(mark)}" in message


def test_gaussian_nll_loss_is_not_traceable_and_says_why():
    # Its `if torch.any(var < 0): raise` reads the values of `var`.
    def gaussian(input, target, var):
        return F.gaussian_nll_loss(input, target, var)  # the user's line

    with pytest.raises(lossc.LossError) as raised:
        lossc.compile(gaussian, inputs={"var": "(0, inf)"})
    message = str(raised.value)
    assert "not traceable" in message and "`return F.gaussian_nll_loss(input, target, var)" in message


def test_a_constant_vector_is_refused_at_its_line():
    with pytest.raises(lossc.LossError) as raised:
        lossc.compile(torch_losses.class_weights, inputs={"target": "{0..2}"}, shapes={"input": "[N, 3]"})
    message = str(raised.value)
    assert "lossc cannot import `constant tensor`: its shape is [3]" in message
    assert f"torch_losses.py:{line_of('weights')}" in message


def test_an_exception_inside_the_loss_is_reported_at_its_line():
    with pytest.raises(lossc.LossError) as raised:
        lossc.compile(torch_losses.raises)
    message = str(raised.value)
    assert "KeyError" in message and f"torch_losses.py:{line_of('raise')}" in message


def test_mismatched_example_shapes_are_a_loss_error():
    with pytest.raises(lossc.LossError) as raised:
        lossc.compile(lambda input, target: F.mse_loss(input, target),
                      shapes={"input": np.zeros((4, 3)), "target": np.zeros((4, 5))})
    message = str(raised.value)
    assert "shapes do not agree with the shapes given (`input` [N, 3], `target` [N, 5]" in message
    assert "test_import_torch.py:" in message
    assert re.search(r"torch.Size\(\[\w+, 5\]\); but expected shape should be broadcastable to \[\w+, 3\]", message)


def test_different_names_for_one_axis_are_a_loss_error():
    with pytest.raises(lossc.LossError) as raised:
        lossc.compile(lambda input, target: (input - target).abs().mean(),
                      shapes={"input": "[N]", "target": "[M]"}, framework="torch")
    assert "shapes do not agree with the shapes given (`input` [N], `target` [M]" in str(raised.value)
    assert "test_import_torch.py:" in str(raised.value)


def test_a_per_class_result_is_refused():
    with pytest.raises(lossc.LossError, match=r"returns a tensor of shape \[N, 3\]"):
        lossc.compile(lambda input, target: (input - target) ** 2, shapes={"input": "[N, 3]", "target": "[N, 3]"},
                      framework="torch")


KERAS_ON_TORCH = '''
import os
os.environ["KERAS_BACKEND"] = "torch"
import keras
from keras import ops
import lossc


def confident(y_true, y_pred):
    return ops.mean(ops.where(y_pred > 0.5, ops.square(y_true - y_pred), 0.0))


loss = lossc.compile(confident, inputs={"y_true": "{0, 1}", "y_pred": "sigmoid"})
print(loss.framework)
print(sorted({(d.code, d.line) for d in loss.check()}))
mse = lossc.compile(keras.losses.mean_squared_error, shapes={"y_true": "[N, D]", "y_pred": "[N, D]"})
print(mse.source.splitlines()[-1])
'''


def test_keras_3_on_the_torch_backend_imports_through_torch(tmp_path):
    framework("keras")
    import os
    import subprocess
    import sys

    script = tmp_path / "keras_torch_loss.py"
    script.write_text(KERAS_ON_TORCH)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("PyTorch ")
    where_line = 1 + KERAS_ON_TORCH.splitlines().index("    return ops.mean(ops.where(y_pred > 0.5, ops.square(y_true - y_pred), 0.0))")
    assert lines[1] == f"[('dead-gradient', {where_line}), ('discontinuity', {where_line})]"
    # A library's loss is located in the library's file, not at the line that called lossc.compile.
    code, _, where = lines[2].partition("  # ")
    assert code == "loss mean_squared_error = mean(square(y_true - y_pred), axis=-1)"
    assert where.split(":")[0].endswith("keras/src/losses/losses.py"), where


def test_a_torch_loss_imports_in_a_process_that_loaded_tensorflow_first():
    """Importing triton after TensorFlow aborts the interpreter; the importer
    keeps torch.export from doing so."""
    pytest.importorskip("tensorflow", reason="the clash needs TensorFlow")
    script = (
        "import tensorflow, torch, lossc\n"
        "loss = lossc.compile(lambda input, target: torch.mean((input - target) ** 2), framework='torch')\n"
        "print(loss.source.splitlines()[-1])\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "mean(square(input - target))" in done.stdout or "mean((input - target) ^ 2)" in done.stdout, done.stdout
