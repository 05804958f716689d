"""Importing a Python loss function: trace it with its own framework and
translate the graph into a ``.loss`` program.

``import_function`` works out the function's inputs (its parameters without
a default), their domains and shapes, which framework it is written in, and
hands a :class:`~._program.Builder` to that framework's importer:

- ``_jax``: JAX (``jax.numpy``, ``optax``) and Keras 3 ``keras.ops`` on the JAX
  backend, through ``jax.make_jaxpr``;
- ``_tf``: TensorFlow and tf.keras (``tf.*``, ``K.*``) and Keras 3 on the
  TensorFlow backend, through the graph of ``tf.function``;
- ``_torch``: PyTorch (``torch``, ``torch.nn.functional``) and Keras 3 on the
  torch backend, through ``torch.export``.

Each importer maps every operation of the graph to the one built-in of the
language that computes it, or raises :class:`ImportFailure` naming the
operation and the user's line. Nothing is dropped or approximated.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
import sys
import types
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._program import Builder, Frame, ImportFailure, Imported, Origin, format_number

__all__ = ["Param", "import_function", "detect_framework", "FRAMEWORKS", "ImportFailure", "Imported"]

#: The frameworks lossc imports from, as ``framework=`` takes them.
FRAMEWORKS = ("jax", "tf", "torch")

_FRAMEWORK_OF_PACKAGE = {
    "jax": "jax",
    "jaxlib": "jax",
    "optax": "jax",
    "flax": "jax",
    "tensorflow": "tf",
    "tf_keras": "tf",
    "torch": "torch",
}

_KERAS_BACKENDS = {"jax": "jax", "tensorflow": "tf", "torch": "torch"}

_INTEGER_DOMAIN = re.compile(r"^\{\s*-?\d+\s*(\.\.\s*-?\d+\s*|(,\s*-?\d+\s*)*)\}$")


@dataclass(frozen=True)
class Param:
    """An input of the traced function: its name in the function, its
    domain in the language (``None`` when none was given: the analysis then
    assumes any real number and says so), its shape (names are symbolic dimensions), and
    whether its values are integers (a domain such as ``{0..9}``, traced as
    int32 labels)."""

    name: str
    domain: Optional[str]  # None: no domain given (the program says `input x [N]`)
    dims: Tuple[Union[str, int], ...]
    integer: bool


def _unwrap(fn: Any) -> Tuple[Callable[..., Any], Dict[str, Any]]:
    """The function to inspect, and keyword arguments bound by partial."""
    bound: Dict[str, Any] = {}
    while isinstance(fn, functools.partial):
        if fn.args:
            raise TypeError(
                "lossc.compile: a functools.partial with positional arguments cannot be imported; bind by keyword"
            )
        bound = {**fn.keywords, **bound}
        fn = fn.func
    return fn, bound


def _parameters(fn: Callable[..., Any], bound: Mapping[str, Any]) -> List[str]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        raise TypeError(f"lossc.compile: cannot read the parameters of {fn!r}; pass a Python function") from None
    names = []
    for p in signature.parameters.values():
        if p.name in bound:
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            if p.kind == p.KEYWORD_ONLY:
                raise TypeError(
                    f"lossc.compile: the keyword-only parameter `{p.name}` of {getattr(fn, '__name__', fn)} has no "
                    "default; lossc passes inputs by position"
                )
            names.append(p.name)
    if not names:
        raise TypeError(
            f"lossc.compile: {getattr(fn, '__name__', fn)} has no parameter without a default: lossc needs at least "
            "one input (e.g. `def loss(y_true, y_pred): ...`)"
        )
    return names


def _referenced_objects(fn: Callable[..., Any]) -> List[Any]:
    """Objects a function's code refers to: globals by name (also inside
    nested functions and comprehensions) and closure cells."""
    objects: List[Any] = []
    code = getattr(fn, "__code__", None)
    if code is None:
        return objects
    names = set()
    stack = [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    globals_ = getattr(fn, "__globals__", {})
    objects.extend(globals_[n] for n in names if n in globals_)
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            objects.append(cell.cell_contents)
        except ValueError:
            pass
    return objects


def _package_of(obj: Any) -> Optional[str]:
    if isinstance(obj, types.ModuleType):
        name = obj.__name__
    else:
        name = getattr(obj, "__module__", None)
        if not isinstance(name, str):
            name = getattr(type(obj), "__module__", None)
    if not isinstance(name, str):
        return None
    return name.split(".")[0]


def _keras_backend() -> Optional[str]:
    try:
        keras = importlib.import_module("keras")
        return _KERAS_BACKENDS.get(keras.backend.backend())
    except Exception:
        return None


def detect_framework(fn: Callable[..., Any]) -> str:
    """The framework a function is written in, from the modules and
    functions its code refers to (``tf``, ``jnp``, ``torch.nn.functional``,
    ``keras.ops`` on its configured backend) and its own module; for a
    function that names none (only tensor methods), the one framework its
    module imports."""
    fn, _ = _unwrap(fn)
    try:
        fn = inspect.unwrap(fn)  # a decorated function (tf.function, jax.jit): the function it wraps
    except ValueError:
        pass
    packages = {p for p in (_package_of(o) for o in _referenced_objects(fn)) if p}
    own = _package_of(fn)
    if own:
        packages.add(own)
    found = set()
    for package in packages:
        if package in _FRAMEWORK_OF_PACKAGE:
            found.add(_FRAMEWORK_OF_PACKAGE[package])
        elif package == "keras":
            backend = _keras_backend()
            if backend:
                found.add(backend)
    if not found:
        # Only tensor methods (`(input - target).abs().mean()`): the
        # frameworks its module imports, if exactly one.
        module_packages = {
            _package_of(value)
            for value in getattr(fn, "__globals__", {}).values()
            if isinstance(value, types.ModuleType)
        }
        for package in module_packages:
            if package in _FRAMEWORK_OF_PACKAGE:
                found.add(_FRAMEWORK_OF_PACKAGE[package])
            elif package == "keras":
                backend = _keras_backend()
                if backend:
                    found.add(backend)
        if len(found) > 1:
            found = set()
    if len(found) == 1:
        return found.pop()
    name = getattr(fn, "__qualname__", None) or repr(fn)
    if not found:
        hint = ""
        if "numpy" in packages:
            hint = " NumPy code is not traceable: write it with jax.numpy (the same functions) and it imports."
        raise TypeError(
            f"lossc.compile: cannot tell which framework `{name}` is written in (it refers to none of JAX, "
            f"TensorFlow, PyTorch or Keras); pass framework=\"jax\", \"tf\" or \"torch\".{hint}"
        )
    raise TypeError(
        f"lossc.compile: `{name}` refers to several frameworks ({', '.join(sorted(found))}); "
        "pass framework= to say which one traces it"
    )


_SHAPE_TEXT = re.compile(r"^\s*\[(.*)\]\s*$")


def _dims(name: str, spec: Any) -> Tuple[Union[str, int], ...]:
    """A shape from a spec: ``"[N, C]"``, a tuple such as ``("N", 10)``, or
    an example array (its first axis is the batch ``N``, the others fixed)."""
    if spec is None:
        return ("N",)
    if isinstance(spec, str):
        match = _SHAPE_TEXT.match(spec)
        if not match:
            raise ValueError(f"lossc.compile: shapes[{name!r}] = {spec!r}: write a shape as \"[N]\" or \"[N, 10]\"")
        inner = match.group(1).strip()
        spec = tuple(d.strip() for d in inner.split(",")) if inner else ()
        spec = tuple(int(d) if d.lstrip("-").isdigit() else d for d in spec)
    if hasattr(spec, "shape") and not isinstance(spec, (tuple, list)):
        shape = tuple(int(d) for d in spec.shape)
        return tuple(["N", *shape[1:]]) if shape else ()
    if isinstance(spec, (tuple, list)):
        dims: List[Union[str, int]] = []
        for d in spec:
            if isinstance(d, bool) or not isinstance(d, (int, str)):
                raise ValueError(f"lossc.compile: shapes[{name!r}]: a dimension is a name or a positive int, not {d!r}")
            if isinstance(d, int) and d < 1:
                raise ValueError(f"lossc.compile: shapes[{name!r}]: dimension {d} is not positive")
            if isinstance(d, str) and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", d):
                raise ValueError(f"lossc.compile: shapes[{name!r}]: {d!r} is not a dimension name")
            dims.append(d)
        return tuple(dims)
    raise TypeError(
        f"lossc.compile: shapes[{name!r}] must be a shape such as \"[N, 10]\", a tuple (\"N\", 10) or an example "
        f"array, not {type(spec).__name__}"
    )


def _display_name(fn: Callable[..., Any]) -> str:
    try:
        fn = inspect.unwrap(fn)  # a framework's decorator: the function it wraps names the file
    except ValueError:
        pass
    code = getattr(fn, "__code__", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or "loss"
    if code is None:
        return name
    path = code.co_filename
    try:
        relative = os.path.relpath(path)
        if not relative.startswith(".."):
            path = relative
    except ValueError:
        pass
    return f"{path}::{name}"


def import_function(
    fn: Callable[..., Any],
    *,
    domains: Mapping[str, str],
    shapes: Optional[Mapping[str, Any]],
    dtype: str,
    framework: Optional[str] = None,
    wrt: Optional[Sequence[str]] = None,
) -> Imported:
    """Traces ``fn`` and translates it. ``domains`` are already language
    domains (aliases resolved). Raises ``TypeError``/``ValueError`` for bad
    arguments and :class:`ImportFailure` for what cannot be translated."""
    if not callable(fn):
        raise TypeError(f"lossc.compile: expected a function, not {type(fn).__name__}")
    target, bound = _unwrap(fn)
    names = _parameters(target, bound)
    for what, mapping in (("inputs", domains), ("shapes", shapes or {})):
        unknown = [n for n in mapping if n not in names]
        if unknown:
            raise ValueError(
                f"lossc.compile: {what}= names {', '.join(map(repr, unknown))}, not a parameter of "
                f"{getattr(target, '__name__', target)} (its inputs: {', '.join(names)})"
            )
    params = []
    for name in names:
        domain = domains.get(name)
        params.append(
            Param(
                name=name,
                domain=domain,
                dims=_dims(name, (shapes or {}).get(name)),
                integer=domain is not None and bool(_INTEGER_DOMAIN.match(domain.strip())),
            )
        )
    if framework is None:
        framework = detect_framework(fn)
    if framework == "keras":
        framework = _keras_backend() or "jax"
    if framework not in FRAMEWORKS:
        raise ValueError(f"lossc.compile: framework must be one of {', '.join(FRAMEWORKS)}, not {framework!r}")
    importer = importlib.import_module(f"._{framework}", __name__)
    builder = Builder(target, dtype, importer.FRAMEWORK_NAME)
    importer.trace(builder, fn, params)
    if wrt:
        builder.wrt(list(wrt))
    else:
        builder.wrt(_default_wrt(names, framework))
    return builder.finish(_display_name(target))


# Names a prediction goes by, most telling first.
_PREDICTION_NAMES = ("y_pred", "pred", "preds", "prediction", "predictions", "logits", "y_hat", "yhat", "output",
                     "outputs", "input", "x")


def _default_wrt(names: Sequence[str], framework: str) -> List[str]:
    """The input gradients are taken with respect to: the one named like a
    prediction (``y_pred``; PyTorch's ``input``), else the first input for
    PyTorch (its losses take ``(input, target)``) and the last for the others
    (Keras's ``(y_true, y_pred)``)."""
    for candidate in _PREDICTION_NAMES:
        if candidate in names:
            return [candidate]
    return [names[0] if framework == "torch" else names[-1]]
