"""lossc.compile: the sources it takes, its errors, and input domains."""

import pathlib

import numpy as np
import pytest

import lossc


def test_a_formula_is_compiled_as_a_loss_over_y_true_and_y_pred():
    loss = lossc.compile("mean(square(y_true - y_pred))")
    assert loss.source == "loss = mean(square(y_true - y_pred))"
    assert loss.name == "<formula>"
    assert loss.losses == ["loss"]
    assert loss.inputs == {"y_true": "[N]", "y_pred": "[N]"}
    assert loss.dtype == "float32"


def test_loss_text_and_paths_are_compiled(examples):
    text = "input y_pred: (0, 1]\nloss nll = mean(-log(y_pred))\n"
    assert lossc.compile(text).losses == ["nll"]
    assert lossc.compile(text).name == "<string>"
    from_path = lossc.compile(examples / "bce.loss")
    assert from_path.losses == ["bce"]
    assert from_path.name == str(examples / "bce.loss")
    assert lossc.compile(str(examples / "bce.loss")).source == (examples / "bce.loss").read_text()


def test_a_callable_in_no_framework_asks_which_framework_traces_it():
    with pytest.raises(TypeError, match="pass framework="):
        lossc.compile(lambda y_true, y_pred: (y_true - y_pred) ** 2)


@pytest.mark.parametrize("bad", [b"mean(y_pred)", 3, None])
def test_other_sources_are_type_errors(bad):
    with pytest.raises(TypeError):
        lossc.compile(bad)


def test_missing_and_bad_files_are_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such .loss file"):
        lossc.compile(tmp_path / "absent.loss")
    with pytest.raises(IsADirectoryError):
        lossc.compile(pathlib.Path(tmp_path))
    binary = tmp_path / "bad.loss"
    binary.write_bytes(b"loss = mean(\xff)")
    with pytest.raises(ValueError, match="not UTF-8"):
        lossc.compile(binary)
    with pytest.raises(ValueError, match="empty"):
        lossc.compile("   ")


def test_errors_raise_loss_error_carrying_the_diagnostics():
    with pytest.raises(lossc.LossError) as raised:
        lossc.compile("mean(squre(y_true - y_pred))")
    error = raised.value
    assert isinstance(error, Exception)
    [d] = error.diagnostics
    assert (d.code, d.severity, d.line, d.column) == ("unknown-name", "error", 1, 13)
    assert d.message == "cannot find function `squre`"
    assert d.fix is not None and d.fix.replacement == "square" and d.fix.original == "squre"
    assert d.fix.apply("loss = mean(squre(y_true - y_pred))") == "loss = mean(square(y_true - y_pred))"
    assert "error[unknown-name]: cannot find function `squre`" in str(error)


def test_every_broken_statement_is_reported():
    with pytest.raises(lossc.LossError) as raised:
        lossc.compile("input y_pred: [0, 1]\nlet a = log(\nloss l = mean(squre(y_pred))\n")
    assert len(raised.value.diagnostics) >= 1
    assert all(d.severity == "error" for d in raised.value.diagnostics)


def test_dtype_is_checked():
    assert lossc.compile("mean(y_pred)", dtype="float64").dtype == "float64"
    assert lossc.compile("mean(y_pred)", dtype=np.float64).dtype == "float64"
    with pytest.raises(ValueError, match="float32"):
        lossc.compile("mean(y_pred)", dtype="float16")


def test_loss_and_wrt_names_are_checked():
    text = "loss a = mean(y_pred)\noutput b = y_pred * 2\n"
    assert lossc.compile(text, loss="a").losses == ["a"]
    with pytest.raises(ValueError, match="output"):
        lossc.compile(text, loss="b")
    with pytest.raises(ValueError, match="not a loss"):
        lossc.compile(text, loss="c")
    with pytest.raises(ValueError, match="cannot differentiate with respect to `nope`"):
        lossc.compile(text, wrt="nope").grad()


# --- inputs= domains ---------------------------------------------------------


def test_an_alias_domain_declares_an_implicit_input():
    positive = lossc.compile("mean(-log(y_pred))", inputs={"y_pred": "(0, 1]"})
    assert "log-domain" not in [d.code for d in positive.check()]
    sigmoid = lossc.compile("mean(-log(y_pred))", inputs={"y_pred": "sigmoid"})
    assert sigmoid.source == "loss = mean(-log(y_pred))\ninput y_pred: [0, 1]\n"
    codes = [d.code for d in sigmoid.check()]
    assert "log-domain" in codes
    # The diagnostics point into the user's own line, unmoved.
    assert sigmoid.check()[0].line == 1


def test_a_declared_domain_is_replaced_in_place(examples):
    declared = lossc.compile(examples / "bce.loss")
    overridden = lossc.compile(examples / "bce.loss", inputs={"y_pred": "(0, 1)", "y_true": "{0, 1}"})
    assert "input y_pred: (0, 1)\n" in overridden.source
    assert "input y_pred: [0, 1]\n" in declared.source
    assert len(overridden.source.splitlines()) == len(declared.source.splitlines())


def test_a_domain_changes_what_compiles():
    text = "input y_pred: real [N, 3]\nloss l = mean(-sum(one_hot(y_true, 3) * log_softmax(y_pred), axis=-1))\n"
    with pytest.raises(lossc.LossError, match="not declared as a set of integers"):
        lossc.compile(text)
    labels = lossc.compile(text, inputs={"y_true": "{0..2}", "y_pred": "linear"})
    ev = labels.eval(y_true=np.array([0, 2]), y_pred=np.zeros((2, 3)))
    assert np.isclose(float(ev.value), np.log(3.0))


@pytest.mark.parametrize(
    "domain, message",
    [
        ("[0, 1", "is not a domain"),
        ("[0, 1]\nloss x = 1", "is not a domain"),
        ("[0, 1] [N, 2]", "gives a shape"),
        ("sigmoid; loss y = 1", "is not a domain"),
    ],
)
def test_bad_domains_are_value_errors(domain, message):
    with pytest.raises(ValueError, match=message):
        lossc.compile("mean(y_pred)", inputs={"y_pred": domain})


def test_an_empty_interval_is_reported_as_a_bad_domain_diagnostic():
    with pytest.raises(lossc.LossError) as raised:
        lossc.compile("mean(y_pred)", inputs={"y_pred": "(1, 0)"})
    assert raised.value.diagnostics[0].code == "bad-domain"


def test_domains_of_inputs_the_loss_does_not_have_are_refused():
    with pytest.raises(ValueError, match="'logits', not an input of the loss"):
        lossc.compile("mean(y_pred)", inputs={"logits": "real"})
    with pytest.raises(TypeError):
        lossc.compile("mean(y_pred)", inputs={"y_pred": 1})
    with pytest.raises(TypeError):
        lossc.compile("mean(y_pred)", inputs=["y_pred"])


def test_the_module_docstring_example_runs():
    import doctest

    failures, tried = doctest.testmod(lossc, verbose=False)
    assert tried >= 3 and failures == 0


def test_a_line_is_a_statement_only_when_it_starts_as_one():
    # Statement words are names elsewhere: `output * 2` is a formula over a
    # name `output` (which a formula does not declare), not a bad statement.
    for formula in ("output * 2", "mean(output)", "loss - 1"):
        with pytest.raises(lossc.LossError) as caught:
            lossc.compile(formula)
        first = caught.value.diagnostics[0]
        assert (first.code, first.file) == ("unknown-name", "<formula>"), formula
    statement = lossc.compile("loss = mean(square(y_pred - y_true))")
    assert statement.source == "loss = mean(square(y_pred - y_true))"
    program = lossc.compile("input output: [0, 1]\nloss = mean(-log(output))")
    assert list(program.inputs) == ["output"]
