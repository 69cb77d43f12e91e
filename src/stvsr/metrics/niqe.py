"""NIQE (Mittal, Soundararajan and Bovik, IEEE SPL 2013): a no-reference naturalness score, lower is better.

Follows the LIVE MATLAB release with its pristine model (96×96 blocks, no overlap, two scales, 36 features per
block, AGGD fits by the moment-matching lookup of `estimateaggdparam.m`). Input is the BT.601 Y channel on
[0, 255] of the 8-bit image, rounded (as BasicSR does to match MATLAB). Vectorised over blocks.
Checked against BasicSR's independent implementation: see BENCHMARKS.md.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..ops.color import quantize
from ..ops.color import rgb_to_y
from ..ops.resize import imresize

BLOCK = 96


@lru_cache(maxsize=1)
def pristine_model() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with resources.files("stvsr.metrics").joinpath("data/niqe_pris_params.npz").open("rb") as handle:
        data = np.load(handle)
        return data["mu_pris_param"][0], data["cov_pris_param"], data["gaussian_window"]


@lru_cache(maxsize=1)
def _aggd_table() -> tuple[np.ndarray, np.ndarray]:
    gam = np.arange(0.2, 10.001, 0.001)
    lg = np.vectorize(math.lgamma)
    r_gam = np.exp(2 * lg(2 / gam) - lg(1 / gam) - lg(3 / gam))
    return gam, r_gam


def aggd_fit(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric generalised Gaussian fit of each row of `samples` (B, n): alpha, beta_left, beta_right (B,)."""
    gam, r_gam = _aggd_table()
    with np.errstate(invalid="ignore", divide="ignore"):
        neg = np.where(samples < 0, samples, np.nan)
        pos = np.where(samples > 0, samples, np.nan)
        left = np.sqrt(np.nanmean(neg ** 2, axis=1)) if np.any(samples < 0) else np.full(len(samples), np.nan)
        right = np.sqrt(np.nanmean(pos ** 2, axis=1)) if np.any(samples > 0) else np.full(len(samples), np.nan)
        gamma_hat = left / right
        r_hat = np.mean(np.abs(samples), axis=1) ** 2 / np.mean(samples ** 2, axis=1)
        r_norm = r_hat * (gamma_hat ** 3 + 1) * (gamma_hat + 1) / (gamma_hat ** 2 + 1) ** 2
        # A flat block has no negative (or positive) coefficients: r_norm is NaN and, as MATLAB's min() over
        # all-NaN, the lookup falls on its first entry (alpha = 0.2) while the betas stay NaN.
        alpha = gam[np.argmin((r_gam[None] - r_norm[:, None]) ** 2, axis=1)]
        ratio = np.sqrt(np.exp(_lgamma(1 / alpha) - _lgamma(3 / alpha)))
    return alpha, left * ratio, right * ratio


def _lgamma(x: np.ndarray) -> np.ndarray:
    return torch.special.gammaln(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()


def _block_features(blocks: np.ndarray) -> np.ndarray:
    """18 features of each MSCN block (B, h, w): AGGD shape and scale, then 4 per neighbour product."""
    b = blocks.reshape(len(blocks), -1)
    alpha, left, right = aggd_fit(b)
    features = [alpha, (left + right) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):  # horizontal, vertical, two diagonals (circular in the block)
        product = (blocks * np.roll(blocks, shift, axis=(1, 2))).reshape(len(blocks), -1)
        alpha, left, right = aggd_fit(product)
        with np.errstate(invalid="ignore"):
            mean = (right - left) * np.exp(_lgamma(2 / alpha) - _lgamma(1 / alpha))
        features += [alpha, mean, left, right]
    return np.stack(features, axis=1)


def _mscn(image: Tensor, window: Tensor) -> Tensor:
    """Mean-subtracted, contrast-normalised coefficients (Eq. 1), 7×7 window, replicate borders."""
    x = image[None, None]
    padded = F.pad(x, (3, 3, 3, 3), mode="replicate")
    mu = F.conv2d(padded, window)
    sigma = (F.conv2d(F.pad(x * x, (3, 3, 3, 3), mode="replicate"), window) - mu * mu).abs().sqrt()
    return ((x - mu) / (sigma + 1))[0, 0]


def niqe_y(y: Tensor) -> float:
    """NIQE of one Y image (H, W) on [0, 255]; needs at least 96×96 pixels."""
    mu_p, cov_p, window_np = pristine_model()
    h, w = (y.shape[0] // BLOCK) * BLOCK, (y.shape[1] // BLOCK) * BLOCK
    if h == 0 or w == 0:
        raise ValueError(f"NIQE needs at least {BLOCK}x{BLOCK} pixels, got {y.shape[1]}x{y.shape[0]}")
    image = y[:h, :w].double()
    window = torch.from_numpy(window_np).view(1, 1, 7, 7)
    per_scale = []
    for scale in (1, 2):
        m = _mscn(image, window).numpy()
        size = BLOCK // scale
        blocks = m.reshape(h // BLOCK, size, w // BLOCK, size).transpose(0, 2, 1, 3).reshape(-1, size, size)
        per_scale.append(_block_features(blocks))
        if scale == 1:
            image = imresize(image / 255, 0.5) * 255
    features = np.concatenate(per_scale, axis=1)
    mu = np.nanmean(features, axis=0)
    complete = features[~np.isnan(features).any(axis=1)]
    if len(complete) < 2:  # a single block has no covariance: NIQE is undefined
        return float("nan")
    cov = np.cov(complete, rowvar=False)
    diff = mu_p - mu
    return float(np.sqrt(diff @ np.linalg.pinv((cov_p + cov) / 2) @ diff))


def niqe(image: Tensor, *, crop_border: int = 0) -> float:
    """NIQE of a float RGB image (3, H, W) in [0, 1] (rounded to 8 bits, BT.601 Y, rounded)."""
    y = rgb_to_y(quantize(image).double())[0] * 255
    if crop_border:
        y = y[crop_border:-crop_border, crop_border:-crop_border]
    return niqe_y(y.round())
