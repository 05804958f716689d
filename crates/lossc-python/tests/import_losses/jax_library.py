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
