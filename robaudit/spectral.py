"""Pure tensor frequency maths shared by every probe: grids, radial masks, hybrids, spectra.

Units: frequencies are in cycles per pixel (cpp). The 2-D FFT grid of an H×W image has
fy = k/H, fx = l/W wrapped into [-0.5, 0.5); the radial frequency r = sqrt(fx² + fy²) lies in
[0, 0.707]. A Nyquist fraction is cpp / 0.5. Nothing here knows about models or datasets.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

NYQUIST_CPP = 0.5
CORNER_CPP = NYQUIST_CPP * math.sqrt(2)  # the largest radial frequency: the FFT grid's corners


def to_nyquist(cpp: float) -> float:
    """Cycles per pixel → fraction of the Nyquist frequency (0.5 cpp)."""
    return cpp / NYQUIST_CPP


def both_units(cpp: float | None) -> dict[str, float | None]:
    """A frequency in both report units: {'cycles_per_pixel': …, 'nyquist_fraction': …}."""
    return {
        "cycles_per_pixel": cpp,
        "nyquist_fraction": None if cpp is None else to_nyquist(cpp),
    }


def radial_frequency(
    h: int, w: int, device: torch.device | str = "cpu", onesided: bool = False,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Radial frequency r (cpp) of every FFT bin, shape (H, W), or (H, W//2+1) if ``onesided``.

    ``onesided`` matches ``torch.fft.rfft2`` (last axis holds l = 0..W/2, fx = l/W ≥ 0).
    """
    fy = torch.fft.fftfreq(h, device=device, dtype=torch.float64)
    fx = (torch.fft.rfftfreq if onesided else torch.fft.fftfreq)(w, device=device, dtype=torch.float64)
    # fftfreq puts the Nyquist bin at -0.5, as the spec's [-0.5, 0.5) wrapping does.
    return torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2).to(dtype)


def lowpass_masks(f_mix: Tensor, h: int, w: int, onesided: bool = True) -> Tensor:
    """Radial disk masks M_k(f) = 1 where r ≤ f_mix[k], else 0. Shape (K, 1, H, W') float32.

    f_mix: (K,) cutoffs in cpp. W' = W//2+1 if ``onesided`` else W.
    """
    r = radial_frequency(h, w, f_mix.device, onesided=onesided)
    # A tiny tolerance so a cutoff equal to a bin's radius (e.g. 0.25 vs 1/4) includes it.
    return (r[None] <= f_mix[:, None, None] + 1e-9).float()[:, None]


def hybrid_images(x_low: Tensor, x_high: Tensor, f_mix: Tensor) -> Tensor:
    """Hybrids: low frequencies (r ≤ f_mix) of ``x_low`` + the rest of ``x_high``, clipped to [0, 1].

    x_low, x_high: (N, C, H, W) in [0, 1]; f_mix: (K,) cpp. Returns (K, N, C, H, W).
    Computed as x_high + lowpass(x_low − x_high), which equals the spec's
    Re(ifft2(F_low·M + F_high·(1 − M))) by linearity with one complex product per hybrid. The
    radial mask is symmetric under f → −f, so the masked spectrum stays Hermitian and the
    one-sided transform gives exactly the real part of the full inverse at half the cost.
    """
    h, w = x_low.shape[-2:]
    spec_diff = torch.fft.rfft2(x_low - x_high)
    masks = lowpass_masks(f_mix.to(x_low.device), h, w)[:, None]  # (K, 1, 1, H, W')
    out = torch.fft.irfft2(spec_diff[None] * masks, s=(h, w))
    out += x_high[None]
    return out.clamp_(0.0, 1.0)


def split_bands(x: Tensor, f_cut: float) -> tuple[Tensor, Tensor]:
    """Split x (…, H, W) into (low, high) at radial cutoff ``f_cut`` cpp; low + high == x."""
    h, w = x.shape[-2:]
    mask = lowpass_masks(torch.tensor([f_cut], device=x.device), h, w)[0, 0]
    spec = torch.fft.rfft2(x)
    low = torch.fft.irfft2(spec * mask, s=(h, w))
    return low, x - low


def bandpass(x: Tensor, f_lo: float, f_hi: float) -> Tensor:
    """Keep only frequencies f_lo < r ≤ f_hi of x (…, H, W) (no clipping)."""
    h, w = x.shape[-2:]
    r = radial_frequency(h, w, x.device, onesided=True)
    mask = ((r > f_lo) & (r <= f_hi)).float()
    return torch.fft.irfft2(torch.fft.rfft2(x) * mask, s=(h, w))


def power_spectrum(d: Tensor) -> Tensor:
    """Mean power spectrum of perturbations d (N, C, H, W): (H, W), unshifted, DC set to 0.

    Per image and channel the spatial mean is removed, P = |fft2(d)|² with no window, then
    averaged over images and channels (docs/metrics.md, adversarial spectrum).
    """
    centred = d - d.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(centred.double()).abs().pow(2).mean(dim=(0, 1))
    power[0, 0] = 0.0
    return power.float()


def radial_cumulative(power: Tensor) -> tuple[Tensor, Tensor]:
    """R(a) = Σ_{r ≤ a} P / Σ P at every distinct radial value a of the grid (DC excluded).

    power: (H, W) unshifted, as from :func:`power_spectrum`. Returns (radii, R), both (M,)
    float64 with radii ascending in cpp and R rising to 1.
    """
    radii, per_radius = radial_sums(power)
    total = per_radius.sum()
    return radii, per_radius.cumsum(0) / (total if total > 0 else 1.0)


def cumulative_profile(power: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`radial_cumulative` of power (H, W) on the CPU with (0, 0) prepended, so a profile
    whose first radial value already holds half the power still has a crossing."""
    radii, cumulative = radial_cumulative(power)
    zero = torch.zeros(1, dtype=radii.dtype)
    return torch.cat([zero, radii.cpu()]), torch.cat([zero, cumulative.cpu()])


def first_crossing(x: Tensor, y: Tensor, level: float = 0.0, rising: bool = True) -> float | None:
    """The x where y first crosses ``level`` (upwards if ``rising``), by linear interpolation.

    x, y: (M,) with x ascending. The crossing is between the first pair of neighbours with
    y[i] < level ≤ y[i+1] (mirrored when not rising). Returns None if there is none.
    """
    xs, ys = x.double().tolist(), (y.double() - level).tolist()
    if not rising:
        ys = [-v for v in ys]
    for i in range(len(xs) - 1):
        if ys[i] < 0 <= ys[i + 1]:
            t = -ys[i] / (ys[i + 1] - ys[i])
            return xs[i] + t * (xs[i + 1] - xs[i])
    return None


def half_crossings(radii: Tensor, cumulative: Tensor) -> Tensor:
    """Where each of many profiles first reaches 0.5: cumulative (B, M) non-decreasing from 0 at
    radii[0] = 0 → (B,) cpp, NaN where a profile never reaches 0.5 (an all-zero spectrum).
    :func:`first_crossing` per row, vectorised for bootstrap resamples."""
    above = cumulative >= 0.5
    j = above.double().argmax(dim=1).clamp(min=1)
    lo, hi = cumulative.gather(1, (j - 1)[:, None])[:, 0], cumulative.gather(1, j[:, None])[:, 0]
    t = (0.5 - lo) / (hi - lo).clamp(min=1e-300)
    f = radii[j - 1] + t * (radii[j] - radii[j - 1])
    return torch.where(above.any(dim=1), f, torch.full_like(f, float("nan")))


def sign_changes(y: Tensor) -> int:
    """How many times y (M,) changes sign (zeros are skipped)."""
    signs = [s for s in torch.sign(y).tolist() if s != 0]
    return sum(1 for a, b in zip(signs, signs[1:], strict=False) if a != b)


def gaussian_kernel(sigma: float) -> Tensor:
    """Normalised 2-D Gaussian kernel, half-width ceil(2.5σ), shape (2k+1, 2k+1), sums to 1."""
    half = max(1, math.ceil(2.5 * sigma))
    t = torch.arange(-half, half + 1, dtype=torch.float64)
    g = torch.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * sigma**2))
    return (g / g.sum()).float()


def power_spectra(d: Tensor) -> Tensor:
    """Per-image power spectra of d (N, C, H, W): (N, H, W) float64, unshifted, DC set to 0.

    As :func:`power_spectrum` (per-channel spatial mean removed, |fft2|², no window) but
    averaged over channels only, so the mean over images equals ``power_spectrum(d)``
    (used for bootstrap intervals over images).
    """
    centred = d - d.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(centred.double()).abs().pow(2).mean(dim=1)
    power[:, 0, 0] = 0.0
    return power


def radial_sums(power: Tensor) -> tuple[Tensor, Tensor]:
    """Σ P at each distinct radial value, DC excluded: power (..., H, W) unshifted →
    (radii (M,) ascending cpp, sums (..., M)) float64, with the radii of :func:`radial_cumulative`
    (so ``sums.cumsum(-1) / sums.sum(-1)`` is its R)."""
    h, w = power.shape[-2:]
    r = radial_frequency(h, w, power.device, dtype=torch.float64).flatten()
    keep = r > 0
    radii, inverse = torch.unique(torch.round(r[keep], decimals=9), return_inverse=True)
    p = power.double().flatten(-2)[..., keep]
    sums = torch.zeros(*p.shape[:-1], len(radii), dtype=torch.float64, device=power.device)
    return radii, sums.index_add_(-1, inverse, p)


def correlate_valid(x: Tensor, kernel: Tensor) -> Tensor:
    """'Valid' 2-D correlation of x (…, H, W) with kernel (…, kh, kw) via the FFT (exact up to
    float rounding; a fast convolution for large kernels). The kernel's leading dimensions
    broadcast against x's, e.g. one kernel per image: x (N, C, H, W), kernel (N, 1, kh, kw).
    Returns (…, H−kh+1, W−kw+1)."""
    h, w = x.shape[-2:]
    kh, kw = kernel.shape[-2:]
    size = (_fast_fft_size(h), _fast_fft_size(w))  # zero padding past H, W only adds wrapped
    spec = torch.fft.rfft2(x.float(), s=size) * torch.fft.rfft2(kernel.flip(-2, -1).float(), s=size)
    return torch.fft.irfft2(spec, s=size)[..., kh - 1 : h, kw - 1 : w].to(x.dtype)


def _fast_fft_size(n: int) -> int:
    """The smallest 5-smooth integer ≥ n (FFT lengths with only factors 2, 3, 5 are fastest)."""
    m = n
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


# ---------------------------------------------------------------- Fourier basis and filtering


def centred_frequency_indices(n: int, size: int | None = None) -> Tensor:
    """Integer DFT indices of an n-point axis in fftshift order (−n//2 … (n−1)//2), or only the
    central ``size`` of them (for a central size × size crop of a large grid). Shape (m,) int64."""
    order = torch.fft.fftshift(torch.fft.fftfreq(n, d=1.0 / n)).round().long()
    if size is None or size >= n:
        return order
    first = n // 2 - size // 2
    return order[first : first + size]


def fourier_basis(h: int, w: int, ky: Tensor, kx: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """Real, unit-L2 Fourier basis images of DFT indices (ky[i], kx[i]): (K, H, W).

    Equals Re(ifft2(δ(ky, kx) + δ(−ky, −kx))) normalised to unit L2 norm, i.e. the cosine
    cos(2π(ky·y/H + kx·x/W)) / ‖·‖; the pairs (ky, kx) and (−ky, −kx) give the same image.
    Frequencies are fy = ky/H and fx = kx/W cycles per pixel.
    """
    y = torch.arange(h, dtype=torch.float64)[None, :, None]
    x = torch.arange(w, dtype=torch.float64)[None, None, :]
    phase = ky.double()[:, None, None] * y / h + kx.double()[:, None, None] * x / w
    basis = torch.cos(2 * math.pi * phase)
    return (basis / basis.flatten(1).norm(dim=1)[:, None, None]).to(dtype)


def hermitian_representative(ky: int, kx: int, h: int, w: int) -> tuple[int, int]:
    """One fixed member of the pair {(ky, kx), (−ky, −kx)} (indices taken mod H, W), so a
    frequency and its mirror map to the same key."""
    a = (ky % h, kx % w)
    b = (-ky % h, -kx % w)
    return min(a, b)


def _gaussian_lowpass(r: Tensor, cutoff: Tensor) -> Tensor:
    """exp(−r² / 2c²) per cut-off c (K, 1, 1) over radii r (H, W'); c = 0 keeps only r = 0,
    c < 0 keeps nothing and c = +inf keeps everything."""
    safe = torch.where(cutoff > 0, cutoff, torch.ones_like(cutoff))
    gauss = torch.exp(-(r**2) / (2 * safe**2))
    gauss = torch.where(cutoff > 0, gauss, (r <= 1e-12).to(r.dtype) * (cutoff == 0).to(r.dtype))
    return torch.where(torch.isinf(cutoff), torch.ones_like(gauss), gauss)


def radial_transfer(h: int, w: int, low: Tensor, high: Tensor, kind: str = "ideal",
                    keep_mean: bool = False, onesided: bool = True) -> Tensor:
    """Radial pass-band transfer functions for low[k] < |f| ≤ high[k] (cpp): (K, H, W') float32.

    ``kind`` "ideal": 1 inside the band, 0 outside (the masks of :func:`lowpass_masks`);
    "gaussian": G_high − G_low with G_c(r) = exp(−r²/2c²) (Gaussian low-pass of cut-off c, the
    standard deviation of the frequency response). Use low = −1 for a low-pass and
    high = +inf for a high-pass. ``keep_mean`` sets the DC bin to 1, so the image mean survives.
    """
    r = radial_frequency(h, w, low.device, onesided=onesided, dtype=torch.float64)
    lo, hi = low.double()[:, None, None], high.double()[:, None, None]
    if kind == "ideal":
        # The same tolerance as lowpass_masks: a cut-off equal to a bin's radius includes it.
        transfer = ((r > lo + 1e-9) & (r <= hi + 1e-9)).double()
    elif kind == "gaussian":
        transfer = _gaussian_lowpass(r, hi) - _gaussian_lowpass(r, lo)
    else:
        raise ValueError(f"unknown filter kind {kind!r}: ideal or gaussian")
    if keep_mean:
        transfer[:, 0, 0] = 1.0
    return transfer.float()


def filter_images(x: Tensor, transfer: Tensor) -> Tensor:
    """x (N, C, H, W) filtered by each one-sided transfer function (K, H, W//2+1), clipped to
    [0, 1]: (K, N, C, H, W). Radial transfers are symmetric under f → −f, so the one-sided
    inverse transform is the real part of the full one."""
    h, w = x.shape[-2:]
    spec = torch.fft.rfft2(x)
    out = torch.fft.irfft2(spec[None] * transfer[:, None, None], s=(h, w))
    return out.clamp_(0.0, 1.0)


def octave_bands(f_min: float, f_max: float = NYQUIST_CPP) -> tuple[Tensor, Tensor, Tensor]:
    """Octave-wide bands with centres f_max, f_max/2, … down to the first centre below f_min·√2,
    ascending: (low edges, high edges, centres), each (B,) float64 cpp, high = 2·low,
    centre = low·√2 (the geometric mean of the edges)."""
    centres = [f_max]
    while centres[-1] / 2 * math.sqrt(2) > f_min:
        centres.append(centres[-1] / 2)
    c = torch.tensor(sorted(centres), dtype=torch.float64)
    return c / math.sqrt(2), c * math.sqrt(2), c
