"""Library losses of JAX's ecosystem as functions of their inputs, for the
JAX importer's tests: every ``keras.losses`` function of ``(y_true, y_pred)``
(Keras 3 on the JAX backend) and the elementwise and row-wise
``optax.losses`` losses, with the domains and shapes of their inputs and a
sampler of data inside those domains."""

import numpy as np


def _probs(rng, n, c):
    z = rng.normal(size=(n, c))
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _binary(rng, *shape):
    return rng.integers(0, 2, size=shape).astype(np.float64)


def _unit(rng, *shape):
    return rng.uniform(0.02, 0.98, size=shape)


def _real(rng, *shape):
    return rng.normal(size=shape) * 2


def _positive(rng, *shape):
    return rng.uniform(0.1, 3.0, size=shape)


def _onehot(rng, n, c):
    return np.eye(c)[rng.integers(0, c, size=n)]


N, C = 7, 4

# name -> (function of the test's module, inputs, shapes, sampler of (args...) in order)
KERAS = {
    "binary_crossentropy": ({"y_true": "{0, 1}", "y_pred": "sigmoid"}, "[N, C]",
                            lambda r: (_binary(r, N, C), _unit(r, N, C))),
    "binary_focal_crossentropy": ({"y_true": "{0, 1}", "y_pred": "sigmoid"}, "[N, C]",
                                  lambda r: (_binary(r, N, C), _unit(r, N, C))),
    "categorical_crossentropy": ({"y_true": "[0, 1]", "y_pred": "softmax"}, "[N, C]",
                                 lambda r: (_probs(r, N, C), _probs(r, N, C))),
    "categorical_focal_crossentropy": ({"y_true": "[0, 1]", "y_pred": "softmax"}, "[N, C]",
                                       lambda r: (_probs(r, N, C), _probs(r, N, C))),
    "categorical_hinge": ({"y_true": "{0, 1}", "y_pred": "real"}, "[N, C]",
                          lambda r: (_onehot(r, N, C), _real(r, N, C))),
    "cosine_similarity": ({"y_true": "real", "y_pred": "real"}, "[N, C]",
                          lambda r: (_real(r, N, C), _real(r, N, C))),
    "dice": ({"y_true": "{0, 1}", "y_pred": "sigmoid"}, "[N, C]",
             lambda r: (_binary(r, N, C), _unit(r, N, C))),
    "hinge": ({"y_true": "{-1, 1}", "y_pred": "real"}, "[N, C]",
              lambda r: (_binary(r, N, C) * 2 - 1, _real(r, N, C))),
    "huber": ({"y_true": "real", "y_pred": "real"}, "[N, C]",
              lambda r: (_real(r, N, C), _real(r, N, C))),
    "kl_divergence": ({"y_true": "[0, 1]", "y_pred": "softmax"}, "[N, C]",
                      lambda r: (_probs(r, N, C), _probs(r, N, C))),
    "log_cosh": ({"y_true": "real", "y_pred": "real"}, "[N, C]",
                 lambda r: (_real(r, N, C), _real(r, N, C))),
    "mean_absolute_error": ({"y_true": "real", "y_pred": "real"}, "[N, C]",
                            lambda r: (_real(r, N, C), _real(r, N, C))),
    "mean_absolute_percentage_error": ({"y_true": "real", "y_pred": "real"}, "[N, C]",
                                       lambda r: (_positive(r, N, C), _real(r, N, C))),
    "mean_squared_error": ({"y_true": "real", "y_pred": "real"}, "[N, C]",
                           lambda r: (_real(r, N, C), _real(r, N, C))),
    "mean_squared_logarithmic_error": ({"y_true": "[0, inf)", "y_pred": "[0, inf)"}, "[N, C]",
                                       lambda r: (_positive(r, N, C), _positive(r, N, C))),
    "poisson": ({"y_true": "[0, inf)", "y_pred": "[0, inf)"}, "[N, C]",
                lambda r: (_positive(r, N, C), _positive(r, N, C))),
    "sparse_categorical_crossentropy": ({"y_true": "{0..3}", "y_pred": "softmax"}, ("[N]", "[N, 4]"),
                                        lambda r: (r.integers(0, C, size=N).astype(np.int32), _probs(r, N, C))),
    "squared_hinge": ({"y_true": "{-1, 1}", "y_pred": "real"}, "[N, C]",
                      lambda r: (_binary(r, N, C) * 2 - 1, _real(r, N, C))),
    "tversky": ({"y_true": "{0, 1}", "y_pred": "sigmoid"}, "[N, C]",
                lambda r: (_binary(r, N, C), _unit(r, N, C))),
    "categorical_generalized_cross_entropy": ({"y_true": "{0..3}", "y_pred": "softmax"}, ("[N]", "[N, 4]"),
                                              lambda r: (r.integers(0, C, size=N).astype(np.int32),
                                                         _probs(r, N, C))),
}


# ---- optax.losses: each wrapped as a function of (y_true, y_pred) -------------

import optax  # noqa: E402


def _labels(rng, n, c):
    return rng.integers(0, c, size=n).astype(np.int32)


def sigmoid_binary_cross_entropy(y_true, y_pred):
    return optax.losses.sigmoid_binary_cross_entropy(y_pred, y_true)


def sigmoid_focal_loss(y_true, y_pred):
    return optax.losses.sigmoid_focal_loss(y_pred, y_true, alpha=0.25, gamma=2.0)


def hinge_loss(y_true, y_pred):
    return optax.losses.hinge_loss(y_pred, y_true)


def perceptron_loss(y_true, y_pred):
    return optax.losses.perceptron_loss(y_pred, y_true)


def huber_loss(y_true, y_pred):
    return optax.losses.huber_loss(y_pred, y_true, delta=1.0)


def l2_loss(y_true, y_pred):
    return optax.losses.l2_loss(y_pred, y_true)


def log_cosh(y_true, y_pred):
    return optax.losses.log_cosh(y_pred, y_true)


def squared_error(y_true, y_pred):
    return optax.losses.squared_error(y_pred, y_true)


def softmax_cross_entropy(y_true, y_pred):
    return optax.losses.softmax_cross_entropy(y_pred, y_true)


def safe_softmax_cross_entropy(y_true, y_pred):
    return optax.losses.safe_softmax_cross_entropy(y_pred, y_true)


def softmax_cross_entropy_with_integer_labels(y_true, y_pred):
    return optax.losses.softmax_cross_entropy_with_integer_labels(y_pred, y_true)


def poly_loss_cross_entropy(y_true, y_pred):
    return optax.losses.poly_loss_cross_entropy(y_pred, y_true, epsilon=2.0)


def kl_divergence(y_true, y_pred):
    return optax.losses.kl_divergence(y_pred, y_true)


def kl_divergence_with_log_targets(y_true, y_pred):
    return optax.losses.kl_divergence_with_log_targets(y_pred, y_true)


def convex_kl_divergence(y_true, y_pred):
    return optax.losses.convex_kl_divergence(y_pred, y_true)


def generalized_kl_divergence(y_true, y_pred):
    return optax.losses.generalized_kl_divergence(y_pred, y_true)


def cosine_distance(y_true, y_pred):
    return optax.losses.cosine_distance(y_pred, y_true)


def cosine_similarity(y_true, y_pred):
    return optax.losses.cosine_similarity(y_pred, y_true)


def multiclass_hinge_loss(y_true, y_pred):
    return optax.losses.multiclass_hinge_loss(y_pred, y_true)


def multiclass_perceptron_loss(y_true, y_pred):
    return optax.losses.multiclass_perceptron_loss(y_pred, y_true)


def triplet_margin_loss(positives, negatives, anchors):
    return optax.losses.triplet_margin_loss(anchors, positives, negatives)


def binary_dice_loss(y_true, y_pred):
    return optax.losses.binary_dice_loss(y_pred, y_true)


def dice_loss(y_true, y_pred):
    return optax.losses.dice_loss(y_pred, y_true)


def multiclass_generalized_dice_loss(y_true, y_pred):
    return optax.losses.multiclass_generalized_dice_loss(y_pred, y_true)


def multiclass_sparsemax_loss(y_true, y_pred):
    return optax.losses.multiclass_sparsemax_loss(y_pred, y_true)


def sparsemax_loss(y_true, y_pred):
    return optax.losses.sparsemax_loss(y_pred, y_true)


def ranking_softmax_loss(y_true, y_pred):
    return optax.losses.ranking_softmax_loss(y_pred, y_true)


def _log_probs(rng, n, c):
    return np.log(_probs(rng, n, c))


_ELEM = "[N]"
_ROW = "[N, C]"

# name -> (function, inputs, shapes, sampler of the arguments in order)
OPTAX = {
    "sigmoid_binary_cross_entropy": (sigmoid_binary_cross_entropy, {"y_true": "{0, 1}", "y_pred": "real"}, _ELEM,
                                     lambda r: (_binary(r, N), _real(r, N))),
    "sigmoid_focal_loss": (sigmoid_focal_loss, {"y_true": "{0, 1}", "y_pred": "real"}, _ELEM,
                           lambda r: (_binary(r, N), _real(r, N))),
    "hinge_loss": (hinge_loss, {"y_true": "{-1, 1}", "y_pred": "real"}, _ELEM,
                   lambda r: (_binary(r, N) * 2 - 1, _real(r, N))),
    "perceptron_loss": (perceptron_loss, {"y_true": "{-1, 1}", "y_pred": "real"}, _ELEM,
                        lambda r: (_binary(r, N) * 2 - 1, _real(r, N))),
    "huber_loss": (huber_loss, {}, _ELEM, lambda r: (_real(r, N), _real(r, N))),
    "l2_loss": (l2_loss, {}, _ELEM, lambda r: (_real(r, N), _real(r, N))),
    "log_cosh": (log_cosh, {}, _ELEM, lambda r: (_real(r, N), _real(r, N))),
    "squared_error": (squared_error, {}, _ELEM, lambda r: (_real(r, N), _real(r, N))),
    "softmax_cross_entropy": (softmax_cross_entropy, {"y_true": "[0, 1]"}, _ROW,
                              lambda r: (_probs(r, N, C), _real(r, N, C))),
    "safe_softmax_cross_entropy": (safe_softmax_cross_entropy, {"y_true": "[0, 1]"}, _ROW,
                                   lambda r: (_probs(r, N, C), _real(r, N, C))),
    "softmax_cross_entropy_with_integer_labels": (softmax_cross_entropy_with_integer_labels, {"y_true": "{0..3}"},
                                                  ("[N]", "[N, 4]"), lambda r: (_labels(r, N, C), _real(r, N, C))),
    "poly_loss_cross_entropy": (poly_loss_cross_entropy, {"y_true": "[0, 1]"}, _ROW,
                                lambda r: (_probs(r, N, C), _real(r, N, C))),
    "kl_divergence": (kl_divergence, {"y_true": "[0, 1]", "y_pred": "(-inf, 0]"}, _ROW,
                      lambda r: (_probs(r, N, C), _log_probs(r, N, C))),
    "kl_divergence_with_log_targets": (kl_divergence_with_log_targets, {"y_true": "(-inf, 0]", "y_pred": "(-inf, 0]"},
                                       _ROW, lambda r: (_log_probs(r, N, C), _log_probs(r, N, C))),
    "convex_kl_divergence": (convex_kl_divergence, {"y_true": "[0, 1]", "y_pred": "(-inf, 0]"}, _ROW,
                             lambda r: (_probs(r, N, C), _log_probs(r, N, C))),
    "generalized_kl_divergence": (generalized_kl_divergence, {"y_true": "[0, inf)", "y_pred": "real"}, _ROW,
                                  lambda r: (_positive(r, N, C), _real(r, N, C))),
    "cosine_distance": (cosine_distance, {}, _ROW, lambda r: (_real(r, N, C), _real(r, N, C))),
    "cosine_similarity": (cosine_similarity, {}, _ROW, lambda r: (_real(r, N, C), _real(r, N, C))),
    "multiclass_hinge_loss": (multiclass_hinge_loss, {"y_true": "{0..3}"}, ("[N]", "[N, 4]"),
                              lambda r: (_labels(r, N, C), _real(r, N, C))),
    "multiclass_perceptron_loss": (multiclass_perceptron_loss, {"y_true": "{0..3}"}, ("[N]", "[N, 4]"),
                                   lambda r: (_labels(r, N, C), _real(r, N, C))),
    "triplet_margin_loss": (triplet_margin_loss, {}, ("[N, C]", "[N, C]", "[N, C]"),
                            lambda r: (_real(r, N, C), _real(r, N, C), _real(r, N, C))),
    "binary_dice_loss": (binary_dice_loss, {"y_true": "{0, 1}"}, _ROW, lambda r: (_binary(r, N, C), _real(r, N, C))),
    "dice_loss": (dice_loss, {"y_true": "{0, 1}"}, _ROW, lambda r: (_onehot(r, N, C), _real(r, N, C))),
    "multiclass_generalized_dice_loss": (multiclass_generalized_dice_loss, {"y_true": "{0, 1}"}, "[N, 4]",
                                         lambda r: (_onehot(r, N, C), _real(r, N, C))),
    "multiclass_sparsemax_loss": (multiclass_sparsemax_loss, {"y_true": "{0..3}"}, ("[N]", "[N, 4]"),
                                  lambda r: (_labels(r, N, C), _real(r, N, C))),
    "sparsemax_loss": (sparsemax_loss, {"y_true": "{0, 1}"}, _ELEM, lambda r: (_binary(r, N), _real(r, N))),
    "ranking_softmax_loss": (ranking_softmax_loss, {"y_true": "[0, 1]"}, _ROW,
                             lambda r: (_binary(r, N, C), _real(r, N, C))),
}
