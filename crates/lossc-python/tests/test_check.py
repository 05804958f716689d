"""Loss.check: diagnostics as data, as the terminal shows them, and as HTML."""

import subprocess
import sys

import lossc


def test_diagnostics_have_their_fields(examples):
    found = lossc.compile(examples / "faulty_log_eps.loss").check()
    assert [(d.code, d.severity, d.line) for d in found] == [
        ("dead-gradient", "warning", 31),
        ("exploding-gradient", "warning", 31),
    ]
    exploding = found[1]
    assert exploding.column == 24
    assert exploding.location == f"{examples / 'faulty_log_eps.loss'}:31:24"
    start, end = exploding.span
    assert lossc.compile(examples / "faulty_log_eps.loss").source[start:end] == "log(y_pred + 1e-8)"
    # The witness is part of the message, and data.
    assert "(at `y_true` = 1 and `y_pred` = 0)" in exploding.message
    assert dict(exploding.witness) == {"y_true": 1.0, "y_pred": 0.0}
    assert exploding.witness_rows == ()
    assert "witness" in exploding._repr_html_()
    # A region (the dead side of a step) is not a point: no witness.
    assert dict(found[0].witness) == {}
    assert exploding.notes and exploding.help and exploding.fix is None
    assert found.warnings == list(found) and found.errors == []


def test_a_clean_loss_has_no_diagnostics(examples):
    found = lossc.compile(examples / "msle.loss").check()
    assert list(found) == []
    assert str(found) == "no problems found"


def test_str_is_what_lossc_check_prints(examples):
    path = examples / "faulty_log_eps.loss"
    found = lossc.compile(path).check()
    printed = subprocess.run(
        [sys.executable, "-m", "lossc", "check", "--color", "never", str(path)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert printed.startswith(str(found[0]) + "\n")
    assert str(found) in printed
    assert str(found[1]).startswith("warning[exploding-gradient]: the gradient with respect to `y_pred` can reach 1e8")


def test_dtype_is_the_analysis_dtype():
    source = "input y_pred: [0, 1]\nloss l = mean(-log(clip(y_pred, 1e-8, 1 - 1e-8)))\n"
    f32 = [d.code for d in lossc.compile(source).check()]
    f64 = [d.code for d in lossc.compile(source, dtype="float64").check()]
    # 1 - 1e-8 rounds to 1 in float32 only.
    assert f32 != f64


def test_html_is_escaped():
    found = lossc.compile("mean(-log(y_pred))", inputs={"y_pred": "sigmoid"}).check()
    page = found._repr_html_()
    assert "<pre" in page and "<table>" in page
    assert "&lt;formula&gt;" in page and "<formula>" not in page
    assert found[0]._repr_html_() in page
    error_page = None
    try:
        lossc.compile("mean(squre(y_pred))")
    except lossc.LossError as error:
        error_page = error._repr_html_()
    assert error_page is not None and "unknown-name" in error_page and "&lt;formula&gt;" in error_page


def test_a_program_without_results_has_nothing_to_check():
    import pytest

    with pytest.raises(lossc.LossError, match="defines no `loss` and no `output`"):
        lossc.compile("input y_pred: real\n").check()
