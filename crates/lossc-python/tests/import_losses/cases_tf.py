"""TensorFlow losses for the importer's tests: operations the importer
translates, and functions that cannot be imported."""

import tensorflow as tf
from tf_keras import backend as K

# --- translated -----------------------------------------------------------------
# Each takes (y_true, y_pred) of shape [N, 3] unless its name says otherwise.


def clipped_bce(y_true, y_pred):
    p = tf.clip_by_value(y_pred, 1e-7, 1 - 1e-7)
    return -tf.reduce_mean(y_true * tf.math.log(p) + (1 - y_true) * tf.math.log1p(-p), axis=-1)


def keras_backend(y_true, y_pred):
    p = K.clip(y_pred, K.epsilon(), 1 - K.epsilon())
    bce = K.mean(K.binary_crossentropy(y_true, p), axis=-1)
    gap = K.maximum(K.abs(y_true - y_pred), 0.25)
    return bce + K.sum(K.square(gap), axis=-1) + K.mean(K.switch(y_pred > 0.5, K.log(p), K.sqrt(p)), axis=-1)


def logits_losses(y_true, y_pred):
    sigmoid_ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    softmax_ce = tf.nn.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    return tf.reduce_sum(sigmoid_ce, axis=1) + softmax_ce


def along_axes(y_true, y_pred):
    log_probs = tf.nn.log_softmax(y_pred)
    probs = tf.nn.softmax(y_pred, axis=-1)
    top = tf.reduce_max(y_pred, axis=-1, keepdims=True)
    smallest = tf.reduce_min(y_true, axis=1)
    return -tf.reduce_sum(y_true * log_probs, axis=-1) + tf.reduce_sum(probs * (y_pred - top), axis=-1) + smallest


def unary_functions(y_true, y_pred):
    a = tf.exp(-tf.abs(y_pred)) + tf.sigmoid(y_pred) + tf.math.softplus(y_pred) + tf.tanh(y_pred)
    b = tf.math.rsqrt(1.0 + tf.square(y_pred)) + tf.sqrt(tf.abs(y_true) + 1.0) + tf.pow(tf.abs(y_pred) + 1.0, 1.5)
    c = tf.math.expm1(y_pred * 0.1) + tf.minimum(y_true, y_pred) - tf.math.squared_difference(y_true, y_pred)
    d = tf.math.divide_no_nan(y_true, y_pred) + tf.math.log_sigmoid(y_pred)
    return tf.reduce_mean(a + b + c + d, axis=-1)


def shapes_and_sizes(y_true, y_pred):
    column = y_true[:, 0]  # [N]
    weight = tf.expand_dims(column, -1)  # [N, 1]
    per_sample = tf.reduce_sum(weight * tf.square(y_true - y_pred), axis=1)
    n = tf.cast(tf.shape(y_pred)[0], y_pred.dtype)
    squeezed = tf.squeeze(tf.reshape(per_sample, [-1, 1]), axis=-1)
    return tf.reduce_sum(squeezed) / n + tf.reduce_sum(y_pred[..., -1]) / tf.cast(tf.size(column), y_pred.dtype)


def conditions(y_true, y_pred):
    inside = tf.logical_and(y_pred > -1.0, tf.logical_not(y_pred >= 1.0))
    either = tf.logical_or(inside, tf.equal(y_true, 0.0))
    hard = tf.cast(y_pred > 0.0, y_pred.dtype)
    return tf.reduce_mean(tf.where(either, tf.square(y_pred), tf.abs(y_pred)) + hard * y_true, axis=-1)


def per_sample_vector(y_true, y_pred):  # [N] inputs
    return tf.square(y_true - y_pred)


def mean_over_batch(y_true, y_pred):  # [N] inputs: sum / N with the batch size from tf.shape
    batch = tf.shape(y_true)[0]
    return tf.reduce_sum(tf.abs(y_true - y_pred)) / tf.cast(batch, tf.float64)


def stable_built_ins(y_true, y_pred):
    log_partition = tf.reduce_logsumexp(y_pred, axis=-1)
    log_probability = tf.math.log_sigmoid(y_pred)
    return log_partition - tf.reduce_sum(y_true * y_pred, axis=-1) - tf.reduce_mean(log_probability, axis=-1)


def more_functions(y_true, y_pred):
    a = tf.nn.softsign(y_pred) + tf.nn.elu(y_pred) + tf.nn.leaky_relu(y_pred, alpha=0.3)
    b = tf.math.xlogy(tf.abs(y_true), tf.abs(y_pred)) + tf.math.reciprocal(1.0 + tf.square(y_pred))
    c = tf.math.multiply_no_nan(y_pred, y_true) + tf.broadcast_to(tf.reduce_sum(y_pred, axis=-1, keepdims=True),
                                                                 tf.shape(y_pred))
    rows = tf.reduce_any(y_true > 1.0, axis=-1)  # [N]
    picked = tf.compat.v1.where(rows, y_pred, -y_pred)  # a vector condition selects rows
    return tf.reduce_mean(a + b + c + picked, axis=-1)


def norms(y_true, y_pred):
    distance = tf.norm(y_true - y_pred, axis=-1)
    length = tf.math.reduce_euclidean_norm(y_pred, axis=-1)
    spread = tf.math.reduce_std(y_pred - y_true, axis=-1)
    return distance + length + spread + tf.reduce_mean(tf.nn.relu6(y_pred * 4.0), axis=-1)


def one_hot_labels(labels, logits):  # labels: integers {0..2}, [N]; logits: [N, 3]
    return -tf.reduce_sum(tf.one_hot(labels, 3, dtype=logits.dtype) * tf.nn.log_softmax(logits), axis=-1)


@tf.function
def squared(x):
    return tf.square(x)


@tf.function
def decorated(y_true, y_pred):  # [N] inputs
    return tf.reduce_mean(squared(y_true - y_pred)) + tf.reduce_mean(tf.abs(y_pred))


def nan_guards(y_true, y_pred):
    ratio = y_true / y_pred
    finite = tf.where(tf.math.is_finite(ratio), ratio, 0.0)
    no_nan = tf.where(tf.math.is_nan(ratio), tf.zeros_like(ratio), ratio)
    no_inf = tf.where(tf.math.is_inf(ratio), tf.zeros_like(ratio), ratio)
    return tf.reduce_mean(finite + no_nan + no_inf, axis=-1)


# --- not translated ---------------------------------------------------------------


def python_branch_on_a_tensor(y_true, y_pred):
    if tf.reduce_mean(y_pred) > 0.5:
        return tf.reduce_mean(y_pred)
    return tf.reduce_mean(y_true)


def calls_numpy(y_true, y_pred):
    return tf.reduce_mean(y_pred).numpy()


def raises(y_true, y_pred):
    raise ValueError("this loss is broken")


def cumulative(y_true, y_pred):
    total = tf.math.cumsum(y_pred, axis=-1)
    return tf.reduce_mean(total)


def stops_gradient(y_true, y_pred):
    # The gradient flows through the second factor only.
    return tf.reduce_mean(tf.square(y_true - tf.stop_gradient(y_pred) * y_pred))


def flattens(y_true, y_pred):
    flat = tf.reshape(y_pred, [-1])
    return tf.reduce_mean(flat)


def returns_a_pair(y_true, y_pred):
    return tf.reduce_mean(y_pred), tf.reduce_mean(y_true)


def returns_a_matrix(y_true, y_pred):
    return tf.square(y_true - y_pred)


def stacks(y_true, y_pred):
    both = tf.stack([y_true, y_pred], axis=-1)
    return tf.reduce_mean(both)


def float32_inside(y_true, y_pred):
    low = tf.cast(y_pred, tf.float32)
    return tf.reduce_mean(tf.cast(tf.square(low), y_pred.dtype))


def range_slice(y_true, y_pred):
    return tf.reduce_mean(y_pred[:, 1:], axis=-1)


def integer_mean(y_true, y_pred):  # y_true: integer labels
    return tf.reduce_mean(y_pred) + tf.cast(tf.reduce_mean(y_true), y_pred.dtype)


WEIGHTS = tf.constant([1.0, 2.0, 5.0], dtype=tf.float64)
SCALE = tf.Variable(2.0, dtype=tf.float64)


def class_weights(y_true, y_pred):
    return tf.reduce_mean(WEIGHTS * tf.square(y_true - y_pred), axis=-1)


def scaled_by_a_variable(y_true, y_pred):
    return tf.reduce_mean(SCALE * tf.square(y_true - y_pred), axis=-1)


def constant_shapes_the_result(y_true, y_pred):  # [N] inputs
    return tf.reduce_mean(tf.ones([2, 1], tf.float64) * tf.square(y_true - y_pred))


def constant_of_ones(y_true, y_pred):  # [N, 3] inputs: a constant that does not shape the result
    return tf.reduce_sum(tf.ones([3], tf.float64) * tf.square(y_true - y_pred), axis=-1)


def one_hot_in_float32(labels, logits):  # tf.one_hot makes float32 unless told: fails with float64 logits
    return -tf.reduce_sum(tf.one_hot(labels, 3) * tf.nn.log_softmax(logits), axis=-1)
