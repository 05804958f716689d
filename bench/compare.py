#!/usr/bin/env python3
"""lossc against its peers, on the same losses, sizes and machine, in one run.

For MSE, BCE (clipped), Huber, focal (gamma 2, alpha 0.25) and categorical
cross-entropy from logits (N x C with C = 10), in f32 and f64, at 10M and
100k elements, times loss + gradient with:

- lossc      `lossc bench` (the fused-kernel evaluator; its own data, same
             domains and sizes), which also measures a STREAM-like triad
             (a = b + s c, streaming stores, all threads): the bandwidth bound;
- compile    torch.compile(torch.func.grad_and_value(loss, argnums=1));
- jax        jax.jit(jax.value_and_grad(loss, argnums=1));
- eager      PyTorch eager autograd (loss.backward());
- numpy      NumPy with a hand-written gradient;

and prints the medians side by side with the ratio (fastest of compile and
jax) / lossc, and lossc's time over the bandwidth bound (bytes read and
written once, at the triad's bandwidth). Machines are noisy: compare ratios
within one run, not times across runs.

    python3 bench/compare.py --install      # once: the peers, into a venv
    python3 bench/compare.py                # the full table (about 10 minutes)
    python3 bench/compare.py --sizes 100000 --losses mse,bce --dtypes f32

The peers live in a virtual environment outside the clone (see
bench/requirements.txt); without it only lossc and NumPy (if importable)
run. Build lossc first: `cargo build --release -p lossc-cli`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "bench" / "requirements.txt"
LOSSES = ["mse", "bce", "huber", "focal", "cce"]
EXAMPLE = {"mse": "mse", "bce": "bce", "huber": "huber", "focal": "focal", "cce": "cce_logits"}
CLASSES = 10


def venv_dir() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "lossc" / f"bench-venv-{digest}"


def install() -> Path:
    venv = venv_dir()
    python = venv / "bin" / "python"
    marker = venv / ".lossc-complete"
    if marker.exists():
        print(f"compare.py: reusing {venv}", file=sys.stderr)
        return python
    if venv.exists():
        shutil.rmtree(venv)
    print(f"compare.py: creating {venv} (torch, jax, numpy: about 5.6 GB)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r", str(REQUIREMENTS)],
        check=True,
    )
    marker.touch()
    return python


def in_venv_or_reexec(args: argparse.Namespace) -> None:
    """Re-runs this script with the peers' python if it exists and this is not it."""
    python = venv_dir() / "bin" / "python"
    if os.environ.get("LOSSC_COMPARE_CHILD") or not (venv_dir() / ".lossc-complete").exists():
        return
    if Path(sys.prefix).resolve() == venv_dir().resolve():
        return
    env = dict(os.environ, LOSSC_COMPARE_CHILD="1")
    argv = [a for a in sys.argv[1:] if a != "--install"]
    os.execve(str(python), [str(python), str(Path(__file__).resolve()), *argv], env)


# ----------------------------------------------------------------- the data


def make_data(np, loss: str, n: int, dtype: str, seed: int = 0):
    """(y_true, y_pred) inside the losses' declared domains, as lossc bench makes them."""
    rng = np.random.default_rng(seed)
    dt = np.float32 if dtype == "f32" else np.float64
    if loss == "cce":
        rows = n // CLASSES
        y_true = rng.uniform(0.0, 1.0, (rows, CLASSES)).astype(dt)
        y_pred = rng.uniform(-3.0, 3.0, (rows, CLASSES)).astype(dt)
    elif loss in ("bce", "focal"):
        y_true = rng.integers(0, 2, n).astype(dt)
        y_pred = rng.uniform(0.0, 1.0, n).astype(dt)
    else:
        y_true = rng.uniform(-3.0, 3.0, n).astype(dt)
        y_pred = rng.uniform(-3.0, 3.0, n).astype(dt)
    return y_true, y_pred


# ----------------------------------------------------------------- the peers


def torch_loss(torch, loss: str):
    eps = 1e-7

    def mse(t, p):
        return torch.mean(torch.square(t - p))

    def bce(t, p):
        q = torch.clamp(p, eps, 1 - eps)
        return torch.mean(-(t * torch.log(q) + (1 - t) * torch.log(1 - q)))

    def huber(t, p):
        e = t - p
        return torch.mean(torch.where(torch.abs(e) <= 1.0, 0.5 * torch.square(e), 1.0 * (torch.abs(e) - 0.5)))

    def focal(t, p):
        q = torch.clamp(p, eps, 1 - eps)
        p_t = torch.where(t == 1, q, 1 - q)
        alpha_t = torch.where(t == 1, 0.25, 0.75)
        return torch.mean(-alpha_t * (1 - p_t) ** 2 * torch.log(p_t))

    def cce(t, z):
        return torch.mean(-torch.sum(t * torch.log_softmax(z, dim=-1), dim=-1))

    return {"mse": mse, "bce": bce, "huber": huber, "focal": focal, "cce": cce}[loss]


def jax_loss(jnp, jax, loss: str):
    eps = 1e-7

    def mse(t, p):
        return jnp.mean(jnp.square(t - p))

    def bce(t, p):
        q = jnp.clip(p, eps, 1 - eps)
        return jnp.mean(-(t * jnp.log(q) + (1 - t) * jnp.log(1 - q)))

    def huber(t, p):
        e = t - p
        return jnp.mean(jnp.where(jnp.abs(e) <= 1.0, 0.5 * jnp.square(e), 1.0 * (jnp.abs(e) - 0.5)))

    def focal(t, p):
        q = jnp.clip(p, eps, 1 - eps)
        p_t = jnp.where(t == 1, q, 1 - q)
        alpha_t = jnp.where(t == 1, 0.25, 0.75)
        return jnp.mean(-alpha_t * (1 - p_t) ** 2 * jnp.log(p_t))

    def cce(t, z):
        return jnp.mean(-jnp.sum(t * jax.nn.log_softmax(z, axis=-1), axis=-1))

    return {"mse": mse, "bce": bce, "huber": huber, "focal": focal, "cce": cce}[loss]


def numpy_value_and_grad(np, loss: str):
    """Loss and hand-written gradient with respect to y_pred."""
    eps = 1e-7

    def mse(t, p):
        d = p - t
        return np.mean(d * d), d * (2.0 / d.size)

    def bce(t, p):
        q = np.clip(p, eps, 1 - eps)
        value = np.mean(-(t * np.log(q) + (1 - t) * np.log(1 - q)))
        inside = (p > eps) & (p < 1 - eps)
        grad = np.where(inside, (q - t) / (q * (1 - q)), 0.0) / p.size
        return value, grad.astype(p.dtype)

    def huber(t, p):
        e = t - p
        a = np.abs(e)
        value = np.mean(np.where(a <= 1.0, 0.5 * e * e, a - 0.5))
        grad = np.where(a <= 1.0, -e, -np.sign(e)) / p.size
        return value, grad.astype(p.dtype)

    def focal(t, p):
        q = np.clip(p, eps, 1 - eps)
        one = t == 1
        p_t = np.where(one, q, 1 - q)
        alpha_t = np.where(one, 0.25, 0.75)
        log_pt = np.log(p_t)
        value = np.mean(-alpha_t * (1 - p_t) ** 2 * log_pt)
        # d/dp_t of -a (1-p_t)^2 log p_t = a (2 (1-p_t) log p_t - (1-p_t)^2 / p_t)
        d_pt = alpha_t * (2 * (1 - p_t) * log_pt - (1 - p_t) ** 2 / p_t)
        inside = (p > eps) & (p < 1 - eps)
        grad = np.where(inside, np.where(one, d_pt, -d_pt), 0.0) / p.size
        return value, grad.astype(p.dtype)

    def cce(t, z):
        m = z.max(axis=-1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(axis=-1, keepdims=True)
        log_softmax = z - m - np.log(s)
        value = np.mean(-np.sum(t * log_softmax, axis=-1))
        grad = (e / s * t.sum(axis=-1, keepdims=True) - t) / z.shape[0]
        return value, grad

    return {"mse": mse, "bce": bce, "huber": huber, "focal": focal, "cce": cce}[loss]


# Every system runs for at least this long before it is timed (as
# `lossc bench` does): on an idle virtual machine a short run otherwise times
# the cores waking up.
WARM_UP_S = 0.3


def median_ms(run, runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        run()
    start = time.perf_counter()
    while time.perf_counter() - start < WARM_UP_S:
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


# ----------------------------------------------------------------- lossc


def lossc_bench(binary: Path, loss: str, n: int, dtype: str, threads: int, runs: int) -> dict:
    rows = n // CLASSES if loss == "cce" else n
    command = [
        str(binary), "bench", str(ROOT / "examples" / f"{EXAMPLE[loss]}.loss"),
        "--n", str(rows), "--dtype", dtype, "--threads", str(threads),
        "--runs", str(runs), "--triad", "--format", "json",
    ]
    if loss == "cce":
        command += ["--dim", f"C={CLASSES}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(output.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--install", action="store_true", help="create the peers' virtual environment first")
    parser.add_argument("--sizes", default="10000000,100000", help="elements per input, comma-separated")
    parser.add_argument("--dtypes", default="f32,f64")
    parser.add_argument("--losses", default=",".join(LOSSES))
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        help="timed runs per measurement, the median is kept (default: 15 at 1M elements and above, 200 below, "
        "where one run takes microseconds and a median of few is noise)",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--lossc", type=Path, default=ROOT / "target" / "release" / "lossc")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = parser.parse_args()

    if args.install:
        install()
    in_venv_or_reexec(args)
    if not args.lossc.exists():
        sys.exit(f"compare.py: no lossc at {args.lossc}; run `cargo build --release -p lossc-cli` first")

    try:
        import numpy as np
    except ImportError:
        sys.exit("compare.py: NumPy is needed (python3 bench/compare.py --install)")
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
        print("compare.py: no torch (python3 bench/compare.py --install); skipping it", file=sys.stderr)
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except ImportError:
        jax = None
        print("compare.py: no jax (python3 bench/compare.py --install); skipping it", file=sys.stderr)

    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    header = (
        f"{'loss':6} {'dtype':5} {'N':>9} | {'lossc':>8} {'compile':>8} {'jax':>8} {'eager':>8} {'numpy':>8} "
        f"| {'peer/lossc':>10} | {'bound':>7} {'lossc/bound':>11}"
    )
    print(f"loss + gradient, median ms, {args.threads} threads (peer: fastest of torch.compile and JAX)")
    print(header)
    print("-" * len(header))
    for size in sizes:
        for dtype in args.dtypes.split(","):
            for loss in args.losses.split(","):
                row = {"loss": loss, "dtype": dtype, "elements": size, "threads": args.threads}
                runs = args.runs or (15 if size >= 1_000_000 else 200)
                # The previous row's peers leave threads that spin for a while
                # after their last call (OpenMP's blocktime, XLA's pools): let
                # them stop before lossc's process starts.
                time.sleep(0.5)
                bench = lossc_bench(args.lossc, loss, size, dtype, args.threads, runs)
                row["lossc"] = bench["median_ms_value_and_grad"]
                row["lossc_value"] = bench["median_ms_value"]
                row["triad_gb_per_s"] = bench["triad_gb_per_s"]
                row["bound"] = bench["bytes_value_and_grad"] / (bench["triad_gb_per_s"] * 1e9) * 1e3
                t_np, p_np = make_data(np, loss, size, dtype)
                numpy_fn = numpy_value_and_grad(np, loss)
                row["numpy"] = median_ms(lambda: numpy_fn(t_np, p_np), runs)
                if torch is not None:
                    f = torch_loss(torch, loss)
                    t_t, p_t = torch.from_numpy(t_np), torch.from_numpy(p_np)

                    def eager():
                        p = p_t.detach().requires_grad_(True)
                        value = f(t_t, p)
                        (grad,) = torch.autograd.grad(value, p)
                        return value, grad

                    row["eager"] = median_ms(eager, runs)
                    # A fresh compiler state for every loss, dtype and size: the
                    # wrapper's code object is shared, and past Dynamo's
                    # recompilation limit it would silently run eagerly.
                    torch._dynamo.reset()
                    compiled = torch.compile(torch.func.grad_and_value(f, argnums=1), dynamic=False)
                    row["compile"] = median_ms(lambda: compiled(t_t, p_t), runs, warmup=3)
                if jax is not None:
                    g = jax.jit(jax.value_and_grad(jax_loss(jnp, jax, loss), argnums=1))
                    t_j, p_j = jnp.asarray(t_np), jnp.asarray(p_np)
                    row["jax"] = median_ms(lambda: jax.block_until_ready(g(t_j, p_j)), runs, warmup=3)
                peers = [row[k] for k in ("compile", "jax") if k in row]
                row["ratio"] = min(peers) / row["lossc"] if peers else None
                results.append(row)

                def cell(key):
                    return f"{row[key]:8.3f}" if key in row else f"{'-':>8}"

                ratio = f"{row['ratio']:10.2f}" if row["ratio"] is not None else f"{'-':>10}"
                print(
                    f"{loss:6} {dtype:5} {size:9d} | {cell('lossc')} {cell('compile')} {cell('jax')} {cell('eager')} "
                    f"{cell('numpy')} | {ratio} | {row['bound']:7.3f} {row['lossc'] / row['bound']:11.2f}",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
