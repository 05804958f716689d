"""Hand-written PyTorch losses that lossc imports in the tests
(test_import_torch.py). A comment `# at: NAME` marks a line a test expects a
diagnostic or an error on; the tests find the line by that mark."""

import torch
import torch.nn.functional as F


def confident_mse(input, target):
    """Squared error counted only where the prediction is above 0.5 (the
    `torch.where` step on the prediction)."""
    error = torch.square(target - input)
    kept = torch.where(input > 0.5, error, torch.zeros_like(error))  # at: where
    return torch.mean(kept)


def log_eps(input, target):
    """Cross-entropy with an additive epsilon, on a sigmoid output."""
    log_p = torch.log(input + 1e-8)  # at: log
    return torch.mean(-log_p * target)


def helper_term(p):
    return torch.log(p)  # at: helper


def uses_a_helper(input, target):
    """An operation inside a helper function of the user's file."""
    return -(target * helper_term(input)).mean()  # at: caller


def data_dependent(input, target):
    """Python control flow on a tensor's values: not traceable."""
    if (input > 0.5).any():  # at: branch
        return F.mse_loss(input, target)
    return F.l1_loss(input, target)


def sorted_loss(input, target):
    """torch.sort has no built-in in the .loss language."""
    ranked, _ = torch.sort(input)  # at: sort
    return F.mse_loss(ranked, target)


def argmax_loss(input, target):
    """argmax gives indices."""
    best = torch.argmax(input, dim=-1)  # at: argmax
    return (best.float() - target).abs().mean()


def raises(input, target):
    """A Python exception inside the loss."""
    scale = {"mean": 1.0}["sum"]  # at: raise
    return scale * F.mse_loss(input, target)


def detached(input, target):
    """detach() stops the gradient: the language has no stop-gradient."""
    weight = input.detach()  # at: detach
    return (weight * (input - target) ** 2).mean()


def focal(input, target, gamma=2.0):
    """A binary focal loss on logits, with a keyword hyperparameter."""
    p = torch.sigmoid(input)
    ce = F.binary_cross_entropy_with_logits(input, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    return (ce * (1 - p_t) ** gamma).mean()


def row_dot(input, target):
    """A row-wise dot product and a keepdim reduction broadcast back."""
    centred = input - input.mean(dim=-1, keepdim=True)
    return -(centred * target).sum(dim=-1).mean()


def stable_builtins(input, target):
    """logsumexp, softplus and logsigmoid map to the stable built-ins."""
    return (torch.logsumexp(input, dim=-1) - (input * target).sum(-1)).mean() + F.softplus(input).mean() - F.logsigmoid(
        input
    ).mean()


def no_grad_block(input, target):
    """A torch.no_grad() block: its result carries no gradient."""
    with torch.no_grad():
        weight = torch.exp(input)  # at: no_grad
    return (weight * (input - target) ** 2).mean()


def one_hot_ce(input, target):
    """Sparse cross-entropy through F.one_hot (a float32 cast of the labels)."""
    oh = F.one_hot(target, 4).float()
    return -(oh * F.log_softmax(input, dim=1)).sum(1).mean()


def column_and_views(input, target):
    """x[:, 0], view(-1), a clamp and a division by the batch size."""
    p = torch.clamp(input[:, 0], 1e-7, 1 - 1e-7)
    flat = input.view(-1)
    return -(target * torch.log(p)).sum() / input.shape[0] + 0.1 * flat.mean()


def with_std(input, target):
    """A spread penalty: std over the samples."""
    return ((input - target) ** 2).mean(dim=1).mean() + 0.1 * input.std(dim=0).sum()


def softmax_dot(input, target):
    """A softmax and a row-wise dot."""
    return -(F.softmax(input, dim=-1) * target).sum(-1).mean()


def boolean_masks(input, target):
    """Booleans combined with `*` and `|` (torch's and/or), counted by sum."""
    mask = (target > 0.5) * (input < 0.5) | (input > 0.9)
    hits = mask.sum()
    return torch.where(mask, (input - target) ** 2, 0.1 * input).sum() / (hits + 1)


def class_weights(input, target):
    """A class-weight vector: a tensor constant of shape [3]."""
    return F.cross_entropy(input, target, weight=torch.tensor([1.0, 2.0, 3.0]))  # at: weights
