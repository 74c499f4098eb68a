"""The training loop of `robaudit train-reference`.

Batched on the device; mixed precision and channels-last on CUDA; DDP when launched with
torchrun (WORLD_SIZE > 1); the full training state is saved atomically after every epoch to
``<out>.state`` and a rerun with the same settings resumes from the last finished epoch.
Every random choice (model init, batch order, crops, pairs) derives from the one seed, so a
resumed run on the same device reproduces an uninterrupted one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robaudit.atomic import check_writable
from robaudit.data.base import ImageSet
from robaudit.errors import RobauditError, describe_exception
from robaudit.references import distributed as ddp
from robaudit.references import train_setup
from robaudit.references.checkpoint import make_checkpoint, save_torch
from robaudit.references.meta import build_meta, gamma_report
from robaudit.references.progress import EpochProgress
from robaudit.references.recipes import learning_rate
from robaudit.references.setup import Prepared, TrainSpec, load_data, prepare
from robaudit.references.trainee import Trainee, accuracy, augment, contrast, jitter, regularizer_fit, rotate90
from robaudit.seeding import seeded_generator
from robaudit.torch_files import load_weights_only

FIT_PAIRS = 256  # fixed pairs/images on which the regularizer's fit is reported each epoch


def train_reference(
    spec: TrainSpec,
    *,
    train: ImageSet | None = None,
    test: ImageSet | None = None,
    reg_set: ImageSet | None = None,
    predictor: nn.Module | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Train one reference model and write its checkpoint to spec.out; return the checkpoint.

    ``train``/``test``/``reg_set`` replace loading spec.dataset / spec.reg_data (tests, API use);
    ``predictor`` is the loaded ``spec.predictor`` model (robaudit.load_model) for the response kind.
    ``on_epoch_end(epoch)`` is called after each epoch's state is saved. The resume state
    ``<out>.state`` is removed once the checkpoint is written.
    """
    check_writable(spec.out, "--out")  # a folder or unwritable path fails before any training
    world = ddp.setup()
    device = ddp.device_for(spec.device, world)
    if train is None:
        train = load_data(spec.dataset, "train", spec.data_dir)
        test = _maybe_test(spec)
    prep = prepare(spec, train, test, reg_set, predictor, device.type)
    run = _Run(spec, prep, device, world)
    run.resume_or_start()
    for epoch in range(run.start_epoch, prep.recipe.epochs):
        run.train_epoch(epoch)
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    ckpt = run.finish()
    ddp.cleanup(world)
    return ckpt


def read_state(path: Path) -> dict[str, Any]:
    """The resume state saved beside the checkpoint; an unreadable one is a one-line error."""
    state = load_weights_only(path, "{path} is not a readable resume state ({reason}); delete it or pass --no-resume")
    if not isinstance(state, dict):
        raise RobauditError(f"{path} is not a resume state (a {type(state).__name__}); delete it or pass --no-resume")
    return state


def _maybe_test(spec: TrainSpec) -> ImageSet | None:
    try:
        return load_data(spec.dataset, "test", spec.data_dir)
    except RobauditError:
        return None


class _Run:
    """State of one training run (model, optimiser, scaler, curve) and its epoch loop."""

    def __init__(self, spec: TrainSpec, prep: Prepared, device: torch.device, world: ddp.World):
        self.spec, self.prep, self.device, self.world = spec, prep, device, world
        self.recipe = prep.recipe
        self.cuda = device.type == "cuda"
        self.trainee = Trainee(prep.net, prep.regularizer).to(device)
        if self.cuda and self.recipe.channels_last:
            self.trainee = self.trainee.to(memory_format=torch.channels_last)
        self.model = ddp.wrap(self.trainee, world, device)
        self.optimizer = train_setup.optimizer(self.trainee, prep)
        self.amp_dtype = train_setup.amp_dtype(self.cuda and self.recipe.amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.norm = train_setup.norm_tensors(prep, device)
        self.state_path = Path(spec.out).with_name(Path(spec.out).name + ".state")
        self.curve: list[dict[str, Any]] = []
        self.start_epoch, self.seconds = 0, 0.0
        self.fingerprint = train_setup.fingerprint(spec, prep)
        self._setup_regularizer()
        self.test_xy = train_setup.test_tensors(prep, spec.seed, device)

    def _setup_regularizer(self) -> None:
        self.reg = self.prep.regularizer
        self.fit_pairs: tuple[Tensor, tuple[Tensor, Tensor]] | None = None
        if self.reg is not None:
            self.reg.to(self.device)
            self.fit_pairs = self.reg.draw(FIT_PAIRS, seeded_generator(self.spec.seed, "fit"), fixed=True)
        self.fit_before: dict[str, float] | None = None

    def resume_or_start(self) -> None:
        if self.spec.resume and self.state_path.is_file():
            state = read_state(self.state_path)
            if state.get("fingerprint") != self.fingerprint:
                raise RobauditError(f"{self.state_path} holds a run with other settings; delete it or pass --no-resume")
            try:
                self.trainee.load_state_dict(state["trainee"])
                self.optimizer.load_state_dict(state["optimizer"])
                self.scaler.load_state_dict(state["scaler"])
                self.curve, self.start_epoch = state["curve"], int(state["epoch"])
                self.fit_before, self.seconds = state["fit_before"], float(state["seconds"])
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                raise RobauditError(f"{self.state_path} is not a usable resume state "
                                    f"({describe_exception(exc)[:160]}); delete it or pass --no-resume") from None
            ddp.log(self.world, f"resuming from {self.state_path} after epoch {self.start_epoch}")
        elif self.fit_pairs is not None:
            self.fit_before = self._fit()

    def _fit(self) -> dict[str, float]:
        assert self.fit_pairs is not None
        return regularizer_fit(self.trainee, self.fit_pairs, self.norm)

    def train_epoch(self, epoch: int) -> None:
        t0 = time.perf_counter()
        r, world = self.recipe, self.world
        n = len(self.prep.train)
        perm = torch.randperm(n, generator=seeded_generator(self.spec.seed, "order", epoch))
        shard = perm[world.rank :: world.size][: n // world.size]
        batch = max(1, min(r.batch_size // world.size, len(shard)))
        steps = max(1, len(shard) // batch)
        if self.spec.max_steps:
            steps = min(steps, self.spec.max_steps)
        aug_gen = seeded_generator(self.spec.seed, "augment", epoch, world.rank)
        pair_gen = seeded_generator(self.spec.seed, "pairs", epoch, world.rank)
        # task loss, reg loss, correct, seen, steps (on the device: no sync per step)
        sums = torch.zeros(5, dtype=torch.float64, device=self.device)
        every = max(1, steps // 50)
        self.trainee.train()
        with EpochProgress(epoch, r.epochs, steps, self.spec.quiet or not world.main, self._seconds_left()) as bar:
            for step in range(steps):
                lr = learning_rate(r, epoch + step / steps)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                idx = shard[step * batch : (step + 1) * batch]
                sums += self._step(idx, aug_gen, pair_gen)
                if (step + 1) % every == 0 or step + 1 == steps:
                    bar.update(step + 1, sums.tolist(), self.recipe.alpha)
        sums = ddp.all_reduce_sum(sums, world)
        self.seconds += time.perf_counter() - t0
        self._end_epoch(epoch, sums, lr)

    def _step(self, idx: Tensor, aug_gen: torch.Generator, pair_gen: torch.Generator) -> Tensor:
        x, y = self.prep.train.load(idx)
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        if self.recipe.augment:
            x = augment(x, aug_gen, pad=max(1, x.shape[-1] // 8))
        if self.recipe.rotate:
            x = rotate90(x, aug_gen)
        if self.recipe.jitter > 0:
            x = jitter(x, aug_gen, self.recipe.jitter)
        if self.recipe.contrast > 0:
            x = contrast(x, aug_gen, self.recipe.contrast)
        x = self._prepare_input(x)
        x_reg, pairs = self._reg_batch(pair_gen)
        autocast = torch.autocast("cuda", dtype=self.amp_dtype) if self.amp_dtype else nullcontext()
        with autocast:
            logits, reg_out = self.model(x, x_reg)
        task = F.cross_entropy(logits.float(), y, label_smoothing=self.recipe.label_smoothing)
        reg = torch.zeros((), device=self.device)
        if reg_out is not None and pairs is not None and self.reg is not None:
            reg = self.reg.loss(reg_out, pairs)
        loss = task + self.recipe.alpha * reg
        if not torch.isfinite(loss):
            raise RobauditError(f"the loss became {float(loss)}; lower --lr or --alpha")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        n = float(len(y))
        correct = (logits.argmax(1) == y).sum().double()
        one = torch.ones((), dtype=torch.float64, device=self.device)
        return torch.stack(
            [task.detach().double() * n, reg.detach().double() * n, correct, one * n, one]
        )  # stays on the device: no sync per step

    def _prepare_input(self, x: Tensor) -> Tensor:
        x = (x - self.norm[0]) / self.norm[1]
        if self.cuda and self.recipe.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _reg_batch(self, gen: torch.Generator) -> tuple[Tensor | None, tuple[Tensor, Tensor] | None]:
        if self.reg is None:
            return None, None
        idx, pairs = self.reg.draw(max(1, self.recipe.pair_batch // self.world.size), gen)
        return self._prepare_input(self.reg.images[idx.to(self.device)]), pairs

    def _seconds_left(self) -> float | None:
        """Estimated seconds for the epochs after the current one (None before one has finished)."""
        done = len(self.curve)
        if not done:
            return None
        return self.seconds / done * (self.recipe.epochs - self.start_epoch - done)

    def _end_epoch(self, epoch: int, sums: Tensor, lr: float) -> None:
        task, reg, correct, seen, steps = sums.tolist()
        alpha = self.recipe.alpha
        total = task / seen + alpha * reg / seen
        entry: dict[str, Any] = {
            "epoch": epoch + 1,
            "lr": lr,
            "loss": total,
            "task_loss": task / seen,
            "reg_loss": reg / seen,
            "reg_share": (alpha * reg / seen) / total if total else 0.0,
            "train_acc": correct / seen,
            "steps": int(steps / self.world.size),
        }
        if self.world.main and self.test_xy is not None:
            entry["test_acc"] = accuracy(self.trainee.net, *self.test_xy, self.norm)
        if self.fit_pairs is not None:
            entry["fit"] = self._fit()
        if self.reg is not None and "gamma" in self.reg.record():
            entry["gamma"] = list(self.reg.record()["gamma"].values())
        self.curve.append(entry)
        ddp.log(self.world, _epoch_line(entry))
        if self.world.main:
            save_torch(self._state(epoch + 1), self.state_path)
        ddp.barrier(self.world)

    def _state(self, epochs_done: int) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "epoch": epochs_done,
            "curve": self.curve,
            "trainee": self.trainee.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "fit_before": self.fit_before,
            "seconds": self.seconds,
        }

    def finish(self) -> dict[str, Any]:
        meta = build_meta(self.spec, self.prep, self.curve, self.world, self.device, self.seconds, self.fit_before)
        net = self.trainee.net.to("cpu").to(memory_format=torch.contiguous_format).eval()
        ckpt = make_checkpoint(net, meta)
        if self.world.main:
            save_torch(ckpt, Path(self.spec.out))
            self.state_path.unlink(missing_ok=True)  # the run is complete: nothing left to resume
            ddp.log(self.world, f"wrote {self.spec.out}")
            if "gamma" in meta:
                ddp.log(self.world, "learned layer weights γ: " + gamma_report(meta))
        return ckpt


def _epoch_line(e: dict[str, Any]) -> str:
    text = f"epoch {e['epoch']}: loss {e['loss']:.4f} train acc {e['train_acc']:.3f} reg share {e['reg_share']:.2f}"
    if "test_acc" in e:
        text += f" test acc {e['test_acc']:.3f}"
    if "fit" in e:
        text += f" fit r {e['fit']['pearson']:.3f}"
    return text
