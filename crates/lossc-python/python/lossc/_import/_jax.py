"""The JAX importer: JAX (``jax.numpy``, ``jax.nn``, ``optax``) and Keras 3
``keras.ops`` on the JAX backend, traced with ``jax.make_jaxpr``.

The function is traced with *symbolic* shapes (``jax.export.symbolic_shape``):
the batch ``N`` and every other named dimension stay names in the jaxpr, so a
mean's ``/ N`` is ``dim_as_value[dim=N]`` and needs no guessing. float64 is
traced inside ``jax.enable_x64(True)`` (the user's setting is restored).

The jaxpr is walked equation by equation. Each JAX variable becomes a
:class:`_V`: the ``.loss`` expression, the JAX shape, and the shape of the
expression, which may be smaller (a ``broadcast_in_dim`` is kept lazy: the
language broadcasts from the right, so ``[N]`` to ``[N, C]`` along axis 0 is
``expand_dims(x, axis=-1)`` and the broadcast to ``C`` happens at the use).
Sub-jaxprs (``jit``, ``closed_call``, ``custom_jvp_call``,
``custom_vjp_call``; a derivative rule defined in the user's own code is
refused, since lossc differentiates the value) are walked in place, except
the wrappers that are one of the language's stable built-ins (``softplus``,
``log_sigmoid``, ``log_softmax``, ``relu``, ``xlogy``, ``one_hot``,
``norm``, ``clip``), and the inline patterns of ``logsumexp``, ``softmax``
and ``log_softmax`` (their ``stop_gradient``-shifted maximum), which become
those built-ins.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._program import Builder, Frame, ImportFailure, Origin, Value

try:  # the version shown in the generated header
    import jax as _jax_module

    FRAMEWORK_NAME = f"JAX {_jax_module.__version__}"
except Exception:  # pragma: no cover - JAX missing: import_function reports it
    _jax_module = None
    FRAMEWORK_NAME = "JAX"

Dim = Union[str, int]


class _V:
    """A JAX value: ``value`` its expression (``None`` for a constant not yet
    written), ``shape`` its JAX shape, ``eshape`` the expression's shape
    (right-aligned, broadcastable to ``shape``), ``kind`` ``"float"``,
    ``"int"`` or ``"bool"``, ``const`` the NumPy value of a constant."""

    __slots__ = ("value", "shape", "eshape", "kind", "const", "meta")

    def __init__(self, value: Optional[Value], shape: Tuple[Dim, ...], eshape: Tuple[Dim, ...], kind: str,
                 const: Optional[np.ndarray] = None) -> None:
        self.value = value
        self.shape = shape
        self.eshape = eshape
        self.kind = kind
        self.const = const
        # ("sum", operand, axis, dims): a sum over those dims; ("dims", dims): their product as a number.
        self.meta: Optional[Tuple[Any, ...]] = None


def _kind(dtype: Any) -> str:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return "bool"
    if np.issubdtype(dtype, np.integer):
        return "int"
    return "float"


_UNARY = {
    "exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1", "tanh": "tanh", "logistic": "sigmoid",
    "sqrt": "sqrt", "abs": "abs", "sign": "sign", "floor": "floor", "ceil": "ceil", "sin": "sin", "cos": "cos",
    "cosh": "cosh", "square": "square", "stop_gradient": "stop_gradient",
    # jnp.tan/arctan/arcsin/arccos and jax.scipy.special.erf/erfc (jnp.log2 and
    # jnp.log10 are `log` divided or multiplied by a constant).
    "tan": "tan", "atan": "atan", "asin": "asin", "acos": "acos", "erf": "erf", "erfc": "erfc",
}
_BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^"}
_COMPARE = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_CALLS = ("pjit", "jit", "closed_call", "core_call", "custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr",
          "remat", "checkpoint", "custom_lin")


def _sub_jaxpr(eqn: Any) -> Any:
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        if key in eqn.params:
            return eqn.params[key]
    return None


class _Translator:
    def __init__(self, builder: Builder, dtype: Any) -> None:
        self.b = builder
        self.float_dtype = dtype
        self.by_shape: Dict[Tuple[Dim, ...], Value] = {}

    # ---- helpers ---------------------------------------------------------

    def dims(self, shape: Sequence[Any], origin: Optional[Origin], op: str) -> Tuple[Dim, ...]:
        out: List[Dim] = []
        for d in shape:
            if isinstance(d, (int, np.integer)):
                out.append(int(d))
                continue
            text = str(d).strip()
            if not text.isidentifier():
                raise self.b.unsupported(op, origin, f"it makes a dimension `{text}`; the language's dimensions are "
                                                     "names or integers (no reshape that merges or splits axes)")
            out.append(text)
        return tuple(out)

    def origin(self, eqn: Any, parent: Optional[Origin]) -> Optional[Origin]:
        tb = getattr(eqn.source_info, "traceback", None)
        if tb is None:
            return parent
        frames: List[Frame] = []
        try:
            codes, lastis = tb.raw_frames()
            for code, lasti in zip(codes, lastis):
                line, column, end_line, end_column = tb.code_addr2location(code, lasti)
                if line is None or line < 1:
                    continue
                frames.append(Frame(code.co_filename, line, code.co_name, column, end_line, end_column))
        except Exception:
            frames = [Frame(f.file_name, f.line_num, f.function_name) for f in tb.frames]
        frames.reverse()  # outermost first
        own = self.b.origin(frames)
        if parent is None or own is None:
            return own or parent
        # Inside a call: the equation's own place only when its traceback
        # passes through the call's place (a cached jit's body keeps the
        # traceback of its first call).
        for f in frames:
            if os.path.abspath(f.file) == parent.file and f.line == parent.line:
                return own
        return parent

    def const_value(self, number: Any, kind: str) -> _V:
        array = np.asarray(number)
        return _V(None, tuple(int(d) for d in array.shape), (), kind, array)

    def expr(self, v: _V, origin: Optional[Origin], op: str) -> Value:
        """The expression of ``v`` (a constant is written as a number)."""
        if v.value is not None:
            return v.value
        array = v.const
        flat = np.ravel(array)
        if flat.size == 0:
            raise self.b.unsupported(op, origin, "an empty constant array")
        if not np.all(flat == flat[0]) and not (np.all(np.isnan(flat))):
            raise self.b.unsupported(op, origin, "a constant array of different numbers (the language has vector "
                                                 "constants only as `param`/`const` statements)")
        number = flat[0]
        if v.kind == "bool":
            raise self.b.unsupported(op, origin, "a constant boolean")
        if v.kind == "int":
            number = int(number)
        v.value = self.b.const(number)
        v.eshape = ()
        return v.value

    def fold(self, eqn: Any, ins: List[_V]) -> Optional[List[_V]]:
        """An operation on constants only, computed by JAX (``None`` when it
        cannot be: symbolic shapes)."""
        import jax.numpy as jnp

        try:
            outs = eqn.primitive.bind(*[jnp.asarray(v.const, dtype=a.aval.dtype) for v, a in zip(ins, eqn.invars)],
                                      **eqn.params)
        except Exception:
            return None
        if not eqn.primitive.multiple_results:
            outs = [outs]
        return [self.const_value(np.asarray(o), _kind(np.asarray(o).dtype)) for o in outs]

    def record(self, value: Value, shape: Tuple[Dim, ...]) -> None:
        self.by_shape.setdefault(shape, value)

    # ---- walking ---------------------------------------------------------

    def run(self, closed: Any, args: List[_V], parent: Optional[Origin]) -> List[_V]:
        jaxpr = getattr(closed, "jaxpr", closed)
        consts = list(getattr(closed, "consts", []) or [])
        env: Dict[Any, _V] = {}
        for var, c in zip(jaxpr.constvars, consts):
            env[var] = self.const_value(np.asarray(c), _kind(var.aval.dtype))
        for var, a in zip(jaxpr.invars, args):
            env[var] = a

        def read(atom: Any) -> _V:
            if hasattr(atom, "val") and not hasattr(atom, "count") and type(atom).__name__ == "Literal":
                return self.const_value(np.asarray(atom.val), _kind(atom.aval.dtype))
            return env[atom]

        eqns = list(jaxpr.eqns)
        i = 0
        while i < len(eqns):
            eqn = eqns[i]
            origin = self.origin(eqn, parent)
            matched = self.match_pattern(eqns, i, read, env, origin)
            if matched:
                i += matched
                continue
            outs = self.equation(eqn, [read(a) for a in eqn.invars], origin, read)
            for var, out in zip(eqn.outvars, outs):
                if type(var).__name__ != "DropVar":
                    env[var] = out
            i += 1
        return [read(a) for a in jaxpr.outvars]

    # ---- patterns --------------------------------------------------------

    def match_pattern(self, eqns: List[Any], i: int, read: Any, env: Dict[Any, _V],
                      origin: Optional[Origin]) -> int:
        """``logsumexp``, ``softmax`` and ``log_softmax`` as JAX writes them
        inline (the maximum, guarded when infinite, under ``stop_gradient``,
        subtracted before ``exp``): returns the number of equations consumed
        (0: no match). The walk follows the data: each equation must take
        the values of the pattern in one of its known roles."""
        first = eqns[i]
        if first.primitive.name != "reduce_max":
            return 0
        x_var = first.invars[0]
        axes = tuple(first.params["axes"])
        x = read(x_var)
        if x.kind != "float" or type(x_var).__name__ == "Literal":
            return 0
        role: Dict[Any, str] = {first.outvars[0]: "shift"}

        def r(atom: Any) -> str:
            if type(atom).__name__ == "Literal":
                value = float(np.asarray(atom.val))
                return "-inf" if value == float("-inf") else ("zero" if value == 0.0 else "other")
            if atom is x_var:
                return "x"
            return role.get(atom, "outside")

        found = None
        k = i + 1
        while k < len(eqns) and k < i + 24:
            e = eqns[k]
            name = e.primitive.name
            ins = [r(a) for a in e.invars]
            out = e.outvars[0]
            new = None
            if name == "max" and sorted(ins) == ["-inf", "shift"]:
                new = "shift"
            elif name in ("broadcast_in_dim", "stop_gradient", "abs") and len(ins) == 1 and ins[0] in \
                    ("shift", "zero", "sum", "exp"):
                if name == "abs" and ins[0] != "sum":
                    return 0
                if name == "stop_gradient" and ins[0] != "shift":
                    return 0
                new = ins[0]
            elif name == "is_finite" and ins == ["shift"]:
                new = "finite"
            elif name == "select_n" and ins == ["finite", "zero", "shift"]:
                new = "shift"
            elif name == "sub" and ins == ["x", "shift"]:
                new = "diff"
            elif name == "exp" and ins == ["diff"]:
                new = "exp"
            elif name == "reduce_sum" and ins == ["exp"] and tuple(e.params["axes"]) == axes:
                new = "sum"
            elif name == "sign" and ins == ["sum"]:
                new = "unused"
            elif name == "log" and ins == ["sum"]:
                new = "log"
            elif name == "add" and sorted(ins) == ["log", "shift"]:
                found = ("logsumexp", out)
            elif name == "sub" and ins == ["diff", "log"]:
                found = ("log_softmax", out)
            elif name == "div" and ins == ["exp", "sum"]:
                found = ("softmax", out)
            else:
                return 0
            k += 1
            if found:
                break
            for v in e.outvars:
                role[v] = new
        if not found:
            return 0
        # The pattern's intermediate values must not be used after it.
        inner = set(role)
        for e in eqns[k:]:
            if any(a in inner for a in e.invars if type(a).__name__ != "Literal"):
                return 0
        kind, out_var = found
        shape = self.dims(out_var.aval.shape, origin, kind)
        if kind == "logsumexp":
            result = self.reduce_call("logsumexp", x, axes, origin, first)
            if shape != result.shape:
                result = self.keepdims(result, x, axes, origin)
        else:
            if len(axes) != 1:
                return 0
            result = self.axis_call(kind, x, axes[0], origin, first)
        if result.shape != shape:
            return 0
        env[out_var] = result
        return k - i

    def full(self, x: _V, origin: Optional[Origin], op: str) -> Value:
        """``x`` at its JAX shape (a lazily broadcast value made whole)."""
        value = self.expr(x, origin, op)
        if x.eshape == x.shape:
            return value
        like = self.by_shape.get(x.shape)
        if like is None:
            raise self.b.unsupported(op, origin, f"an operand broadcast to {list(x.shape)} (lossc found no value of "
                                                 "that shape to broadcast it like)")
        return self.b.call("broadcast_like", value, like, origin=origin)

    def reduce_call(self, fn: str, x: _V, axes: Tuple[int, ...], origin: Optional[Origin], eqn: Any) -> _V:
        value = self.full(x, origin, eqn.primitive.name)
        rank = len(x.shape)
        shape = tuple(d for k, d in enumerate(x.shape) if k not in axes)
        if len(axes) == rank and rank > 0:
            out = self.b.call(fn, value, origin=origin)
        elif not axes:
            return x
        else:
            axis = tuple(a - rank for a in axes)
            out = self.b.call(fn, value, origin=origin, axis=axis[0] if len(axis) == 1 else axis)
        self.record(out, shape)
        return _V(out, shape, shape, "float")

    def axis_call(self, fn: str, x: _V, axis: int, origin: Optional[Origin], eqn: Any) -> _V:
        value = self.full(x, origin, eqn.primitive.name)
        rank = len(x.shape)
        out = self.b.call(fn, value, origin=origin, axis=axis - rank)
        return _V(out, x.shape, x.shape, "float")

    def keepdims(self, out: _V, x: _V, axes: Tuple[int, ...], origin: Optional[Origin]) -> _V:
        rank = len(x.shape)
        shape = tuple(1 if k in axes else d for k, d in enumerate(x.shape))
        value = self.b.call("expand_dims", out.value, origin=origin,
                            axis=tuple(a - rank for a in axes) if len(axes) > 1 else axes[0] - rank)
        return _V(value, shape, shape, "float")

    # ---- one equation ----------------------------------------------------

    def elementwise_shape(self, ins: Sequence[_V], out_shape: Tuple[Dim, ...]) -> Tuple[Dim, ...]:
        rank = max((len(v.eshape) for v in ins), default=0)
        result: List[Dim] = []
        for k in range(1, rank + 1):
            dims = [v.eshape[-k] for v in ins if len(v.eshape) >= k]
            non_one = [d for d in dims if d != 1]
            result.append(non_one[0] if non_one else 1)
        return tuple(reversed(result))

    def equation(self, eqn: Any, ins: List[_V], origin: Optional[Origin], read: Any) -> List[_V]:
        b = self.b
        name = eqn.primitive.name
        outs_avals = [v.aval for v in eqn.outvars]
        shape = self.dims(getattr(outs_avals[0], "shape", ()), origin, name) if outs_avals else ()
        kind = _kind(outs_avals[0].dtype) if outs_avals else "float"

        # Constant folding of operations on constants only.
        if ins and all(v.value is None for v in ins) and name in ("broadcast_in_dim", "convert_element_type",
                                                                  "reshape", "squeeze", "neg"):
            array = ins[0].const
            if name == "convert_element_type":
                array = array.astype(eqn.params["new_dtype"])
            elif name == "neg":
                array = -array
            elif name == "broadcast_in_dim" or name == "reshape":
                flat = np.ravel(array)
                if flat.size == 1:
                    array = np.full(tuple(d if isinstance(d, int) else 1 for d in shape), flat[0])
                else:
                    raise b.unsupported(name, origin, "a constant array")
            elif name == "squeeze":
                array = np.squeeze(array, axis=tuple(eqn.params["dimensions"]))
            out = self.const_value(array, kind)
            out.shape = shape
            return [out]
        if ins and all(v.value is None for v in ins) and name not in ("dim_as_value", "iota"):
            folded = self.fold(eqn, ins)
            if folded is not None:
                return folded

        def elementwise(value: Value, operands: Sequence[_V], out_kind: str = kind) -> List[_V]:
            eshape = self.elementwise_shape(operands, shape)
            if eshape == shape:
                self.record(value, shape)
            return [_V(value, shape, eshape, out_kind)]

        def float_operand(v: _V) -> Value:
            return self.expr(v, origin, name)

        if name in _UNARY:
            (x,) = ins
            return elementwise(b.call(_UNARY[name], float_operand(x), origin=origin), ins)
        if name == "neg":
            return elementwise(b.unary("-", float_operand(ins[0]), origin), ins)
        if name == "rsqrt":
            return elementwise(b.binary("/", b.const(1), b.call("sqrt", float_operand(ins[0]), origin=origin),
                                        origin), ins)
        if name == "integer_pow":
            y = int(eqn.params["y"])
            x = float_operand(ins[0])
            value = b.call("square", x, origin=origin) if y == 2 else b.binary("^", x, b.const(y), origin)
            return elementwise(value, ins)
        if name == "div" and ins[0].meta and ins[0].meta[0] == "sum" and ins[1].meta and ins[1].meta[0] == "dims" \
                and sorted(map(str, ins[0].meta[3])) == sorted(map(str, ins[1].meta[1])):
            _, operand, axis, _ = ins[0].meta
            value = b.call("mean", operand, origin=origin, axis=axis)
            return elementwise(value, ins[:1])
        if name == "mul" and all(v.meta and v.meta[0] == "dims" for v in ins):
            out = elementwise(b.binary("*", float_operand(ins[0]), float_operand(ins[1]), origin), ins)
            out[0].meta = ("dims", ins[0].meta[1] + ins[1].meta[1])
            return out
        if name in _BINARY:
            if kind == "int" and name == "div":
                raise b.unsupported(name, origin, "integer division")
            left, right = (float_operand(v) for v in ins)
            return elementwise(b.binary(_BINARY[name], left, right, origin), ins)
        if name in ("max", "min"):
            left, right = (float_operand(v) for v in ins)
            return elementwise(b.call("maximum" if name == "max" else "minimum", left, right, origin=origin), ins)
        if name in _COMPARE:
            left, right = (float_operand(v) for v in ins)
            return elementwise(b.binary(_COMPARE[name], left, right, origin), ins, "bool")
        if name in ("and", "or"):
            if kind != "bool":
                raise b.unsupported(name, origin, "a bitwise operation on integers")
            left, right = (float_operand(v) for v in ins)
            return elementwise(b.binary(name, left, right, origin), ins, "bool")
        if name == "xor":
            if kind != "bool":
                raise b.unsupported(name, origin, "a bitwise operation on integers")
            left, right = (float_operand(v) for v in ins)
            value = b.binary("or", b.binary("and", left, b.unary("not", right, origin), origin),
                             b.binary("and", b.unary("not", left, origin), right, origin), origin)
            return elementwise(value, ins, "bool")
        if name == "not":
            if kind != "bool":
                raise b.unsupported(name, origin, "a bitwise operation on integers")
            return elementwise(b.unary("not", float_operand(ins[0]), origin), ins, "bool")
        if name == "is_finite":
            x = float_operand(ins[0])
            return elementwise(b.binary("<", b.call("abs", x, origin=origin), b.const(float("inf")), origin), ins,
                               "bool")
        if name == "round":
            method = eqn.params.get("rounding_method")
            if int(method) != 1:
                raise b.unsupported(name, origin, "rounding half away from zero (the language's `round` rounds half "
                                                  "to even, as jnp.round does)")
            return elementwise(b.call("round", float_operand(ins[0]), origin=origin), ins)
        if name == "select_n":
            pred, *cases = ins
            if len(cases) != 2 or pred.kind != "bool":
                raise b.unsupported(name, origin, "a selection among more than two cases")
            on_false, on_true = (float_operand(v) for v in cases)
            return elementwise(b.call("where", float_operand(pred), on_true, on_false, origin=origin), ins,
                               kind)
        if name == "clamp":
            lo, x, hi = ins
            return elementwise(b.call("clip", float_operand(x), float_operand(lo), float_operand(hi), origin=origin),
                               ins)
        if name == "convert_element_type":
            (x,) = ins
            new = np.dtype(eqn.params["new_dtype"])
            target = _kind(new)
            if x.kind == "bool" and target != "bool":
                value = b.call("float", float_operand(x), origin=origin)
                out = elementwise(value, ins, target)
                out[0].meta = ("bool", x)
                return out
            if target == "bool":
                raise b.unsupported(name, origin, "a number converted to a boolean")
            if target == "int" and x.kind != "int":
                raise b.unsupported(name, origin, "a float converted to an integer (truncation)")
            if target == "float" and x.kind == "float" and new.itemsize < np.dtype(self.float_dtype).itemsize:
                raise b.unsupported(name, origin, f"a conversion to {new.name}, narrower than the traced "
                                                  f"{np.dtype(self.float_dtype).name} (lossc has no rounding "
                                                  "operation; Keras 3 on JAX computes `ops.mean` in float32 even "
                                                  "for float64 data: import such a loss with dtype=\"float32\")")
            if x.value is None:
                return [_V(None, shape, x.eshape, target, x.const.astype(new))]
            out = _V(x.value, shape, x.eshape, target)
            out.meta = x.meta
            return [out]
        if name in ("stop_gradient",) and all(v.value is None for v in ins):
            return ins
        if name in ("copy", "copy_p"):
            return ins
        if name == "dim_as_value":
            text = str(eqn.params["dim"]).replace(" ", "")
            factors = text.split("*")
            if not all(f.isdigit() or f.isidentifier() for f in factors):
                raise b.unsupported(name, origin, f"the size `{text}` is not a product of dimensions")
            dims = tuple(int(f) if f.isdigit() else f for f in factors)
            value = None
            for d in dims:
                term = b.const(d) if isinstance(d, int) else b.dim(d)
                value = term if value is None else b.binary("*", value, term, origin)
            out = _V(value, (), (), "int")
            out.meta = ("dims", dims)
            return [out]
        if name == "broadcast_in_dim":
            return [self.broadcast(ins[0], shape, tuple(eqn.params["broadcast_dimensions"]), origin, name)]
        if name in ("reshape", "squeeze", "expand_dims"):
            return [self.reshape(ins[0], shape, origin, name)]
        if name in ("reduce_and", "reduce_or") and ins[0].kind == "bool":
            # all(b) is min(float(b)) > 0, any(b) is max(float(b)) > 0: exact.
            x = ins[0]
            as_float = _V(b.call("float", self.expr(x, origin, name), origin=origin), x.shape, x.eshape, "float")
            reduced = self.reduce("reduce_min" if name == "reduce_and" else "reduce_max", as_float,
                                  tuple(eqn.params["axes"]), shape, origin, eqn)
            return [_V(b.binary(">", reduced.value, b.const(0), origin), shape, reduced.eshape, "bool")]
        if name in ("reduce_sum", "reduce_max", "reduce_min"):
            return [self.reduce(name, ins[0], tuple(eqn.params["axes"]), shape, origin, eqn)]
        if name == "dot_general":
            return [self.dot(eqn, ins, shape, origin)]
        if name == "gather":
            return [self.gather(eqn, ins, shape, origin)]
        if name == "cond":
            return self.cond(eqn, ins, origin)
        if name in _CALLS:
            return self.call_eqn(eqn, ins, origin, read)
        if name in ("argmax", "argmin"):
            raise b.unsupported(name, origin, "an index of a maximum is not a formula of the language")
        if name == "sort":
            raise b.unsupported(name, origin, "the language has no sorting")
        raise b.unsupported(name, origin, "no built-in of the language computes it")

    def broadcast(self, x: _V, shape: Tuple[Dim, ...], bdims: Tuple[int, ...], origin: Optional[Origin],
                  op: str) -> _V:
        value = self.expr(x, origin, op)
        e = len(x.eshape)
        if e == 0:
            return _V(value, shape, (), x.kind)
        r = len(x.shape)
        R = len(shape)
        mapped = bdims[r - e:]
        first = mapped[0]
        inserted = [p for p in range(first, R) if p not in mapped]
        eshape = []
        for p in range(first, R):
            if p in mapped:
                eshape.append(x.eshape[mapped.index(p)])
            else:
                eshape.append(1)
        if list(mapped) != sorted(mapped):
            raise self.b.unsupported(op, None, "a transpose")
        if inserted:
            axes = tuple(p - R for p in inserted)
            value = self.b.call("expand_dims", value, origin=origin, axis=axes[0] if len(axes) == 1 else axes)
        out = _V(value, shape, tuple(eshape), x.kind)
        if x.eshape == x.shape and len(shape) == len(x.shape) + 1 and shape[-1] == 1 and shape[:-1] == x.shape:
            out.meta = ("expanded", x)
        if out.eshape == shape:
            self.record(value, shape)
        return out

    def reshape(self, x: _V, shape: Tuple[Dim, ...], origin: Optional[Origin], op: str) -> _V:
        """A reshape that only inserts or removes axes of size 1."""
        old = [d for d in x.shape if d != 1]
        new = [d for d in shape if d != 1]
        if old != new:
            raise self.b.unsupported(op, origin, f"a reshape of {list(x.shape)} to {list(shape)} (only axes of size 1 "
                                                 "can be added or removed)")
        value = self.expr(x, origin, op)
        if not x.eshape:
            return _V(value, shape, (), x.kind)
        eshape_in = x.eshape
        offset = len(x.shape) - len(eshape_in)
        lazy = [k for k, d in enumerate(eshape_in) if d == 1 and x.shape[k + offset] != 1]
        if lazy and any(d != 1 for d in eshape_in[:lazy[-1]]):
            # A broadcast axis after a real one: made whole first.
            value = self.full(x, origin, op)
            eshape_in = x.shape
        # Remove the size-1 axes of the expression, then insert those of the result.
        e = len(eshape_in)
        for k in range(e - 1, -1, -1):
            if eshape_in[k] == 1:
                value = self.b.call("take", value, self.b.const(0), origin=origin, axis=k - e)
                e -= 1
        core = [d for d in eshape_in if d != 1]
        # `core` is right-aligned against the result's axes of size > 1 (the
        # leading ones missing from it were broadcast lazily).
        positions = [p for p, d in enumerate(shape) if d != 1]
        positions = positions[len(positions) - len(core):] if core else []
        if not positions:
            return _V(value, shape, (), x.kind)
        first = positions[0]
        inserted = [p - len(shape) for p in range(first, len(shape)) if p not in positions]
        if inserted:
            value = self.b.call("expand_dims", value, origin=origin,
                                axis=inserted[0] if len(inserted) == 1 else tuple(inserted))
        eshape = tuple(shape[first:])
        if eshape == shape:
            self.record(value, shape)
        return _V(value, shape, eshape, x.kind)

    def reduce(self, name: str, x: _V, axes: Tuple[int, ...], shape: Tuple[Dim, ...], origin: Optional[Origin],
               eqn: Any) -> _V:
        if x.kind == "bool":
            raise self.b.unsupported(name, origin, "a reduction of booleans")
        fn = {"reduce_sum": "sum", "reduce_max": "max", "reduce_min": "min"}[name]
        value = self.expr(x, origin, name)
        r = len(x.shape)
        e = len(x.eshape)
        real = [a for a in axes if a >= r - e and x.eshape[a - (r - e)] == x.shape[a]]
        lazy = [a for a in axes if a not in real]
        meta = None
        if real:
            operand = value
            if len(real) == e:
                value = self.b.call(fn, value, origin=origin)
                axis_kw = None
                eshape: Tuple[Dim, ...] = ()
            else:
                axis = tuple(a - r for a in real)
                axis_kw = axis[0] if len(axis) == 1 else axis
                value = self.b.call(fn, value, origin=origin, axis=axis_kw)
                eshape = tuple(d for k, d in enumerate(x.eshape) if (k + r - e) not in real)
            if fn == "sum" and not lazy:
                meta = ("sum", operand, axis_kw, tuple(x.shape[a] for a in real))
        else:
            eshape = x.eshape
        # Lazily broadcast axes: a sum counts each element that many times;
        # a size-1 expression axis that stays (keepdims-like) is dropped.
        if eshape and lazy:
            keep = [d for k, d in enumerate(x.eshape) if (k + r - e) not in axes]
            drop = [k - e for k in range(e) if (k + r - e) in lazy]
            if drop:
                value = self.b.call("take", value, self.b.const(0), origin=origin, axis=drop[-1])
                for d in reversed(drop[:-1]):
                    value = self.b.call("take", value, self.b.const(0), origin=origin, axis=d)
            eshape = tuple(keep)
        if fn == "sum":
            for a in lazy:
                d = x.shape[a]
                if d != 1:
                    value = self.b.binary("*", value, self.b.dim(d) if isinstance(d, str) else self.b.const(d), origin)
        out = _V(value, shape, eshape, x.kind)
        out.meta = meta
        if eshape == shape:
            self.record(value, shape)
        return out

    def dot(self, eqn: Any, ins: List[_V], shape: Tuple[Dim, ...], origin: Optional[Origin]) -> _V:
        (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
        a, c = ins
        ra, rc_rank = len(a.shape), len(c.shape)
        free_a = [k for k in range(ra) if k not in lc and k not in lb]
        free_c = [k for k in range(rc_rank) if k not in rc and k not in rb]
        if free_a or free_c or tuple(lc) != tuple(rc) or tuple(lb) != tuple(rb) or tuple(lb) != tuple(range(len(lb))):
            raise self.b.unsupported("dot_general", origin, "a matrix product (lossc imports a row-wise dot "
                                                           "product of two tensors of one shape)")
        product = self.b.binary("*", self.full(a, origin, "dot_general"), self.full(c, origin, "dot_general"), origin)
        axes = tuple(k - ra for k in lc)
        value = self.b.call("sum", product, origin=origin, axis=axes[0] if len(axes) == 1 else axes)
        self.record(value, shape)
        return _V(value, shape, shape, _kind(eqn.outvars[0].aval.dtype))

    def gather(self, eqn: Any, ins: List[_V], shape: Tuple[Dim, ...], origin: Optional[Origin]) -> _V:
        x, idx = ins
        dn = eqn.params["dimension_numbers"]
        r = len(x.shape)
        slice_sizes = self.dims(eqn.params["slice_sizes"], origin, "gather")
        if (idx.value is None and np.size(idx.const) == 1 and not dn.collapsed_slice_dims
                and len(dn.start_index_map) == 1 and tuple(dn.offset_dims) == tuple(range(r))
                and not getattr(dn, "operand_batching_dims", ())):
            # x[:, k:k+1]: a slice of size 1 along one axis.
            axis = dn.start_index_map[0]
            index = int(np.ravel(idx.const)[0])
            size = x.shape[axis]
            if all(slice_sizes[k] == (1 if k == axis else x.shape[k]) for k in range(r)) and index >= 0 \
                    and (not isinstance(size, int) or index < size):
                taken = self.b.call("take", self.full(x, origin, "gather"), self.b.const(index), origin=origin,
                                    axis=axis - r)
                value = self.b.call("expand_dims", taken, origin=origin, axis=axis - r)
                self.record(value, shape)
                return _V(value, shape, shape, x.kind)
        ok = (idx.value is None and np.size(idx.const) == 1 and len(dn.collapsed_slice_dims) == 1
              and tuple(dn.start_index_map) == tuple(dn.collapsed_slice_dims)
              and not getattr(dn, "operand_batching_dims", ()))
        if ok:
            axis = dn.collapsed_slice_dims[0]
            ok = all(slice_sizes[k] == (1 if k == axis else x.shape[k]) for k in range(r))
            ok = ok and tuple(dn.offset_dims) == tuple(range(r - 1))[: len(dn.offset_dims)] and len(dn.offset_dims) == r - 1
        if not ok:
            raise self.b.unsupported("gather", origin, "indexing other than one fixed index along one axis "
                                                      "(`x[..., k]` imports as `take`)")
        index = int(np.ravel(idx.const)[0])
        if x.meta and x.meta[0] == "expanded" and axis == r - 1 and index in (0, -1):
            return x.meta[1]
        size = x.shape[axis]
        if index < 0 and isinstance(size, int):
            index += size
        if index < 0:
            raise self.b.unsupported("gather", origin, "a negative index along a symbolic dimension")
        if isinstance(size, int) and index >= size:
            raise self.b.unsupported("gather", origin, f"index {index} out of range for a dimension of {size}")
        value = self.b.call("take", self.full(x, origin, "gather"), self.b.const(index), origin=origin,
                            axis=axis - r)
        self.record(value, shape)
        return _V(value, shape, shape, x.kind)

    # ---- calls -----------------------------------------------------------

    def cond(self, eqn: Any, ins: List[_V], origin: Optional[Origin]) -> List[_V]:
        """``lax.cond`` of two branches: ``where(pred, true_branch, false_branch)``
        (both computed; the gradient of the branch not taken is not used, as
        in JAX)."""
        index, *operands = ins
        branches = eqn.params["branches"]
        if len(branches) != 2:
            raise self.b.unsupported("cond", origin, "a switch among more than two branches")
        if index.meta and index.meta[0] == "bool":
            pred = self.expr(index.meta[1], origin, "cond")
        else:
            pred = self.b.binary("!=", self.expr(index, origin, "cond"), self.b.const(0), origin)
        on_false = self.run(branches[0], operands, origin)
        on_true = self.run(branches[1], operands, origin)
        outs = []
        for var, f, t in zip(eqn.outvars, on_false, on_true):
            shape = self.dims(var.aval.shape, origin, "cond")
            if f.value is t.value and f.value is not None:
                outs.append(f)
                continue
            value = self.b.call("where", pred, self.expr(t, origin, "cond"), self.expr(f, origin, "cond"),
                                origin=origin)
            eshape = self.elementwise_shape([index, f, t], shape)
            outs.append(_V(value, shape, eshape, _kind(var.aval.dtype)))
        return outs

    def call_eqn(self, eqn: Any, ins: List[_V], origin: Optional[Origin], read: Any) -> List[_V]:
        sub = _sub_jaxpr(eqn)
        if sub is None:
            raise self.b.unsupported(eqn.primitive.name, origin, "a call without a body lossc can read")
        fn_name = str(eqn.params.get("name", "") or "")
        if not fn_name:
            info = getattr(getattr(sub, "jaxpr", sub), "debug_info", None)
            fn_name = str(getattr(info, "func_src_info", "") or "").split(" at ")[0]
        recognised = self.builtin_call(fn_name, eqn, sub, ins, origin)
        if recognised is not None:
            return [recognised]
        if eqn.primitive.name.startswith("custom_"):
            where = self.custom_rule_source(sub)
            if where is not None:
                raise self.b.unsupported(eqn.primitive.name, origin, f"`{where[0]}` ({where[1]}) has a derivative "
                                         "rule of its own; lossc differentiates the value, so the gradients could "
                                         "differ (JAX's and libraries' own rules are taken as the derivative they "
                                         "compute stably)")
        if eqn.primitive.name == "custom_vjp_call" or eqn.primitive.name == "custom_vjp_call_jaxpr":
            n = len(getattr(getattr(sub, "jaxpr", sub), "invars", []))
            ins = ins[len(ins) - n:] if n < len(ins) else ins
        return self.run(sub, ins, origin)

    def custom_rule_source(self, sub: Any) -> Optional[Tuple[str, str]]:
        """The function and place of a ``custom_jvp``/``custom_vjp`` defined
        outside the frameworks (the user's own derivative rule), else ``None``."""
        from ._program import _internal_roots, _is_internal

        info = getattr(getattr(sub, "jaxpr", sub), "debug_info", None)
        text = str(getattr(info, "func_src_info", "") or "")
        if " at " not in text:
            return None
        function, place = text.split(" at ", 1)
        path = place.rsplit(":", 1)[0]
        if _is_internal(path, _internal_roots()):
            return None
        return function, place

    def builtin_call(self, fn_name: str, eqn: Any, sub: Any, ins: List[_V], origin: Optional[Origin]) -> Optional[_V]:
        jaxpr = getattr(sub, "jaxpr", sub)
        prims = [e.primitive.name for e in jaxpr.eqns]
        b = self.b
        if fn_name == "softplus" and len(ins) == 1 and prims in (["custom_jvp_call"], ["logaddexp"]):
            inner = jaxpr.eqns[0]
            lit = inner.invars[1] if len(inner.invars) == 2 else None
            if lit is not None and type(lit).__name__ == "Literal" and float(lit.val) == 0.0 \
                    and inner.invars[0] is jaxpr.invars[0]:
                x = ins[0]
                return self.same_shape(b.call("softplus", self.expr(x, origin, "softplus"), origin=origin), x)
        if fn_name == "logaddexp" and len(ins) == 2:
            a, c = ins
            if c.value is None and np.size(c.const) == 1 and float(np.ravel(c.const)[0]) == 0.0:
                return self.same_shape(b.call("softplus", self.expr(a, origin, "logaddexp"), origin=origin), a)
            if a.value is None and np.size(a.const) == 1 and float(np.ravel(a.const)[0]) == 0.0:
                return self.same_shape(b.call("softplus", self.expr(c, origin, "logaddexp"), origin=origin), c)
        if fn_name == "log_sigmoid" and len(ins) == 1 and prims == ["neg", "jit", "neg"] or \
                fn_name == "log_sigmoid" and prims == ["neg", "pjit", "neg"]:
            x = ins[0]
            return self.same_shape(b.call("log_sigmoid", self.expr(x, origin, "log_sigmoid"), origin=origin), x)
        if fn_name == "relu" and len(ins) == 1 and len(jaxpr.eqns) == 1:
            inner = jaxpr.eqns[0]
            inner_sub = _sub_jaxpr(inner)
            body = getattr(inner_sub, "jaxpr", inner_sub) if inner_sub is not None else jaxpr
            ps = [e.primitive.name for e in body.eqns]
            if ps == ["max"] and any(type(a).__name__ == "Literal" and float(a.val) == 0.0 for a in body.eqns[0].invars):
                x = ins[0]
                return self.same_shape(b.call("relu", self.expr(x, origin, "relu"), origin=origin), x)
        if fn_name == "xlogy" and len(ins) == 2 and "log" in prims and "mul" in prims:
            x, y = ins
            value = b.call("xlogy", self.expr(x, origin, "xlogy"), self.expr(y, origin, "xlogy"), origin=origin)
            shape = self.dims(eqn.outvars[0].aval.shape, origin, "xlogy")
            return _V(value, shape, self.elementwise_shape(ins, shape), "float")
        if fn_name == "log_softmax" and len(ins) == 1 and prims == ["reduce_max", "max", "broadcast_in_dim",
                                                                     "stop_gradient", "sub", "exp", "reduce_sum",
                                                                     "broadcast_in_dim", "log", "sub"]:
            axes = tuple(jaxpr.eqns[0].params["axes"])
            if len(axes) == 1:
                return self.axis_call("log_softmax", ins[0], axes[0], origin, eqn)
        if fn_name == "_one_hot" and len(ins) == 1 and prims == ["broadcast_in_dim", "iota", "eq",
                                                                  "convert_element_type"]:
            iota = jaxpr.eqns[1]
            shape = self.dims(eqn.outvars[0].aval.shape, origin, "one_hot")
            x = ins[0]
            if iota.params["dimension"] == len(shape) - 1 and len(shape) == 2 and x.kind == "int":
                classes = shape[-1]
                count = b.dim(classes) if isinstance(classes, str) else b.const(classes)
                value = b.call("one_hot", self.full(x, origin, "one_hot"), count, origin=origin)
                self.record(value, shape)
                return _V(value, shape, shape, "float")
        core = [e for e in jaxpr.eqns if e.primitive.name != "convert_element_type"]
        if fn_name == "clip" and len(ins) == 3 and [e.primitive.name for e in core] == ["max", "min"] \
                and any(a is jaxpr.invars[0] for a in core[0].invars) \
                and any(a is core[0].outvars[0] for a in core[1].invars):
            x, lo, hi = ins
            value = b.call("clip", self.expr(x, origin, "clip"), self.expr(lo, origin, "clip"),
                           self.expr(hi, origin, "clip"), origin=origin)
            shape = self.dims(eqn.outvars[0].aval.shape, origin, "clip")
            out = _V(value, shape, self.elementwise_shape(ins, shape), "float")
            if out.eshape == shape:
                self.record(value, shape)
            return out
        if fn_name == "take_along_axis" and len(ins) == 2:
            return self.take_along_axis(eqn, ins, origin)
        if fn_name == "norm" and len(ins) == 1 and prims == ["mul", "reduce_sum", "sqrt"]:
            mul = jaxpr.eqns[0]
            if mul.invars[0] is jaxpr.invars[0] and mul.invars[1] is jaxpr.invars[0]:
                return self.reduce_call("norm", ins[0], tuple(jaxpr.eqns[1].params["axes"]), origin, eqn)
        return None

    def take_along_axis(self, eqn: Any, ins: List[_V], origin: Optional[Origin]) -> Optional[_V]:
        """``x[i, labels[i]]`` along the last axis (``take_along_axis`` with
        ``[N, 1]`` integer labels): ``sum(where(one_hot(labels, C) == 1, x, 0),
        axis=-1)``, exactly the selected element and its gradient."""
        x, idx = ins
        shape = self.dims(eqn.outvars[0].aval.shape, origin, "take_along_axis")
        if len(x.shape) != 2 or idx.kind != "int" or idx.shape != (x.shape[0], 1) or shape != (x.shape[0], 1):
            return None
        labels = idx.meta[1] if idx.meta and idx.meta[0] == "expanded" else None
        if labels is None:
            return None
        classes = x.shape[-1]
        b = self.b
        count = b.dim(classes) if isinstance(classes, str) else b.const(classes)
        hot = b.call("one_hot", self.full(labels, origin, "take_along_axis"), count, origin=origin)
        picked = b.call("sum", b.call("where", b.binary("==", hot, b.const(1), origin),
                                      self.full(x, origin, "take_along_axis"), b.const(0), origin=origin),
                        origin=origin, axis=-1)
        value = b.call("expand_dims", picked, origin=origin, axis=-1)
        out = _V(value, shape, shape, "float")
        out.meta = ("expanded", _V(picked, shape[:-1], shape[:-1], "float"))
        self.record(value, shape)
        return out

    def same_shape(self, value: Value, x: _V) -> _V:
        if x.eshape == x.shape:
            self.record(value, x.shape)
        return _V(value, x.shape, x.eshape, "float")


def _symbolic_inputs(params: Sequence[Any], dtype: Any) -> List[Any]:
    import jax
    from jax import export

    names: List[str] = []
    for p in params:
        for d in p.dims:
            if isinstance(d, str) and d not in names:
                names.append(d)
    symbols = dict(zip(names, export.symbolic_shape(", ".join(names)))) if names else {}
    specs = []
    for p in params:
        shape = tuple(symbols[d] if isinstance(d, str) else d for d in p.dims)
        specs.append(jax.ShapeDtypeStruct(shape, np.int32 if p.integer else dtype))
    return specs


def _tracing_failure(builder: Builder, error: BaseException, params: Sequence[Any] = ()) -> ImportFailure:
    """The error of a function that failed while JAX traced it: the
    exception and the innermost line of the user's code."""
    import traceback

    from ._program import _internal_roots, _is_internal

    roots = _internal_roots()
    origin = None
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename and not _is_internal(frame.filename, roots):
            origin = Origin(os.path.abspath(frame.filename), frame.lineno or 1)
            break
    text = str(error).strip()
    first = (text.splitlines()[0] if text else "").rstrip(".")
    kind = type(error).__name__
    hint = ""
    if "Concretization" in kind or "TracerBool" in kind or "TracerInteger" in kind or "TracerArray" in kind:
        hint = ("; the function is not traceable: it uses the value of an input as a Python bool, int or "
                "array (an `if` on a tensor, float(x), NumPy on a traced array); use jnp.where")
    elif "InconclusiveDimension" in kind or "_DimExpr" in first or "symbolic dimension" in text:
        hint = ("; lossc traces with symbolic dimensions (names in shapes=), and the function needs this one as a "
                "Python int: give it as a number, e.g. shapes={\"y_pred\": (\"N\", 10)}")
    if "shape" in first.lower() and params and not hint:
        traced = ", ".join(f"{p.name}: [{', '.join(str(d) for d in p.dims)}]" for p in params)
        hint += f"; the inputs were traced with the shapes {traced}"
    return builder.fail(f"tracing with JAX failed: {kind}: {first}{hint}", origin)


def trace(builder: Builder, fn: Any, params: Sequence[Any]) -> None:
    import jax

    dtype = np.float64 if builder.dtype == "float64" else np.float32
    with jax.enable_x64(builder.dtype == "float64"), _keras_floatx(builder.dtype):
        try:
            specs = _symbolic_inputs(params, dtype)
        except Exception as error:
            raise builder.fail(f"the shapes cannot be traced symbolically: {error}") from None
        try:
            closed = jax.make_jaxpr(fn)(*specs)
        except ImportFailure:
            raise
        except Exception as error:
            raise _tracing_failure(builder, error, params) from None
        translator = _Translator(builder, dtype)
        args: List[_V] = []
        for p, spec in zip(params, specs):
            value = builder.input(p.name, p.domain, p.dims)
            dims = tuple(p.dims)
            translator.record(value, dims)
            args.append(_V(value, dims, dims, "int" if p.integer else "float"))
        jaxpr = closed.jaxpr
        if len(jaxpr.outvars) != 1:
            raise builder.fail(f"the function returns {len(jaxpr.outvars)} arrays; a loss returns one")
        outs = translator.run(closed, args, None)
        out = outs[0]
        out_origin = _result_origin(translator, jaxpr, builder)
        batch = params_batch(params)
        if out.shape not in ((), (batch,)) or out.kind == "bool":
            shape = "[" + ", ".join(str(d) for d in out.shape) + "]"
            raise builder.fail(f"the function returns a {out.kind} array of shape {shape}: a loss is a scalar or one "
                               f"number per sample ([{batch}])", out_origin)
        value = translator.expr(out, out_origin, "result") if out.value is None else out.value
        if out.eshape != out.shape:
            value = translator.full(out, out_origin, "result")
        builder.loss(value, origin=out_origin)


@contextlib.contextmanager
def _keras_floatx(dtype: str) -> Iterator[None]:
    """Keras 3 computes in its ``floatx``: traced in ``dtype`` (restored after)."""
    keras = sys.modules.get("keras")
    config = getattr(keras, "config", None)
    if config is None or not hasattr(config, "floatx"):
        yield
        return
    old = config.floatx()
    config.set_floatx(dtype)
    try:
        yield
    finally:
        config.set_floatx(old)


def params_batch(params: Sequence[Any]) -> Dim:
    for p in params:
        if p.dims:
            return p.dims[0]
    return "N"


def _result_origin(translator: _Translator, jaxpr: Any, builder: Builder) -> Optional[Origin]:
    out = jaxpr.outvars[0]
    for eqn in reversed(jaxpr.eqns):
        if any(v is out for v in eqn.outvars):
            return translator.origin(eqn, None)
    return None
