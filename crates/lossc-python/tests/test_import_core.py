"""The importers' shared core, without a framework: the program a Builder
prints, its source map (diagnostics over the user's Python line), numbers
written exactly in the dtype, how a function's inputs and framework are
found, and the ``lossc`` command's handling of ``FILE.py::NAME``."""

import functools
import importlib.util
import math
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lossc
from lossc import _cli, _lossc
from lossc._import import _default_wrt, _dims, detect_framework, import_function
from lossc._import._program import Builder, ImportFailure, Origin, _short, format_number

USER = textwrap.dedent(
    """\
    def custom_loss(y_true, y_pred):
        epsilon = 1e-8
        ce = log(y_pred + epsilon) * y_true
        return mean(-ce)
    """
)


@pytest.fixture
def user_module(tmp_path):
    path = tmp_path / "userloss.py"
    path.write_text(USER)
    spec = importlib.util.spec_from_file_location("userloss_for_test", path)
    module = importlib.util.module_from_spec(spec)
    module.log = math.log
    module.mean = lambda x: x
    spec.loader.exec_module(module)
    return module, str(path)


def column(line: str, piece: str) -> tuple:
    start = line.index(piece)
    return start, start + len(piece)


def build(module, path, dtype="float32"):
    """What an importer would build for USER, by hand: one value per operation,
    each with the columns Python 3.11 records."""
    lines = USER.splitlines()
    b = Builder(module.custom_loss, dtype, "hand")
    y_true = b.input("y_true", "{0, 1}", ("N",))
    y_pred = b.input("y_pred", "[0, 1]", ("N",))
    at = lambda n, piece: Origin(path, n, *column(lines[n - 1], piece)[:1], n, column(lines[n - 1], piece)[1])
    shifted = b.binary("+", y_pred, b.const(1e-8), at(3, "y_pred + epsilon"))
    logged = b.call("log", shifted, origin=at(3, "log(y_pred + epsilon)"))
    ce = b.binary("*", logged, y_true, at(3, "log(y_pred + epsilon) * y_true"))
    negated = b.unary("-", ce, at(4, "-ce"))
    b.loss(b.call("mean", negated, origin=at(4, "mean(-ce)")), origin=at(4, "mean(-ce)"))
    return b.finish("userloss.py::custom_loss")


def test_a_builder_prints_one_statement_per_python_line_named_after_its_variable(user_module):
    module, path = user_module
    imported = build(module, path)
    body = [line for line in imported.text.splitlines() if line and not line.startswith("#")]
    assert body == [
        "input y_true: {0, 1} [N]",
        "input y_pred: [0, 1] [N]",
        "let ce = log(y_pred + 1e-8) * y_true  # " + _short(path) + ":3",
        "loss custom_loss = mean(-ce)  # " + _short(path) + ":4",
    ]


def test_diagnostics_of_an_imported_program_point_at_the_python_line(user_module):
    module, path = user_module
    imported = build(module, path)
    program = _lossc.compile(imported.text, imported.name, imported.source_map)
    loss = lossc.Loss(program, "float32", None, [])
    found = {d.code: d for d in loss.check()}
    # As on examples/faulty_log_eps.loss: the log's gradient explodes, y_true = 0 is dead.
    assert set(found) == {"exploding-gradient", "dead-gradient"}
    explode = found["exploding-gradient"]
    assert explode.file.endswith("userloss.py") and explode.line == 3
    assert USER.splitlines()[2][explode.column - 1 :].startswith("log(y_pred + epsilon)")
    assert "lossc reads this as `log(y_pred + 1e-8)`" in explode.notes
    assert imported.text[slice(*explode.loss_span)] == "log(y_pred + 1e-8)"
    rendered = str(explode)
    assert "userloss.py:3:" in rendered and "ce = log(y_pred + epsilon) * y_true" in rendered
    assert found["dead-gradient"].line == 4


def test_numbers_are_written_as_the_dtype_holds_them():
    assert format_number(1e-7, "float32") == "1e-7"
    assert format_number(1e-50, "float32") == "0"  # vanishes in float32, as in the framework
    assert format_number(1e-50, "float64") == "1e-50"
    assert format_number(0.1, "float64") == "0.1"
    assert format_number(np.float32(0.1), "float32") == "0.1"
    assert format_number(2.0, "float32") == "2"
    assert format_number(-3.5, "float64") == "-3.5"
    assert format_number(float("inf"), "float32") == "inf"
    assert format_number(1e30, "float32") == "1e30"
    assert format_number(True, "float32") == "1"
    for x in (1e-7, 0.3, 123.456, 1e-38, 6.02e23):
        for dtype, kind in (("float32", np.float32), ("float64", np.float64)):
            assert kind(format_number(x, dtype)) == kind(x)
    with pytest.raises(ImportFailure):
        format_number(float("nan"), "float64")


def test_operators_are_parenthesised_as_the_language_parses_them(user_module):
    module, _ = user_module
    b = Builder(module.custom_loss, "float64", "hand")
    a = b.input("a", "real", ("N",))
    c = b.input("c", "real", ("N",))
    d = b.input("d", "real", ("N",))
    cases = [
        (b.binary("-", a, b.binary("-", c, d)), "a - (c - d)"),
        (b.binary("-", b.binary("-", a, c), d), "a - c - d"),
        (b.unary("-", b.binary("^", a, b.const(2))), "-a ^ 2"),
        (b.binary("^", b.unary("-", a), b.const(2)), "(-a) ^ 2"),
        (b.binary("^", a, b.binary("^", c, d)), "a ^ c ^ d"),
        (b.binary("^", b.binary("^", a, c), d), "(a ^ c) ^ d"),
        (b.binary("*", a, b.const(-1.0)), "a * (-1)"),
        (b.unary("-", b.unary("-", a)), "-(-a)"),
        (b.binary("/", a, b.binary("*", c, d)), "a / (c * d)"),
        (b.call("where", b.binary(">", a, b.const(0)), a, b.binary("+", c, d)), "where(a > 0, a, c + d)"),
        (b.call("sum", a, axis=-1, keepdims=True), "sum(a, axis=-1, keepdims=true)"),
    ]
    for value, _ in cases:
        b.loss(b.call("mean", value))
    imported = b.finish("t.py::f")
    texts = [line.split(" = ", 1)[1].split("  #")[0] for line in imported.text.splitlines() if line.startswith("loss ")]
    assert texts == [f"mean({want})" for _, want in cases]
    lossc.Loss(_lossc.compile(imported.text, imported.name, imported.source_map), "float64", None, [])


def test_names_that_the_language_reserves_are_renamed(user_module):
    module, _ = user_module
    b = Builder(module.custom_loss, "float32", "hand")
    x = b.input("input", "real", ("N",))
    y = b.input("mean", "real", ("N",))
    z = b.input("inf", "real", ("N",))
    b.loss(b.call("mean", b.binary("-", b.binary("-", x, y), z)))
    imported = b.finish("t.py::f")
    # Statement words are names in the language; built-ins and expression words are not.
    assert imported.renamed == {"mean": "mean_", "inf": "inf_"}
    assert "input input: real [N]" in imported.text
    _lossc.compile(imported.text, imported.name, imported.source_map)


def test_a_function_s_inputs_are_its_parameters_without_defaults():
    def keras_style(y_true, y_pred, from_logits=False, axis=-1):
        return y_pred

    def with_keyword_only(y_true, *, weight):
        return y_true

    with pytest.raises(TypeError, match="keyword-only"):
        import_function(with_keyword_only, domains={}, shapes=None, dtype="float32", framework="jax")
    with pytest.raises(ValueError, match="not a parameter"):
        import_function(keras_style, domains={"z": "real"}, shapes=None, dtype="float32", framework="jax")
    with pytest.raises(TypeError, match="positional"):
        import_function(functools.partial(keras_style, 1), domains={}, shapes=None, dtype="float32", framework="jax")
    assert _default_wrt(["y_true", "y_pred"], "jax") == ["y_pred"]
    assert _default_wrt(["input", "target"], "torch") == ["input"]
    assert _default_wrt(["a", "b"], "torch") == ["a"]
    assert _default_wrt(["a", "b"], "tf") == ["b"]


def test_shapes_are_read_from_specs_and_examples():
    assert _dims("x", None) == ("N",)
    assert _dims("x", "[N, 10]") == ("N", 10)
    assert _dims("x", ("N", "C")) == ("N", "C")
    assert _dims("x", np.zeros((4, 3))) == ("N", 3)
    for bad in ("N, 10", ("N", 0), ("N", 1.5), "[N, -]"):
        with pytest.raises(ValueError):
            _dims("x", bad)


def test_a_function_in_no_framework_asks_for_one():
    def plain(y_true, y_pred):
        return math.log(y_pred)

    with pytest.raises(TypeError, match="framework="):
        detect_framework(plain)
    with pytest.raises(TypeError, match="framework="):
        lossc.compile(plain)
    with pytest.raises(ValueError, match="framework must be"):
        lossc.compile(plain, framework="mxnet")
    with pytest.raises(TypeError, match="for Python functions"):
        lossc.compile("mean(y_pred)", framework="jax")


def test_the_command_passes_loss_files_through_and_refuses_bad_python_targets(examples, tmp_path, capsys):
    assert _cli.run(["check", str(examples / "msle.loss")]) == 0
    assert _cli.run(["import"]) == 2
    assert "lossc import losses.py::my_loss" in capsys.readouterr().err
    assert _cli.run(["check", str(tmp_path / "absent.py::f")]) == 2
    assert "no such Python file" in capsys.readouterr().err
    source = tmp_path / "losses.py"
    source.write_text("def a(y_true, y_pred):\n    return y_pred\n\nRAISED = 1\n")
    assert _cli.run(["check", str(source)]) == 2
    assert "name the function" in capsys.readouterr().err
    assert _cli.run(["check", f"{source}::b"]) == 2
    assert "has no `b`; its functions: a" in capsys.readouterr().err
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('at import')\n")
    assert _cli.run(["check", f"{broken}::f"]) == 2
    assert "RuntimeError: at import" in capsys.readouterr().err
    assert _cli.run(["check", f"{source}::a", "--input"]) == 2


def test_the_binary_refuses_a_python_target_with_a_pointer_to_the_package(tmp_path):
    # The extension's main is the binary's: it cannot import Python itself.
    script = "import lossc._lossc as m, sys; sys.exit(m.main(['lossc', 'check', 'losses.py::f']))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert "Python package" in done.stderr


def test_main_with_source_renders_over_the_python_file(user_module):
    module, path = user_module
    imported = build(module, path)
    script = (
        "import lossc._lossc as m, sys, json; t, s = json.load(sys.stdin); "
        "sys.exit(m.main_with_source(['lossc', '--color', 'never', 'check', 'userloss.py::custom_loss'], "
        "'userloss.py::custom_loss', t, ([tuple(f) for f in s[0]], [tuple(o) for o in s[1]], tuple(s[2]) if s[2] else None)))"
    )
    import json

    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps([imported.text, imported.source_map]),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "warning[exploding-gradient]" in done.stdout
    assert "userloss.py:3:" in done.stdout
    assert "ce = log(y_pred + epsilon) * y_true" in done.stdout


def test_a_function_of_tensor_methods_is_traced_with_the_framework_its_module_imports(tmp_path):
    source = tmp_path / "methods_only.py"
    source.write_text("import jax.numpy as jnp\n\nloss = lambda y_true, y_pred: ((y_pred - y_true) ** 2).mean()\n")
    spec = importlib.util.spec_from_file_location("methods_only_for_test", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert detect_framework(module.loss) == "jax"


def test_operations_are_placed_inside_the_traced_call_only(user_module, tmp_path):
    """A library's loss traced as it is: its operations are on the library's
    lines, never on the line of the script that called lossc.compile."""
    from lossc._import._program import Frame, _IMPORT_DIR

    module, path = user_module
    caller = str(tmp_path / "train.py")
    importer = f"{_IMPORT_DIR}/_jax.py"
    b = Builder(module.custom_loss, "float32", "hand")
    # The function's own file is the user's: its frame wins over the caller's.
    frames = [Frame(caller, 10, "<module>"), Frame(importer, 50, "trace"), Frame(path, 3, "custom_loss")]
    assert b.origin(frames) == Origin(path, 3)
    # Nothing inside the call but the importer: no place (never the caller's line).
    assert b.origin([Frame(caller, 10, "<module>"), Frame(importer, 50, "trace")]) is None
