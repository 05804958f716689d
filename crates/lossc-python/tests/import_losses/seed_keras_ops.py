"""The three losses of the Keras question, rewritten with ``keras.ops``
(run on the JAX backend): functions of ``(y_true, y_pred)`` for a sigmoid
output. The tests check lossc's findings on these lines."""

from keras import ops


def confident_mse(y_true, y_pred):
    # Squared error only where the model predicts the positive class.
    loss = ops.where(y_pred > 0.5, ops.square(y_true - y_pred), 0)
    return ops.mean(loss)


def faulty_ce(y_true, y_pred):
    epsilon = 1e-8
    loss = -ops.log(y_pred + epsilon) * y_true
    return ops.mean(loss)


def mse(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred))
