"""The attack on a CUDA device (skipped without one).

Truths: the closed-form minimal perturbation of a linear two-class model (tests/test_adversarial_probe.py
builds it), and the same search on the CPU from the same images and seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from robaudit.attacks.bb_torch import TorchBrendelBethge
from robaudit.attacks.verify import distances
from tests.test_adversarial_probe import linear_context, run, truth
from tests.test_bb_torch import _bb, _mlp_problem

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_standard_search_on_cuda_reaches_the_analytic_minimum(norm: str) -> None:
    ctx, _ = linear_context(n=12)
    cuda_ctx = dataclasses.replace(ctx, model=ctx.model.to("cuda"), device=torch.device("cuda"))
    on_cuda = run(cuda_ctx, protocol="standard", n_images=8, norm=norm)
    cpu_ctx, lin = linear_context(n=12)  # the same model, images and seed, on the CPU
    ratio = torch.from_numpy(on_cuda.arrays["size"]).double() / truth(cpu_ctx, lin, on_cuda.arrays["index"], norm)
    assert on_cuda.metrics["success_rate"] == 1.0
    assert bool((ratio >= 1 - 1e-3).all()) and bool((ratio <= 1.01).all()), ratio
    on_cpu = run(cpu_ctx, protocol="standard", n_images=8, norm=norm)
    np.testing.assert_array_equal(on_cpu.arrays["index"], on_cuda.arrays["index"])
    np.testing.assert_allclose(on_cuda.arrays["size"], on_cpu.arrays["size"], rtol=0.01)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_brendel_bethge_on_cuda_matches_the_cpu(norm: str) -> None:
    net, x, labels, start = _mlp_problem(seed=2, n=4)
    on_cpu = _bb(TorchBrendelBethge(norm, steps=100), net, x, labels, start)
    cuda = net.to("cuda")
    on_cuda = _bb(TorchBrendelBethge(norm, steps=100), cuda, x.cuda(), labels.cuda(), start.cuda())
    assert on_cuda.device.type == "cuda"
    torch.testing.assert_close(distances(x.cuda(), on_cuda, norm).cpu(), distances(x, on_cpu, norm), rtol=0.01,
                               atol=0)
