"""The `lossc` command installed with the package: the binary's exit statuses."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest


def command():
    """The console script beside this interpreter (the environment's bin/)."""
    script = pathlib.Path(sys.executable).parent / ("lossc.exe" if os.name == "nt" else "lossc")
    if not script.exists():
        found = shutil.which("lossc")
        if found is None:
            pytest.skip("the lossc console script is not installed")
        script = pathlib.Path(found)
    return [str(script)]


def run(*args):
    return subprocess.run([*command(), *args], capture_output=True, text=True, check=False)


def test_check_exit_statuses(examples, tmp_path):
    ok = run("check", str(examples / "msle.loss"))
    assert ok.returncode == 0 and "no problems found" in ok.stdout
    findings = run("check", "-e", "mean(squre(y_pred))")
    assert findings.returncode == 1 and "error[unknown-name]" in findings.stdout
    denied = run("check", "--deny", "warnings", str(examples / "faulty_log_eps.loss"))
    assert denied.returncode == 1
    missing = run("check", str(tmp_path / "absent.loss"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
    assert missing.stdout == ""


def test_a_one_liner_takes_its_domains_on_the_command_line():
    formula = "mean(-log(y_pred + 1e-8) * y_true)"
    bare = run("check", "-e", formula)
    assert bare.returncode == 1 and "error[log-domain]" in bare.stdout and "note[assumed-domain]" in bare.stdout
    given = run("check", "-e", formula, "--input", "y_true={0, 1}", "--input", "y_pred=sigmoid")
    assert given.returncode == 0, given.stdout + given.stderr
    assert "warning[dead-gradient]" in given.stdout and "log-domain" not in given.stdout


def test_usage_errors_help_and_version():
    bad = run("check", "--no-such-option")
    assert bad.returncode == 2 and "--no-such-option" in bad.stderr
    assert run("frobnicate").returncode == 2
    helped = run("--help")
    assert helped.returncode == 0 and "Usage:" in helped.stdout
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("lossc ")


def test_python_dash_m_runs_the_same_command(examples):
    done = subprocess.run(
        [sys.executable, "-m", "lossc", "grad", str(examples / "mse.loss")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "output d_" in done.stdout


def test_statuses_match_the_binary_when_it_is_given(examples):
    binary = os.environ.get("LOSSC_BINARY")
    if not binary:
        pytest.skip("set LOSSC_BINARY to the cargo-built lossc to compare with it")
    for args in (["check", str(examples / "bce.loss")], ["check", "-e", "mean(squre(y_pred))"], ["check", "/nonexistent.loss"], ["nope"]):
        ours = run(*args)
        theirs = subprocess.run([binary, *args], capture_output=True, text=True, check=False)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)


LOSSES_PY = '''\
import jax.numpy as jnp


def custom_loss(y_true, y_pred):
    epsilon = 1e-8
    ce = -jnp.log(y_pred + epsilon) * y_true
    return jnp.mean(ce)
'''


def test_check_and_import_a_python_function(tmp_path):
    pytest.importorskip("jax", reason="the function is written with jax.numpy")
    source = tmp_path / "losses.py"
    source.write_text(LOSSES_PY)
    target = f"{source}::custom_loss"
    domains = ["--input", "y_true={0, 1}", "--input", "y_pred=sigmoid"]
    checked = run("check", target, *domains, "--color", "never")
    assert checked.returncode == 0, checked.stderr
    # The findings of examples/faulty_log_eps.loss, over line 6 of losses.py.
    assert "warning[exploding-gradient]" in checked.stdout and "warning[dead-gradient]" in checked.stdout
    assert "losses.py:6:" in checked.stdout and "ce = -jnp.log(y_pred + epsilon) * y_true" in checked.stdout
    denied = run("check", target, *domains, "--deny", "warnings")
    assert denied.returncode == 1

    imported = run("import", target, *domains)
    assert imported.returncode == 0, imported.stderr
    assert "input y_pred: [0, 1] [N]" in imported.stdout
    assert "let ce = -log(y_pred + 1e-8) * y_true  # " in imported.stdout and "losses.py:6" in imported.stdout

    as_json = run("check", target, *domains, "--format", "json")
    report = __import__("json").loads(as_json.stdout)
    explode = next(d for d in report["diagnostics"] if d["code"] == "exploding-gradient")
    assert explode["origin"]["file"].endswith("losses.py") and explode["origin"]["span"]["line"] == 6

    # No domain: the assumed-domain note names [0, 1].
    bare = run("check", target, "--color", "never")
    assert "note[assumed-domain]" in bare.stdout and "as [0, 1]" in bare.stdout

    grad = run("grad", target, "--domain", "y_pred=sigmoid")
    assert grad.returncode == 0 and "output d_custom_loss_d_y_pred" in grad.stdout

    for args, message in [
        (["check", f"{source}::nope"], "has no `nope`"),
        (["check", target, "--input", "y_pred"], "NAME=VALUE"),
        (["import", target, "--format", "json"], "lossc import"),
        (["check", target, "--framework", "mxnet"], "framework must be"),
    ]:
        failed = run(*args)
        assert failed.returncode == 2 and message in failed.stderr, (args, failed.stderr)
