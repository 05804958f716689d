"""lossc: compile, check, differentiate, evaluate and emit loss formulas.

A loss is written in lossc's ``.loss`` language (a file, a string of ``.loss``
text, or a one-line formula over ``y_true`` and ``y_pred``)::

    >>> import numpy as np, lossc
    >>> loss = lossc.compile("mean(square(y_true - y_pred))", dtype="float64")
    >>> ev = loss.eval(y_true=np.array([1.0, 0.0]), y_pred=np.array([0.5, 0.0]))
    >>> float(ev.value), ev.gradient["y_pred"].tolist()
    (0.125, [-0.5, 0.0])

:func:`compile` returns a :class:`Loss`. Its :meth:`Loss.check` runs the static
analyzer and returns :class:`Diagnostic` objects that print as ``lossc check``
prints them (and as HTML in a notebook); :meth:`Loss.grad` and
:meth:`Loss.simplify` return ``.loss`` text; :meth:`Loss.eval` evaluates on
NumPy arrays; :meth:`Loss.emit` returns framework source and
:meth:`Loss.to_jax` (``to_torch``, ``to_keras``, ``to_tf``, ``to_numpy``) the
ready loss function. A program with errors raises :class:`LossError`, which
carries the diagnostics.

:func:`compile` also takes the Python loss function you already wrote, in
JAX (or Keras 3 ``keras.ops``), TensorFlow/tf.keras or PyTorch: lossc traces
it with its own framework, translates the graph into a ``.loss`` program
(:attr:`Loss.source`) and shows every diagnostic over the line of your file
it came from::

    >>> import jax.numpy as jnp
    >>> def custom_loss(y_true, y_pred):
    ...     return jnp.mean(-jnp.log(y_pred + 1e-8) * y_true)
    >>> imported = lossc.compile(custom_loss, inputs={"y_true": "{0, 1}", "y_pred": "sigmoid"})
    >>> [d.code for d in imported.check()]
    ['dead-gradient', 'exploding-gradient']
"""

from __future__ import annotations

import builtins
import html
import importlib
import os
import re
import types
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lossc

__all__ = [
    "compile",
    "import_function",
    "Loss",
    "Diagnostic",
    "Diagnostics",
    "Fix",
    "Evaluation",
    "LossError",
    "OutsideDomainWarning",
    "DOMAIN_ALIASES",
    "TARGETS",
    "__version__",
]

__version__: str = _lossc.__version__

#: The emit targets, as :meth:`Loss.emit` accepts them.
TARGETS: Tuple[str, ...] = ("jax", "torch", "keras", "tf", "numpy")

#: Names of output layers accepted as domains in ``inputs=``, and the domain
#: of the language each stands for. ``"softmax"`` is the row domain
#: ``simplex``: each row (the last axis) sums to 1, so the input needs a class
#: axis.
DOMAIN_ALIASES: Dict[str, str] = dict(_lossc.domain_aliases())

# A `.loss` statement: its word, then a name or a single `=` (as the
# language reads a statement word only there: `output * 2` is a formula over
# an input named `output`). A one-line string that is not one is a formula
# (the `-e` form of the command line).
_STATEMENT = re.compile(r"^\s*(input|param|const|let|def|loss|output|wrt)\s*([A-Za-z_]|=(?!=))")

# How many inputs `Loss.eval` had to convert to a NumPy array (lists,
# float16, byte-swapped data): NumPy arrays of the evaluator's element types
# are read in place and never counted. For tests.
_converted_inputs = 0


class OutsideDomainWarning(UserWarning):
    """:meth:`Loss.eval` was given data outside an input's declared domain
    (a label 0.5 for ``{0, 1}``, a probability 1.5, a softmax row that does
    not sum to 1): the value is computed, but :meth:`Loss.check`'s findings
    only hold inside the domains."""


class LossError(Exception):
    """A ``.loss`` program that cannot be used: it has errors, or defines no loss.

    ``diagnostics`` holds every error found (empty when the problem is not
    in the text, e.g. no ``loss`` to emit); ``str()`` shows the message and
    each diagnostic as ``lossc check`` prints it.
    """

    def __init__(self, message: str, diagnostics: Sequence["Diagnostic"] = ()) -> None:
        super().__init__(message)
        self.message: str = message
        self.diagnostics: Diagnostics = Diagnostics(diagnostics)

    def __str__(self) -> str:
        if not self.diagnostics:
            return self.message
        return self.message + "\n\n" + str(self.diagnostics)

    def _repr_html_(self) -> str:
        return f"<p><b>LossError</b>: {html.escape(self.message)}</p>" + self.diagnostics._repr_html_()


@dataclass(frozen=True)
class Fix:
    """A machine-applicable fix: replace ``original`` (at byte ``span``) with ``replacement``."""

    span: Tuple[int, int]
    replacement: str
    original: str

    def apply(self, text: str) -> str:
        """``text`` (the source the diagnostic is about) with the fix applied."""
        start, end = self.span
        return text[:start] + self.replacement + text[end:]


@dataclass(frozen=True)
class Diagnostic:
    """One finding of the compiler or the analyzer.

    ``code`` is the stable kebab-case name (``"log-domain"``, ...),
    ``severity`` ``"error"``, ``"warning"`` or ``"note"``; ``file``,
    ``line`` and ``column`` (1-based) locate the primary span, ``span`` is its
    byte range in that file's text. For a loss imported from Python that is
    the line of your Python file the finding is about; ``loss_span`` is
    always the byte range in :attr:`Loss.source` (which ``fix`` edits).
    ``witness`` maps each input the finding is about to its value at the
    point where it happens (the point the message names: ``{"y_pred": 0.0}``
    for "when `y_pred` = 0"); empty when there is no concrete point. The
    values are exact in the loss's dtype; :attr:`witness_rows` names the
    inputs whose value is in the first element of each row only, the others
    0. For an input of a row domain (``"softmax"``, ``"simplex"``,
    ``"onehot"``) the value is the first element of the row
    :attr:`witness_row_values` gives whole. ``str()`` is the text ``lossc check`` prints; in a notebook it renders
    as HTML.
    """

    code: str
    severity: str
    message: str
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    span: Tuple[int, int]
    label: str
    notes: Tuple[str, ...]
    help: Optional[str]
    fix: Optional[Fix]
    rendered: str = field(repr=False)
    loss_span: Tuple[int, int] = (0, 0)
    witness: Mapping[str, float] = field(default_factory=lambda: types.MappingProxyType({}), hash=False)
    witness_rows: Tuple[str, ...] = ()
    witness_row_values: Mapping[str, Tuple[float, ...]] = field(
        default_factory=lambda: types.MappingProxyType({}), hash=False
    )

    @classmethod
    def _from_native(cls, d: Mapping[str, Any]) -> "Diagnostic":
        fix = d["fix"]
        return cls(
            code=d["code"],
            severity=d["severity"],
            message=d["message"],
            file=d["file"],
            line=d["line"],
            column=d["column"],
            end_line=d["end_line"],
            end_column=d["end_column"],
            span=tuple(d["span"]),  # type: ignore[arg-type]
            label=d["label"],
            notes=tuple(d["notes"]),
            help=d["help"],
            fix=None if fix is None else Fix(tuple(fix["span"]), fix["replacement"], fix["original"]),  # type: ignore[arg-type]
            rendered=d["rendered"],
            loss_span=tuple(d["loss_span"]),  # type: ignore[arg-type]
            witness=types.MappingProxyType({name: value for name, value, _, _ in d["witness"]}),
            witness_rows=tuple(name for name, _, first, _ in d["witness"] if first),
            witness_row_values=types.MappingProxyType(
                {name: tuple(row) for name, _, _, row in d["witness"] if row is not None}
            ),
        )

    @property
    def location(self) -> str:
        """``file:line:column``, as the terminal shows it."""
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        return self.rendered.rstrip("\n")

    def _repr_html_(self) -> str:
        colour = {"error": "#c00", "warning": "#b60", "note": "#06c"}.get(self.severity, "#000")
        rows = [("code", self.code), ("severity", self.severity), ("location", self.location)]
        if self.witness:
            rows.append(
                (
                    "witness",
                    ", ".join(
                        f"{name} = {list(self.witness_row_values[name])!r} in each row"
                        if name in self.witness_row_values
                        else f"{name} = {value!r}"
                        for name, value in self.witness.items()
                    ),
                )
            )
        rows += [("note", n) for n in self.notes]
        if self.help is not None:
            rows.append(("help", self.help))
        if self.fix is not None:
            rows.append(("fix", f"replace `{self.fix.original}` with `{self.fix.replacement}`"))
        table = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return (
            f"<div class='lossc-diagnostic'><pre style='border-left:3px solid {colour};padding-left:6px'>"
            f"{html.escape(str(self))}</pre><table>{table}</table></div>"
        )


class Diagnostics(List[Diagnostic]):
    """A list of :class:`Diagnostic` that prints as ``lossc check`` prints them."""

    @property
    def errors(self) -> List[Diagnostic]:
        """The diagnostics of severity ``"error"``."""
        return [d for d in self if d.severity == "error"]

    @property
    def warnings(self) -> List[Diagnostic]:
        """The diagnostics of severity ``"warning"``."""
        return [d for d in self if d.severity == "warning"]

    def __str__(self) -> str:
        return "\n\n".join(str(d) for d in self) if self else "no problems found"

    def _repr_html_(self) -> str:
        if not self:
            return "<p>lossc: no problems found</p>"
        return "".join(d._repr_html_() for d in self)


@dataclass(frozen=True)
class Evaluation:
    """The numbers :meth:`Loss.eval` computes, as NumPy arrays in the loss's dtype.

    ``value`` is a 0-d array for a loss (the batch mean of a per-sample loss;
    ``float(ev.value)`` gives the number) or the tensor of an output;
    ``per_sample`` the per-sample values of a per-sample loss (else
    ``None``); ``gradient`` maps each variable to the gradient of the loss,
    of that variable's shape; ``dims`` gives each named dimension's size.
    """

    name: str
    value: np.ndarray
    per_sample: Optional[np.ndarray]
    gradient: Dict[str, np.ndarray]
    dims: Dict[str, int]


def _native_call(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Calls the extension, turning its error into :class:`LossError`."""
    try:
        return call(*args, **kwargs)
    except _lossc.NativeLossError as error:
        message, diagnostics = error.args
        raise LossError(message, [Diagnostic._from_native(d) for d in diagnostics]) from None


def _load_source(source: Any) -> Tuple[str, str]:
    """(text, name) of a ``.loss`` source: a path, ``.loss`` text or a formula."""
    if isinstance(source, os.PathLike):
        path = os.fspath(source)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return _read(path), path
    if not isinstance(source, str):
        raise TypeError(
            f"lossc.compile: expected .loss text, a formula or a path to a .loss file, not {type(source).__name__}"
        )
    one_line = "\n" not in source.strip()
    if one_line and source.strip().endswith(".loss"):
        return _read(source.strip()), source.strip()
    if not source.strip():
        raise ValueError("lossc.compile: the source is empty: write a loss such as \"mean(square(y_true - y_pred))\"")
    if one_line and not _STATEMENT.match(source):
        return f"loss = {source.strip()}", "<formula>"
    return source, "<string>"


def _read(path: str) -> str:
    if not os.path.exists(path):
        raise FileNotFoundError(f"lossc.compile: no such .loss file: {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"lossc.compile: {path!r} is a directory, not a .loss file")
    with open(path, "rb") as file:
        data = file.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"lossc.compile: {path!r} is not UTF-8 text (byte {error.start})") from None


def _domains(inputs: Optional[Mapping[str, str]]) -> List[Tuple[str, str]]:
    if inputs is None:
        return []
    if not isinstance(inputs, Mapping):
        raise TypeError(f"lossc.compile: inputs must be a dict of input name to domain, not {type(inputs).__name__}")
    pairs = []
    for name, domain in inputs.items():
        if not isinstance(name, str) or not isinstance(domain, str):
            raise TypeError(
                f"lossc.compile: inputs maps names to domain strings such as \"[0, 1]\" or \"sigmoid\"; got {name!r}: {domain!r}"
            )
        pairs.append((name, DOMAIN_ALIASES.get(domain.strip(), domain)))
    return pairs


def _names(value: Union[None, str, Iterable[str]], what: str) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    names = list(value)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"{what} must be a name or a list of names")
    return names


def _readable_in_place(value: Any) -> bool:
    """Whether the extension reads ``value`` as it is: an aligned NumPy array
    of float32/float64, integers or booleans in the machine's byte order."""
    return (
        isinstance(value, np.ndarray)
        and value.dtype.kind in "fiub"
        and value.dtype != np.float16
        and value.dtype.isnative
        and value.flags.aligned
    )


def _dtype(dtype: Any) -> str:
    try:
        name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    except TypeError:
        raise TypeError(f"dtype must be \"float32\" or \"float64\", not {dtype!r}") from None
    if name in ("float32", "f32"):
        return "float32"
    if name in ("float64", "f64"):
        return "float64"
    raise ValueError(f"dtype must be \"float32\" or \"float64\", not {dtype!r}")


def compile(
    source: Union[str, "os.PathLike[str]", Callable[..., Any]],
    *,
    inputs: Optional[Mapping[str, str]] = None,
    dtype: str = "float32",
    loss: Optional[str] = None,
    wrt: Union[None, str, Sequence[str]] = None,
    shapes: Optional[Mapping[str, Any]] = None,
    framework: Optional[str] = None,
) -> "Loss":
    """Compiles a loss: ``.loss`` text, a ``.loss`` file, or a Python function.

    ``source`` is ``.loss`` text (``"input y_pred: [0, 1]\\nloss nll = mean(-log(y_pred))"``),
    a one-line formula over ``y_true`` and ``y_pred`` (``"mean(square(y_true - y_pred))"``,
    compiled as ``loss = FORMULA``), or a path to a ``.loss`` file
    (a ``pathlib.Path``, or a string ending in ``.loss``).

    ``inputs`` gives inputs their domains, replacing the declared ones:
    ``{"y_true": "{0, 1}", "y_pred": "sigmoid"}``. A domain is any domain of
    the language (``"[0, 1]"``, ``"(0, inf)"``, ``"{0..9}"``, ``"real"``) or
    an output layer's name from :data:`DOMAIN_ALIASES` (``"sigmoid"`` is
    ``[0, 1]``, ``"linear"`` is ``real``). An input not declared in the text
    is declared with that domain.

    ``dtype`` (``"float32"`` or ``"float64"``) is the float type the analysis
    reasons in and :meth:`Loss.eval` computes in. ``loss`` picks a loss by
    name (default: the first); ``wrt`` the variables of gradients (default:
    the program's ``wrt``, else ``y_pred``).

    ``source`` may also be a Python function ``f(y_true, y_pred, ...)``
    written with JAX (``jax.numpy``, ``optax``, Keras 3 ``keras.ops`` on the
    JAX backend), TensorFlow (``tf.*``, tf.keras's ``K.*``) or PyTorch
    (``torch``, ``torch.nn.functional``). lossc traces it with that framework
    (``framework="jax"``, ``"tf"`` or ``"torch"``; by default the one its code
    refers to) and translates the graph into a ``.loss`` program, shown by
    :attr:`Loss.source`. Its inputs are its parameters without a default;
    ``inputs`` gives their domains (an input without one is ``real``),
    ``shapes`` their shapes (``"[N, 10]"``, ``("N", 10)`` or an example
    array whose first axis is the batch; default ``[N]``). Diagnostics point
    at the lines of your Python file. An operation lossc cannot translate
    raises :class:`LossError` naming it and your line.

    Raises :class:`LossError` (with ``.diagnostics``) when the program has
    errors or a function cannot be imported, ``ValueError`` for a bad
    domain, shape, dtype or name, ``TypeError`` for a source of another kind.
    """
    dtype_name = _dtype(dtype)
    overrides = _domains(inputs)
    if callable(source) and not isinstance(source, (str, os.PathLike)):
        return _compile_function(source, overrides, shapes, dtype_name, framework, loss, _names(wrt, "wrt"))
    if shapes is not None or framework is not None:
        raise TypeError("lossc.compile: shapes= and framework= are for Python functions; a .loss program declares its shapes")
    text, name = _load_source(source)
    if overrides:
        original = None
        try:
            original = _lossc.compile(text, name)
        except _lossc.NativeLossError:
            pass  # reported below, on the text with the domains given
        if original is not None:
            known = [i[0] for i in original.inputs()]
            unknown = [n for n, _ in overrides if n not in known]
            if unknown:
                raise ValueError(
                    f"lossc.compile: inputs= names {', '.join(map(repr, unknown))}, not an input of the loss "
                    f"(it has {', '.join(map(repr, known)) or 'none'})"
                )
        text = _lossc.with_domains(text, overrides)
    program = _native_call(_lossc.compile, text, name)
    return Loss(program, dtype_name, loss, _names(wrt, "wrt"))


def import_function(
    fn: Callable[..., Any],
    *,
    inputs: Optional[Mapping[str, str]] = None,
    shapes: Optional[Mapping[str, Any]] = None,
    dtype: str = "float32",
    framework: Optional[str] = None,
    wrt: Union[None, str, Sequence[str]] = None,
) -> Tuple[str, str]:
    """The ``.loss`` program a Python function translates to, and the name
    diagnostics give it (``losses.py::focal``): what :func:`compile` compiles
    and ``lossc import`` prints. Each statement's comment names its Python
    line. Arguments as for :func:`compile`."""
    imported = _trace(fn, _domains(inputs), shapes, _dtype(dtype), framework, _names(wrt, "wrt"))
    return imported.text, imported.name


def _trace(fn: Any, overrides: List[Tuple[str, str]], shapes: Optional[Mapping[str, Any]], dtype_name: str,
           framework: Optional[str], wrt: List[str]) -> Any:
    from . import _import

    try:
        return _import.import_function(
            fn, domains=dict(overrides), shapes=shapes, dtype=dtype_name, framework=framework, wrt=wrt
        )
    except _import.ImportFailure as failure:
        raise LossError(str(failure)) from None
    except (TypeError, ValueError):
        raise
    except Exception as error:  # the user's function failed while tracing
        raise LossError(_tracing_error(fn, error)) from error


def _tracing_error(fn: Any, error: BaseException) -> str:
    """``tracing `f` raised ...``, at the innermost line of the user's code."""
    import traceback

    from ._import._program import _internal_roots, _is_internal

    roots = _internal_roots()
    where = ""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename and not _is_internal(frame.filename, roots):
            code = (frame.line or "").strip()
            where = f" at {os.path.relpath(frame.filename) if not os.path.relpath(frame.filename).startswith('..') else frame.filename}:{frame.lineno}"
            where += f": `{code}`" if code else ""
            break
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"tracing `{name}` failed{where}: {type(error).__name__}{': ' + message if message else ''}"


def _compile_function(fn: Any, overrides: List[Tuple[str, str]], shapes: Optional[Mapping[str, Any]],
                      dtype_name: str, framework: Optional[str], loss: Optional[str], wrt: List[str]) -> "Loss":
    imported = _trace(fn, overrides, shapes, dtype_name, framework, wrt)
    program = _native_call(_lossc.compile, imported.text, imported.name, imported.source_map)
    compiled = Loss(program, dtype_name, loss, [])
    compiled.framework = imported.framework
    return compiled


class Loss:
    """A compiled ``.loss`` program; made by :func:`compile`.

    ``source`` is the text compiled (with the domains ``inputs=`` gave; for
    a Python function, the program it was translated to), ``name`` the name
    diagnostics show (the file, ``<formula>`` or ``<string>``; for a Python
    function ``file.py::function``), ``dtype`` the float type of analysis
    and evaluation, ``framework`` the framework a Python function was traced
    with (``None`` for ``.loss`` sources).
    """

    def __init__(self, program: Any, dtype: str, loss: Optional[str], wrt: List[str]) -> None:
        self._program = program
        self.framework: Optional[str] = None
        self.dtype: str = dtype
        self._loss = loss
        self._wrt = wrt
        if loss is not None and loss not in program.losses():
            outputs = program.outputs()
            kind = "an output (outputs are never differentiated)" if loss in outputs else "not a loss of the program"
            raise ValueError(f"loss={loss!r} is {kind}; its losses: {', '.join(program.losses()) or 'none'}")

    @property
    def source(self) -> str:
        """The ``.loss`` text compiled."""
        return self._program.text

    @property
    def name(self) -> str:
        """The name diagnostics show: the file, ``<formula>`` or ``<string>``."""
        return self._program.name

    @property
    def losses(self) -> List[str]:
        """The names of the losses, the default first."""
        return self._program.losses()

    @property
    def outputs(self) -> List[str]:
        """The names of the outputs (evaluated, never differentiated)."""
        return self._program.outputs()

    @property
    def inputs(self) -> Dict[str, str]:
        """Each input's name and shape (as text, e.g. ``"[N]"``)."""
        return {name: shape for name, shape, _ in self._program.inputs()}

    def __repr__(self) -> str:
        return f"<lossc.Loss {self.name} losses={self.losses} dtype={self.dtype}>"

    def check(self) -> Diagnostics:
        """Runs the static analyzer: every finding (errors, warnings, notes), sorted by position.

        The result prints as ``lossc check`` prints it (``print(loss.check())``)
        and renders as HTML in a notebook.
        """
        if not self.losses and not self.outputs:
            raise LossError(
                f"`{self.name}` defines no `loss` and no `output`: there is nothing to check "
                "(add e.g. `loss mse = mean(square(y_true - y_pred))`)"
            )
        found = _native_call(self._program.check, self.dtype, self._loss, self._wrt)
        return Diagnostics(Diagnostic._from_native(d) for d in found)

    def grad(self, wrt: Union[None, str, Sequence[str]] = None) -> str:
        """The exact gradient as a ``.loss`` program (``lossc grad``).

        Its outputs are ``d_<loss>_d_<var>`` for each variable of ``wrt``
        (default: the ``wrt`` given to :func:`compile`, else the program's).
        """
        names = _names(wrt, "wrt") or self._wrt
        return _native_call(self._program.grad, self._loss, names)

    def simplify(self) -> str:
        """Every loss simplified, as a ``.loss`` program (``lossc simplify``)."""
        return _native_call(self._program.simplify)

    def eval(self, data: Optional[Mapping[str, Any]] = None, /, **arrays: Any) -> Evaluation:
        """Evaluates the loss and its gradient on arrays, in the loss's dtype.

        Pass each input by name (``loss.eval(y_true=t, y_pred=p)``) or as one
        mapping (``loss.eval({"y_true": t, "y_pred": p})``). NumPy arrays of
        float32, float64, integers or booleans are read in place, whatever
        their memory order (no copy); anything else (lists, float16) is first
        converted with ``numpy.asarray``. Named dimensions such as ``N`` are
        bound from the data.

        Returns an :class:`Evaluation`: the value, the per-sample values of a
        per-sample loss and the gradient with respect to each variable.
        Raises ``ValueError`` for missing or inconsistent inputs. Data outside
        an input's declared domain is evaluated, with an
        :class:`OutsideDomainWarning` saying which input and where.
        """
        return self._eval(self._loss, True, data, arrays)

    def eval_output(self, output: str, data: Optional[Mapping[str, Any]] = None, /, **arrays: Any) -> Evaluation:
        """Evaluates the ``output`` (or any loss) named, without a gradient."""
        return self._eval(output, False, data, arrays)

    def _eval(self, result: Optional[str], grad: bool, data: Optional[Mapping[str, Any]], arrays: Dict[str, Any]) -> Evaluation:
        global _converted_inputs
        merged: Dict[str, Any] = dict(data or {})
        for name, value in arrays.items():
            if name in merged:
                raise TypeError(f"eval: input {name!r} given twice")
            merged[name] = value
        passed = []
        for name, value in merged.items():
            if not _readable_in_place(value):
                value = np.asarray(value)
                if value.dtype.kind not in "fiub":
                    raise TypeError(
                        f"eval: input {name!r} is not an array of real numbers or booleans (dtype {value.dtype})"
                    )
                if not _readable_in_place(value):
                    # float16, byte-swapped or unaligned: a float64 copy, aligned, in the machine's byte order.
                    value = np.array(value, dtype=np.float64)
                _converted_inputs += 1
            passed.append((name, value))
        out = _native_call(self._program.eval, passed, self.dtype, result, grad, self._wrt)
        for outside in out["outside_domains"]:
            warnings.warn(
                f"{outside}: the findings of check() hold only for data inside the declared domains",
                OutsideDomainWarning,
                stacklevel=3,
            )
        return Evaluation(
            name=out["name"],
            value=out["value"],
            per_sample=out["per_sample"],
            gradient=dict(out["gradient"]),
            dims=dict(out["dims"]),
        )

    def emit(self, target: str, *, unguarded: bool = False) -> str:
        """The loss as a Python module for ``target`` (``lossc emit``).

        ``target`` is one of :data:`TARGETS`: ``"jax"``, ``"torch"``,
        ``"keras"``, ``"tf"`` or ``"numpy"``. The module is NaN-safe ("double
        where" guards) unless ``unguarded``, and its docstring reports the
        analysis. Raises ``ValueError`` for an unknown target.
        """
        module, _ = self._emitted(target, unguarded)
        return module

    def _emitted(self, target: str, unguarded: bool = False) -> Tuple[str, str]:
        if not isinstance(target, str):
            raise TypeError(f"emit: target must be one of {', '.join(TARGETS)}, not {target!r}")
        return _native_call(self._program.emit, target, self.dtype, self._loss, self._wrt, unguarded)

    def _function(self, target: str, framework: str, package: str) -> Callable[..., Any]:
        module_text, function = self._emitted(target)
        try:
            importlib.import_module(package)
        except ImportError as error:
            raise ImportError(
                f"Loss.to_{target}() needs {framework} (the module `{package}`), which cannot be imported: {error}"
            ) from error
        module = types.ModuleType(f"lossc_emitted_{target}_{function}")
        module.__dict__["__file__"] = f"<lossc emit --target {target}>"
        # `builtins.compile`: this module's `compile` shadows it.
        exec(builtins.compile(module_text, module.__dict__["__file__"], "exec"), module.__dict__)  # noqa: S102 (our own output)
        return getattr(module, function)

    def to_jax(self) -> Callable[..., Any]:
        """The loss as a JAX function (``jax.grad`` differentiates it). Raises ``ImportError`` without JAX."""
        return self._function("jax", "JAX", "jax")

    def to_torch(self) -> Callable[..., Any]:
        """The loss as a PyTorch function of tensors. Raises ``ImportError`` without PyTorch."""
        return self._function("torch", "PyTorch", "torch")

    def to_keras(self) -> Callable[..., Any]:
        """The loss as a Keras 3 function (``keras.ops``, any backend). Raises ``ImportError`` without Keras."""
        return self._function("keras", "Keras 3", "keras")

    def to_tf(self) -> Callable[..., Any]:
        """The loss as a TensorFlow 2 function. Raises ``ImportError`` without TensorFlow."""
        return self._function("tf", "TensorFlow", "tensorflow")

    def to_numpy(self) -> Callable[..., Any]:
        """The loss as a NumPy function (its module also has lossc's gradient as ``NAME_grad``)."""
        return self._function("numpy", "NumPy", "numpy")

