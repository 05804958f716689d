"""The ``lossc`` command installed with the package: runs the CLI in-process.

Beyond the ``lossc`` binary, this command reads Python losses: wherever a
command takes a ``.loss`` FILE, it also takes ``losses.py::my_loss`` (a
function in a Python file), which it imports by tracing (as
:func:`lossc.compile` does) and hands to the command as the ``.loss``
program it translates to; diagnostics point at the lines of ``losses.py``.
``lossc import losses.py::my_loss`` prints that program. For a Python
target these options are read here:

``--input NAME=DOMAIN``
    the domain of an input (``sigmoid``, ``"{0, 1}"``, ``"[0, 1]"``, ...);
    for ``eval``, where ``--input`` gives data, write ``--domain``.
``--domain NAME=DOMAIN``
    the same, for every command.
``--shape NAME=SHAPE``
    an input's shape, e.g. ``--shape y_pred='[N, 10]'`` (default ``[N]``).
``--framework jax|tf|torch``
    the framework that traces the function (default: the one it uses).

Running ``losses.py`` to find the function runs its top-level code, as
``python -c 'import losses'`` would.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Dict, List, Optional, Tuple

from . import _lossc

# The commands that read a program from FILE.
_SOURCE_COMMANDS = ("check", "grad", "simplify", "eval", "bench", "probe", "fit", "emit", "plot", "import")
# Options (of every command) whose value is the next argument, so it is not
# taken for the FILE.
_VALUED = {
    "--dtype", "--param", "--loss", "--wrt", "--format", "--deny", "-D", "--color", "--target", "--input",
    "--grad-out", "--out", "--n", "--runs", "--threads", "--samples", "--seed", "--jit", "--domain", "--shape",
    "--framework", "--range", "--var", "--steps", "--lr", "--plot", "--model", "--data", "--at", "--batch",
    "--epochs", "--task", "--result", "-e", "--expr", "--points", "--size",
}


class UsageError(Exception):
    pass


def _is_python_target(argument: str) -> bool:
    file = argument.split("::", 1)[0]
    return file.endswith(".py") and not argument.startswith("-")


def _split_pairs(value: str, option: str) -> Tuple[str, str]:
    name, sep, rest = value.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"`{option} {value}`: write {option} NAME=VALUE, e.g. {option} y_pred=sigmoid")
    return name.strip(), rest.strip()


def _take_python_options(command: str, args: List[str]) -> Tuple[List[str], Dict[str, str], Dict[str, str], Optional[str], Optional[int]]:
    """Removes the options this layer reads; returns the rest, the domains,
    the shapes, the framework, and the index of the Python target in the rest."""
    rest: List[str] = []
    domains: Dict[str, str] = {}
    shapes: Dict[str, str] = {}
    framework: Optional[str] = None
    target: Optional[int] = None
    i = 0
    while i < len(args):
        arg = args[i]
        option, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        takes_domain = option == "--domain" or (option == "--input" and command != "eval")
        if takes_domain or option in ("--shape", "--framework"):
            if eq:
                value = inline
            elif i + 1 < len(args):
                value = args[i + 1]
                i += 1
            else:
                raise UsageError(f"`{option}` needs a value")
            if option == "--framework":
                framework = value
            elif option == "--shape":
                name, shape = _split_pairs(value, option)
                shapes[name] = shape
            else:
                name, domain = _split_pairs(value, option)
                domains[name] = domain
            i += 1
            continue
        if target is None and _is_python_target(arg) and not (rest and rest[-1] in _VALUED):
            target = len(rest)
        rest.append(arg)
        i += 1
    return rest, domains, shapes, framework, target


def _load_function(target: str):
    """The function ``file.py::name`` names (``name`` may be dotted)."""
    path, sep, name = target.partition("::")
    if not os.path.isfile(path):
        raise UsageError(f"`{path}`: no such Python file")
    if not sep or not name:
        raise UsageError(f"`{target}`: name the function, as in `{path}::my_loss`")
    directory = os.path.dirname(os.path.abspath(path))
    module_name = "_lossc_user_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"`{path}` cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, directory)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SystemExit as error:
        raise UsageError(f"`{path}` exited while being imported (SystemExit {error.code})") from None
    except Exception as error:
        raise UsageError(f"importing `{path}` failed: {type(error).__name__}: {error}") from None
    finally:
        if sys.path and sys.path[0] == directory:
            sys.path.pop(0)
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            functions = sorted(
                n for n, v in vars(module).items() if callable(v) and getattr(v, "__module__", None) == module_name
            )
            listing = f"; its functions: {', '.join(functions)}" if functions else ""
            raise UsageError(f"`{path}` has no `{name}`{listing}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"`{target}` is not a function")
    return obj


def _dtype_of(args: List[str]) -> str:
    for i, arg in enumerate(args):
        if arg == "--dtype" and i + 1 < len(args):
            return "float64" if args[i + 1] in ("f64", "float64") else "float32"
        if arg.startswith("--dtype="):
            return "float64" if arg.split("=", 1)[1] in ("f64", "float64") else "float32"
    return "float32"


def _error(message: str) -> int:
    sys.stdout.flush()
    colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    prefix = "\x1b[1;31merror\x1b[0m" if colour else "error"
    print(f"{prefix}: {message}", file=sys.stderr)
    return 2


def run(argv: List[str]) -> int:
    """Runs ``lossc`` with ``argv`` (without the program name); the exit status."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in _SOURCE_COMMANDS or not any(_is_python_target(a) for a in argv):
        if command == "import":
            return _error("`lossc import` takes a Python function: `lossc import losses.py::my_loss`")
        sys.stdout.flush()
        sys.stderr.flush()
        return _lossc.main(["lossc", *argv])
    from . import LossError, _domains, _dtype, _trace

    try:
        at = argv.index(command)
        rest, domains, shapes, framework, target = _take_python_options(command, argv[at + 1 :])
        if target is None:
            return _error("give the Python function as FILE.py::NAME")
        key = rest[target]
        fn = _load_function(key)
        imported = _trace(fn, _domains(domains), shapes or None, _dtype(_dtype_of(rest)), framework, [])
    except UsageError as error:
        return _error(str(error))
    except (LossError, TypeError, ValueError) as error:
        return _error(str(error).replace("lossc.compile: ", ""))
    if command == "import":
        extra = [a for i, a in enumerate(rest) if i != target and a != "--dtype" and not a.startswith("--dtype=")
                 and not (i > 0 and rest[i - 1] == "--dtype")]
        if extra:
            return _error(f"`lossc import` takes FILE.py::NAME and --input/--shape/--framework/--dtype, not `{' '.join(extra)}`")
        sys.stdout.write(imported.text)
        sys.stdout.flush()
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    return _lossc.main_with_source(["lossc", *argv[:at + 1], *rest], key, imported.text, imported.source_map)


def main() -> None:
    """Runs ``lossc`` with this process's arguments and exits with its status."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
