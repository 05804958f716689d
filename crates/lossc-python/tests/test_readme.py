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
    pytest.importorskip("jax", reason="the example's last lines need jax")
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    printed = capsys.readouterr().out
    assert "error[log-domain]: `1 - p` reaches 0 when `y_pred` = 1" in printed
    assert "output d_bce_d_y_pred =" in printed
