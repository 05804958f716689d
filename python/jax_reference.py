"""JAX reference values for tests/jax_reference.rs.

Usage: python jax_reference.py CASES.json

CASES.json (written by the Rust test) holds a list of cases, each with a
name, its inputs and params as nested lists of numbers, and the variables to
differentiate (`wrt`). For every case this script looks up the loss of the
same name below -- written independently, the way a JAX user would write it
(jnp.mean, jax.nn.log_softmax, optax-style formulas), NOT translated from the
lossc source -- and evaluates it and its `jax.grad` in float64. A case of a
one-argument built-in instead carries its JAX function, as the template
`jax_unary` (see `unary` below).

Output, on stdout, one JSON object:
    {"jax": "0.x.y",
     "results": {NAME: {"value": v, "per_sample": [..] | null,
                        "gradient": {VAR: nested list}}},
     "errors": {NAME: "message"}}
A function returning shape [N] is a per-sample loss: as Keras does, the loss
is its mean (and the gradient that of the mean); the vector is reported as
`per_sample`. Non-finite numbers are written as "NaN", "inf", "-inf".

Exit status 77 if JAX cannot be imported (the Rust test then skips).
"""

import json
import math
import sys
import traceback

try:
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp
    import jax.scipy.special
    import jax.scipy.stats
    import numpy as np
except Exception as exc:  # ImportError, or a broken jaxlib
    print(f"cannot import jax: {exc!r}", file=sys.stderr)
    sys.exit(77)

LOSSES = {}


def case(name):
    """Registers a loss under the name of its Rust test case."""

    def register(function):
        assert name not in LOSSES, name
        LOSSES[name] = function
        return function

    return register


# --------------------------------------------------------------- the losses
# Arguments are the lossc inputs and params by name (params as keyword
# arguments); `y_true` and `y_pred` as in Keras.

EPS = 1e-7  # keras.config.epsilon()


@case("mse")
def mse(y_true, y_pred):
    return jnp.mean((y_true - y_pred) ** 2)


@case("mae")
def mae(y_true, y_pred):
    return jnp.mean(jnp.abs(y_pred - y_true))


@case("huber")
def huber(y_true, y_pred, delta):
    # optax.huber_loss
    errors = y_pred - y_true
    abs_errors = jnp.abs(errors)
    quadratic = jnp.minimum(abs_errors, delta)
    linear = abs_errors - quadratic
    return jnp.mean(0.5 * quadratic**2 + delta * linear)


LOSSES["huber_wrt_delta"] = huber


@case("huber_per_sample_wrt_delta")
def huber_per_sample(y_true, y_pred, delta):
    errors = y_pred - y_true
    abs_errors = jnp.abs(errors)
    quadratic = jnp.minimum(abs_errors, delta)
    return jnp.mean(0.5 * quadratic**2 + delta * (abs_errors - quadratic), axis=-1)


@case("log_cosh")
def log_cosh(y_true, y_pred):
    # optax.log_cosh: log(cosh(x)) = logaddexp(x, -x) - log(2)
    errors = y_pred - y_true
    return jnp.mean(jnp.logaddexp(errors, -errors) - jnp.log(2.0))


@case("log_cosh_naive")
def log_cosh_naive(y_true, y_pred):
    return jnp.mean(jnp.log(jnp.cosh(y_pred - y_true)))


@case("bce_clipped")
def bce_clipped(y_true, y_pred):
    # keras.ops.binary_crossentropy(from_logits=False)
    output = jnp.clip(y_pred, EPS, 1.0 - EPS)
    bce = y_true * jnp.log(output)
    bce += (1 - y_true) * jnp.log(1 - output)
    return jnp.mean(-bce)


@case("bce_logits_softplus")
def bce_logits_softplus(y_true, y_pred):
    # optax.sigmoid_binary_cross_entropy
    log_p = jax.nn.log_sigmoid(y_pred)
    log_not_p = jax.nn.log_sigmoid(-y_pred)
    return jnp.mean(-y_true * log_p - (1.0 - y_true) * log_not_p)


@case("bce_logits_max")
def bce_logits_max(y_true, y_pred):
    # softplus(z) - z * y, with softplus as logaddexp(0, z)
    return jnp.mean(jnp.logaddexp(0.0, y_pred) - y_pred * y_true)


LOSSES["bce_logits_extreme"] = bce_logits_softplus


@case("weighted_bce")
def weighted_bce(y_true, y_pred, w_pos):
    p = jnp.clip(y_pred, EPS, 1 - EPS)
    weights = jnp.where(y_true == 1, w_pos, 1.0)
    return jnp.mean(-weights * (y_true * jnp.log(p) + (1 - y_true) * jnp.log1p(-p)))


LOSSES["weighted_bce_wrt_w_pos"] = weighted_bce


@case("focal")
def focal(y_true, y_pred, gamma, alpha):
    # Lin et al. 2017, on clipped probabilities (as keras BinaryFocalCrossentropy)
    p = jnp.clip(y_pred, EPS, 1 - EPS)
    p_t = y_true * p + (1 - y_true) * (1 - p)
    alpha_t = y_true * alpha + (1 - y_true) * (1 - alpha)
    return jnp.mean(-alpha_t * jnp.power(1 - p_t, gamma) * jnp.log(p_t))


LOSSES["focal_wrt_gamma_alpha"] = focal


@case("focal_logits")
def focal_logits(y_true, y_pred, gamma, alpha):
    # optax.sigmoid_focal_loss
    p = jax.nn.sigmoid(y_pred)
    ce = -y_true * jax.nn.log_sigmoid(y_pred) - (1 - y_true) * jax.nn.log_sigmoid(-y_pred)
    p_t = p * y_true + (1 - p) * (1 - y_true)
    loss = ce * ((1 - p_t) ** gamma)
    weighted = (alpha * y_true + (1 - alpha) * (1 - y_true)) * loss
    return jnp.mean(weighted)


@case("cce_logits")
def cce_logits(y_true, y_pred):
    # labels are distributions (rows sum to 1): CE = logsumexp(z) - <y, z>
    return jnp.mean(jax.nn.logsumexp(y_pred, axis=-1) - jnp.sum(y_true * y_pred, axis=-1))


LOSSES["cce_logits_extreme"] = cce_logits


@case("cce_probabilities_keras")
def cce_probabilities_keras(y_true, y_pred):
    # keras.losses.categorical_crossentropy(from_logits=False): normalise, clip, log
    eps = 1e-7
    p = jnp.clip(y_pred / jnp.sum(y_pred, axis=-1, keepdims=True), eps, 1 - eps)
    return jnp.mean(-jnp.sum(y_true * jnp.log(p), axis=-1))


@case("cce_per_sample")
def cce_per_sample(y_true, y_pred):
    # optax.softmax_cross_entropy
    return -jnp.sum(y_true * jax.nn.log_softmax(y_pred, axis=-1), axis=-1)


@case("cce_class_weights")
def cce_class_weights(y_true, y_pred, w):
    return jnp.mean(-jnp.sum(w * y_true * jax.nn.log_softmax(y_pred), axis=-1))


@case("sparse_cce")
def sparse_cce(y_true, y_pred):
    # optax.softmax_cross_entropy_with_integer_labels
    labels = y_true.astype(jnp.int32)
    label_logits = jnp.take_along_axis(y_pred, labels[:, None], axis=-1)[:, 0]
    return jnp.mean(jax.nn.logsumexp(y_pred, axis=-1) - label_logits)


@case("sparse_cce_dim_name")
def sparse_cce_dim_name(y_true, y_pred):
    labels = y_true.astype(jnp.int32)
    one_hot = jax.nn.one_hot(labels, y_pred.shape[-1])
    return jnp.mean(-jnp.sum(one_hot * jax.nn.log_softmax(y_pred), axis=-1))


@case("kl_divergence")
def kl_divergence(y_true, y_pred):
    # keras.losses.kl_divergence
    t = jnp.clip(y_true, EPS, 1)
    p = jnp.clip(y_pred, EPS, 1)
    return jnp.mean(jnp.sum(t * jnp.log(t / p), axis=-1))


@case("kl_divergence_xlogy")
def kl_divergence_xlogy(y_true, y_pred):
    # optax.kl_divergence(log_predictions, targets), exact zeros in targets
    log_predictions = jnp.log(y_pred)
    return jnp.mean(jnp.sum(jax.scipy.special.xlogy(y_true, y_true) - y_true * log_predictions, axis=-1))


@case("poisson")
def poisson(y_true, y_pred):
    # keras.losses.poisson
    return jnp.mean(y_pred - y_true * jnp.log(y_pred + EPS))


@case("cosine_similarity")
def cosine_similarity(y_true, y_pred):
    # keras.losses.cosine_similarity with tf.math.l2_normalize(epsilon=1e-12)
    def l2_normalize(x):
        return x * jax.lax.rsqrt(jnp.maximum(jnp.sum(jnp.square(x), axis=-1, keepdims=True), 1e-12))

    return jnp.mean(-jnp.sum(l2_normalize(y_true) * l2_normalize(y_pred), axis=-1))


@case("dice")
def dice(y_true, y_pred, smooth):
    axes = tuple(range(1, y_true.ndim))
    intersection = jnp.sum(y_true * y_pred, axis=axes)
    union = jnp.sum(y_true, axis=axes) + jnp.sum(y_pred, axis=axes)
    return jnp.mean(1.0 - (2.0 * intersection + smooth) / (union + smooth))


@case("quantile")
def quantile(y_true, y_pred, tau):
    errors = y_true - y_pred
    return jnp.mean(jnp.where(errors >= 0, tau * errors, (tau - 1) * errors))


@case("hinge")
def hinge(y_true, y_pred):
    # optax.hinge_loss
    return jnp.mean(jnp.maximum(0, 1 - y_pred * y_true))


@case("squared_hinge")
def squared_hinge(y_true, y_pred):
    return jnp.mean(jnp.square(jax.nn.relu(1 - y_true * y_pred)))


@case("msle")
def msle(y_true, y_pred):
    return jnp.mean(jnp.square(jnp.log(y_pred + 1.0) - jnp.log(y_true + 1.0)))


@case("gaussian_nll")
def gaussian_nll(y_true, y_pred, var):
    # torch.nn.GaussianNLLLoss (full=False, eps=1e-6)
    var = jnp.maximum(var, 1e-6)
    return jnp.mean(0.5 * (jnp.log(var) + (y_pred - y_true) ** 2 / var))


@case("gaussian_nll_full")
def gaussian_nll_full(y_true, y_pred, var):
    return -jnp.mean(jax.scipy.stats.norm.logpdf(y_true, loc=y_pred, scale=jnp.sqrt(var)))


@case("mse_per_sample")
def mse_per_sample(y_true, y_pred):
    # keras.losses.mean_squared_error: mean over the last axis, per sample
    return jnp.mean(jnp.square(y_pred - y_true), axis=-1)


@case("bce_logits_per_sample")
def bce_logits_per_sample(y_true, y_pred):
    return jax.nn.softplus(y_pred) - y_pred * y_true


@case("smooth_l1_several_wrt")
def smooth_l1(y_true, y_pred, beta):
    # torch.nn.SmoothL1Loss
    diff = jnp.abs(y_pred - y_true)
    return jnp.mean(jnp.where(diff < beta, 0.5 * diff**2 / beta, diff - 0.5 * beta))


@case("brier_softmax")
def brier_softmax(y_true, y_pred):
    return jnp.mean(jnp.sum((jax.nn.softmax(y_pred, axis=-1) - y_true) ** 2, axis=-1))


@case("logsumexp_keepdims")
def logsumexp_keepdims(y_true, y_pred):
    centred = y_pred - jax.scipy.special.logsumexp(y_pred, axis=-1, keepdims=True)
    return jnp.mean(y_true * centred**2) + jnp.mean(jax.scipy.special.logsumexp(y_pred, axis=0))


@case("norm_distance")
def norm_distance(y_true, y_pred):
    return jnp.mean(jnp.linalg.norm(y_pred - y_true, axis=-1))


@case("norm_all_keepdims")
def norm_all_keepdims(y_true, y_pred):
    rows = y_pred / jnp.linalg.norm(y_pred, axis=-1, keepdims=True)
    return jnp.sum(rows) + jnp.mean(jnp.linalg.norm(y_true - y_pred, axis=0) ** 2) + jnp.linalg.norm(y_pred)


@case("take_columns")
def take_columns(y_true, y_pred):
    return jnp.mean((y_pred[..., 1] - y_true[..., 1]) ** 2) + jnp.mean(y_pred[0, :]) * jnp.mean(y_pred[:, 2])


@case("expand_dims_pairwise")
def expand_dims_pairwise(y_true, y_pred):
    # RankNet-style pairwise logistic loss over all pairs of the batch
    score_diff = y_pred[:, None] - y_pred[None, :]
    label_diff = y_true[:, None] - y_true[None, :]
    return jnp.mean(jax.nn.softplus(-score_diff * label_diff))


@case("max_min_reductions")
def max_min_reductions(y_true, y_pred):
    spread = jnp.max(y_pred, axis=-1) - jnp.min(y_pred, axis=-1)
    return jnp.mean(spread * jnp.max(y_true, axis=-1)) + jnp.max(y_pred) - jnp.min(y_pred * y_true)


@case("axes_and_keepdims")
def axes_and_keepdims(y_true, y_pred):
    s = jax.nn.softmax(y_true, axis=0)
    columns = jnp.sum(y_pred * s, axis=0, keepdims=True)
    rows = jnp.max(y_pred, axis=-1, keepdims=True)
    return (
        jnp.sum(columns * rows)
        + jnp.mean(y_pred, axis=(0, 1))
        + jnp.mean(jax.nn.log_softmax(y_pred, axis=0) * y_true)
    )


@case("def_and_precedence")
def def_and_precedence(y_true, y_pred):
    smooth_abs = jnp.sqrt((y_pred - y_true) ** 2 + 0.01)
    return jnp.mean(smooth_abs + y_pred**2 / 4 + 0.5 * y_pred)


@case("maximum_minimum")
def maximum_minimum(y_true, y_pred):
    return jnp.mean(jnp.maximum(y_pred, y_true) * jnp.minimum(y_pred, 0.5))


@case("clip_both_sides")
def clip_both_sides(y_true, y_pred):
    return jnp.mean((jnp.clip(y_pred, -0.5, 0.5) - y_true) ** 2)


@case("where_logic")
def where_logic(y_true, y_pred):
    cond = jnp.logical_or(jnp.logical_and(y_true > 0, y_pred < 1), jnp.logical_not(y_pred > -1))
    selected = jnp.where(cond, y_pred**2, jnp.abs(y_pred - 1))
    return jnp.mean(selected + (y_true > 0.5).astype(y_pred.dtype) * y_pred)


@case("piecewise_constant")
def piecewise_constant(y_true, y_pred):
    return jnp.mean(
        y_pred * jnp.round(3 * y_true) + jnp.floor(y_pred) + jnp.ceil(y_pred) * y_pred + jnp.sign(y_pred)
    )


@case("stop_gradient_target")
def stop_gradient_target(y_true, y_pred):
    target = jax.lax.stop_gradient(0.5 * y_pred + 0.5 * y_true)
    return jnp.mean((y_pred - target) ** 2 + y_pred * jax.lax.stop_gradient(jnp.tanh(y_pred)))


@case("dim_name_scalar")
def dim_name_scalar(y_true, y_pred):
    n = y_true.shape[0]
    return jnp.sum((y_true - y_pred) ** 2) / n + 1.0 / n


def unary(template):
    """The loss mean(y_true * f(y_pred)) of a one-argument built-in's case,
    f built from the JAX template the case carries (`jnp.arctan({0})`).

    The template is lossc's own JAX emit template, not written here: the
    Rust side takes each one-argument elementwise built-in, and its
    template, from the built-in table, so that a new built-in needs no line
    here. The comparison still tests two independent definitions: the
    template (what `lossc emit` writes) and the scalar definition lossc's
    reference interpreter evaluates.
    """
    f = eval("lambda x: " + template.format("x"), {"jnp": jnp, "jax": jax})
    return lambda y_true, y_pred: jnp.mean(y_true * f(y_pred))


@case("pow_constant")
def pow_constant(y_true, y_pred):
    return jnp.mean(jnp.abs(y_pred - y_true) ** 1.5 + y_pred**3 - 2.0 ** (-(y_pred**2)) + y_pred ** (-1))


@case("pow_variable")
def pow_variable(y_true, y_pred):
    return jnp.mean(jnp.power(y_true, y_pred))


@case("pow_zero_base")
def pow_zero_base(y_true, y_pred):
    return jnp.mean(jnp.power(y_true, y_pred) + jnp.power(0.0, y_pred))


@case("pow_integer_exponents_at_zero")
def pow_integer_exponents_at_zero(y_pred):
    return jnp.mean(y_pred**0 + y_pred**1 + y_pred**2 + y_pred**3 + jnp.power(0.0, jnp.square(y_pred)))


@case("xlogy")
def xlogy(y_true, y_pred):
    xlogy = jax.scipy.special.xlogy
    return jnp.mean(xlogy(y_true, y_pred) - xlogy(y_true, y_true + 1))


# ------------------------------------------------------------------ harness


def to_json(x):
    """A float array as nested lists, non-finite numbers as strings."""

    def number(v):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v

    def nest(v):
        return [nest(row) for row in v] if isinstance(v, list) else number(float(v))

    return nest(np.asarray(x, dtype=np.float64).tolist())


def run(spec):
    template = spec.get("jax_unary")
    function = unary(template) if template is not None else LOSSES.get(spec["name"])
    if function is None:
        raise KeyError(f"no JAX function for case `{spec['name']}` in jax_reference.py")
    args = {name: jnp.asarray(value, dtype=jnp.float64) for name, value in spec["inputs"].items()}
    args.update({name: jnp.asarray(value, dtype=jnp.float64) for name, value in spec["params"].items()})
    wrt = spec["wrt"]
    fixed = {name: value for name, value in args.items() if name not in wrt}

    def loss(variables):
        out = function(**fixed, **variables)
        if out.ndim == 1:  # per sample: the loss is the mean
            return jnp.mean(out), out
        if out.ndim != 0:
            raise ValueError(f"the JAX loss has shape {out.shape}: neither scalar nor per-sample")
        return out, None

    (value, per_sample), gradient = jax.jit(jax.value_and_grad(loss, has_aux=True))({name: args[name] for name in wrt})
    return {
        "value": to_json(value),
        "per_sample": None if per_sample is None else to_json(per_sample),
        "gradient": {name: to_json(g) for name, g in gradient.items()},
    }


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        cases = json.load(f)["cases"]
    results, errors = {}, {}
    for spec in cases:
        try:
            results[spec["name"]] = run(spec)
        except Exception:
            errors[spec["name"]] = traceback.format_exc(limit=3)
    json.dump({"jax": jax.__version__, "results": results, "errors": errors}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
