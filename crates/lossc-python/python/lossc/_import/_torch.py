"""The PyTorch importer: ``torch.export`` graphs of ``torch`` and
``torch.nn.functional`` code, translated into the ``.loss`` language.

The function is exported with ``torch.export.export`` (non-strict), each
named dimension of the inputs a ``torch.export.Dim`` (at least 2: torch
specialises sizes 0 and 1), and the graph is lowered to core ATen with
``run_decompositions`` (so ``F.mse_loss``, ``F.binary_cross_entropy``,
``F.smooth_l1_loss``... become the arithmetic torch computes). A few ATen
operations that have a stable built-in of the language are kept whole
(``logsumexp``, ``softplus``, ``log_sigmoid``, ``log_softmax``, ``softmax``,
``linalg_vector_norm``, ``xlogy``). Each ATen operation maps to the one built-in that
computes it, or is reported as unsupported, naming the operation and the
user's line (from ``node.meta["stack_trace"]``; while exporting, lossc keeps
every frame of it, not only the frames of a ``forward``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import operator
import os
import re
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ._program import Builder, Frame, ImportFailure, Origin, Value

FRAMEWORK_NAME = f"PyTorch {torch.__version__.split('+')[0]}"

aten = torch.ops.aten

# ATen operations kept whole instead of decomposed: each has a stable
# built-in of the language.
_KEPT = (
    "logsumexp.default",
    "softplus.default",
    "log_sigmoid_forward.default",
    "linalg_vector_norm.default",
    "xlogy.Tensor",
    "xlogy.Scalar_Other",
    "xlogy.Scalar_Self",
    "one_hot.default",
)

# Operations of the training graph that the decomposition to core ATen drops
# without a trace, although they change the gradient.
_GRADIENT_CHANGING = {
    "aten.detach.default": (
        "`detach()` stops the gradient, and the core ATen graph lossc translates turns it into a plain alias; "
        "lossc refuses it rather than import another gradient (JAX's `stop_gradient` and TensorFlow's import)"
    ),
    "torch.ops.higher_order.wrap_with_set_grad_enabled": (
        "a `torch.no_grad()` block stops the gradient of what it computes, and the core ATen graph lossc translates "
        "drops the block; lossc refuses it rather than import another gradient"
    ),
    "torch.ops.higher_order.wrap_with_autocast": "autocast computes in mixed precision; lossc computes in one dtype",
}

_THIS_FILE = os.path.abspath(__file__)
_FRAME = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+), in (?P<function>.+?)\s*$')

Dim = Union[str, int]


def _frames(stack_trace: Optional[str]) -> List[Frame]:
    """The frames of a formatted traceback, outermost first (torch gives no columns)."""
    frames = []
    for line in (stack_trace or "").splitlines():
        match = _FRAME.match(line)
        # Code compiled from a string (`<string>`, fx's `<eval_with_key>`) is nobody's file.
        if match and not match["file"].startswith("<"):
            frames.append(Frame(match["file"], int(match["line"]), match["function"]))
    # Only the frames inside the traced call: the code that called
    # lossc.compile is not where the operation came from.
    for i in range(len(frames) - 1, -1, -1):
        if frames[i].function == "forward" and os.path.abspath(frames[i].file) == _THIS_FILE:
            return frames[i + 1:]
    return frames


@contextlib.contextmanager
def _all_frames():
    """While exporting: record every frame of each node's stack trace (torch
    keeps only the frames of ``forward`` methods otherwise, which would lose
    the user's lines inside a plain function)."""
    tracer = getattr(torch.fx.proxy, "TracerBase", None)
    original = getattr(tracer, "_filter_traceback_frames", None)
    if original is None:
        yield
        return
    tracer._filter_traceback_frames = lambda self, summary: summary
    # torch logs a dump of the graph when the function branches on a value;
    # lossc reports that itself.
    noisy = logging.getLogger("torch.fx.experimental.symbolic_shapes")
    level = noisy.level
    noisy.setLevel(logging.ERROR)
    try:
        yield
    finally:
        tracer._filter_traceback_frames = original
        noisy.setLevel(level)


class _Function(torch.nn.Module):
    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: Any) -> Any:
        return self.fn(*args)


class _T:
    """A traced value: its expression (``None`` for an uninitialised tensor
    such as ``empty``), its shape in torch, the shape of the expression (a
    constant broadcast lazily has shape ``()``), and its kind."""

    __slots__ = ("value", "shape", "vshape", "kind", "origin")

    def __init__(self, value: Optional[Value], shape: Tuple[Dim, ...], vshape: Tuple[Dim, ...], kind: str,
                 origin: Optional[Origin] = None) -> None:
        self.value = value
        self.shape = shape
        self.vshape = vshape
        self.kind = kind  # "float", "int", "bool", "sym"
        self.origin = origin


def _example_sizes(params: Sequence[Any]) -> Dict[str, int]:
    """Distinct example sizes for the named dimensions, none equal to a fixed
    dimension (so that torch cannot confuse them) and none below 2."""
    fixed = {d for p in params for d in p.dims if isinstance(d, int)}
    sizes: Dict[str, int] = {}
    candidate = 3
    for p in params:
        for d in p.dims:
            if isinstance(d, str) and d not in sizes:
                while candidate in fixed:
                    candidate += 1
                sizes[d] = candidate
                candidate += 1
    return sizes


def _example(param: Any, sizes: Dict[str, int], dtype: torch.dtype, integer: bool) -> torch.Tensor:
    shape = tuple(sizes[d] if isinstance(d, str) else d for d in param.dims)
    generator = torch.Generator().manual_seed(0)
    if integer:
        low = _integer_low(param.domain)
        return torch.full(shape, low, dtype=torch.int64)
    return torch.rand(shape, generator=generator, dtype=dtype) * 0.5 + 0.25


def _integer_low(domain: str) -> int:
    numbers = re.findall(r"-?\d+", domain)
    return int(numbers[0]) if numbers else 0


class _Translator:
    def __init__(self, builder: Builder, params: Sequence[Any], dtype: torch.dtype) -> None:
        self.b = builder
        self.params = params
        self.dtype = dtype
        self.symbols: Dict[str, str] = {}  # sympy symbol name -> dimension name
        self.env: Dict[Any, Any] = {}
        self.full: List[_T] = []  # values with their whole shape, for broadcast_like

    # ---- shapes -----------------------------------------------------------

    def dim_of(self, size: Any, origin: Optional[Origin], op: str) -> Dim:
        if isinstance(size, int):
            return size
        expr = size.node.expr
        if expr.is_Integer:
            return int(expr)
        name = self.symbols.get(str(expr))
        if name is None:
            raise self.b.unsupported(
                op, origin, f"a dimension of size `{expr}` (a product or sum of dimensions, as a flatten or a "
                "reshape makes) has no name in the .loss language"
            )
        return name

    def shape_of(self, val: Any, origin: Optional[Origin], op: str) -> Tuple[Dim, ...]:
        return tuple(self.dim_of(s, origin, op) for s in val.shape)

    @staticmethod
    def broadcast(*shapes: Tuple[Dim, ...]) -> Tuple[Dim, ...]:
        rank = max((len(s) for s in shapes), default=0)
        out: List[Dim] = []
        for i in range(rank):
            d: Dim = 1
            for s in shapes:
                if i < rank - len(s):
                    continue
                e = s[i - (rank - len(s))]
                if e != 1:
                    d = e
            out.append(d)
        return tuple(out)

    # ---- values -----------------------------------------------------------

    def const(self, number: Any) -> _T:
        if isinstance(number, bool):
            return _T(self.b.const(1 if number else 0), (), (), "bool")
        kind = "int" if isinstance(number, int) else "float"
        return _T(self.b.const(number), (), (), kind)

    def arg(self, a: Any, node: Any, origin: Optional[Origin]) -> _T:
        if isinstance(a, torch.fx.Node):
            entry = self.env[a]
            if isinstance(entry, tuple):
                raise self.b.unsupported(str(node.target), origin, "a tuple result used as a tensor")
            return entry
        if isinstance(a, (bool, int, float)):
            if isinstance(a, float) and math.isnan(a):
                raise self.b.unsupported(str(node.target), origin, "a NaN constant cannot be written in .loss")
            return self.const(a)
        raise self.b.unsupported(str(node.target), origin, f"an argument of type {type(a).__name__}")

    def number(self, t: _T, origin: Optional[Origin]) -> Value:
        if t.value is None:
            raise ImportFailure("an uninitialised tensor (`empty`) is read", origin)
        if t.kind == "bool":
            return self.b.call("float", t.value, origin=origin)
        return t.value

    def cond(self, t: _T, origin: Optional[Origin]) -> Value:
        if t.value is None:
            raise ImportFailure("an uninitialised tensor (`empty`) is read", origin)
        if t.kind == "bool":
            return t.value
        return self.b.binary("!=", t.value, self.b.const(0), origin)

    def whole(self, t: _T, origin: Optional[Origin], op: str) -> Value:
        """The expression of ``t`` with its whole torch shape (a lazily
        broadcast constant is broadcast with ``broadcast_like``)."""
        value = self.number(t, origin)
        if t.vshape == t.shape:
            return value
        for other in self.full:
            if other.vshape == t.shape and other.value is not None and other.kind != "bool":
                return self.b.call("broadcast_like", value, other.value, origin=origin)
        raise self.b.unsupported(op, origin, f"a tensor broadcast to shape {_text(t.shape)} that no value of the "
                                             "function has (broadcast_like needs one)")

    def add_result(self, node: Any, t: _T) -> None:
        self.env[node] = t
        if t.value is not None and t.vshape == t.shape and t.kind != "sym":
            self.full.append(t)

    # ---- the walk ---------------------------------------------------------

    def run(self, program: Any) -> None:
        graph = program.graph
        specs = {spec.arg.name: spec for spec in program.graph_signature.input_specs}
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        user = [n for n in placeholders if specs[n.name].kind.name == "USER_INPUT"]
        if len(user) != len(self.params):
            raise self.b.fail(f"the exported graph has {len(user)} inputs for {len(self.params)} parameters")
        for node in placeholders:
            spec = specs[node.name]
            if spec.kind.name == "USER_INPUT":
                continue
            tensor = program.constants.get(spec.target) if spec.kind.name in ("CONSTANT_TENSOR",) else None
            if tensor is None or tensor.dim() != 0:
                users = list(node.users)
                origin = self.b.origin(_frames(users[0].meta.get("stack_trace"))) if users else None
                if tensor is not None:
                    what, detail = "constant tensor", f"its shape is {_text(tuple(tensor.shape))}; "
                else:
                    what, detail = f"{spec.kind.name.lower().replace('_', ' ')} `{spec.target}`", ""
                raise self.b.unsupported(
                    what, origin, detail + "the importer writes number constants only (a module's parameters and "
                    "buffers, and constant tensors other than 0-d, cannot be imported; pass the tensor as an input)"
                )
            number = tensor.item()
            self.add_result(node, self.const(number))
        for node, param in zip(user, self.params):
            val = node.meta["val"]
            for size, d in zip(val.shape, param.dims):
                if not isinstance(size, int) and isinstance(d, str):
                    self.symbols[str(size.node.expr)] = d
            value = self.b.input(param.name, param.domain, param.dims)
            kind = "bool" if val.dtype == torch.bool else ("float" if val.dtype.is_floating_point else "int")
            self.add_result(node, _T(value, tuple(param.dims), tuple(param.dims), kind))
        for node in graph.nodes:
            if node.op == "placeholder":
                continue
            if node.op == "output":
                self.output(node)
                return
            if node.op != "call_function":
                raise self.b.unsupported(f"{node.op} {node.target}", None, "only calls of ATen operations import")
            origin = self.b.origin(_frames(node.meta.get("stack_trace")))
            self.node(node, origin)

    def output(self, node: Any) -> None:
        results = node.args[0]
        if isinstance(results, (tuple, list)):
            if len(results) != 1:
                raise self.b.fail(f"the function returns {len(results)} values; a loss returns one tensor")
            results = results[0]
        if not isinstance(results, torch.fx.Node):
            raise self.b.fail("the function returns no tensor computed from its inputs")
        t = self.env[results]
        origin = t.origin
        if t.kind == "bool":
            raise self.b.fail("the function returns a boolean tensor; a loss is a number", origin)
        if len(t.shape) > 1:
            raise self.b.fail(
                f"the function returns a tensor of shape {_text(t.shape)}; a loss is a scalar or a per-sample "
                "value [N] (use reduction='mean', or reduce the other axes)", origin
            )
        self.b.loss(self.whole(t, origin, "output"), origin=origin)

    def node(self, node: Any, origin: Optional[Origin]) -> None:
        target = node.target
        name = _op_name(target)
        val = node.meta.get("val")
        if target is operator.getitem:
            source, index = node.args
            entry = self.env[source]
            if not isinstance(entry, tuple):
                raise self.b.unsupported(name, origin, "indexing a tensor with [] in the graph")
            picked = entry[index]
            if picked is None:
                raise self.b.unsupported(str(source.target), origin, f"its result {index} (e.g. indices of a max)")
            self.env[node] = picked
            return
        if isinstance(val, (torch.SymInt, torch.SymFloat, int, float)) and not isinstance(val, bool):
            self.add_result(node, self.symbolic(node, name, origin))
            return
        if name in _ASSERTIONS:
            self.env[node] = None
            return
        handler = _HANDLERS.get(name)
        if handler is None:
            raise self.b.unsupported(name, origin, _UNSUPPORTED_DETAIL.get(name, "no built-in of the .loss language "
                                                                                   "computes it"))
        if isinstance(val, (tuple, list)):
            result = handler(self, node, origin, name)
            self.env[node] = result
            return
        if not isinstance(val, torch.Tensor):
            raise self.b.unsupported(name, origin, "a result that is not a tensor")
        if val.dtype.is_floating_point and val.dtype != self.dtype and not self.exact_cast(node, name):
            raise self.b.unsupported(
                name, origin, f"a {val.dtype} tensor in a {self.dtype} computation: lossc computes in one float type "
                "(mixed precision cannot be expressed)"
            )
        if val.is_complex():
            raise self.b.unsupported(name, origin, "complex numbers")
        shape = self.shape_of(val, origin, name)
        kind = "bool" if val.dtype == torch.bool else ("float" if val.dtype.is_floating_point else "int")
        value, vshape = handler(self, node, origin, name, shape)
        if kind == "bool" and value is not None and not _is_boolean(value):
            # torch computes some boolean results with numbers (`a * b` of
            # booleans is their `and`); the language keeps the two apart.
            value = self.b.binary("!=", value, self.b.const(0), origin)
        self.add_result(node, _T(value, shape, vshape if vshape is not None else shape, kind, origin))

    def exact_cast(self, node: Any, name: str) -> bool:
        """Integers and booleans converted to another float type (labels'
        `.float()` in a float64 trace): exact; what is computed from the
        result in that type is refused where it happens."""
        if name not in ("aten._to_copy.default", "aten.to.dtype"):
            return False
        source = node.args[0]
        return isinstance(source, torch.fx.Node) and getattr(self.env.get(source), "kind", None) in ("int", "bool")

    def symbolic(self, node: Any, name: str, origin: Optional[Origin]) -> _T:
        """A size (``sym_size``) or arithmetic on sizes."""
        if name == "aten.sym_size.int":
            source, axis = node.args
            t = self.env[source]
            d = t.shape[axis]
            value = self.b.dim(d) if isinstance(d, str) else self.b.const(d)
            return _T(value, (), (), "sym", origin)
        ops = {operator.mul: "*", operator.add: "+", operator.sub: "-", operator.truediv: "/"}
        if node.target in ops:
            a, c = (self.arg(x, node, origin) for x in node.args)
            return _T(self.b.binary(ops[node.target], a.value, c.value, origin), (), (), "sym", origin)
        if name in ("torch.sym_float", "sym_float"):
            return self.arg(node.args[0], node, origin)
        raise self.b.unsupported(name, origin, "arithmetic on sizes other than + - * /")


_BOOLEAN_OPERATORS = frozenset(("==", "!=", "<", "<=", ">", ">=", "and", "or", "not"))


def _is_boolean(value: Value) -> bool:
    if value.kind in ("binary", "unary"):
        return value.text in _BOOLEAN_OPERATORS
    return False


def _text(shape: Sequence[Dim]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _op_name(target: Any) -> str:
    if isinstance(target, torch._ops.HigherOrderOperator):
        return f"torch.ops.higher_order.{target.name()}"
    if isinstance(target, torch._ops.OpOverload):
        return f"aten.{target._opname}.{target._overloadname}" if target.namespace == "aten" else str(target)
    module = getattr(target, "__module__", None) or ""
    return f"{module}.{getattr(target, '__name__', target)}".lstrip(".")


# ---- handlers: (translator, node, origin, name, shape) -> (value, vshape) ----

Handler = Any
_HANDLERS: Dict[str, Handler] = {}

_UNSUPPORTED_DETAIL = {
    "aten.sort.default": "sorting has no built-in in the .loss language",
    "aten.sort.stable": "sorting has no built-in in the .loss language",
    "aten.argmax.default": "argmax gives indices; the .loss language has no index-valued built-in",
    "aten.argmin.default": "argmin gives indices; the .loss language has no index-valued built-in",
    "aten.topk.default": "top-k has no built-in in the .loss language",
    "aten.mm.default": "matrix products have no built-in (a row-wise dot `(a * b).sum(-1)` imports)",
    "aten.bmm.default": "matrix products have no built-in (a row-wise dot `(a * b).sum(-1)` imports)",
    "aten.cat.default": "concatenation has no built-in in the .loss language",
    "aten.stack.default": "stacking has no built-in in the .loss language",
    "aten.permute.default": "transposing axes has no built-in in the .loss language",
    "aten.cumsum.default": "cumulative sums have no built-in in the .loss language",
    "aten.index.Tensor": "advanced indexing has no built-in (class indices: use F.nll_loss or F.cross_entropy)",
    "aten.rand.default": "random numbers cannot be expressed (dropout, sampling)",
    "aten.bernoulli.p": "random numbers cannot be expressed (dropout, sampling)",
    "aten.native_dropout.default": "random numbers cannot be expressed (dropout)",
    "aten.fmax.default": "fmax ignores NaN; `maximum` does not",
    "aten.fmin.default": "fmin ignores NaN; `minimum` does not",
    "aten.trunc.default": "no built-in truncates toward zero",
    "aten.remainder.Tensor": "no built-in computes a remainder",
    "aten.remainder.Scalar": "no built-in computes a remainder",
    "aten.fmod.Tensor": "no built-in computes a remainder",
    "aten.fmod.Scalar": "no built-in computes a remainder",
    "aten.atan2.default": "no built-in computes atan2",
    "aten.erf.default": "no built-in computes erf",
    "aten.lgamma.default": "no built-in computes lgamma",
    "aten.log2.default": "the .loss language has the natural logarithm only",
    "aten.log10.default": "the .loss language has the natural logarithm only",
    "aten.prod.default": "no built-in computes a product over an axis",
    "aten.prod.dim_int": "no built-in computes a product over an axis",
}


def _handles(*names: str):
    def register(fn: Handler) -> Handler:
        for n in names:
            _HANDLERS[n] = fn
        return fn

    return register


def _elementwise(tr: _Translator, args: Sequence[_T]) -> Tuple[Dim, ...]:
    return tr.broadcast(*(a.vshape for a in args))


_UNARY = {
    "aten.exp.default": "exp",
    "aten.expm1.default": "expm1",
    "aten.log.default": "log",
    "aten.log1p.default": "log1p",
    "aten.sqrt.default": "sqrt",
    "aten.tanh.default": "tanh",
    "aten.sigmoid.default": "sigmoid",
    "aten.sin.default": "sin",
    "aten.cos.default": "cos",
    "aten.cosh.default": "cosh",
    "aten.tan.default": "tan",
    "aten.atan.default": "atan",
    "aten.asin.default": "asin",
    "aten.acos.default": "acos",
    "aten.log2.default": "log2",
    "aten.log10.default": "log10",
    "aten.erf.default": "erf",  # torch.erf, torch.special.erf, and torch.special.ndtr's decomposition
    "aten.erfc.default": "erfc",
    "aten.abs.default": "abs",
    "aten.sign.default": "sign",
    "aten.sgn.default": "sign",
    "aten.floor.default": "floor",
    "aten.ceil.default": "ceil",
    "aten.round.default": "round",
    "aten.relu.default": "relu",
}


@_handles(*_UNARY)
def _unary(tr, node, origin, name, shape):
    x = tr.arg(node.args[0], node, origin)
    return tr.b.call(_UNARY[name], tr.number(x, origin), origin=origin), x.vshape


@_handles("aten.neg.default")
def _neg(tr, node, origin, name, shape):
    x = tr.arg(node.args[0], node, origin)
    return tr.b.unary("-", tr.number(x, origin), origin), x.vshape


@_handles("aten.rsqrt.default")
def _rsqrt(tr, node, origin, name, shape):
    x = tr.arg(node.args[0], node, origin)
    return tr.b.binary("/", tr.b.const(1), tr.b.call("sqrt", tr.number(x, origin), origin=origin), origin), x.vshape


@_handles("aten.reciprocal.default")
def _reciprocal(tr, node, origin, name, shape):
    x = tr.arg(node.args[0], node, origin)
    return tr.b.binary("/", tr.b.const(1), tr.number(x, origin), origin), x.vshape


@_handles("aten.round.decimals")
def _round_decimals(tr, node, origin, name, shape):
    if node.kwargs.get("decimals", node.args[1] if len(node.args) > 1 else 0) != 0:
        raise tr.b.unsupported(name, origin, "rounding to decimals other than 0")
    x = tr.arg(node.args[0], node, origin)
    return tr.b.call("round", tr.number(x, origin), origin=origin), x.vshape


_BINARY = {
    "aten.add.Tensor": "+", "aten.add.Scalar": "+",
    "aten.sub.Tensor": "-", "aten.sub.Scalar": "-",
    "aten.rsub.Scalar": "r-", "aten.rsub.Tensor": "r-",
    "aten.mul.Tensor": "*", "aten.mul.Scalar": "*",
    "aten.div.Tensor": "/", "aten.div.Scalar": "/",
}


@_handles(*_BINARY)
def _binary(tr, node, origin, name, shape):
    op = _BINARY[name]
    a, c = (tr.arg(x, node, origin) for x in node.args[:2])
    alpha = node.kwargs.get("alpha", node.args[2] if len(node.args) > 2 and op != "/" else 1)
    if node.kwargs.get("rounding_mode") is not None:
        raise tr.b.unsupported(name, origin, f"division with rounding_mode={node.kwargs['rounding_mode']!r}")
    right = tr.number(c, origin)
    if alpha != 1:
        right = tr.b.binary("*", tr.b.const(alpha), right, origin)
    left = tr.number(a, origin)
    if op == "r-":
        op, left, right = "-", right, left
    return tr.b.binary(op, left, right, origin), _elementwise(tr, (a, c))


_COMPARE = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


@_handles(*(f"aten.{k}.{o}" for k in _COMPARE for o in ("Tensor", "Scalar")))
def _compare(tr, node, origin, name, shape):
    op = _COMPARE[name.split(".")[1]]
    a, c = (tr.arg(x, node, origin) for x in node.args[:2])
    return tr.b.binary(op, tr.number(a, origin), tr.number(c, origin), origin), _elementwise(tr, (a, c))


@_handles("aten.logical_and.default", "aten.logical_or.default", "aten.bitwise_and.Tensor", "aten.bitwise_or.Tensor")
def _logical(tr, node, origin, name, shape):
    a, c = (tr.arg(x, node, origin) for x in node.args[:2])
    if name.startswith("aten.bitwise") and (a.kind != "bool" or c.kind != "bool"):
        raise tr.b.unsupported(name, origin, "bitwise operations on integers")
    op = "and" if "and" in name else "or"
    return tr.b.binary(op, tr.cond(a, origin), tr.cond(c, origin), origin), _elementwise(tr, (a, c))


@_handles("aten.logical_not.default", "aten.bitwise_not.default")
def _not(tr, node, origin, name, shape):
    a = tr.arg(node.args[0], node, origin)
    if name.startswith("aten.bitwise") and a.kind != "bool":
        raise tr.b.unsupported(name, origin, "bitwise operations on integers")
    return tr.b.unary("not", tr.cond(a, origin), origin), a.vshape


@_handles("aten.where.self", "aten.where.ScalarSelf", "aten.where.ScalarOther", "aten.where.Scalar")
def _where(tr, node, origin, name, shape):
    c, a, e = (tr.arg(x, node, origin) for x in node.args[:3])
    value = tr.b.call("where", tr.cond(c, origin), tr.number(a, origin), tr.number(e, origin), origin=origin)
    return value, _elementwise(tr, (c, a, e))


@_handles("aten.maximum.default", "aten.minimum.default")
def _max_min(tr, node, origin, name, shape):
    a, c = (tr.arg(x, node, origin) for x in node.args[:2])
    function = "maximum" if "maximum" in name else "minimum"
    return tr.b.call(function, tr.number(a, origin), tr.number(c, origin), origin=origin), _elementwise(tr, (a, c))


@_handles("aten.clamp.default", "aten.clamp.Tensor", "aten.clamp_min.default", "aten.clamp_max.default",
          "aten.clamp_min.Tensor", "aten.clamp_max.Tensor")
def _clamp(tr, node, origin, name, shape):
    args = list(node.args) + [None] * 3
    x = tr.arg(args[0], node, origin)
    if "clamp_min" in name:
        low, high = args[1], None
    elif "clamp_max" in name:
        low, high = None, args[1]
    else:
        low, high = node.kwargs.get("min", args[1]), node.kwargs.get("max", args[2])
    value = tr.number(x, origin)
    operands = [x]
    if low is not None:
        lo = tr.arg(low, node, origin)
        operands.append(lo)
        value = tr.b.call("maximum", value, tr.number(lo, origin), origin=origin)
    if high is not None:
        hi = tr.arg(high, node, origin)
        operands.append(hi)
        value = tr.b.call("minimum", value, tr.number(hi, origin), origin=origin)
    return value, _elementwise(tr, operands)


@_handles("aten.pow.Tensor_Scalar", "aten.pow.Tensor_Tensor", "aten.pow.Scalar")
def _pow(tr, node, origin, name, shape):
    a, c = (tr.arg(x, node, origin) for x in node.args[:2])
    exponent = node.args[1]
    base = tr.number(a, origin)
    if name == "aten.pow.Tensor_Scalar" and exponent == 2:
        value = tr.b.call("square", base, origin=origin)  # torch computes x * x
    elif name == "aten.pow.Tensor_Scalar" and exponent == 0.5:
        value = tr.b.call("sqrt", base, origin=origin)  # torch computes sqrt(x)
    elif name == "aten.pow.Tensor_Scalar" and exponent == 1:
        return base, a.vshape
    else:
        value = tr.b.binary("^", base, tr.number(c, origin), origin)
    return value, _elementwise(tr, (a, c))


@_handles("aten.xlogy.Tensor", "aten.xlogy.Scalar_Other", "aten.xlogy.Scalar_Self")
def _xlogy(tr, node, origin, name, shape):
    a, c = (tr.arg(x, node, origin) for x in node.args[:2])
    return tr.b.call("xlogy", tr.number(a, origin), tr.number(c, origin), origin=origin), _elementwise(tr, (a, c))


@_handles("aten.isnan.default", "aten.isinf.default", "aten.isfinite.default", "aten.isposinf.default",
          "aten.isneginf.default")
def _isnan(tr, node, origin, name, shape):
    # Exact on every value: x != x is NaN; x == inf is +inf; abs(x) == inf either.
    x = tr.arg(node.args[0], node, origin)
    v = tr.number(x, origin)
    inf = tr.b.const(float("inf"))
    if name == "aten.isnan.default":
        value = tr.b.binary("!=", v, v, origin)
    elif name == "aten.isposinf.default":
        value = tr.b.binary("==", v, inf, origin)
    elif name == "aten.isneginf.default":
        value = tr.b.binary("==", v, tr.b.const(float("-inf")), origin)
    elif name == "aten.isinf.default":
        value = tr.b.binary("==", tr.b.call("abs", v, origin=origin), inf, origin)
    else:
        value = tr.b.binary("<", tr.b.call("abs", v, origin=origin), inf, origin)
    return value, x.vshape


# ---- constants and copies ----------------------------------------------------


def _fill(tr, node, origin, name, shape, number):
    if isinstance(number, float) and math.isnan(number):
        raise tr.b.unsupported(name, origin, "a NaN constant cannot be written in .loss")
    if isinstance(number, bool):
        number = int(number)
    return tr.b.const(number), ()


@_handles("aten.full.default", "aten.full_like.default", "aten.scalar_tensor.default")
def _full(tr, node, origin, name, shape):
    return _fill(tr, node, origin, name, shape, node.args[1] if name != "aten.scalar_tensor.default" else node.args[0])


@_handles("aten.zeros_like.default", "aten.zeros.default")
def _zeros(tr, node, origin, name, shape):
    return _fill(tr, node, origin, name, shape, 0)


@_handles("aten.ones_like.default", "aten.ones.default")
def _ones(tr, node, origin, name, shape):
    return _fill(tr, node, origin, name, shape, 1)


@_handles("aten.empty_permuted.default", "aten.empty.memory_format", "aten.empty_like.default")
def _empty(tr, node, origin, name, shape):
    return None, shape


@_handles("aten.clone.default", "aten.alias.default", "aten.lift_fresh_copy.default", "aten.contiguous.default")
def _identity(tr, node, origin, name, shape):
    x = tr.arg(node.args[0], node, origin)
    return x.value, x.vshape


@_handles("aten._to_copy.default", "aten.to.dtype")
def _to_copy(tr, node, origin, name, shape):
    x = tr.arg(node.args[0], node, origin)
    out = node.meta["val"].dtype
    if out == torch.bool:
        return tr.cond(x, origin), x.vshape
    if out.is_floating_point:
        return tr.number(x, origin), x.vshape
    if x.kind in ("bool", "int"):
        return tr.number(x, origin), x.vshape
    raise tr.b.unsupported(name, origin, f"converting floats to {out} truncates; no built-in truncates toward zero")


# ---- reductions ----------------------------------------------------------------


def _axes(dims: Any, rank: int) -> Optional[Tuple[int, ...]]:
    if dims is None:
        return None
    if isinstance(dims, int):
        dims = [dims]
    if len(dims) == 0:
        return None
    return tuple(sorted({d % rank if rank else 0 for d in dims}))


def _reduce(tr, origin, name, function, t, dims, keepdim, shape):
    value = tr.whole(t, origin, name)
    rank = len(t.shape)
    axes = _axes(dims, rank)
    if rank == 0:
        return value, shape
    if axes is None:
        if not keepdim:
            return tr.b.call(function, value, origin=origin), shape
        axes = tuple(range(rank))
    axis: Any = axes[0] - rank if len(axes) == 1 else tuple(a - rank for a in axes)
    return tr.b.call(function, value, origin=origin, axis=axis, keepdims=True if keepdim else None), shape


@_handles("aten.sum.default", "aten.sum.dim_IntList", "aten.mean.default", "aten.mean.dim", "aten.amax.default",
          "aten.amin.default", "aten.max.default", "aten.min.default", "aten.logsumexp.default")
def _reduction(tr, node, origin, name, shape):
    function = {"sum": "sum", "mean": "mean", "amax": "max", "amin": "min", "max": "max", "min": "min",
                "logsumexp": "logsumexp"}[name.split(".")[1]]
    t = tr.arg(node.args[0], node, origin)
    dtype = node.kwargs.get("dtype")
    if dtype is not None and not dtype.is_floating_point and t.kind == "float":
        raise tr.b.unsupported(name, origin, f"a reduction of floats in {dtype} (it truncates)")
    dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    keepdim = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
    if function in ("max", "min") and t.kind == "bool":
        raise tr.b.unsupported(name, origin, "max/min of a boolean tensor")
    return _reduce(tr, origin, name, function, t, dims, keepdim, shape)


@_handles("aten.max.dim", "aten.min.dim")
def _max_dim(tr, node, origin, name, shape_unused=None):
    t = tr.arg(node.args[0], node, origin)
    dim = node.args[1]
    keepdim = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
    out = node.meta["val"][0]
    shape = tr.shape_of(out, origin, name)
    function = "max" if name.startswith("aten.max") else "min"
    value, _ = _reduce(tr, origin, name, function, t, dim, keepdim, shape)
    return (_T(value, shape, shape, t.kind, origin), None)


@_handles("aten.any.default", "aten.any.dim", "aten.any.dims", "aten.all.default", "aten.all.dim", "aten.all.dims")
def _any_all(tr, node, origin, name, shape):
    t = tr.arg(node.args[0], node, origin)
    as_float = _T(tr.b.call("float", tr.cond(t, origin), origin=origin), t.shape, t.vshape, "float")
    dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    keepdim = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
    function = "max" if ".any" in name or name.startswith("aten.any") else "min"
    value, _ = _reduce(tr, origin, name, function, as_float, dims, keepdim, shape)
    return tr.b.binary("==", value, tr.b.const(1), origin), shape


@_handles("aten.var.correction")
def _var(tr, node, origin, name, shape):
    # sum((x - mean(x))^2) / (n - correction) over the reduced axes.
    t = tr.arg(node.args[0], node, origin)
    dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    correction = node.kwargs.get("correction")
    correction = 1 if correction is None else correction
    keepdim = node.kwargs.get("keepdim", False)
    rank = len(t.shape)
    axes = _axes(dims, rank)
    axes = tuple(range(rank)) if axes is None else axes
    mean, _ = _reduce(tr, origin, name, "mean", t, axes, True, shape)
    centred = tr.b.call("square", tr.b.binary("-", tr.whole(t, origin, name), mean, origin), origin=origin)
    centred_t = _T(centred, t.shape, t.shape, "float", origin)
    total, _ = _reduce(tr, origin, name, "sum", centred_t, axes, keepdim, shape)
    count = None
    for a in axes:
        size = t.shape[a]
        d = tr.b.dim(size) if isinstance(size, str) else tr.b.const(size)
        count = d if count is None else tr.b.binary("*", count, d, origin)
    if count is None:
        count = tr.b.const(1)
    if correction:
        count = tr.b.binary("-", count, tr.b.const(correction), origin)
    return tr.b.binary("/", total, count, origin), shape


@_handles("aten.one_hot.default")
def _one_hot(tr, node, origin, name, shape):
    t = tr.arg(node.args[0], node, origin)
    if t.kind != "int" or len(t.shape) != 1:
        raise tr.b.unsupported(name, origin, "one_hot of anything but a vector [N] of integer labels")
    classes = shape[-1]
    count = tr.b.dim(classes) if isinstance(classes, str) else tr.b.const(classes)
    return tr.b.call("one_hot", tr.whole(t, origin, name), count, origin=origin), shape


@_handles("aten.linalg_vector_norm.default")
def _norm(tr, node, origin, name, shape):
    t = tr.arg(node.args[0], node, origin)
    order = node.args[1] if len(node.args) > 1 else node.kwargs.get("ord", 2)
    if order != 2:
        raise tr.b.unsupported(name, origin, f"the {order}-norm (only the L2 norm has a built-in)")
    dims = node.args[2] if len(node.args) > 2 else node.kwargs.get("dim")
    keepdim = node.args[3] if len(node.args) > 3 else node.kwargs.get("keepdim", False)
    return _reduce(tr, origin, name, "norm", t, dims, keepdim, shape)


@_handles("aten._log_softmax.default", "aten._softmax.default")
def _softmax(tr, node, origin, name, shape):
    t = tr.arg(node.args[0], node, origin)
    rank = len(t.shape)
    axis = node.args[1] % rank - rank if rank else -1
    function = "log_softmax" if "log" in name else "softmax"
    return tr.b.call(function, tr.whole(t, origin, name), origin=origin, axis=axis), shape


@_handles("aten.log_sigmoid_forward.default")
def _log_sigmoid(tr, node, origin, name, shape_unused=None):
    t = tr.arg(node.args[0], node, origin)
    value = tr.b.call("log_sigmoid", tr.number(t, origin), origin=origin)
    return (_T(value, t.shape, t.vshape, "float", origin), None)


@_handles("aten.softplus.default")
def _softplus(tr, node, origin, name, shape):
    # torch: x where beta * x > threshold, else log1p(exp(beta * x)) / beta.
    t = tr.arg(node.args[0], node, origin)
    beta = node.args[1] if len(node.args) > 1 else node.kwargs.get("beta", 1)
    threshold = node.args[2] if len(node.args) > 2 else node.kwargs.get("threshold", 20)
    x = tr.number(t, origin)
    scaled = x if beta == 1 else tr.b.binary("*", x, tr.b.const(beta), origin)
    soft = tr.b.call("softplus", scaled, origin=origin)
    if beta != 1:
        soft = tr.b.binary("/", soft, tr.b.const(beta), origin)
    cond = tr.b.binary(">", scaled, tr.b.const(threshold), origin)
    return tr.b.call("where", cond, x, soft, origin=origin), t.vshape


# ---- shapes --------------------------------------------------------------------


@_handles("aten.unsqueeze.default")
def _unsqueeze(tr, node, origin, name, shape):
    t = tr.arg(node.args[0], node, origin)
    axis = node.args[1] % len(shape)
    return tr.b.call("expand_dims", tr.whole(t, origin, name), origin=origin, axis=axis - len(shape)), shape


def _drop_unit_axes(tr, value, shape, axes, origin):
    for axis in sorted(axes, reverse=True):
        value = tr.b.call("take", value, tr.b.const(0), origin=origin, axis=axis - len(shape))
        shape = shape[:axis] + shape[axis + 1:]
    return value


@_handles("aten.squeeze.dims", "aten.squeeze.dim", "aten.squeeze.default")
def _squeeze(tr, node, origin, name, shape):
    t = tr.arg(node.args[0], node, origin)
    rank = len(t.shape)
    if name == "aten.squeeze.default":
        axes = [i for i, d in enumerate(t.shape) if d == 1]
    else:
        dims = node.args[1]
        dims = [dims] if isinstance(dims, int) else list(dims)
        axes = [d % rank for d in dims if t.shape[d % rank] == 1]
    if not axes:
        return t.value, t.vshape
    return _drop_unit_axes(tr, tr.whole(t, origin, name), t.shape, axes, origin), shape


@_handles("aten.view.default", "aten.reshape.default", "aten._unsafe_view.default")
def _view(tr, node, origin, name, shape):
    t = tr.arg(node.args[0], node, origin)
    if tuple(shape) == tuple(t.shape):
        return t.value, t.vshape
    if [d for d in t.shape if d != 1] != [d for d in shape if d != 1]:
        raise tr.b.unsupported(
            name, origin, f"a reshape from {_text(t.shape)} to {_text(shape)} (only adding or removing axes of size 1 "
            "can be expressed)"
        )
    value = tr.whole(t, origin, name)
    # Remove every unit axis, then insert the result's.
    value = _drop_unit_axes(tr, value, t.shape, [i for i, d in enumerate(t.shape) if d == 1], origin)
    new = [i for i, d in enumerate(shape) if d == 1]
    if new:
        axis: Any = new[0] - len(shape) if len(new) == 1 else tuple(i - len(shape) for i in new)
        value = tr.b.call("expand_dims", value, origin=origin, axis=axis)
    return value, shape


@_handles("aten.expand.default")
def _expand(tr, node, origin, name, shape):
    t = tr.arg(node.args[0], node, origin)
    return t.value, t.vshape  # broadcasting is lazy: the shape is kept, the value broadcasts where used


@_handles("aten.select.int")
def _select(tr, node, origin, name, shape):
    t = tr.arg(node.args[0], node, origin)
    rank = len(t.shape)
    axis = node.args[1] % rank
    index = node.args[2]
    if not isinstance(index, int):
        raise tr.b.unsupported(name, origin, "an index that is not a constant")
    if index < 0:
        size = t.shape[axis]
        if not isinstance(size, int):
            raise tr.b.unsupported(name, origin, "a negative index along a named dimension")
        index += size
    return tr.b.call("take", tr.whole(t, origin, name), tr.b.const(index), origin=origin, axis=axis - rank), shape


@_handles("aten.slice.Tensor")
def _slice(tr, node, origin, name, shape):
    t = tr.arg(node.args[0], node, origin)
    if tuple(shape) == tuple(t.shape) and (len(node.args) < 5 or node.args[4] == 1):
        return t.value, t.vshape
    raise tr.b.unsupported(name, origin, "slicing part of an axis (take one index with x[..., i] instead)")


@_handles("aten.gather.default")
def _gather(tr, node, origin, name, shape):
    # x.gather(-1, labels.unsqueeze(-1)) on [N, C]: the entry of each row at its
    # label, written sum(where(one_hot(labels, C) == 1, x, 0), axis=-1, keepdims=true).
    t = tr.arg(node.args[0], node, origin)
    index = tr.arg(node.args[2], node, origin)
    rank = len(t.shape)
    axis = node.args[1] % rank if rank else 0
    if rank != 2 or axis != 1 or tuple(index.shape) != (t.shape[0], 1) or index.kind != "int":
        raise tr.b.unsupported(
            name, origin, "a gather other than picking one class per row of an [N, C] tensor (as nll_loss does)"
        )
    if node.kwargs.get("sparse_grad"):
        raise tr.b.unsupported(name, origin, "sparse_grad=True")
    idx = tr.whole(index, origin, name)
    if idx.kind == "call" and idx.text == "expand_dims" and idx.keywords == (("axis", "-1"),):
        labels = idx.args[0]
    else:
        labels = tr.b.call("take", idx, tr.b.const(0), origin=origin, axis=-1)
    classes = t.shape[1]
    count = tr.b.dim(classes) if isinstance(classes, str) else tr.b.const(classes)
    picked = tr.b.binary("==", tr.b.call("one_hot", labels, count, origin=origin), tr.b.const(1), origin)
    value = tr.b.call("where", picked, tr.whole(t, origin, name), tr.b.const(0), origin=origin)
    return tr.b.call("sum", value, origin=origin, axis=-1, keepdims=True), shape


# Checks torch inserts on dtypes and sizes: they compute nothing.
_ASSERTIONS = frozenset(
    ("aten._assert_tensor_metadata.default", "aten._assert_scalar.default", "aten.sym_constrain_range_for_size.default")
)


# ---- tracing -----------------------------------------------------------------------


def _decompositions() -> Any:
    table = torch.export.default_decompositions()
    for op in _KEPT:
        packet, overload = op.split(".")
        table.pop(getattr(getattr(aten, packet), overload), None)
    return table


def _user_origin(builder: Builder, error: BaseException) -> Optional[Origin]:
    import traceback

    frames = [Frame(f.filename, f.lineno or 0, f.name) for f in traceback.extract_tb(error.__traceback__)]
    return builder.origin(frames)


def _export(builder: Builder, fn: Any, params: Sequence[Any], integer_as_int: Sequence[bool]) -> Any:
    dtype = torch.float64 if builder.dtype == "float64" else torch.float32
    sizes = _example_sizes(params)
    _keep_triton_out_after_tensorflow()
    dims = {name: torch.export.Dim(name, min=2) for name in sizes}
    examples = tuple(_example(p, sizes, dtype, integer) for p, integer in zip(params, integer_as_int))
    specs = tuple({i: dims[d] for i, d in enumerate(p.dims) if isinstance(d, str)} or None for p in params)
    # On failure torch.export prints the partial graph to stderr; lossc
    # reports the failure itself, so that text is dropped (kept on success).
    captured = io.StringIO()
    with _all_frames(), contextlib.redirect_stderr(captured):
        exported = torch.export.export(_Function(fn), examples, dynamic_shapes=(specs,), strict=False)
    sys.stderr.write(captured.getvalue())
    return exported


def _keep_triton_out_after_tensorflow() -> None:
    """Once TensorFlow is imported, importing triton aborts the interpreter
    (their native libraries clash), and ``torch.export`` imports triton only
    to ask whether it is installed. So when TensorFlow is loaded and triton is
    not, triton is marked absent for this process: export runs without it
    (it needs none) instead of the interpreter aborting. A later ``import
    triton`` in this process raises ImportError rather than aborting."""
    if "tensorflow" in sys.modules and "triton" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]


def trace(builder: Builder, fn: Any, params: Sequence[Any]) -> None:
    """Exports ``fn`` with torch.export and translates its core ATen graph."""
    dtype = torch.float64 if builder.dtype == "float64" else torch.float32
    # Integer-domain inputs are traced as int64 tensors (class indices) when
    # the domain is a range {a..b}, else as floats ({0, 1} labels of a
    # binary loss); if the function refuses that dtype, the other is tried.
    first = [p.integer and ".." in p.domain for p in params]
    attempts = [first]
    other = [p.integer and not f for p, f in zip(params, first)]
    if other != first and any(p.integer for p in params):
        attempts.append(other)
    exported = None
    error: Optional[BaseException] = None
    for integer_as_int in attempts:
        try:
            exported = _export(builder, fn, params, integer_as_int)
            break
        except Exception as e:  # noqa: BLE001 (reported below)
            if error is None:
                error = e
            if not _is_dtype_error(e):
                break
    if exported is None:
        assert error is not None
        raise _translate_error(builder, error, params)
    # Gradient-changing operations vanish in the decomposition: refuse them here.
    _refuse_gradient_changes(builder, exported.graph_module)
    with _all_frames():
        decomposed = exported.run_decompositions(_decompositions())
    _Translator(builder, params, dtype).run(decomposed)


def _refuse_gradient_changes(builder: Builder, module: Any) -> None:
    """Refuses what the training graph has and the core ATen graph drops:
    ``detach()``, ``torch.no_grad()`` blocks, autocast (also inside the
    submodules of higher-order operations)."""
    for node in module.graph.nodes:
        if node.op == "get_attr":
            inner = getattr(module, node.target, None)
            if isinstance(inner, torch.fx.GraphModule):
                _refuse_gradient_changes(builder, inner)
            continue
        if node.op != "call_function":
            continue
        op = _op_name(node.target)
        if op not in _GRADIENT_CHANGING:
            continue
        if op.endswith("wrap_with_set_grad_enabled") and node.args and node.args[0] is True:
            continue  # torch.enable_grad(): the gradient flows as usual
        frames = _frames(node.meta.get("stack_trace"))
        if not frames and len(node.args) > 1 and isinstance(node.args[1], torch.fx.Node):
            inner = getattr(module, str(node.args[1].target), None)
            for n in getattr(inner, "graph", torch.fx.Graph()).nodes:
                frames = _frames(n.meta.get("stack_trace"))
                if frames:
                    break
        raise builder.unsupported(op, builder.origin(frames), _GRADIENT_CHANGING[op])


def _is_dtype_error(error: BaseException) -> bool:
    text = str(error)
    return any(s in text for s in ("dtype", "scalar type", "Long", "Float", "Double"))


def _translate_error(builder: Builder, error: BaseException, params: Sequence[Any]) -> BaseException:
    """A failure of torch.export as the user sees it: data-dependent control
    flow and shape constraints get a clear message; an exception the
    function itself raised is re-raised (lossc reports it at its line)."""
    name = type(error).__name__
    text = str(error)
    origin = _user_origin(builder, error)
    if "data-dependent" in text or name in ("GuardOnDataDependentSymNode", "DataDependentOutputException"):
        return builder.fail(
            "not traceable: Python control flow (`if`, `bool()`, `.item()`, `.tolist()`) depends on a tensor's "
            "values, which torch.export cannot trace; compute both branches with `torch.where` instead", origin
        )
    given = ", ".join(f"`{p.name}` {_text(p.dims)}" for p in params)
    if "Constraints violated" in text or "specialized" in text or "specialize" in text:
        lines = [line.strip() for line in text.splitlines() if line.strip().startswith("- ")]
        detail = ("; ".join(lines[:3])) if lines else text.strip().splitlines()[0]
        return builder.fail(
            f"the function's shapes do not agree with the shapes given ({given}; the same name for the same axis): "
            f"torch.export says: {detail}", origin
        )
    if isinstance(error, RuntimeError) and ("must match the size" in text or "broadcastable" in text):
        detail = text.strip().splitlines()[0]
        return builder.fail(
            f"the function's shapes do not agree with the shapes given ({given}; the same name for the same axis; "
            f"torch names named dimensions s0, s1...): {detail}", origin
        )
    if isinstance(error, ImportFailure):
        return error
    return error
