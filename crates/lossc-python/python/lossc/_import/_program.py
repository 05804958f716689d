"""The program an importer builds: a graph of ``.loss`` expressions, each
remembering the line of the user's Python it came from, printed as a
``.loss`` program with a source map.

An importer (``_jax``, ``_tf``, ``_torch``) walks its framework's graph and
calls :class:`Builder` once per operation::

    b = Builder(fn, dtype)
    y_pred = b.input("y_pred", "[0, 1]", ("N",))
    eps = b.const(1e-7)
    t = b.call("log", b.binary("+", y_pred, eps, origin), origin=origin)
    b.loss(b.call("mean", b.unary("-", t, origin), origin=origin), origin=origin)
    imported = b.finish()

Printing decides the statements: a value used more than once, or by an
operation on another Python line, gets a ``let`` (named after the Python
variable its line assigns, when there is one); everything else is inlined
into its one user. Every statement ends with a comment naming its Python
line, and the source map records, for each printed expression with an origin,
the place in the user's file it came from, so diagnostics are shown there.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import linecache
import math
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _lossc

# The language's reserved words (docs/language.md, "Identifiers and reserved words").
RESERVED = frozenset("inf true false and or not".split())

# Operator precedence (docs/language.md, "Precedence"), lowest first.
_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "not": 3,
    "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
    "+": 5, "-": 5,
    "*": 6, "/": 6,
    "neg": 7,
    "^": 8,
}
_ATOM = 9


class ImportFailure(Exception):
    """An importer could not translate the function. Raised by importers
    (through :meth:`Builder.unsupported` and :meth:`Builder.fail`); the
    package turns it into :class:`lossc.LossError`."""

    def __init__(self, message: str, origin: Optional["Origin"] = None) -> None:
        super().__init__(message)
        self.message = message
        self.origin = origin

    def __str__(self) -> str:
        if self.origin is None:
            return self.message
        return f"{self.origin.describe()}: {self.message}"


@dataclass(frozen=True)
class Origin:
    """A place in a Python file: 1-based ``line``; ``column``/``end_column``
    are 0-based UTF-8 byte offsets in their lines when known (``None``: the
    whole line)."""

    file: str
    line: int
    column: Optional[int] = None
    end_line: Optional[int] = None
    end_column: Optional[int] = None

    def describe(self) -> str:
        """``file:line``, with the line's code when it can be read."""
        code = linecache.getline(self.file, self.line).strip()
        where = f"{_short(self.file)}:{self.line}"
        return f"{where}: `{code}`" if code else where


@dataclass(frozen=True)
class Frame:
    """One frame of a traceback a framework recorded: a file, a line, columns
    when known, and the function's name."""

    file: str
    line: int
    function: str = ""
    column: Optional[int] = None
    end_line: Optional[int] = None
    end_column: Optional[int] = None


class Value:
    """A value of the program being built: an expression of ``.loss``.

    Importers treat it as opaque, passing it back to :class:`Builder`
    methods; ``shape`` is free for their own bookkeeping."""

    __slots__ = ("kind", "text", "args", "keywords", "origin", "prec", "uses", "shape", "index")

    def __init__(self, kind: str, text: str, args: Tuple["Value", ...], keywords: Tuple[Tuple[str, str], ...],
                 origin: Optional[Origin], prec: int, index: int, shape: Any = None) -> None:
        self.kind = kind  # "input", "const", "dim", "call", "binary", "unary"
        self.text = text  # the name, the number, the function or the operator
        self.args = args
        self.keywords = keywords
        self.origin = origin
        self.prec = prec
        self.uses = 0
        self.shape = shape
        self.index = index

    def __repr__(self) -> str:
        return f"<lossc value {self.kind} {self.text}>"


@dataclass
class Imported:
    """A Python function translated into a ``.loss`` program."""

    text: str
    name: str  # e.g. "losses.py::focal", as diagnostics name the program
    framework: str
    # (files, origins, fallback) as the extension takes them.
    source_map: Tuple[List[Tuple[str, str]], List[Tuple[int, int, int, int, int]], Optional[Tuple[int, int, int]]]
    inputs: List[str] = field(default_factory=list)
    renamed: Dict[str, str] = field(default_factory=dict)


def _short(path: str) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


_INTERNAL_ROOTS: Optional[Tuple[str, ...]] = None
_IMPORT_DIR = os.path.dirname(os.path.abspath(__file__))
_FRAMEWORKS = ("jax", "jaxlib", "tensorflow", "keras", "tf_keras", "torch", "optax", "numpy", "flax", "chex")


def _internal_roots() -> Tuple[str, ...]:
    """Folders whose code is never the user's: lossc, the standard library and
    the frameworks (as far as they are imported)."""
    global _INTERNAL_ROOTS
    roots = {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}  # the lossc package
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.abspath(path))
    for package in _FRAMEWORKS:
        module = sys.modules.get(package)
        spec_file = getattr(module, "__file__", None) if module is not None else None
        if spec_file:
            roots.add(os.path.dirname(os.path.abspath(spec_file)))
    _INTERNAL_ROOTS = tuple(sorted(roots))
    return _INTERNAL_ROOTS


def _is_internal(path: str, roots: Tuple[str, ...]) -> bool:
    if not path or path.startswith("<"):
        return path.startswith("<frozen") or not path
    absolute = os.path.abspath(path)
    return any(absolute.startswith(root + os.sep) for root in roots)


class Builder:
    """Builds the ``.loss`` program of one traced Python function."""

    def __init__(self, fn: Callable[..., Any], dtype: str, framework: str) -> None:
        self.fn = fn
        self.dtype = dtype
        self.framework = framework
        # A decorated function (functools.wraps, jax.jit, tf.function): the
        # function it wraps names the file and line.
        try:
            fn = inspect.unwrap(fn)
        except ValueError:
            pass
        while callable(getattr(fn, "python_function", None)):
            fn = fn.python_function
        code = getattr(fn, "__code__", None)
        self.fn_file: Optional[str] = os.path.abspath(code.co_filename) if code is not None else None
        self.fn_line: Optional[int] = code.co_firstlineno if code is not None else None
        self._values: List[Value] = []
        self._inputs: List[Tuple[Value, Optional[str], Tuple[Union[str, int], ...]]] = []
        self._losses: List[Tuple[str, Value, Optional[Origin]]] = []
        self._wrt: List[str] = []
        self._consts: Dict[Tuple[str, str], Value] = {}
        self._builtins = frozenset(_lossc.builtin_names())
        self._roots: Optional[Tuple[str, ...]] = None

    # ---- locations -------------------------------------------------------

    def origin(self, frames: Sequence[Frame]) -> Optional[Origin]:
        """The place a framework operation came from, given the traceback the
        framework recorded for it (outermost frame first): the innermost
        frame in the user's code (not in lossc, a framework or the standard
        library); else the innermost frame in the traced function's own file
        (a library's loss traced as it is)."""
        frames = [f for f in frames if f.file and f.line]
        # Only the frames inside the traced call: the importer calls the
        # function, so whatever called lossc (a script, a test, a notebook
        # cell) is outside it, and never the place of an operation.
        importers = [i for i, f in enumerate(frames) if os.path.abspath(f.file).startswith(_IMPORT_DIR + os.sep)]
        if importers:
            frames = frames[importers[-1] + 1 :]
        if self._roots is None:
            self._roots = _internal_roots()
        for frame in reversed(frames):
            if not _is_internal(frame.file, self._roots):
                return _origin_of(frame)
        if self.fn_file is not None:
            for frame in reversed(frames):
                if os.path.abspath(frame.file) == self.fn_file:
                    return _origin_of(frame)
        return None

    # ---- values ----------------------------------------------------------

    def _new(self, kind: str, text: str, args: Sequence[Value], keywords: Sequence[Tuple[str, str]],
             origin: Optional[Origin], prec: int) -> Value:
        for arg in args:
            if not isinstance(arg, Value):
                raise TypeError(f"lossc importer bug: operand {arg!r} of `{text}` is not a Value")
        value = Value(kind, text, tuple(args), tuple(keywords), origin, prec, len(self._values))
        self._values.append(value)
        return value

    def input(self, name: str, domain: Optional[str], dims: Sequence[Union[str, int]]) -> Value:
        """Declares an input (a parameter of the traced function); ``domain``
        ``None`` declares it without one (``input x [N]``)."""
        value = self._new("input", name, (), (), None, _ATOM)
        self._inputs.append((value, domain, tuple(dims)))
        return value

    def const(self, number: Union[float, int, bool, np.generic]) -> Value:
        """A number, written so that it reads back as the same number in the
        program's dtype (``1e-07`` for float32's 1e-7)."""
        text = format_number(number, self.dtype)
        key = ("const", text)
        if key not in self._consts:
            prec = _PRECEDENCE["neg"] if text.startswith("-") else _ATOM
            self._consts[key] = self._new("const", text, (), (), None, prec)
        return self._consts[key]

    def dim(self, name: str) -> Value:
        """A symbolic dimension used as a number (``N`` in ``sum(x) / N``)."""
        key = ("dim", name)
        if key not in self._consts:
            self._consts[key] = self._new("dim", name, (), (), None, _ATOM)
        return self._consts[key]

    def call(self, function: str, *args: Value, origin: Optional[Origin] = None, **keywords: Any) -> Value:
        """``function(args..., key=value...)``; keyword values are numbers,
        booleans, or tuples of ints (``axis=(0, 1)``)."""
        if function not in self._builtins:
            raise ImportFailure(f"lossc importer bug: `{function}` is not a built-in of the language", origin)
        kws = tuple((k, _keyword_text(v)) for k, v in keywords.items() if v is not None)
        return self._new("call", function, args, kws, origin, _ATOM)

    def binary(self, op: str, left: Value, right: Value, origin: Optional[Origin] = None) -> Value:
        """``left op right`` for an operator of the language (``+ - * / ^``,
        comparisons, ``and``, ``or``)."""
        if op == "**":
            op = "^"
        if op not in _PRECEDENCE or op in ("not", "neg"):
            raise ImportFailure(f"lossc importer bug: `{op}` is not a binary operator of the language", origin)
        return self._new("binary", op, (left, right), (), origin, _PRECEDENCE[op])

    def unary(self, op: str, operand: Value, origin: Optional[Origin] = None) -> Value:
        """``-x`` or ``not b``."""
        if op not in ("-", "not"):
            raise ImportFailure(f"lossc importer bug: `{op}` is not a unary operator of the language", origin)
        return self._new("unary", op, (operand,), (), origin, _PRECEDENCE["neg" if op == "-" else "not"])

    def loss(self, value: Value, name: Optional[str] = None, origin: Optional[Origin] = None) -> None:
        """Declares the function's result as a loss."""
        self._losses.append((name or "", value, origin))

    def wrt(self, names: Sequence[str]) -> None:
        """The inputs gradients are taken with respect to (default ``y_pred``)."""
        self._wrt = list(names)

    # ---- failures --------------------------------------------------------

    def unsupported(self, op: str, origin: Optional[Origin], detail: str = "") -> ImportFailure:
        """The error for a framework operation the language cannot express:
        names the operation and the user's line. Raise it."""
        message = f"lossc cannot import `{op}`"
        if detail:
            message += f": {detail}"
        message += (
            f" (in {self._fn_label()}, traced with {self.framework}; "
            "docs/python.md lists what imports)"
        )
        return ImportFailure(message, origin)

    def fail(self, message: str, origin: Optional[Origin] = None) -> ImportFailure:
        """Any other error about the traced function. Raise it."""
        return ImportFailure(f"{message} (in {self._fn_label()})", origin)

    def _fn_label(self) -> str:
        name = getattr(self.fn, "__qualname__", None) or getattr(self.fn, "__name__", None) or repr(self.fn)
        return f"`{name}`"

    # ---- printing --------------------------------------------------------

    def finish(self, display_name: str) -> Imported:
        """Prints the program; ``display_name`` is how diagnostics name it."""
        if not self._losses:
            raise self.fail("the function returned nothing lossc can use as a loss")
        return _Printer(self, display_name).print()


def _origin_of(frame: Frame) -> Origin:
    return Origin(os.path.abspath(frame.file), frame.line, frame.column, frame.end_line, frame.end_column)


def _keyword_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_keyword_text(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    raise TypeError(f"lossc importer bug: keyword value {value!r}")


def format_number(number: Union[float, int, bool, np.generic], dtype: str) -> str:
    """The shortest text that reads back as ``number`` in ``dtype``: float32
    constants are written as float32 prints them (``1e-7``), so that a
    constant that vanishes in float32 (``1e-50``) is written as ``0`` and the
    analysis sees what the framework computed."""
    if isinstance(number, (bool, np.bool_)):
        return "1" if number else "0"
    if isinstance(number, (int, np.integer)):
        return str(int(number))
    value = np.float32(number) if dtype == "float32" else np.float64(number)
    if math.isnan(float(value)):
        raise ImportFailure("a NaN constant cannot be written in the .loss language")
    if math.isinf(float(value)):
        return "inf" if value > 0 else "-inf"
    magnitude = abs(float(value))
    if magnitude == 0 or 1e-4 <= magnitude < 1e16:
        return np.format_float_positional(value, unique=True, trim="-")
    mantissa, exponent = np.format_float_scientific(value, unique=True, trim="-").split("e")
    return f"{mantissa}e{int(exponent)}"


def _assigned_name(origin: Origin) -> Optional[str]:
    """The variable a Python line assigns (``a = ...``, ``a: T = ...``), if any."""
    code = linecache.getline(origin.file, origin.line).strip()
    if not code:
        return None
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    if len(tree.body) != 1:
        return None
    statement = tree.body[0]
    target = None
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
    elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
        target = statement.target
    return target.id if isinstance(target, ast.Name) else None


class _Printer:
    def __init__(self, builder: Builder, display_name: str) -> None:
        self.b = builder
        self.display_name = display_name
        self.out: List[str] = []
        self.length = 0  # bytes written so far
        self.names: Dict[int, str] = {}
        self.used_names: set = set()
        self.files: List[Tuple[str, str]] = []
        self.file_index: Dict[str, int] = {}
        self.origins: List[Tuple[int, int, int, int, int]] = []
        self.renamed: Dict[str, str] = {}
        self.temporaries = 0

    def write(self, text: str) -> None:
        self.out.append(text)
        self.length += len(text.encode("utf-8"))

    # Names ------------------------------------------------------------------

    def fresh(self, wanted: str) -> str:
        base = wanted if wanted.isidentifier() and wanted.isascii() else "t"
        if base in RESERVED or base in self.b._builtins or keyword.iskeyword(base) or base in ("N",):
            base = base + "_"
        name, k = base, 1
        while name in self.used_names:
            k += 1
            name = f"{base}_{k}"
        self.used_names.add(name)
        return name

    # Source map --------------------------------------------------------------

    def place(self, origin: Origin) -> Optional[Tuple[int, int, int]]:
        """(file index, start, end) in the file's UTF-8 text."""
        lines = linecache.getlines(origin.file)
        if not lines or origin.line > len(lines):
            return None
        if origin.file not in self.file_index:
            self.file_index[origin.file] = len(self.files)
            self.files.append((_short(origin.file), "".join(lines)))
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line.encode("utf-8")))
        line_bytes = lines[origin.line - 1].encode("utf-8")
        stripped = line_bytes.rstrip(b"\r\n")
        if origin.column is None:
            begin = len(stripped) - len(stripped.lstrip())
            start, end = starts[origin.line - 1] + begin, starts[origin.line - 1] + len(stripped.rstrip())
        else:
            start = starts[origin.line - 1] + min(origin.column, len(stripped))
            end_line = origin.end_line or origin.line
            if end_line > len(lines):
                end_line = origin.line
            end_text = lines[end_line - 1].encode("utf-8").rstrip(b"\r\n")
            end_column = origin.end_column if origin.end_column is not None else len(end_text)
            end = starts[end_line - 1] + min(end_column, len(end_text))
            if end < start:
                end = start
        return self.file_index[origin.file], start, end

    def record(self, start: int, origin: Optional[Origin]) -> None:
        if origin is None:
            return
        place = self.place(origin)
        if place is not None:
            self.origins.append((start, self.length, *place))

    # Planning ----------------------------------------------------------------

    def plan(self) -> List[Value]:
        """The values that get their own statement, in order."""
        reachable: Dict[int, Value] = {}
        stack = [value for _, value, _ in self.b._losses]
        while stack:
            value = stack.pop()
            if value.index in reachable:
                continue
            reachable[value.index] = value
            stack.extend(value.args)
        users: Dict[int, List[Value]] = {i: [] for i in reachable}
        for value in reachable.values():
            for arg in value.args:
                users[arg.index].append(value)
        bound = []
        roots = {value.index for _, value, _ in self.b._losses}
        for index in sorted(reachable):
            value = reachable[index]
            if value.kind in ("input", "const", "dim") or index in roots:
                continue
            its_users = users[index]
            line = _line_key(value.origin)
            if len(its_users) > 1 or any(_line_key(u.origin) != line for u in its_users):
                bound.append(value)
        return bound

    # Printing ------------------------------------------------------------------

    def expression(self, value: Value, parent_prec: int = 0, right: bool = False) -> None:
        if value.index in self.names:
            self.write(self.names[value.index])
            return
        needs_parens = value.prec < parent_prec or (value.prec == parent_prec and (right or value.prec in (4, 8)))
        # `^` is right-associative: its left operand needs parentheses at equal precedence.
        if value.kind == "binary" and value.text == "^" and parent_prec == 8 and right:
            needs_parens = False
        if value.kind == "const" and value.text.startswith("-") and parent_prec >= _PRECEDENCE["+"]:
            needs_parens = True
        if needs_parens:
            self.write("(")
        start = self.length
        if value.kind in ("input", "const", "dim"):
            self.write(value.text)
        elif value.kind == "call":
            self.write(value.text + "(")
            for i, arg in enumerate(value.args):
                if i:
                    self.write(", ")
                self.expression(arg)
            for i, (key, text) in enumerate(value.keywords):
                self.write(", " if value.args or i else "")
                self.write(f"{key}={text}")
            self.write(")")
        elif value.kind == "unary":
            self.write("-" if value.text == "-" else "not ")
            self.expression(value.args[0], value.prec, right=True)
        else:
            left, right_operand = value.args
            if value.text == "^":
                self.expression(left, value.prec + 1)
                self.write(" ^ ")
                self.expression(right_operand, value.prec, right=True)
            else:
                self.expression(left, value.prec)
                self.write(f" {value.text} ")
                self.expression(right_operand, value.prec, right=True)
        self.record(start, value.origin)
        if needs_parens:
            self.write(")")

    def comment(self, origin: Optional[Origin]) -> None:
        if origin is not None:
            self.write(f"  # {_short(origin.file)}:{origin.line}")
        self.write("\n")

    def print(self) -> Imported:
        b = self.b
        self.used_names.update(RESERVED)
        fn_name = getattr(b.fn, "__qualname__", None) or getattr(b.fn, "__name__", "loss")
        self.write(f"# Imported by lossc from {self.display_name}, traced with {b.framework}.\n")
        self.write("# Each statement's comment names the Python line it came from.\n")
        for value, domain, dims in b._inputs:
            name = self.fresh(value.text)
            if name != value.text:
                self.renamed[value.text] = name
            self.names[value.index] = name
        if self.renamed:
            pairs = ", ".join(f"`{old}` as `{new}`" for old, new in self.renamed.items())
            self.write(f"# Renamed (reserved or built-in names in .loss): {pairs}.\n")
        fallback = None
        if b.fn_file is not None and b.fn_line is not None:
            place = self.place(Origin(b.fn_file, b.fn_line))
            if place is not None:
                fallback = place
        for value, domain, dims in b._inputs:
            start = self.length
            shape = "[" + ", ".join(str(d) for d in dims) + "]"
            stated = f": {domain}" if domain is not None else ""
            self.write(f"input {self.names[value.index]}{stated} {shape}")
            if fallback is not None:
                self.origins.append((start, self.length, *fallback))
            self.write("\n")
        if b._wrt:
            self.write("wrt " + ", ".join(self.renamed.get(n, n) for n in b._wrt) + "\n")
        self.write("\n")
        for value in self.plan():
            wanted = None
            if value.origin is not None:
                wanted = _assigned_name(value.origin)
            if wanted is None:
                self.temporaries += 1
                wanted = f"t{self.temporaries}"
            name = self.fresh(wanted)
            start = self.length
            self.write(f"let {name} = ")
            self.expression(value)
            self.record(start, value.origin)
            self.names[value.index] = name
            self.comment(value.origin)
        for i, (name, value, origin) in enumerate(b._losses):
            wanted = name or (fn_name if i == 0 else f"{fn_name}_{i + 1}")
            wanted = wanted.replace(".", "_").replace("<", "").replace(">", "")
            loss_name = self.fresh(wanted if wanted.isidentifier() else "imported")
            start = self.length
            self.write(f"loss {loss_name} = ")
            self.expression(value)
            origin = origin or value.origin
            self.record(start, origin)
            self.comment(origin)
        text = "".join(self.out)
        return Imported(
            text=text,
            name=self.display_name,
            framework=b.framework,
            source_map=(self.files, self.origins, fallback),
            inputs=[self.names[v.index] for v, _, _ in b._inputs],
            renamed=self.renamed,
        )


def _line_key(origin: Optional[Origin]) -> Optional[Tuple[str, int]]:
    return None if origin is None else (origin.file, origin.line)
