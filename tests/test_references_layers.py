"""Fixed layers, targets and the similarity loss against analytic or numpy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from robaudit.errors import RobauditError
from robaudit.references.backbones import ArchSpec, build_backbone
from robaudit.references.layers import GaussianBlur, Greyscale, fit_pca
from robaudit.references.similarity import (
    LayerSimilarity,
    PairTarget,
    neural_embedding,
    pixel_embedding,
    similarity_loss,
    snr_weights,
)


@pytest.mark.parametrize("sigma", [0.5, 1.5, 2.5, 3.0])
def test_blur_kernel_sums_to_one_and_has_spec_half_width(sigma: float) -> None:
    layer = GaussianBlur(3, sigma)
    assert layer.kernel.shape[-1] == 2 * math.ceil(2.5 * sigma) + 1
    torch.testing.assert_close(layer.kernel.sum(dim=(-1, -2)), torch.ones(3, 1))


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.5])
def test_blur_frequency_response_is_the_analytic_gaussian(sigma: float) -> None:
    n = 64
    impulse = torch.zeros(1, 1, n, n, dtype=torch.float64)
    impulse[0, 0, 0, 0] = 1.0
    layer = GaussianBlur(1, sigma).double()
    response = torch.fft.fft2(layer(impulse))[0, 0].abs()
    f = torch.fft.fftfreq(n, dtype=torch.float64)
    r2 = f[:, None] ** 2 + f[None, :] ** 2
    analytic = torch.exp(-2 * math.pi**2 * sigma**2 * r2)  # FT of a unit-mass Gaussian
    # the kernel is truncated at 2.5σ and renormalised: a small, bounded deviation
    assert float((response - analytic).abs().max()) < 0.01


def test_blur_commutes_with_per_channel_normalisation() -> None:
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    mean = torch.tensor([0.4, 0.5, 0.6], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor([0.2, 0.25, 0.3], dtype=torch.float64).view(1, 3, 1, 1)
    blur = GaussianBlur(3, 1.5).double()
    torch.testing.assert_close(blur((x - mean) / std), (blur(x) - mean) / std)


def _numpy_projection(data: np.ndarray, k: int, x: np.ndarray, centre: bool) -> np.ndarray:
    mu = data.mean(axis=0)
    _, _, vt = np.linalg.svd(data - mu, full_matrices=False)
    u = vt[:k]
    return mu + (x - mu) @ u.T @ u if centre else x @ u.T @ u


@pytest.mark.parametrize("centre", [True, False])
def test_pca_matches_numpy_is_idempotent_and_has_rank_k(centre: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(200, 1, 6, 6, generator=gen) * torch.linspace(0.2, 1, 36).view(1, 1, 6, 6)
    k = 7
    layer = fit_pca(images, k, centre=centre).double()
    x = torch.rand(5, 1, 6, 6, generator=gen, dtype=torch.float64)
    expected = _numpy_projection(images.flatten(1).double().numpy(), k, x.flatten(1).numpy(), centre)
    np.testing.assert_allclose(layer(x).flatten(1).numpy(), expected, atol=1e-4)
    torch.testing.assert_close(layer(layer(x)), layer(x), atol=1e-5, rtol=1e-5)
    jac = torch.autograd.functional.jacobian(lambda v: layer(v.view(1, 1, 6, 6)).flatten(), x[0].flatten())
    assert int(torch.linalg.matrix_rank(jac)) == k


def test_pca_refuses_a_too_large_covariance_with_the_limit() -> None:
    with pytest.raises(RobauditError, match="limit"):
        fit_pca(torch.zeros(2, 3, 8, 8), 4, max_dim=100)


def test_similarity_loss_and_gradient_match_the_formula() -> None:
    gen = torch.Generator().manual_seed(1)
    s = (torch.rand(32, generator=gen, dtype=torch.float64) * 2 - 1) * 0.99
    t = (torch.rand(32, generator=gen, dtype=torch.float64) * 2 - 1) * 0.99
    t[:3] = torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64)  # thresholded-style targets
    s.requires_grad_(True)
    loss = similarity_loss(s, t)
    loss.backward()
    sn, tn = s.detach().numpy(), np.clip(t.numpy(), -(1 - 1e-5), 1 - 1e-5)
    diff = np.arctanh(sn) - np.arctanh(tn)
    np.testing.assert_allclose(loss.item(), np.mean(diff**2), rtol=1e-10)
    assert s.grad is not None
    np.testing.assert_allclose(s.grad.numpy(), 2 * diff / (1 - sn**2) / len(sn), rtol=1e-8)


def _numpy_s_cnn(fa: list[np.ndarray], fb: list[np.ndarray], means: list[np.ndarray], logits: np.ndarray) -> np.ndarray:
    gamma = np.exp(logits) / np.exp(logits).sum()
    sims = []
    for a, b, m in zip(fa, fb, means, strict=True):
        a, b = a.reshape(len(a), -1) - m, b.reshape(len(b), -1) - m
        sims.append((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))
    return np.stack(sims, 1) @ gamma


def test_layer_similarity_and_its_gamma_gradient_match_numpy() -> None:
    gen = torch.Generator().manual_seed(2)
    fa = [torch.randn(6, 2, 3, 3, generator=gen), torch.randn(6, 5, generator=gen)]
    fb = [torch.randn(6, 2, 3, 3, generator=gen), torch.randn(6, 5, generator=gen)]
    target = torch.rand(6, generator=gen) * 1.6 - 0.8
    head = LayerSimilarity(["a", "b"], [18, 5])
    with torch.no_grad():
        head.logits.copy_(torch.tensor([0.3, -0.2]))
    s = head(fa, fb)  # training mode: first batch initialises the running mean
    loss = similarity_loss(s, target)
    loss.backward()
    fa_n, fb_n = [f.numpy() for f in fa], [f.numpy() for f in fb]
    means = [np.concatenate([a.reshape(6, -1), b.reshape(6, -1)]).mean(0) for a, b in zip(fa_n, fb_n, strict=True)]

    def np_loss(logits: np.ndarray) -> float:
        s_np = _numpy_s_cnn(fa_n, fb_n, means, logits)
        return float(np.mean((np.arctanh(s_np) - np.arctanh(target.numpy())) ** 2))

    logits = np.array([0.3, -0.2])
    np.testing.assert_allclose(s.detach().numpy(), _numpy_s_cnn(fa_n, fb_n, means, logits), atol=1e-5)
    np.testing.assert_allclose(float(loss), np_loss(logits), rtol=1e-4)
    h = 1e-5
    numeric = [(np_loss(logits + h * e) - np_loss(logits - h * e)) / (2 * h) for e in np.eye(2)]
    assert head.logits.grad is not None
    np.testing.assert_allclose(head.logits.grad.numpy(), numeric, rtol=1e-3, atol=1e-5)


def test_running_mean_uses_momentum_point_nine() -> None:
    head = LayerSimilarity(["a"], [2])
    one, three = torch.ones(2, 2), 3 * torch.ones(2, 2)
    head([one], [one])  # initialises the mean to the batch mean, 1
    head([three], [three])
    torch.testing.assert_close(head.mean0, torch.full((2,), 0.9 * 1 + 0.1 * 3))


def test_pixel_target_equals_numpy_reference() -> None:
    gen = torch.Generator().manual_seed(3)
    images = torch.rand(12, 3, 5, 5, generator=gen)
    images[1] = images[0] * 0.9 + 0.05  # a near-duplicate pair: S > 0.8
    target = PairTarget(embedding=pixel_embedding(images), threshold=0.8).full().numpy()
    x = images.double().numpy()
    grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).reshape(12, -1)
    r = grey - grey.mean(0)
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    s = r @ r.T
    expected = np.where(s > 0.8, 1.0, np.where(s < -0.8, -1.0, 0.0))
    np.testing.assert_array_equal(target, expected)
    assert target[0, 1] == 1.0
    raw = PairTarget(embedding=pixel_embedding(images)).full().numpy()
    np.testing.assert_allclose(raw, s, atol=1e-5)


def test_snr_weights_on_a_hand_made_example() -> None:
    # neuron 0: image 0 trials [1, 3] (mean 2, var 1), image 1 [5, 5] (mean 5, var 0)
    #   σ² = var([2, 5]) = 2.25, η² = mean([1, 0]) = 0.5 → w = 1.5 / √0.5
    # neuron 1: image 0 [0, 2] (mean 1, var 1), image 1 [2, 4] (mean 3, var 1) → w = 1 / 1
    responses = np.array([[[1.0, 0.0], [3.0, 2.0]], [[5.0, 2.0], [5.0, 4.0]]])  # (N, T, A)
    np.testing.assert_allclose(snr_weights(responses), [1.5 / math.sqrt(0.5), 1.0])


def test_neural_target_from_repeats_follows_the_spec() -> None:
    rng = np.random.default_rng(4)
    responses = rng.poisson(3.0, size=(7, 4, 9)).astype(float)
    e, w = neural_embedding(responses)
    assert w is not None
    r = responses.mean(axis=1) * w
    r = r - r.mean(0)
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    np.testing.assert_allclose(PairTarget(embedding=e).full().numpy(), r @ r.T, atol=1e-5)


def test_greyscale_uses_itu601_luma() -> None:
    x = torch.rand(2, 3, 4, 4)
    expected = 0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:]
    torch.testing.assert_close(Greyscale()(x), expected)


def test_cifar_resnet18_has_the_published_size_and_a_stride_one_stem() -> None:
    net = build_backbone(ArchSpec("resnet18", num_classes=10))
    assert sum(p.numel() for p in net.parameters()) == 11_173_962  # kuangliu/pytorch-cifar
    stem = net.get_submodule("stem.0")
    assert isinstance(stem, torch.nn.Conv2d)
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in net.modules())
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize(("arch", "readout"), [("timm:resnet18", "global_pool"), ("torchvision:resnet18", "avgpool")])
def test_library_backbones_get_stage_taps_and_a_pooled_readout(arch: str, readout: str) -> None:
    from robaudit.references.backbones import (
        default_feature_layers,
        default_readout_layer,
        feature_shapes,
    )

    net = build_backbone(ArchSpec(arch, num_classes=4, pretrained=False))
    assert default_feature_layers(net) == ["layer1", "layer2", "layer3", "layer4"]
    assert default_readout_layer(net) == readout
    shapes = feature_shapes(net, ["layer1", "layer4"], (3, 64, 64))
    assert shapes == [(64, 16, 16), (512, 2, 2)]  # stride-4 stem, stride-32 total
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 4)


def test_unknown_arch_and_layer_are_clear_errors() -> None:
    from robaudit.references.backbones import check_layers

    with pytest.raises(RobauditError, match="unknown --arch"):
        build_backbone(ArchSpec("resnet19", num_classes=4))
    with pytest.raises(RobauditError, match="layer9"):
        check_layers(build_backbone(ArchSpec("small-cnn", num_classes=4)), ["layer9"])
