"""README's Python section: its example is the shipped example file, and it runs."""

import pathlib
import re
import runpy

import pytest

HERE = pathlib.Path(__file__).resolve().parent
README = HERE.parents[2] / "README.md"
EXAMPLE = HERE.parent / "examples" / "quickstart.py"


def test_the_readme_shows_the_example_file():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert EXAMPLE.read_text() in blocks


def test_the_example_runs(capsys):
    pytest.importorskip("jax", reason="the example imports a keras.ops loss through JAX")
    pytest.importorskip("keras", reason="the example is a Keras loss")
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    printed = capsys.readouterr().out
    # The findings of examples/faulty_log_eps.loss, over the example's own lines.
    lines = EXAMPLE.read_text().splitlines()
    ce_line = next(i for i, line in enumerate(lines, 1) if line.strip().startswith("ce = "))
    assert f"quickstart.py:{ce_line}:" in printed
    assert "warning[exploding-gradient]" in printed and "warning[dead-gradient]" in printed
    assert "let ce = -log(y_pred + 1e-8) * y_true" in printed
    # The gradient is 0 for both samples with y_true = 0, -y_true / (y_pred + eps) / N elsewhere.
    assert "[-0.2777778  -0.         -0.41666666 -0.        ]" in printed
    # The logits form: no error, no warning.
    assert "error[" not in printed.split("0.15404653")[1]
    assert "warning[" not in printed.split("0.15404653")[1]
