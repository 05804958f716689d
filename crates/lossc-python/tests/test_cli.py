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
