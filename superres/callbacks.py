"""Training callbacks: precision, run-folder logs and checkpoints, throughput, time budgets, weight averaging."""
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from fastai.callback.channelslast import ChannelsLast
from fastai.callback.core import Callback, CancelFitException
from fastai.callback.fp16 import MixedPrecision
from fastai.callback.progress import ProgressCallback
from fastai.torch_core import find_bs
from fastcore.basics import store_attr

from .distributed import from_main_process
from .errors import UsageError
from .files import atomic_path, atomic_write_text
from .hub import save_model
from .precision import resolve_precision
from .ranks import is_main_process

__all__ = ['BF16Autocast', 'EpochLabel', 'CSVHistory', 'CHECKPOINT', 'Checkpoint', 'Throughput', 'CudnnAutotune',
           'precision_callbacks', 'PRECISION_CBS', 'TimeBudget', 'WeightAverage', 'ProgressiveResize', 'save_weights']

class BF16Autocast(Callback):
    "bf16 autocast on the CPU, the path fastai's CUDA-only `MixedPrecision` does not cover; no scaler needed."
    order = 10
    def before_batch(self):
        self.autocast = torch.autocast(self.dls.device.type if self.dls.device else 'cpu', dtype=torch.bfloat16)
        self.autocast.__enter__()
    def after_pred(self): self.learn.pred = self.pred.float()
    def after_loss(self): self.autocast.__exit__(None, None, None)

def _skipped(cb):
    "Whether this epoch is one that `fit(start_epoch=...)` skips while resuming (nothing to log or save)."
    return cb.epoch < getattr(cb.learn, 'resume_epoch', 0)

class EpochLabel(Callback):
    """fastprogress's bar labels epochs only as often as its throttle, timed on the instant skips of a resumed run,
    allows: a run resumed at epoch 18 of 40 would say `Epoch 6/40` to its end. Every epoch gets its label."""
    order = ProgressCallback.order - 1  # before the bar's update
    def before_epoch(self):
        bar = getattr(getattr(self.learn, 'progress', None), 'mbar', None)
        if bar is not None: bar.main_bar.wait_for = 1

class CSVHistory(Callback):
    "The per-epoch log as CSV, rewritten atomically after every epoch so it is never half-written."
    order = 51  # right after Recorder
    def __init__(self, fname, rows=()): self.fname, self.rows = Path(fname), [list(r) for r in rows]
    def after_epoch(self):
        if _skipped(self): return
        self.names = list(self.recorder.metric_names)
        self.rows.append([str(v) for v in self.recorder.log])
        if not is_main_process(): return  # one writer when data-parallel
        text = '\n'.join(','.join(r) for r in [self.names, *self.rows]) + '\n'
        atomic_write_text(self.fname, text)

CHECKPOINT = 'checkpoint.pth'

def save_weights(model, out):
    "The shareable weights of a run: model.pth; a GAN's generator alone there, its critic in critic.pth."
    save_model(getattr(model, 'generator', model), Path(out)/'model.pth')
    if hasattr(model, 'critic'): save_model(model.critic, Path(out)/'critic.pth')  # for a later fine-tune (--critic)

class Checkpoint(Callback):
    "After every epoch, atomically: shareable weights (model.pth, a GAN's critic.pth) and what `--resume` needs."
    order = 52
    def __init__(self, out, steps=0, phase=0): self.out, self.steps, self.phase = Path(out), steps, phase
    def after_batch(self):
        if self.training: self.steps += 1
    def after_epoch(self):
        if _skipped(self) or not is_main_process(): return
        model = getattr(self.learn.model, 'module', self.learn.model)  # unwrapped when data-parallel
        save_weights(model, self.out)
        # `L`s and numpy scalars become plain types: the file loads with weights_only=True
        opt = self.learn.opt.state_dict()
        plain = lambda d: {k: v.item() if hasattr(v, 'item') and not torch.is_tensor(v) else v for k, v in d.items()}
        opt = dict(state=[plain(st) for st in opt['state']], hypers=[plain(h) for h in opt['hypers']])
        state = dict(model=model.state_dict(), opt=opt, phase=self.phase,
                     epoch=self.epoch + 1, n_epoch=self.n_epoch, steps=self.steps)
        average = next((cb.avg for cb in self.learn.cbs if isinstance(cb, WeightAverage)), None)
        if average is not None: state['average'] = average.state_dict()  # a resumed run keeps averaging where it was
        with atomic_path(self.out/CHECKPOINT) as tmp: torch.save(state, tmp)

class Throughput(Callback):
    "Training images per second, data loading included, as a user waiting for an epoch experiences it."
    order = 99
    def before_fit(self): self.seconds, self.images = 0., 0
    def before_train(self): self.t0 = time.perf_counter()
    def after_batch(self):
        if self.training: self.images += find_bs(self.yb)
    def after_train(self): self.seconds += time.perf_counter() - self.t0
    @property
    def imgs_per_s(self): return self.images / max(self.seconds, 1e-9)

class CudnnAutotune(Callback):
    "Let cuDNN time its conv algorithms once per input shape (batches come in a few fixed sizes); restored after fit."
    def before_fit(self): self.was, torch.backends.cudnn.benchmark = torch.backends.cudnn.benchmark, True
    def after_fit(self): torch.backends.cudnn.benchmark = self.was

def precision_callbacks(precision='auto',  # `auto`, `fp32`, `bf16` or `fp16`, as `resolve_precision` reads it
                        channels_last=True,  # convs in channels-last memory order (`ChannelsLast`)
                        device=None):  # the device it trains on (None: the GPU if any)
    "Callbacks for the fastest kernels on `device`: AMP and cuDNN autotuning on CUDA, bf16 autocast on a CPU with it."
    cuda = (device or torch.device('cuda' if torch.cuda.is_available() else 'cpu')).type == 'cuda'
    precision = resolve_precision(precision, 'cuda' if cuda else 'cpu')
    cbs = ([ChannelsLast()] if channels_last else []) + ([CudnnAutotune()] if cuda else [])
    if precision == 'fp16': cbs.append(MixedPrecision('fp16'))
    elif precision == 'bf16': cbs.append(MixedPrecision('bf16') if cuda else BF16Autocast())
    return cbs

class TimeBudget(Callback):
    "Drive the schedule by the clock and end on a whole epoch within `seconds`, whatever the machine's speed."
    order = 55  # after Recorder logs an epoch, before ParamScheduler reads `pct_train`
    def __init__(self, seconds): self.seconds = seconds
    def before_fit(self):
        self.start = self.epoch_start = time.perf_counter()
        self.end, self.pct = self.start + self.seconds, 0.
    def before_epoch(self): self.epoch_start = time.perf_counter()
    def before_batch(self):
        if not self.training: return
        pct = from_main_process((time.perf_counter() - self.start) / max(self.end - self.start, 1e-9))  # ranks agree
        self.pct = max(self.pct, min(1., pct))
        self.learn.pct_train = self.pct
    def after_epoch(self):
        "Re-plan the end to the last whole epoch that fits, judging by the epoch just run."
        now = time.perf_counter()
        whole = int(from_main_process((self.start + self.seconds - now) // max(now - self.epoch_start, 1e-9)))
        if whole < 1: raise CancelFitException()
        self.end = now + whole * (now - self.epoch_start)

class WeightAverage(Callback):
    "Validate and finish on an exponential moving average of weights and BatchNorm stats: steadier than the last step."
    order = 60
    def __init__(self, decay=0.99):
        if not 0 <= decay < 1: raise UsageError(f'the weight average decay must be in [0, 1), got {decay}: '
                                                '1 would keep the initial weights')
        self.decay = decay
    @property
    def net(self): return getattr(self.model, 'module', self.model)  # unwrapped when data-parallel
    def before_fit(self):
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
        self.avg = AveragedModel(self.net, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=True)
        resumed = getattr(self.learn, 'resume_average', None)  # the average a checkpoint held (see `fit_phase`)
        if resumed is not None: self.avg.load_state_dict(resumed)
    def after_step(self): self.avg.update_parameters(self.net)
    def before_validate(self):
        self.trained = {k: v.clone() for k, v in self.net.state_dict().items()}
        self.net.load_state_dict(self.avg.module.state_dict())
    def after_validate(self): self.net.load_state_dict(self.trained)
    def after_fit(self): self.net.load_state_dict(self.avg.module.state_dict())

class ProgressiveResize(Callback):
    "Train on downscaled batches early in the schedule, where images are cheaper, reaching full size at `full_at`."
    order = 56  # after TimeBudget sets `pct_train`
    def __init__(self, start=32, full_at=0.5, step=8): store_attr()
    def before_batch(self):
        if not self.training: return
        full = self.x.shape[-1]
        size = self.start + (full - self.start) * min(1., self.pct_train / self.full_at)
        size = int(round(size / self.step) * self.step)
        if size < full: self.learn.xb = (F.interpolate(self.x, size=(size, size), mode='bilinear', antialias=True),)

PRECISION_CBS = (BF16Autocast, MixedPrecision)
