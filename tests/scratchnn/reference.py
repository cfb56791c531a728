"""Textbook versions of convolution, pooling, the augmentations and the sequence layers: loops
over every output value, written to be read, not to be fast. The library's vectorised layers
are tested against them (and against finite differences). Shapes are channels last:
x (n, h, w, c), W (k, k, c, filters)."""

import math

import numpy as np


def pad(x: np.ndarray, p: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))


def conv2d(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """y[n, i, j, f] = b[f] + sum over (di, dj, c) of xp[n, s*i + di, s*j + dj, c] W[di, dj, c, f]
    with ``xp`` = x padded and s = stride."""
    xp = pad(x, padding)
    k, filters = W.shape[0], W.shape[3]
    h_out = (xp.shape[1] - k) // stride + 1
    w_out = (xp.shape[2] - k) // stride + 1
    y = np.zeros((len(x), h_out, w_out, filters))
    for n in range(len(x)):
        for i in range(h_out):
            for j in range(w_out):
                window = xp[n, i * stride : i * stride + k, j * stride : j * stride + k, :]
                for f in range(filters):
                    y[n, i, j, f] = np.sum(window * W[:, :, :, f]) + b[f]
    return y


def conv2d_backward(
    dy: np.ndarray, x: np.ndarray, W: np.ndarray, stride: int, padding: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dW, db): each output value sends dy * W to its window and dy * window to W."""
    xp = pad(x, padding)
    dxp, dW = np.zeros_like(xp), np.zeros_like(W)
    k = W.shape[0]
    for n in range(len(x)):
        for i in range(dy.shape[1]):
            for j in range(dy.shape[2]):
                rows, cols = slice(i * stride, i * stride + k), slice(j * stride, j * stride + k)
                for f in range(W.shape[3]):
                    dxp[n, rows, cols, :] += dy[n, i, j, f] * W[:, :, :, f]
                    dW[:, :, :, f] += dy[n, i, j, f] * xp[n, rows, cols, :]
    db = dy.sum(axis=(0, 1, 2))
    h, w = x.shape[1:3]
    return dxp[:, padding : padding + h, padding : padding + w, :], dW, db


def pool_windows(x: np.ndarray, pool: int, stride: int):
    """Yield (n, i, j, ch, rows, cols) for every window of every channel."""
    h_out = (x.shape[1] - pool) // stride + 1
    w_out = (x.shape[2] - pool) // stride + 1
    for n in range(x.shape[0]):
        for i in range(h_out):
            for j in range(w_out):
                for ch in range(x.shape[3]):
                    rows = slice(i * stride, i * stride + pool)
                    cols = slice(j * stride, j * stride + pool)
                    yield n, i, j, ch, rows, cols


def output_shape(x: np.ndarray, pool: int, stride: int) -> tuple[int, ...]:
    n, h, w, c = x.shape
    return (n, (h - pool) // stride + 1, (w - pool) // stride + 1, c)


def maxpool(x: np.ndarray, pool: int, stride: int) -> np.ndarray:
    y = np.zeros(output_shape(x, pool, stride))
    for n, i, j, ch, rows, cols in pool_windows(x, pool, stride):
        y[n, i, j, ch] = x[n, rows, cols, ch].max()
    return y


def maxpool_backward(dy: np.ndarray, x: np.ndarray, pool: int, stride: int) -> np.ndarray:
    """The gradient goes to each window's maximum; on a tie, to the first in reading order
    (``np.argmax`` of the row-major window)."""
    dx = np.zeros_like(x)
    for n, i, j, ch, rows, cols in pool_windows(x, pool, stride):
        window = x[n, rows, cols, ch]
        di, dj = np.unravel_index(np.argmax(window), window.shape)
        dx[n, rows.start + di, cols.start + dj, ch] += dy[n, i, j, ch]
    return dx


def avgpool(x: np.ndarray, pool: int, stride: int) -> np.ndarray:
    y = np.zeros(output_shape(x, pool, stride))
    for n, i, j, ch, rows, cols in pool_windows(x, pool, stride):
        y[n, i, j, ch] = x[n, rows, cols, ch].mean()
    return y


def avgpool_backward(dy: np.ndarray, x: np.ndarray, pool: int, stride: int) -> np.ndarray:
    dx = np.zeros_like(x)
    for n, i, j, ch, rows, cols in pool_windows(x, pool, stride):
        dx[n, rows, cols, ch] += dy[n, i, j, ch] / pool**2
    return dx


def shift_image(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` moved down by dy and right by dx pixels, zeros coming in."""
    side_h, side_w = image.shape
    out = np.zeros_like(image)
    for r in range(side_h):
        for q in range(side_w):
            if 0 <= r - dy < side_h and 0 <= q - dx < side_w:
                out[r, q] = image[r - dy, q - dx]
    return out


def smooth_by_loop(field: np.ndarray, sigma: float) -> np.ndarray:
    """The textbook 2-D Gaussian filter, zeros beyond the border: a sum over every pixel."""
    side = len(field)
    radius = int(4 * sigma + 0.5)
    weights = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    weights /= weights.sum()
    out = np.zeros_like(field)
    for r in range(side):
        for q in range(side):
            for i in range(-radius, radius + 1):
                for j in range(-radius, radius + 1):
                    if 0 <= r + i < side and 0 <= q + j < side:
                        out[r, q] += weights[i + radius] * weights[j + radius] * field[r + i, q + j]
    return out


def read_by_loop(image: np.ndarray, y: float, x: float) -> float:
    """One image read at the point (y, x): the 4 pixels around it, zeros outside."""
    side = len(image)

    def pixel(r: int, q: int) -> float:
        return image[r, q] if 0 <= r < side and 0 <= q < side else 0.0

    r, q = math.floor(y), math.floor(x)
    wy, wx = y - r, x - q
    top = pixel(r, q) * (1 - wx) + pixel(r, q + 1) * wx
    bottom = pixel(r + 1, q) * (1 - wx) + pixel(r + 1, q + 1) * wx
    return top * (1 - wy) + bottom * wy


# Sequence layers: one sample, one step, one gate, one head at a time.


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


def lstm(x: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Every h_t (batch, T, H) of an LSTM over ``x`` (batch, T, D), gate by gate: W, U, b hold
    the input, forget, output gates and the candidate side by side (4 blocks of H)."""
    H = U.shape[0]
    Wi, Wf, Wo, Wg = (W[:, j * H : (j + 1) * H] for j in range(4))
    Ui, Uf, Uo, Ug = (U[:, j * H : (j + 1) * H] for j in range(4))
    bi, bf, bo, bg = (b[j * H : (j + 1) * H] for j in range(4))
    hs = np.zeros((*x.shape[:2], H))
    for n in range(len(x)):
        h, c = np.zeros(H), np.zeros(H)
        for t in range(x.shape[1]):
            x_t = x[n, t]
            i = sigmoid(x_t @ Wi + h @ Ui + bi)
            f = sigmoid(x_t @ Wf + h @ Uf + bf)
            o = sigmoid(x_t @ Wo + h @ Uo + bo)
            g = np.tanh(x_t @ Wg + h @ Ug + bg)
            c = f * c + i * g
            h = o * np.tanh(c)
            hs[n, t] = h
    return hs


def gru(x: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Every h_t (batch, T, H) of a GRU over ``x`` (batch, T, D): update gate z, reset gate r,
    candidate n side by side; the reset gate scales ``h @ U_n``."""
    H = U.shape[0]
    Wz, Wr, Wn = (W[:, j * H : (j + 1) * H] for j in range(3))
    Uz, Ur, Un = (U[:, j * H : (j + 1) * H] for j in range(3))
    bz, br, bn = (b[j * H : (j + 1) * H] for j in range(3))
    hs = np.zeros((*x.shape[:2], H))
    for n in range(len(x)):
        h = np.zeros(H)
        for t in range(x.shape[1]):
            x_t = x[n, t]
            z = sigmoid(x_t @ Wz + h @ Uz + bz)
            r = sigmoid(x_t @ Wr + h @ Ur + br)
            candidate = np.tanh(x_t @ Wn + bn + r * (h @ Un))
            h = (1 - z) * candidate + z * h
            hs[n, t] = h
    return hs


def self_attention(
    x: np.ndarray,
    W_qkv: np.ndarray,
    b_qkv: np.ndarray,
    W_out: np.ndarray,
    b_out: np.ndarray,
    heads: int,
) -> np.ndarray:
    """Multi-head self-attention of ``x`` (batch, T, D), one sample and one head at a time."""
    D = x.shape[2]
    dh = D // heads
    y = np.zeros_like(x)
    for n in range(len(x)):
        qkv = x[n] @ W_qkv + b_qkv  # (T, 3D)
        q, k, v = qkv[:, :D], qkv[:, D : 2 * D], qkv[:, 2 * D :]
        outputs = []
        for head in range(heads):
            cols = slice(head * dh, (head + 1) * dh)
            scores = q[:, cols] @ k[:, cols].T / np.sqrt(dh)  # (T, T)
            weights = np.exp(scores - scores.max(axis=1, keepdims=True))
            weights /= weights.sum(axis=1, keepdims=True)
            outputs.append(weights @ v[:, cols])  # (T, dh)
        y[n] = np.concatenate(outputs, axis=1) @ W_out + b_out
    return y


def patches(images: np.ndarray, p: int) -> np.ndarray:
    """(batch, h, w, c) -> (batch, T, p*p*c): the p x p squares row by row, each read row by row."""
    n, h, w, c = images.shape
    out = np.zeros((n, (h // p) * (w // p), p * p * c))
    for s in range(n):
        for i in range(h // p):
            for j in range(w // p):
                square = images[s, i * p : (i + 1) * p, j * p : (j + 1) * p, :]
                out[s, i * (w // p) + j] = square.reshape(-1)
    return out
