"""Importing TensorFlow and tf.keras losses: the graph of
``tf.function(fn, autograph=False).get_concrete_function(TensorSpec...)``.

The graph is walked from the function's result back to its inputs. Every
operation is translated into the one built-in of the language that computes
it, or is an error naming the operation and the user's line:

- elementwise arithmetic, comparisons, logic, ``Select``/``SelectV2``
  (``tf.where``), the unary functions of the language (``Log``, ``Sigmoid``,
  ``Softplus``, ``Rsqrt`` as ``1 / sqrt``, ...), ``SquaredDifference``,
  ``DivNoNan``, ``ClipByValue`` (and the ``Maximum(Minimum(x, hi), lo)`` that
  ``tf.clip_by_value`` traces to) as ``clip``;
- reductions (``Sum``, ``Mean``, ``Max``, ``Min``, ``All``, ``Any``) with
  constant axes and ``keep_dims``; ``LogSoftmax``, ``Softmax``,
  ``SparseSoftmaxCrossEntropyWithLogits`` and ``SoftmaxCrossEntropyWithLogits``;
- shapes: ``ExpandDims``, ``Squeeze``, ``Reshape`` and ``BroadcastTo`` where
  they only add or remove axes of size 1 (or do nothing), ``StridedSlice`` of
  a tensor by single indices (``take``) and full slices, and the symbolic
  sizes ``Shape``/``Size``/``Rank`` of a tensor (a dimension used as a number
  is the dimension's name);
- ``StatelessIf``/``If`` on a scalar condition (the ``tf.cond`` of tf.keras's
  label conversion, ``K.switch`` on a scalar): both branches are translated,
  and selected with ``where``;
- operations whose inputs are all constants are computed by TensorFlow
  itself when traced (``tf.cast(tf.math.log(2.0), dtype)``): the constant the
  graph computes is the constant of the program.

A float tensor computed in another precision than the program's dtype is an
error (lossc evaluates everything in one dtype), as is any operation not
listed here.
"""

from __future__ import annotations

import inspect
import os
import traceback as _traceback
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

import tensorflow as tf
from tensorflow.python.framework import tensor_util

from ._program import Builder, Frame, ImportFailure, Origin, Value

FRAMEWORK_NAME = f"TensorFlow {tf.__version__}"

Dim = Union[str, int]


class _T:
    """A translated tensor: the expression (``value``), its shape in the
    language's dimensions, and, when the graph knows it, its constant value
    (``const``) or its symbolic integer value (``sym``: a list of dimensions
    for a shape vector, or one dimension for a size)."""

    __slots__ = ("value", "shape", "const", "sym", "boolean", "dtype", "fill")

    def __init__(self, value: Optional[Value], shape: Tuple[Dim, ...], *, const: Optional[np.ndarray] = None,
                 sym: Any = None, boolean: bool = False, dtype: Any = None, fill: Optional[int] = None) -> None:
        self.fill = fill  # a tensor of `shape` filled with this number (zeros_like, ones_like)
        self.value = value
        self.shape = tuple(shape)
        self.const = const
        self.sym = sym
        self.boolean = boolean
        self.dtype = dtype


_UNARY = {
    "Abs": "abs",
    "Log": "log",
    "Log1p": "log1p",
    "Exp": "exp",
    "Expm1": "expm1",
    "Square": "square",
    "Sigmoid": "sigmoid",
    "Softplus": "softplus",
    "Tanh": "tanh",
    "Sign": "sign",
    "Floor": "floor",
    "Ceil": "ceil",
    "Round": "round",  # half to even, as tf.round
    "Relu": "relu",
    "Sin": "sin",
    "Cos": "cos",
    "Cosh": "cosh",
    # tf.math's; tf.experimental.numpy.log2/log10 trace to `Log` divided by a
    # constant, which imports as it is.
    "Tan": "tan",
    "Atan": "atan",
    "Asin": "asin",
    "Acos": "acos",
    "Erf": "erf",
    "Erfc": "erfc",
    "StopGradient": "stop_gradient",
}

_BINARY = {
    "AddV2": "+",
    "Add": "+",
    "Sub": "-",
    "Mul": "*",
    "RealDiv": "/",
    "Pow": "^",
}

_COMPARE = {
    "Equal": "==",
    "NotEqual": "!=",
    "Less": "<",
    "LessEqual": "<=",
    "Greater": ">",
    "GreaterEqual": ">=",
}

_PASS_THROUGH = {"Identity", "Snapshot", "EnsureShape", "PreventGradient_"}

_REDUCE = {"Sum": "sum", "Mean": "mean", "Max": "max", "Min": "min"}

# Operations never computed ahead of time even when their inputs are constants.
_NO_FOLD = {"Placeholder", "VarHandleOp", "ReadVariableOp", "StatelessIf", "If", "While", "StatelessWhile"}


_THIS_FILE = os.path.abspath(__file__)


_SHAPE_ARITHMETIC = {"AddV2", "Add", "Sub", "Mul", "Maximum", "Minimum", "Equal", "NotEqual", "Less", "LessEqual",
                     "Greater", "GreaterEqual", "SelectV2", "Select"}


def _shape_element(kind: str, items: Sequence[Any]) -> Any:
    """One element of arithmetic on shape vectors, or None when it depends on
    a named dimension's size."""
    if kind in ("SelectV2", "Select"):
        condition, a, b = items
        if isinstance(condition, (bool, np.bool_, int, np.integer)):
            return a if condition else b
        return None
    a, b = items
    if isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)):
        a, b = int(a), int(b)
        return {"AddV2": a + b, "Add": a + b, "Sub": a - b, "Mul": a * b, "Maximum": max(a, b),
                "Minimum": min(a, b), "Equal": a == b, "NotEqual": a != b, "Less": a < b, "LessEqual": a <= b,
                "Greater": a > b, "GreaterEqual": a >= b}[kind]
    if isinstance(a, str) and a == b:
        return {"Sub": 0, "Maximum": a, "Minimum": a, "Equal": True, "NotEqual": False, "Less": False,
                "LessEqual": True, "Greater": False, "GreaterEqual": True}.get(kind)
    if isinstance(a, str) and isinstance(b, (int, np.integer)) and kind in ("Mul",) and int(b) == 1:
        return a
    if isinstance(b, str) and isinstance(a, (int, np.integer)) and kind in ("Mul",) and int(a) == 1:
        return b
    if kind in ("Maximum",) and isinstance(b, (int, np.integer)) and int(b) <= 1 and isinstance(a, str):
        return a  # a named dimension is at least 1
    if kind in ("Maximum",) and isinstance(a, (int, np.integer)) and int(a) <= 1 and isinstance(b, str):
        return b
    return None


def _only_consumer(tensor: Any, op: Any) -> bool:
    return all(c is op or c == op for c in tensor.consumers())


def _match_logsumexp(op: Any) -> Any:
    """The graph of ``tf.reduce_logsumexp(x, axis, keepdims)``::

        m = Max(x, axes, keep_dims=True); s = StopGradient(SelectV2(IsFinite(m), m, 0))
        AddV2(Log(Sum(Exp(Sub(x, s)), axes, keep_dims)), Reshape(s, Shape(Log)))

    matched exactly; returns ("logsumexp", (x, axes), keep_dims) or None."""
    try:
        if op.type != "AddV2":
            return None
        log, reshape = (i.op for i in op.inputs)
        if log.type != "Log" or reshape.type != "Reshape":
            return None
        total = log.inputs[0].op
        if total.type != "Sum":
            return None
        exp = total.inputs[0].op
        if exp.type != "Exp":
            return None
        sub = exp.inputs[0].op
        if sub.type != "Sub":
            return None
        x, stop = sub.inputs[0], sub.inputs[1].op
        if stop.type != "StopGradient" or reshape.inputs[0].op is not stop and reshape.inputs[0].op != stop:
            return None
        if reshape.inputs[1].op.type != "Shape" or reshape.inputs[1].op.inputs[0].op != log:
            return None
        select = stop.inputs[0].op
        if select.type != "SelectV2":
            return None
        finite, maximum, zero = (i.op for i in select.inputs)
        if finite.type != "IsFinite" or maximum.type != "Max" or zero.type != "Const":
            return None
        if finite.inputs[0].op != maximum or maximum.inputs[0] is not x and maximum.inputs[0] != x:
            return None
        if not maximum.get_attr("keep_dims") or np.any(tensor_util.MakeNdarray(zero.get_attr("value")) != 0):
            return None
        axes_max = maximum.inputs[1].op
        axes_sum = total.inputs[1].op
        if axes_max.type != "Const" or axes_sum.type != "Const":
            return None
        if not np.array_equal(tensor_util.MakeNdarray(axes_max.get_attr("value")),
                              tensor_util.MakeNdarray(axes_sum.get_attr("value"))):
            return None
        for tensor, consumer in ((log.outputs[0], None), (total.outputs[0], log), (exp.outputs[0], total),
                                 (sub.outputs[0], exp)):
            if consumer is not None and not _only_consumer(tensor, consumer):
                return None
        return "logsumexp", (x, total.inputs[1]), bool(total.get_attr("keep_dims"))
    except Exception:
        return None


def _match_logistic_loss(op: Any) -> Any:
    """The graph of ``tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x)``::

        c = GreaterEqual(x, ZerosLike(x))
        AddV2(Sub(Select(c, x, zeros), Mul(x, z)), Log1p(Exp(Select(c, Neg(x), x))))

    that is max(x, 0) - x z + log(1 + e^-|x|), the stable softplus(x) - x z;
    returns ("logistic_loss", (x, x z), None) or None."""
    try:
        if op.type != "AddV2":
            return None
        sub, log1p = (i.op for i in op.inputs)
        if sub.type != "Sub" or log1p.type != "Log1p":
            return None
        relu, product = (i.op for i in sub.inputs)
        exp = log1p.inputs[0].op
        if relu.type not in ("Select", "SelectV2") or product.type != "Mul" or exp.type != "Exp":
            return None
        negabs = exp.inputs[0].op
        if negabs.type not in ("Select", "SelectV2"):
            return None
        condition, x, zeros = relu.inputs
        if condition.op.type != "GreaterEqual" or zeros.op.type != "ZerosLike":
            return None
        if condition.op.inputs[0].ref() != x.ref() or condition.op.inputs[1].ref() != zeros.ref():
            return None
        if zeros.op.inputs[0].ref() != x.ref():
            return None
        condition2, negated, x2 = negabs.inputs
        if condition2.ref() != condition.ref() or x2.ref() != x.ref() or negated.op.type != "Neg":
            return None
        if negated.op.inputs[0].ref() != x.ref():
            return None
        if x.ref() not in {i.ref() for i in product.inputs}:
            return None
        for tensor, consumer in ((sub.outputs[0], op), (log1p.outputs[0], op), (exp.outputs[0], log1p),
                                 (negabs.outputs[0], exp), (relu.outputs[0], sub)):
            if not _only_consumer(tensor, consumer):
                return None
        return "logistic_loss", (x, product.outputs[0]), None
    except Exception:
        return None


def _frames(op: Any) -> List[Frame]:
    """The traceback TensorFlow recorded for an operation, from the traced
    function inward: the frames of whoever called lossc are not the loss's."""
    try:
        frames = [Frame(fr.filename, fr.lineno, fr.name) for fr in op.traceback]
    except Exception:
        return []
    ours = [i for i, f in enumerate(frames) if f.file and os.path.abspath(f.file) == _THIS_FILE]
    return frames[ours[-1] + 1:] if ours else frames


def _dims_text(shape: Sequence[Dim]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


class _Importer:
    def __init__(self, builder: Builder, fn: Any, params: Sequence[Any]) -> None:
        self.b = builder
        # A function already decorated with tf.function is traced as its Python
        # function (without AutoGraph, as every function lossc traces).
        while hasattr(fn, "python_function") and callable(fn.python_function):
            fn = fn.python_function
        self.fn = fn
        self.params = list(params)
        self.float_dtype = tf.float32 if builder.dtype == "float32" else tf.float64
        self.memo: Dict[Any, _T] = {}
        self.inputs: List[_T] = []
        self.patterns: Dict[Tuple[int, str], Any] = {}

    # ---- entry -------------------------------------------------------------

    def run(self) -> None:
        # Integer inputs (labels) are traced as int32; TensorFlow does not
        # promote types, so a function that does float arithmetic on its labels
        # (`y_true - y_pred`, as Keras passes them) is traced again with them as floats.
        # When both traces fail, the first error (with integer labels) is the one reported.
        attempts = [True, False] if any(p.integer for p in self.params) else [False]
        first_error: Optional[BaseException] = None
        for integer in attempts:
            specs = [
                tf.TensorSpec([None if isinstance(d, str) else int(d) for d in p.dims],
                              tf.int32 if p.integer and integer else self.float_dtype)
                for p in self.params
            ]
            try:
                concrete = tf.function(self.fn, autograph=False).get_concrete_function(*specs)
                break
            except Exception as error:  # the user's code failed while TensorFlow traced it
                if integer:
                    first_error = error
                    continue
                error = first_error or error
                raise self._tracing_failure(error) from error
        graph = concrete.graph
        placeholders = list(graph.inputs)[: len(self.params)]
        for param, placeholder in zip(self.params, placeholders):
            value = self.b.input(param.name, param.domain, param.dims)
            t = _T(value, tuple(param.dims), dtype=placeholder.dtype)
            self.inputs.append(t)
            self.memo[placeholder.ref()] = t
        self.captures = {internal.ref(): external for external, internal in graph.captures}
        result = concrete.structured_outputs
        if not isinstance(result, tf.Tensor):
            raise self.b.fail(
                f"the function returned {type(result).__name__ if result is not None else 'None'}, not one tensor; "
                "lossc imports a function that returns its loss"
            )
        output = concrete.outputs[0]
        while output.op.type in ("Identity", "IdentityN") and output.op.inputs:
            output = output.op.inputs[output.value_index if output.op.type == "IdentityN" else 0]
        origin = self.origin(output.op)
        t = self.tensor(output)
        if t.boolean:
            raise self.b.fail("the function returns a boolean tensor, not a loss", origin)
        if not (t.dtype is None or t.dtype.is_floating or t.dtype.is_integer):
            raise self.b.fail(f"the function returns a {t.dtype.name} tensor, not a loss", origin)
        if len(t.shape) > 1 or (len(t.shape) == 1 and not isinstance(t.shape[0], str)):
            raise self.b.fail(
                f"the function returns a tensor of shape {_dims_text(t.shape)}: a loss is a scalar or one value per "
                "sample ([N]); reduce the other axes",
                origin,
            )
        self.b.loss(self.value(t, output.op), origin=origin)

    def _tracing_failure(self, error: BaseException) -> ImportFailure:
        frames = [Frame(f.filename, f.lineno or 0, f.name) for f in _traceback.extract_tb(error.__traceback__)]
        origin = self.b.origin(frames)
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        kind = type(error).__name__
        hint = ""
        if "OperatorNotAllowedInGraph" in kind or "symbolic" in message.lower() or "numpy" in message.lower():
            hint = " (lossc traces the function with symbolic tensors: Python control flow on a tensor's value " \
                   "and .numpy() cannot be traced; use tf.where)"
        return self.b.fail(f"TensorFlow could not trace the function: {kind}: {message}{hint}", origin)

    # ---- helpers -----------------------------------------------------------

    def origin(self, op: Any) -> Optional[Origin]:
        return self.b.origin(_frames(op))

    def unsupported(self, op: Any, detail: str = "") -> ImportFailure:
        return self.b.unsupported(op.type, self.origin(op), detail)

    def value(self, t: _T, op: Any) -> Value:
        """The expression of a translated tensor (a constant is written as
        one number; a symbolic size as its dimension)."""
        if t.value is not None:
            return t.value
        if t.const is not None:
            flat = np.asarray(t.const).reshape(-1)
            if flat.size == 0:
                raise self.unsupported(op, "an empty constant tensor")
            if not np.all(flat == flat[0]) and not (np.all(np.isnan(flat)) if flat.dtype.kind == "f" else False):
                raise self.unsupported(
                    op, f"a constant tensor of several values {np.array2string(np.asarray(t.const), threshold=8)} "
                    "(the language has numbers, not constant tensors, inside expressions)")
            x = flat[0]
            if flat.dtype == np.bool_:
                one = self.b.const(1)
                return self.b.binary("==" if bool(x) else "!=", one, one)
            if flat.dtype.kind == "f" and t.dtype is not None and t.dtype != self.float_dtype:
                # A constant of another float type: written as the number it is.
                x = np.float64(x)
            try:
                return self.b.const(x)
            except ImportFailure as failure:
                raise self.unsupported(op, failure.message) from None
        if t.sym is not None and not isinstance(t.sym, list):
            return self.sym_value(t.sym)
        raise self.unsupported(op, "a shape vector used as a number")

    def operands(self, op: Any, args: Sequence[_T]) -> List[Value]:
        """The expressions of an elementwise operation's operands: a
        ``zeros_like``/``ones_like`` operand is written as its number where the
        other operands give the result its shape anyway."""
        full = self.broadcast(op, *(a.shape for a in args))
        values = []
        for i, a in enumerate(args):
            others = [b.shape for j, b in enumerate(args) if j != i]
            covered = bool(others) and self.broadcast(op, *others) == full
            if a.fill is not None and covered:
                values.append(self.b.const(a.fill))
                continue
            if a.value is None and a.const is not None and np.ndim(a.const) > 0 and not covered:
                # A constant written as one number must not be what shapes the result.
                raise self.unsupported(op, f"a constant tensor of shape {_dims_text(a.shape)} that broadcasts the "
                                           "other operands (the language has numbers, not constant tensors)")
            values.append(self.value(a, op))
        return values

    def sym_value(self, sym: Any) -> Value:
        if isinstance(sym, Value):
            return sym
        if isinstance(sym, str):
            return self.b.dim(sym)
        return self.b.const(int(sym))

    def broadcast(self, op: Any, *shapes: Tuple[Dim, ...]) -> Tuple[Dim, ...]:
        rank = max(len(s) for s in shapes)
        out: List[Dim] = []
        for i in range(rank):
            dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
            current: Dim = 1
            for d in dims:
                if d == 1:
                    continue
                if current == 1:
                    current = d
                elif current != d:
                    raise self.unsupported(
                        op, "operands of shapes " + " and ".join(_dims_text(s) for s in shapes) +
                        " do not broadcast in the language (different dimensions never match)")
            out.append(current)
        return tuple(out)

    def check_float(self, op: Any, t: _T) -> None:
        if t.dtype is not None and t.dtype.is_floating and t.dtype != self.float_dtype and t.const is None:
            raise self.unsupported(
                op, f"it computes in {t.dtype.name} while the program is {self.b.dtype} (lossc evaluates a program "
                f"in one float type; compile with dtype=\"{t.dtype.name}\" or cast the inputs)")

    # ---- the walk ----------------------------------------------------------

    def tensor(self, tensor: Any) -> _T:
        key = tensor.ref()
        if key in self.memo:
            return self.memo[key]
        # Depth-first, without Python recursion for long chains.
        stack = [tensor]
        while stack:
            top = stack[-1]
            if top.ref() in self.memo:
                stack.pop()
                continue
            op_key = (id(top.op.graph), top.op.name)  # names are unique within one graph
            pattern = self.patterns.get(op_key)
            if pattern is None:
                pattern = _match_logsumexp(top.op) or _match_logistic_loss(top.op)
                self.patterns[op_key] = pattern or False
            needed = pattern[1] if pattern else top.op.inputs
            pending = [i for i in needed if i.ref() not in self.memo]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            outputs = getattr(self, pattern[0])(top.op, pattern) if pattern else self.translate(top.op)
            for out, t in zip(top.op.outputs, outputs):
                if t is not None:
                    self.memo[out.ref()] = t
            if top.ref() not in self.memo:
                raise self.unsupported(top.op, f"output {top.value_index} of the operation")
        return self.memo[key]

    def translate(self, op: Any) -> List[Optional[_T]]:
        kind = op.type
        args = [self.memo[i.ref()] for i in op.inputs]
        out_dtype = op.outputs[0].dtype if op.outputs else None
        if kind == "Placeholder":
            for t in op.outputs:
                external = self.captures.get(t.ref()) if hasattr(self, "captures") else None
                if external is not None and hasattr(external, "numpy") and external.dtype != tf.resource:
                    value = np.asarray(external.numpy())
                    return [_T(None, value.shape, const=value, dtype=external.dtype)]
            resource = op.outputs[0].dtype == tf.resource
            raise self.b.unsupported(
                "tf.Variable" if resource else "captured tensor", self.origin(op),
                "the function reads a " + ("variable, whose value can change" if resource else
                                           "tensor from outside it") + "; pass it as an input or a Python number")
        if kind == "Const":
            value = tensor_util.MakeNdarray(op.get_attr("value"))
            return [_T(None, value.shape, const=value, dtype=out_dtype)]
        if args and all(a.const is not None for a in args) and kind not in _NO_FOLD and not op.op_def.is_stateful:
            folded = self.fold(op, args)
            if folded is not None:
                return folded
        if any(a.sym is not None and isinstance(a.sym, list) for a in args) and kind in _SHAPE_ARITHMETIC:
            return [self.shape_arithmetic(op, args)]
        handler = getattr(self, "op_" + kind, None)
        if handler is not None:
            return handler(op, args)
        if kind in _PASS_THROUGH:
            return [args[0]]
        if kind in _UNARY:
            return [self.unary(op, args[0], _UNARY[kind])]
        if kind in _BINARY:
            return [self.binary(op, args[0], args[1], _BINARY[kind])]
        if kind in _COMPARE:
            return [self.compare(op, args[0], args[1], _COMPARE[kind])]
        if kind in _REDUCE:
            return [self.reduce(op, args, _REDUCE[kind])]
        raise self.unsupported(op, "no built-in of the language computes it")

    def fold(self, op: Any, args: List[_T]) -> Optional[List[_T]]:
        """Runs an operation on constant inputs with TensorFlow itself."""
        function = getattr(tf.raw_ops, op.type, None)
        if function is None:
            return None
        try:
            parameters = inspect.signature(function).parameters
            kwargs: Dict[str, Any] = {}
            position = 0
            for arg_def in op.op_def.input_arg:
                if arg_def.number_attr or arg_def.type_list_attr:
                    count = (op.get_attr(arg_def.number_attr) if arg_def.number_attr
                             else len(op.get_attr(arg_def.type_list_attr)))
                    kwargs[arg_def.name] = [tf.constant(a.const, dtype=a.dtype) for a in args[position:position + count]]
                    position += count
                else:
                    kwargs[arg_def.name] = tf.constant(args[position].const, dtype=args[position].dtype)
                    position += 1
            for name in op.node_def.attr:
                if name in parameters and name not in kwargs:
                    kwargs[name] = op.get_attr(name)
            result = function(**kwargs)
        except Exception:
            return None
        results = list(result) if isinstance(result, (list, tuple)) else [result]
        return [_T(None, tuple(r.shape), const=np.asarray(r.numpy()), dtype=r.dtype) for r in results]

    # ---- recognised patterns -------------------------------------------------

    def logsumexp(self, op: Any, pattern: Any) -> List[_T]:
        """``tf.reduce_logsumexp``: the language's stable ``logsumexp``."""
        _, (x_tensor, axes_tensor), keep = pattern
        x, axes_t = self.memo[x_tensor.ref()], self.memo[axes_tensor.ref()]
        self.check_float(op, x)
        rank = len(x.shape)
        axes = self.axes(op, rank, axes_t)
        if not axes:
            axes = tuple(range(rank))
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape)) if keep else tuple(
            d for i, d in enumerate(x.shape) if i not in axes)
        axis: Any = axes[0] if len(axes) == 1 else axes
        if len(axes) == rank and not keep:
            axis = None
        value = self.b.call("logsumexp", self.value(x, op), origin=self.origin(op), axis=axis,
                            keepdims=True if keep else None)
        return [_T(value, shape, dtype=op.outputs[0].dtype)]

    def logistic_loss(self, op: Any, pattern: Any) -> List[_T]:
        """``tf.nn.sigmoid_cross_entropy_with_logits``: ``softplus(x) - x * z``."""
        _, (x_tensor, product_tensor), _ = pattern
        x, product = self.memo[x_tensor.ref()], self.memo[product_tensor.ref()]
        self.check_float(op, x)
        origin = self.origin(op)
        shape = self.broadcast(op, x.shape, product.shape)
        value = self.b.binary("-", self.b.call("softplus", self.value(x, op), origin=origin),
                              self.value(product, op), origin=origin)
        return [_T(value, shape, dtype=op.outputs[0].dtype)]

    # ---- arithmetic on shape vectors (tf.keras's K.switch and tf.nn reshapes) ----

    def shape_arithmetic(self, op: Any, args: List[_T]) -> _T:
        """Elementwise arithmetic, comparisons and selection on shape vectors,
        computed where the graph's answer does not depend on the sizes of
        named dimensions (``N - N`` is 0); anything else is unsupported."""
        lists = []
        length = None
        for a in args:
            elements = self.symbolic_list(a)
            if elements is None:
                if a.const is not None and np.ndim(a.const) <= 1:
                    elements = np.asarray(a.const).reshape(-1).tolist()
                else:
                    raise self.unsupported(op, "arithmetic mixing a shape with a tensor")
            if len(elements) != 1:
                if length is not None and length != len(elements):
                    raise self.unsupported(op, "shapes of different ranks")
                length = len(elements)
            lists.append(elements)
        length = length or 1
        lists = [e * length if len(e) == 1 else e for e in lists]
        kind = op.type
        result: List[Any] = []
        for items in zip(*lists):
            r = _shape_element(kind, items)
            if r is None:
                raise self.unsupported(op, f"`{kind}` on the sizes {', '.join(map(str, items))}, which depends on "
                                           "the sizes of named dimensions")
            result.append(r)
        dtype = op.outputs[0].dtype
        if all(isinstance(r, (bool, int, np.integer, np.bool_)) for r in result):
            return _T(None, (length,), const=np.asarray(result, dtype=dtype.as_numpy_dtype), dtype=dtype)
        return _T(None, (length,), sym=result, dtype=dtype)

    def op_Tile(self, op: Any, args: List[_T]) -> List[_T]:
        a, multiples = args
        elements = self.symbolic_list(multiples)
        if elements is not None and all(m == 1 for m in elements):
            return [a]
        raise self.unsupported(op, "tiling a tensor (the language broadcasts instead)")

    def op_Slice(self, op: Any, args: List[_T]) -> List[_T]:
        a, begin_t, size_t = args
        elements = self.symbolic_list(a)
        begins, sizes = self.symbolic_list(begin_t), self.symbolic_list(size_t)
        if elements is None or begins is None or sizes is None or len(begins) != 1 or len(sizes) != 1 \
                or not isinstance(begins[0], int) or not isinstance(sizes[0], int):
            raise self.unsupported(op, "a slice of a tensor (the language takes single indices only)")
        begin, size = begins[0], sizes[0]
        part = elements[begin:] if size < 0 else elements[begin:begin + size]
        return [_T(None, (len(part),), sym=part, dtype=op.outputs[0].dtype)]

    # ---- elementwise -------------------------------------------------------

    def unary(self, op: Any, a: _T, function: str) -> _T:
        self.check_float(op, a)
        if a.boolean:
            raise self.unsupported(op, "of a boolean")
        value = self.b.call(function, self.value(a, op), origin=self.origin(op))
        return _T(value, a.shape, dtype=op.outputs[0].dtype)

    def binary(self, op: Any, a: _T, c: _T, operator: str) -> _T:
        for t in (a, c):
            self.check_float(op, t)
            if t.boolean:
                raise self.unsupported(op, "of a boolean")
        dtype = op.outputs[0].dtype
        if dtype.is_integer and operator in ("/", "^") and not (a.sym is not None or c.sym is not None):
            raise self.unsupported(op, f"integer `{operator}` (lossc computes in floats)")
        shape = self.broadcast(op, a.shape, c.shape)
        left, right = self.operands(op, [a, c])
        value = self.b.binary(operator, left, right, origin=self.origin(op))
        sym = None
        if (a.sym is not None or a.const is not None) and (c.sym is not None or c.const is not None) and not shape:
            sym = value  # an integer computed from sizes
        return _T(value, shape, dtype=dtype, sym=sym)

    def compare(self, op: Any, a: _T, c: _T, operator: str) -> _T:
        for t in (a, c):
            self.check_float(op, t)
        shape = self.broadcast(op, a.shape, c.shape)
        if a.boolean or c.boolean:
            if operator not in ("==", "!="):
                raise self.unsupported(op, "ordering booleans")
            # Booleans compared as numbers.
            left = self.b.call("float", self.value(a, op), origin=self.origin(op)) if a.boolean else self.value(a, op)
            right = self.b.call("float", self.value(c, op), origin=self.origin(op)) if c.boolean else self.value(c, op)
        else:
            left, right = self.operands(op, [a, c])
        value = self.b.binary(operator, left, right, origin=self.origin(op))
        return _T(value, shape, boolean=True, dtype=tf.bool)

    def op_SquaredDifference(self, op: Any, args: List[_T]) -> List[_T]:
        diff = self.binary(op, args[0], args[1], "-")
        return [self.unary(op, diff, "square")]

    def op_Neg(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        self.check_float(op, a)
        # tf.math.log_sigmoid(x) traces to -softplus(-x): the language's log_sigmoid.
        softplus = op.inputs[0].op
        if softplus.type == "Softplus" and _only_consumer(op.inputs[0], op):
            inner = softplus.inputs[0].op
            if inner.type == "Neg" and _only_consumer(softplus.inputs[0], softplus):
                x = self.memo[inner.inputs[0].ref()]
                value = self.b.call("log_sigmoid", self.value(x, op), origin=self.origin(op))
                return [_T(value, x.shape, dtype=x.dtype)]
        return [_T(self.b.unary("-", self.value(a, op), origin=self.origin(op)), a.shape, dtype=a.dtype)]

    def op_Sqrt(self, op: Any, args: List[_T]) -> List[_T]:
        # tf.norm traces to Sqrt(Sum(Mul(x, x))): the language's norm.
        total = op.inputs[0].op
        if total.type == "Sum" and _only_consumer(op.inputs[0], op):
            square = total.inputs[0].op
            if _only_consumer(total.inputs[0], total) and (
                    square.type == "Square" or (square.type == "Mul" and square.inputs[0].ref() == square.inputs[1].ref())):
                x = self.memo[square.inputs[0].ref()]
                axes_t = self.memo[total.inputs[1].ref()]
                if x.const is None and not x.boolean:
                    return [self.reduce(op, [x, axes_t], "norm", keep=bool(total.get_attr("keep_dims")))]
        return [self.unary(op, args[0], "sqrt")]

    def op_EuclideanNorm(self, op: Any, args: List[_T]) -> List[_T]:
        return [self.reduce(op, args, "norm")]

    def op_IsNan(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        self.check_float(op, a)
        x = self.value(a, op)
        return [_T(self.b.binary("!=", x, x, origin=self.origin(op)), a.shape, boolean=True, dtype=tf.bool)]

    def op_IsInf(self, op: Any, args: List[_T]) -> List[_T]:
        return [self.magnitude_test(op, args[0], "==")]

    def op_IsFinite(self, op: Any, args: List[_T]) -> List[_T]:
        return [self.magnitude_test(op, args[0], "<")]  # NaN < inf is false

    def magnitude_test(self, op: Any, a: _T, operator: str) -> _T:
        self.check_float(op, a)
        origin = self.origin(op)
        magnitude = self.b.call("abs", self.value(a, op), origin=origin)
        return _T(self.b.binary(operator, magnitude, self.b.const(np.inf), origin=origin), a.shape, boolean=True,
                  dtype=tf.bool)

    def op_Relu6(self, op: Any, args: List[_T]) -> List[_T]:
        relu = self.unary(op, args[0], "relu")
        value = self.b.call("minimum", relu.value, self.b.const(6), origin=self.origin(op))
        return [_T(value, relu.shape, dtype=relu.dtype)]

    def op_OneHot(self, op: Any, args: List[_T]) -> List[_T]:
        indices, depth, on, off = args
        if int(op.get_attr("axis")) != -1 or depth.const is None or on.const is None or off.const is None \
                or np.ndim(depth.const) != 0 or float(on.const) != 1 or float(off.const) != 0:
            raise self.unsupported(op, "a one-hot other than of depth C, on 1, off 0, along the last axis")
        if indices.value is None or indices.value.kind != "input":
            raise self.unsupported(op, "a one-hot of computed labels (the language's one_hot takes an input whose "
                                       "domain is a set of integers)")
        value = self.b.call("one_hot", indices.value, self.b.const(int(depth.const)), origin=self.origin(op))
        return [_T(value, indices.shape + (int(depth.const),), dtype=op.outputs[0].dtype)]

    def op_Rsqrt(self, op: Any, args: List[_T]) -> List[_T]:
        root = self.unary(op, args[0], "sqrt")
        value = self.b.binary("/", self.b.const(1), root.value, origin=self.origin(op))
        return [_T(value, root.shape, dtype=root.dtype)]

    def op_Reciprocal(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        self.check_float(op, a)
        value = self.b.binary("/", self.b.const(1), self.value(a, op), origin=self.origin(op))
        return [_T(value, a.shape, dtype=a.dtype)]

    op_Inv = op_Reciprocal

    def op_Div(self, op: Any, args: List[_T]) -> List[_T]:
        if not op.outputs[0].dtype.is_floating:
            raise self.unsupported(op, "integer division")
        return [self.binary(op, args[0], args[1], "/")]

    def op_DivNoNan(self, op: Any, args: List[_T]) -> List[_T]:
        x, y = args
        quotient = self.binary(op, x, y, "/")
        origin = self.origin(op)
        zero = self.b.const(0)
        condition = self.b.binary("==", self.value(y, op), zero, origin=origin)
        value = self.b.call("where", condition, zero, quotient.value, origin=origin)
        return [_T(value, quotient.shape, dtype=quotient.dtype)]

    def op_MulNoNan(self, op: Any, args: List[_T]) -> List[_T]:
        x, y = args
        product = self.binary(op, x, y, "*")
        origin = self.origin(op)
        zero = self.b.const(0)
        condition = self.b.binary("==", self.value(y, op), zero, origin=origin)
        value = self.b.call("where", condition, zero, product.value, origin=origin)
        return [_T(value, product.shape, dtype=product.dtype)]

    def op_Maximum(self, op: Any, args: List[_T]) -> List[_T]:
        # tf.clip_by_value traces to Maximum(Minimum(x, hi), lo): the language's clip.
        inner, lo = args
        producer = op.inputs[0].op
        if (producer.type == "Minimum" and lo.const is not None and np.ndim(lo.const) == 0
                and op.inputs[0].consumers() == [op]):
            x, hi = (self.memo[i.ref()] for i in producer.inputs)
            if (hi.const is not None and np.ndim(hi.const) == 0 and x.const is None and not x.boolean
                    and float(lo.const) <= float(hi.const)):
                self.check_float(op, x)
                shape = self.broadcast(op, x.shape, hi.shape, lo.shape)
                value = self.b.call("clip", self.value(x, op), self.value(lo, op), self.value(hi, op),
                                    origin=self.origin(producer))
                return [_T(value, shape, dtype=op.outputs[0].dtype)]
        return [self.elementwise_call(op, args, "maximum")]

    def op_Minimum(self, op: Any, args: List[_T]) -> List[_T]:
        return [self.elementwise_call(op, args, "minimum")]

    def elementwise_call(self, op: Any, args: List[_T], function: str) -> _T:
        for t in args:
            self.check_float(op, t)
            if t.boolean:
                raise self.unsupported(op, "of a boolean")
        shape = self.broadcast(op, *(a.shape for a in args))
        value = self.b.call(function, *self.operands(op, args), origin=self.origin(op))
        return _T(value, shape, dtype=op.outputs[0].dtype)

    def op_ClipByValue(self, op: Any, args: List[_T]) -> List[_T]:
        return [self.elementwise_call(op, args, "clip")]

    def op_Xlogy(self, op: Any, args: List[_T]) -> List[_T]:
        return [self.elementwise_call(op, args, "xlogy")]

    def op_Softsign(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        self.check_float(op, a)
        origin = self.origin(op)
        x = self.value(a, op)
        denominator = self.b.binary("+", self.b.const(1), self.b.call("abs", x, origin=origin), origin=origin)
        return [_T(self.b.binary("/", x, denominator, origin=origin), a.shape, dtype=a.dtype)]

    def op_Elu(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        self.check_float(op, a)
        origin = self.origin(op)
        x = self.value(a, op)
        zero = self.b.const(0)
        value = self.b.call("where", self.b.binary(">", x, zero, origin=origin), x,
                            self.b.call("expm1", x, origin=origin), origin=origin)
        return [_T(value, a.shape, dtype=a.dtype)]

    def op_LeakyRelu(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        self.check_float(op, a)
        origin = self.origin(op)
        x = self.value(a, op)
        alpha = self.b.const(np.asarray(op.get_attr("alpha"), dtype=a.dtype.as_numpy_dtype))
        value = self.b.call("where", self.b.binary(">", x, self.b.const(0), origin=origin), x,
                            self.b.binary("*", alpha, x, origin=origin), origin=origin)
        return [_T(value, a.shape, dtype=a.dtype)]

    # ---- logic and selection -----------------------------------------------

    def op_LogicalAnd(self, op: Any, args: List[_T]) -> List[_T]:
        return [self.logical(op, args, "and")]

    def op_LogicalOr(self, op: Any, args: List[_T]) -> List[_T]:
        return [self.logical(op, args, "or")]

    def logical(self, op: Any, args: List[_T], operator: str) -> _T:
        a, c = args
        shape = self.broadcast(op, a.shape, c.shape)
        value = self.b.binary(operator, self.value(a, op), self.value(c, op), origin=self.origin(op))
        return _T(value, shape, boolean=True, dtype=tf.bool)

    def op_LogicalNot(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        return [_T(self.b.unary("not", self.value(a, op), origin=self.origin(op)), a.shape, boolean=True,
                   dtype=tf.bool)]

    def op_SelectV2(self, op: Any, args: List[_T]) -> List[_T]:
        condition, a, c = args
        for t in (a, c):
            self.check_float(op, t)
        if not condition.boolean:
            raise self.unsupported(op, "a condition that is not a boolean tensor")
        shape = self.broadcast(op, condition.shape, a.shape, c.shape)
        value = self.b.call("where", *self.operands(op, [condition, a, c]),
                            origin=self.origin(op))
        return [_T(value, shape, dtype=op.outputs[0].dtype, boolean=a.boolean and c.boolean)]

    def op_Select(self, op: Any, args: List[_T]) -> List[_T]:
        condition, a, c = args
        if a.shape != c.shape:
            raise self.unsupported(op, f"branches of shapes {_dims_text(a.shape)} and {_dims_text(c.shape)}")
        if len(condition.shape) == 1 and len(a.shape) > 1:
            # tf.compat.v1.where with a vector condition selects whole rows.
            expanded = self.b.call("expand_dims", self.value(condition, op),
                                   axis=tuple(range(1, len(a.shape))) if len(a.shape) > 2 else 1,
                                   origin=self.origin(op))
            condition = _T(expanded, (condition.shape[0],) + (1,) * (len(a.shape) - 1), boolean=True, dtype=tf.bool)
        return self.op_SelectV2(op, [condition, a, c])

    # ---- casts -------------------------------------------------------------

    def op_Cast(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        target = op.get_attr("DstT")
        source = op.inputs[0].dtype
        origin = self.origin(op)
        if a.sym is not None and not isinstance(a.sym, list):
            if target.is_floating or target.is_integer:
                return [_T(self.sym_value(a.sym), (), sym=a.sym, dtype=target)]
        if a.sym is not None:
            if target.is_integer:
                return [a]
            raise self.unsupported(op, "a shape vector cast to floats")
        if target == tf.bool:
            if a.boolean:
                return [a]
            value = self.b.binary("!=", self.value(a, op), self.b.const(0), origin=origin)
            return [_T(value, a.shape, boolean=True, dtype=tf.bool)]
        if a.boolean:
            value = self.b.call("float", self.value(a, op), origin=origin)
            return [_T(value, a.shape, dtype=target)]
        if target.is_floating:
            if target != self.float_dtype:
                raise self.unsupported(
                    op, f"a cast to {target.name} in a {self.b.dtype} program (lossc evaluates a program in one "
                    f"float type; compile with dtype=\"{target.name}\")")
            if source.is_floating and source != self.float_dtype:
                raise self.unsupported(op, f"a cast from {source.name}, computed in another precision than the "
                                           f"{self.b.dtype} program")
            return [_T(a.value, a.shape, const=a.const, dtype=target)]
        if target.is_integer:
            if source.is_integer:
                return [_T(a.value, a.shape, const=a.const, dtype=target)]
            # Truncation toward zero.
            x = self.value(a, op)
            zero = self.b.const(0)
            value = self.b.call("where", self.b.binary("<", x, zero, origin=origin),
                                self.b.call("ceil", x, origin=origin), self.b.call("floor", x, origin=origin),
                                origin=origin)
            return [_T(value, a.shape, dtype=target)]
        raise self.unsupported(op, f"a cast to {target.name}")

    # ---- reductions ----------------------------------------------------------

    def axes(self, op: Any, rank: int, t: _T) -> Tuple[int, ...]:
        if t.const is None:
            raise self.unsupported(op, "reduction axes that are not constants")
        axes = sorted({int(a) % rank if rank else 0 for a in np.asarray(t.const).reshape(-1)})
        if rank == 0 and np.asarray(t.const).size:
            raise self.unsupported(op, "a reduction of a scalar over an axis")
        return tuple(axes)

    def reduce(self, op: Any, args: List[_T], function: str, keep: Optional[bool] = None) -> _T:
        a, axes_t = args
        self.check_float(op, a)
        if a.boolean:
            raise self.unsupported(op, "of a boolean tensor")
        if a.const is not None:
            raise self.unsupported(op, "of a constant tensor")
        rank = len(a.shape)
        axes = self.axes(op, rank, axes_t)
        if keep is None:
            keep = bool(op.get_attr("keep_dims"))
        if not axes:
            if function == "norm":
                return _T(self.b.call("abs", self.value(a, op), origin=self.origin(op)), a.shape, dtype=a.dtype)
            return a
        if function == "mean" and op.outputs[0].dtype.is_integer:
            raise self.unsupported(op, "the mean of integers, which TensorFlow truncates to an integer (cast to a "
                                       "float first)")
        shape = tuple(1 if i in axes else d for i, d in enumerate(a.shape)) if keep else tuple(
            d for i, d in enumerate(a.shape) if i not in axes)
        every = len(axes) == rank
        axis: Any = None if every and not keep else (axes[0] if len(axes) == 1 else axes)
        if every and keep and rank > 1:
            axis = axes
        value = self.b.call(function, self.value(a, op), origin=self.origin(op), axis=axis,
                            keepdims=True if keep else None)
        return _T(value, shape, dtype=op.outputs[0].dtype)

    def op_All(self, op: Any, args: List[_T]) -> List[_T]:
        return [self.boolean_reduce(op, args, "min", "==")]

    def op_Any(self, op: Any, args: List[_T]) -> List[_T]:
        return [self.boolean_reduce(op, args, "max", "==")]

    def boolean_reduce(self, op: Any, args: List[_T], function: str, operator: str) -> _T:
        """all(b) is min(float(b)) == 1; any(b) is max(float(b)) == 1."""
        a, axes_t = args
        if not a.boolean:
            raise self.unsupported(op, "of a tensor that is not boolean")
        origin = self.origin(op)
        as_float = _T(self.b.call("float", self.value(a, op), origin=origin), a.shape, dtype=self.float_dtype)
        reduced = self.reduce(op, [as_float, axes_t], function)
        value = self.b.binary(operator, reduced.value, self.b.const(1), origin=origin)
        return _T(value, reduced.shape, boolean=True, dtype=tf.bool)

    # ---- along an axis -------------------------------------------------------

    def op_LogSoftmax(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        self.check_float(op, a)
        return [_T(self.b.call("log_softmax", self.value(a, op), origin=self.origin(op)), a.shape, dtype=a.dtype)]

    def op_Softmax(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        self.check_float(op, a)
        return [_T(self.b.call("softmax", self.value(a, op), origin=self.origin(op)), a.shape, dtype=a.dtype)]

    def op_SparseSoftmaxCrossEntropyWithLogits(self, op: Any, args: List[_T]) -> List[Optional[_T]]:
        logits, labels = args
        self.check_float(op, logits)
        if len(logits.shape) != 2 or len(labels.shape) != 1:
            raise self.unsupported(op, f"logits of shape {_dims_text(logits.shape)} and labels of shape "
                                       f"{_dims_text(labels.shape)}")
        self.broadcast(op, (logits.shape[0],), labels.shape)
        origin = self.origin(op)
        classes = logits.shape[1]
        one_hot = self.b.call("one_hot", self.value(labels, op), self.sym_value(classes), origin=origin)
        product = self.b.binary("*", one_hot, self.b.call("log_softmax", self.value(logits, op), origin=origin),
                                origin=origin)
        value = self.b.unary("-", self.b.call("sum", product, axis=-1, origin=origin), origin=origin)
        return [_T(value, (logits.shape[0],), dtype=logits.dtype), None]

    def op_SoftmaxCrossEntropyWithLogits(self, op: Any, args: List[_T]) -> List[Optional[_T]]:
        logits, labels = args
        self.check_float(op, logits)
        self.check_float(op, labels)
        shape = self.broadcast(op, logits.shape, labels.shape)
        if len(shape) != 2:
            raise self.unsupported(op, f"logits of shape {_dims_text(logits.shape)}")
        origin = self.origin(op)
        product = self.b.binary("*", self.value(labels, op),
                                self.b.call("log_softmax", self.value(logits, op), origin=origin), origin=origin)
        value = self.b.unary("-", self.b.call("sum", product, axis=-1, origin=origin), origin=origin)
        return [_T(value, (shape[0],), dtype=logits.dtype), None]

    # ---- shapes --------------------------------------------------------------

    def op_Shape(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        return [_T(None, (len(a.shape),), sym=list(a.shape), dtype=op.outputs[0].dtype)]

    def op_Size(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        fixed = 1
        names: List[str] = []
        for d in a.shape:
            if isinstance(d, str):
                names.append(d)
            else:
                fixed *= int(d)
        if not names:
            sym: Any = fixed
        elif len(names) == 1 and fixed == 1:
            sym = names[0]
        else:
            origin = self.origin(op)
            sym = self.b.dim(names[0])
            for name in names[1:]:
                sym = self.b.binary("*", sym, self.b.dim(name), origin=origin)
            if fixed != 1:
                sym = self.b.binary("*", sym, self.b.const(fixed), origin=origin)
        return [_T(None, (), sym=sym, dtype=op.outputs[0].dtype)]

    def op_Rank(self, op: Any, args: List[_T]) -> List[_T]:
        value = np.asarray(len(args[0].shape), dtype=np.int32)
        return [_T(None, (), const=value, dtype=tf.int32)]

    def symbolic_list(self, t: _T) -> Optional[List[Dim]]:
        if t.sym is not None and isinstance(t.sym, list):
            return list(t.sym)
        if t.const is not None and np.ndim(t.const) == 1 and np.asarray(t.const).dtype.kind in "iu":
            return [int(v) for v in np.asarray(t.const)]
        return None

    def op_Pack(self, op: Any, args: List[_T]) -> List[_T]:
        elements: List[Any] = []
        for a in args:
            if a.sym is not None and not isinstance(a.sym, list) and not isinstance(a.sym, Value):
                elements.append(a.sym)
            elif a.const is not None and np.ndim(a.const) == 0 and np.asarray(a.const).dtype.kind in "iu":
                elements.append(int(a.const))
            else:
                raise self.unsupported(op, "stacking tensors (the language has no stack)")
        if int(op.get_attr("axis")) != 0:
            raise self.unsupported(op, "stacking sizes along an axis other than 0")
        return [_T(None, (len(elements),), sym=elements, dtype=op.outputs[0].dtype)]

    def op_ConcatV2(self, op: Any, args: List[_T]) -> List[_T]:
        parts = [self.symbolic_list(a) for a in args[:-1]]
        if any(p is None for p in parts):
            raise self.unsupported(op, "concatenating tensors (the language has no concatenation)")
        elements = [d for p in parts for d in p]  # type: ignore[union-attr]
        return [_T(None, (len(elements),), sym=elements, dtype=op.outputs[0].dtype)]

    def op_Prod(self, op: Any, args: List[_T]) -> List[_T]:
        dims = self.symbolic_list(args[0])
        if dims is None:
            raise self.unsupported(op, "a product over a tensor (the language has no product reduction)")
        return self.op_Size(op, [_T(None, tuple(dims))])

    def op_StridedSlice(self, op: Any, args: List[_T]) -> List[_T]:
        a, begin_t, end_t, strides_t = args
        if begin_t.const is None or end_t.const is None or strides_t.const is None:
            raise self.unsupported(op, "a slice with bounds that are not constants")
        begin = [int(v) for v in np.asarray(begin_t.const)]
        end = [int(v) for v in np.asarray(end_t.const)]
        strides = [int(v) for v in np.asarray(strides_t.const)]
        masks = {name: int(op.get_attr(name)) for name in
                 ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")}
        dims = self.symbolic_list(a)
        if dims is not None and len(begin) == 1 and not masks["ellipsis_mask"] and not masks["new_axis_mask"]:
            # Slicing a shape vector.
            n = len(dims)
            if masks["shrink_axis_mask"] & 1:
                index = begin[0] + n if begin[0] < 0 else begin[0]
                if not 0 <= index < n:
                    raise self.unsupported(op, "an index out of range of the shape")
                sym = dims[index]
                if isinstance(sym, int):
                    return [_T(None, (), const=np.asarray(sym, dtype=op.outputs[0].dtype.as_numpy_dtype),
                               dtype=op.outputs[0].dtype)]
                return [_T(None, (), sym=sym, dtype=op.outputs[0].dtype)]
            start = None if masks["begin_mask"] & 1 else begin[0]
            stop = None if masks["end_mask"] & 1 else end[0]
            part = dims[slice(start, stop, strides[0])]
            return [_T(None, (len(part),), sym=part, dtype=op.outputs[0].dtype)]
        if a.const is not None or a.sym is not None:
            raise self.unsupported(op, "a slice of a constant tensor")
        return [self.slice_tensor(op, a, begin, end, strides, masks)]

    def slice_tensor(self, op: Any, a: _T, begin: List[int], end: List[int], strides: List[int],
                     masks: Dict[str, int]) -> _T:
        """``x[..., i]``, ``x[:, 0]``, ``x[i]``: single indices (``take``) and full slices."""
        if masks["new_axis_mask"]:
            raise self.unsupported(op, "a slice that inserts axes (use tf.expand_dims)")
        rank = len(a.shape)
        specs: List[Tuple[str, int]] = []  # ("full", 0) or ("index", i), one per input axis
        for k in range(len(begin)):
            bit = 1 << k
            if masks["ellipsis_mask"] & bit:
                remaining = len(begin) - k - 1
                specs.extend([("full", 0)] * (rank - len(specs) - remaining))
                continue
            if masks["shrink_axis_mask"] & bit:
                specs.append(("index", begin[k]))
                continue
            full_begin = masks["begin_mask"] & bit or begin[k] == 0
            axis = len(specs)
            dim = a.shape[axis] if axis < rank else None
            full_end = masks["end_mask"] & bit or (isinstance(dim, int) and end[k] >= dim)
            if strides[k] == 1 and full_begin and full_end:
                specs.append(("full", 0))
                continue
            raise self.unsupported(op, "a slice that is not a whole axis or a single index (the language takes "
                                       "single indices only)")
        specs.extend([("full", 0)] * (rank - len(specs)))
        if len(specs) != rank:
            raise self.unsupported(op, "a slice with more indices than the tensor has axes")
        value = self.value(a, op)
        shape = list(a.shape)
        origin = self.origin(op)
        for axis in reversed(range(rank)):
            kind, index = specs[axis]
            if kind != "index":
                continue
            dim = shape[axis]
            if index < 0:
                if not isinstance(dim, int):
                    raise self.unsupported(op, f"a negative index along the dimension {dim}")
                index += dim
            if isinstance(dim, int) and not 0 <= index < dim:
                raise self.unsupported(op, f"index {index} out of range of an axis of size {dim}")
            value = self.b.call("take", value, self.b.const(index), axis=axis, origin=origin)
            del shape[axis]
        return _T(value, tuple(shape), dtype=op.outputs[0].dtype, boolean=a.boolean)

    def op_ExpandDims(self, op: Any, args: List[_T]) -> List[_T]:
        a, axis_t = args
        if axis_t.const is None:
            raise self.unsupported(op, "an axis that is not a constant")
        axis = int(np.asarray(axis_t.const).reshape(-1)[0])
        rank = len(a.shape) + 1
        axis = axis % rank
        shape = list(a.shape)
        shape.insert(axis, 1)
        if a.const is not None:
            return [_T(None, tuple(shape), const=np.expand_dims(a.const, axis), dtype=a.dtype)]
        value = self.b.call("expand_dims", self.value(a, op), axis=axis, origin=self.origin(op))
        return [_T(value, tuple(shape), dtype=a.dtype, boolean=a.boolean)]

    def op_Squeeze(self, op: Any, args: List[_T]) -> List[_T]:
        a = args[0]
        rank = len(a.shape)
        requested = [int(d) % rank for d in op.get_attr("squeeze_dims")] if rank else []
        axes = sorted(set(requested)) if requested else [i for i, d in enumerate(a.shape) if d == 1]
        for axis in axes:
            if a.shape[axis] != 1:
                raise self.unsupported(op, f"squeezing axis {axis} of shape {_dims_text(a.shape)}: a named "
                                           "dimension is not known to be 1")
        return [self.drop_axes(op, a, axes)]

    def drop_axes(self, op: Any, a: _T, axes: Sequence[int]) -> _T:
        if a.const is not None:
            return _T(None, tuple(d for i, d in enumerate(a.shape) if i not in axes),
                      const=np.squeeze(a.const, axis=tuple(axes)) if axes else a.const, dtype=a.dtype)
        value = self.value(a, op)
        origin = self.origin(op)
        for axis in sorted(axes, reverse=True):
            value = self.b.call("take", value, self.b.const(0), axis=axis, origin=origin)
        return _T(value, tuple(d for i, d in enumerate(a.shape) if i not in axes), dtype=a.dtype,
                  boolean=a.boolean)

    def op_Reshape(self, op: Any, args: List[_T]) -> List[_T]:
        a, shape_t = args
        target = self.symbolic_list(shape_t)
        if target is None:
            raise self.unsupported(op, "a reshape to a shape lossc cannot follow")
        if a.const is not None and all(isinstance(d, int) for d in target):
            reshaped = np.reshape(a.const, target)
            return [_T(None, tuple(reshaped.shape), const=reshaped, dtype=a.dtype)]
        return [self.reshape(op, a, target)]

    def reshape(self, op: Any, a: _T, target: List[Dim]) -> _T:
        """A reshape that only removes and inserts axes of size 1."""
        core_in = [d for d in a.shape if d != 1]
        wild = [i for i, d in enumerate(target) if d == -1]
        core_target = [d for d in target if d != 1]
        failure = self.unsupported(
            op, f"a reshape of {_dims_text(a.shape)} to {_dims_text(['-1' if d == -1 else d for d in target])} "
            "(the language expresses only reshapes that add or remove axes of size 1)")
        if len(wild) > 1 or len(core_in) != len(core_target):
            if len(wild) == 1 and len(core_in) == len(core_target) - 1:
                pass
            else:
                # -1 standing for an axis of size 1 that disappears from the core.
                raise failure
        resolved: List[Dim] = []
        if len(core_in) == len(core_target):
            j = 0
            for d in target:
                if d == 1:
                    resolved.append(1)
                    continue
                actual = core_in[j]
                j += 1
                if d != -1 and d != actual:
                    raise failure
                resolved.append(actual)
        else:
            # The -1 is of size 1 (every other axis is accounted for).
            j = 0
            for d in target:
                if d == 1 or d == -1:
                    resolved.append(1)
                    continue
                if core_in[j] != d:
                    raise failure
                j += 1
                resolved.append(d)
        removed = [i for i, d in enumerate(a.shape) if d == 1]
        squeezed = self.drop_axes(op, a, removed)
        inserted = tuple(i for i, d in enumerate(resolved) if d == 1)
        if not inserted:
            return _T(squeezed.value, tuple(resolved), const=squeezed.const, dtype=a.dtype, boolean=a.boolean)
        value = self.b.call("expand_dims", self.value(squeezed, op),
                            axis=inserted[0] if len(inserted) == 1 else inserted, origin=self.origin(op))
        return _T(value, tuple(resolved), dtype=a.dtype, boolean=a.boolean)

    def op_BroadcastTo(self, op: Any, args: List[_T]) -> List[_T]:
        a, shape_t = args
        target = self.symbolic_list(shape_t)
        if target is None:
            raise self.unsupported(op, "a broadcast to a shape lossc cannot follow")
        result = self.broadcast(op, a.shape, tuple(target))
        if tuple(result) == tuple(a.shape):
            return [a]
        for like in self.inputs:
            if tuple(like.shape) == tuple(result):
                value = self.b.call("broadcast_like", self.value(a, op), like.value, origin=self.origin(op))
                return [_T(value, result, dtype=a.dtype)]
        raise self.unsupported(op, f"a broadcast to {_dims_text(result)}, a shape no input has")

    def op_ZerosLike(self, op: Any, args: List[_T]) -> List[_T]:
        return [self.filled_like(op, args[0], 0)]

    def op_OnesLike(self, op: Any, args: List[_T]) -> List[_T]:
        return [self.filled_like(op, args[0], 1)]

    def filled_like(self, op: Any, a: _T, number: int) -> _T:
        if a.boolean:
            raise self.unsupported(op, "of a boolean tensor")
        value = self.b.call("broadcast_like", self.b.const(number), self.value(a, op), origin=self.origin(op))
        return _T(value, a.shape, dtype=a.dtype, fill=number)

    # ---- control flow --------------------------------------------------------

    def op_StatelessIf(self, op: Any, args: List[_T]) -> List[_T]:
        condition = args[0]
        if condition.shape != ():
            raise self.unsupported(op, "a condition that is not a scalar")
        if not condition.boolean:
            origin = self.origin(op)
            value = self.b.binary("!=", self.value(condition, op), self.b.const(0), origin=origin)
            condition = _T(value, (), boolean=True, dtype=tf.bool)
        branches = []
        for name in ("then_branch", "else_branch"):
            function = op.graph._get_function(op.get_attr(name).name)
            branches.append(self.call_graph(op, function.graph, args[1:]))
        outputs = []
        origin = self.origin(op)
        for then_t, else_t in zip(*branches):
            if then_t.const is not None and else_t.const is not None and np.array_equal(then_t.const, else_t.const):
                outputs.append(then_t)
                continue
            shape = self.broadcast(op, then_t.shape, else_t.shape)
            value = self.b.call("where", self.value(condition, op), self.value(then_t, op),
                                self.value(else_t, op), origin=origin)
            outputs.append(_T(value, shape, dtype=then_t.dtype, boolean=then_t.boolean and else_t.boolean))
        return outputs

    op_If = op_StatelessIf

    def op_PartitionedCall(self, op: Any, args: List[_T]) -> List[_T]:
        """A call of another ``tf.function``: its graph, inlined."""
        function = op.graph._get_function(op.get_attr("f").name)
        return self.call_graph(op, function.graph, args)

    op_StatefulPartitionedCall = op_PartitionedCall

    def call_graph(self, op: Any, graph: Any, args: List[_T]) -> List[_T]:
        """Translates a branch function's graph, its inputs bound to ``args``."""
        if len(graph.inputs) != len(args):
            raise self.unsupported(op, "a branch with captured state")
        saved_captures = self.captures
        self.captures = {}
        try:
            for placeholder, t in zip(graph.inputs, args):
                self.memo[placeholder.ref()] = t
            return [self.tensor(output) for output in graph.outputs]
        finally:
            self.captures = saved_captures


def trace(builder: Builder, fn: Any, params: Sequence[Any]) -> None:
    """Traces ``fn`` with ``tf.function`` and translates its graph (see the module's docstring)."""
    # TensorFlow's and tf.keras's decorators (dispatch, traceback filtering)
    # wrap a loss in a function of their own file: the loss's own file is
    # the one of the function they wrap.
    inner = builder.fn
    if getattr(inner, "__code__", None) is None and callable(getattr(inner, "fn", None)):
        inner = inner.fn  # a tf.keras loss object (LossFunctionWrapper) wraps its loss function
    try:
        inner = inspect.unwrap(inner)
    except ValueError:
        pass
    code = getattr(inner, "__code__", None)
    if inner is not builder.fn and code is not None:
        builder.fn_file = os.path.abspath(code.co_filename)
        builder.fn_line = code.co_firstlineno
    _Importer(builder, fn, params).run()
