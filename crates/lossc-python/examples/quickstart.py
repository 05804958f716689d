import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # lossc traces keras.ops code through JAX

import numpy as np
from keras import ops

import lossc


# The custom loss of "why is my Keras model not learning?", as it was written:
def custom_loss(y_true, y_pred):
    epsilon = 1e-8
    ce = -ops.log(y_pred + epsilon) * y_true
    return ops.mean(ce)


loss = lossc.compile(custom_loss, inputs={"y_true": "{0, 1}", "y_pred": "sigmoid"})
print(loss.check())  # over the line `ce = ...`; in a notebook, `loss.check()` renders as HTML
print(loss.source)  # the .loss program lossc read the function as

y_true = np.array([1, 0, 1, 0], dtype=np.float32)
y_pred = np.array([0.9, 0.2, 0.6, 0.1], dtype=np.float32)
ev = loss.eval(y_true=y_true, y_pred=y_pred)  # read in place, no copy
print(float(ev.value), ev.gradient["y_pred"])  # 0 wherever y_true = 0: those samples teach nothing

# The fix: binary cross-entropy from the logits (no sigmoid, no epsilon).
def bce_from_logits(y_true, logits):
    return ops.mean(ops.softplus(logits) - y_true * logits)


fixed = lossc.compile(bce_from_logits, inputs={"y_true": "{0, 1}", "logits": "linear"})
print(fixed.check())  # a note only: it overflows for logits beyond 1.7e38
logits = np.log(y_pred / (1 - y_pred))
print(fixed.to_jax()(y_true, logits))  # the same module lossc emits, NaN-safe under jax.grad
