"""The three losses of the Keras question that started lossc, as its article
writes them with TensorFlow (and the `K.switch` form of the first), as
functions of (y_true, y_pred) for a model with a sigmoid output."""

import tensorflow as tf
from tf_keras import backend as K


def step_where(y_true, y_pred):
    loss = tf.where(y_pred > 0.5, tf.square(y_true - y_pred), 0.0)
    return tf.reduce_mean(loss)


def step_switch(y_true, y_pred):
    loss = K.switch(y_pred > 0.5, K.square(y_true - y_pred), K.zeros_like(y_pred))
    return K.mean(loss)


def log_eps(y_true, y_pred):
    epsilon = 1e-8
    loss = -tf.math.log(y_pred + epsilon) * y_true
    return tf.reduce_mean(loss)


def mse(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred))
