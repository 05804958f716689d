import numpy as np
import lossc

# Binary cross-entropy with a classic mistake: 1 - 1e-8 rounds to 1 in float32.
loss = lossc.compile(
    """
    let p = clip(y_pred, 1e-8, 1 - 1e-8)
    loss bce = mean(-(y_true * log(p) + (1 - y_true) * log(1 - p)))
    """,
    inputs={"y_true": "{0, 1}", "y_pred": "sigmoid"},
)
print(loss.check())  # in a notebook, `loss.check()` alone renders as HTML

print(loss.grad())  # the exact gradient, as .loss text

y_true = np.array([1, 0, 1, 0], dtype=np.float32)
y_pred = np.array([0.9, 0.2, 0.6, 0.1], dtype=np.float32)
ev = loss.eval(y_true=y_true, y_pred=y_pred)  # read in place, no copy
print(float(ev.value), ev.gradient["y_pred"])

bce = loss.to_jax()  # the NaN-safe JAX function (needs jax installed)
print(bce(y_true, y_pred))
