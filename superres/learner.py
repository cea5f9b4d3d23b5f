"""Learner factories and training recipes, with the CPU speed-ups fastai leaves out."""
import json, time
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from fastcore.basics import store_attr
from fastcore.foundation import L
from fastcore.meta import delegates
from fastai.callback.channelslast import ChannelsLast
from fastai.callback.core import Callback, CancelFitException
from fastai.callback.fp16 import MixedPrecision
from fastai.callback.schedule import *  # noqa: F401,F403 (patches fit_one_cycle and lr_find onto Learner)
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat
from fastai.metrics import accuracy, top_k_accuracy
from fastai.optimizer import Adam
from fastai.torch_core import find_bs, one_param

from .data import classification_dls, decoded_dls
from .degradations import Chain, Downscale, parse_degradation
from .distributed import data_parallel, from_main_process, is_main_process, main_process_first
from .files import atomic_path, atomic_write_text, save_figure
from .losses import FeatureLoss, pixel_loss
from .metrics import psnr, ssim
from .models import classifier, classifier_from_config, restorer, restorer_from_config, restorer_config

__all__ = ['BF16Autocast', 'CudnnAutotune', 'CSVHistory', 'Checkpoint', 'load_checkpoint', 'fit_phase', 'Throughput', 'TimeBudget', 'WeightAverage', 'ProgressiveResize', 'cpu_supports_bf16',
           'precision_callbacks', 'top5_accuracy', 'classifier_learner', 'save_model', 'load_model', 'plot_history',
           'export_learner', 'train_classifier', 'unet_splitter', 'default_feature_layers', 'sr_loss', 'restoration_learner', 'show_results_png', 'task_degradation',
           'train_restorer']

def cpu_supports_bf16():
    "Whether this CPU has native bf16 matmuls (AVX512-BF16 or AMX), where bf16 autocast measured 2x fp32."
    return any(getattr(torch.cpu, f, lambda: False)() for f in ('_is_avx512_bf16_supported', '_is_amx_tile_supported'))

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

class Checkpoint(Callback):
    "After every epoch, atomically: shareable weights (model.pth) and what `--resume` needs (optimiser, epoch, steps)."
    order = 52
    def __init__(self, out, steps=0, phase=0): self.out, self.steps, self.phase = Path(out), steps, phase
    def after_batch(self):
        if self.training: self.steps += 1
    def after_epoch(self):
        if _skipped(self) or not is_main_process(): return
        model = getattr(self.learn.model, 'module', self.learn.model)  # unwrapped when data-parallel
        save_model(model, self.out/'model.pth')
        opt = self.learn.opt.state_dict()  # `L`s and numpy scalars become plain types: the file loads with weights_only=True
        plain = lambda d: {k: v.item() if hasattr(v, 'item') and not torch.is_tensor(v) else v for k, v in d.items()}
        opt = dict(state=[plain(st) for st in opt['state']], hypers=[plain(h) for h in opt['hypers']])
        state = dict(model=model.state_dict(), opt=opt, phase=self.phase,
                     epoch=self.epoch + 1, n_epoch=self.n_epoch, steps=self.steps)
        with atomic_path(self.out/CHECKPOINT) as tmp: torch.save(state, tmp)

def load_checkpoint(out, budget=None):
    "The checkpoint of an interrupted run in `out`, checked to be resumable."
    f = Path(out)/CHECKPOINT
    if budget: raise ValueError('--resume continues --epochs runs: a --budget schedule follows the clock and cannot be resumed')
    if not f.is_file(): raise FileNotFoundError(f'{f} does not exist: nothing to resume (run without --resume)')
    return torch.load(f, weights_only=True)

def fit_phase(learn, n_epoch, lr, cbs, phase=0, ckpt=None):
    "`fit_one_cycle`, continuing from `ckpt` if it stopped in this phase: same schedule and total steps as one run."
    checkpoint = next(cb for cb in cbs if isinstance(cb, Checkpoint))
    checkpoint.phase, learn.resume_epoch = phase, 0
    if ckpt is not None and ckpt['phase'] > phase: return  # finished before the interruption
    if ckpt is not None and ckpt['phase'] == phase:
        if ckpt['epoch'] >= n_epoch: raise ValueError(f'the checkpoint in {checkpoint.out} is of a finished run: nothing to resume')
        learn.model.load_state_dict(ckpt['model'])
        learn.create_opt()
        learn.opt.load_state_dict(dict(state=ckpt['opt']['state'], hypers=L(ckpt['opt']['hypers'])))
        learn.resume_epoch = ckpt['epoch']
    with data_parallel(learn): learn.fit_one_cycle(n_epoch, lr, cbs=cbs, start_epoch=learn.resume_epoch)

def _history_rows(out, ckpt, done_before=0):
    "The CSV rows of the epochs a checkpoint had completed, so a resumed run's history is whole."
    f = Path(out)/'history.csv'
    if ckpt is None or not f.is_file(): return []
    return [r.split(',') for r in f.read_text().splitlines()[1:]][:done_before + ckpt['epoch']]

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
    "Let cuDNN time its convolution algorithms once per input shape (batches come in a few fixed sizes); restored after fit."
    def before_fit(self): self.was, torch.backends.cudnn.benchmark = torch.backends.cudnn.benchmark, True
    def after_fit(self): torch.backends.cudnn.benchmark = self.was

def precision_callbacks(precision='auto', channels_last=True, device=None):
    "Callbacks for the fastest kernels on `device`: fp16 AMP and cuDNN autotuning on CUDA, bf16 autocast on a CPU that has it."
    cuda = (device or torch.device('cuda' if torch.cuda.is_available() else 'cpu')).type == 'cuda'
    if precision == 'auto': precision = 'fp16' if cuda else ('bf16' if cpu_supports_bf16() else 'fp32')
    if precision not in ('fp32', 'bf16', 'fp16'): raise ValueError(f'precision must be auto, fp32, bf16 or fp16, not {precision!r}')
    if precision == 'fp16' and not cuda: raise ValueError('fp16 mixed precision needs a CUDA GPU; use bf16 on a CPU')
    cbs = ([ChannelsLast()] if channels_last else []) + ([CudnnAutotune()] if cuda else [])
    if precision == 'fp16': cbs.append(MixedPrecision('fp16'))
    elif precision == 'bf16': cbs.append(MixedPrecision('bf16') if cuda else BF16Autocast())
    return cbs

def top5_accuracy(inp, targ):
    "Top-5 accuracy, or top-n when there are fewer than 5 classes (small subsets)."
    return top_k_accuracy(inp, targ, k=min(5, inp.shape[-1]))

def _batch_stats(dls):
    "Normalisation stats from one training batch, for DataLoaders that did not bring their own."
    x = dls.one_batch()[0].float()
    return x.mean((0, 2, 3)).tolist(), x.std((0, 2, 3)).tolist()

@delegates(Learner.__init__)
def classifier_learner(dls, model=None, preset=None, label_smoothing=0.1, precision='auto', channels_last=True,
                       model_kwargs=None, cbs=None, **kwargs):
    "A classification Learner: AdamW(eps 1e-5), cross-entropy, accuracy and top-5, fastest precision available."
    if model is None:
        mean, std = getattr(dls, 'stats', None) or _batch_stats(dls)
        vocab = list(dls.vocab)
        names = [dls.tin.names[w] for w in vocab] if hasattr(dls, 'tin') else vocab
        model = classifier(preset, n_out=len(vocab), mean=mean, std=std, vocab=vocab, names=names, **(model_kwargs or {}))
    cbs = list(cbs or []) + precision_callbacks(precision, channels_last, dls.device)
    return Learner(dls, model, loss_func=CrossEntropyLossFlat(label_smoothing=label_smoothing),
                   opt_func=partial(Adam, eps=1e-5), metrics=[accuracy, top5_accuracy], cbs=cbs, **kwargs)

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
    "Validate and finish on an exponential moving average of the weights (BatchNorm statistics included): steadier than the last step's."
    order = 60
    def __init__(self, decay=0.99):
        if not 0 <= decay < 1: raise ValueError(f'the weight average decay must be in [0, 1), got {decay}: 1 would keep the initial weights')
        self.decay = decay
    @property
    def net(self): return getattr(self.model, 'module', self.model)  # unwrapped when data-parallel
    def before_fit(self):
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
        self.avg = AveragedModel(self.net, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=True)
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

def save_model(model, fname):
    "Weights plus config in one file that `torch.load(weights_only=True)` can read: no pickle, no code."
    with atomic_path(fname) as tmp: torch.save({'config': model.config, 'state_dict': model.state_dict()}, tmp)
    return Path(fname)

def load_model(fname):
    "Rebuild a model saved by `save_model`."
    saved = torch.load(fname, map_location='cpu', weights_only=True)
    cfg = saved['config']
    model = (restorer_from_config if 'arch' in cfg else classifier_from_config)(cfg)
    model.load_state_dict(saved['state_dict'])
    return model.eval()

def plot_history(history, fname):
    "Loss and metric curves per epoch (from the CSV log, so a resumed run shows all of them) as a PNG."
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = history.names[1:-1]
    rows = [r for r in history.rows if len(r) >= len(names) + 1]
    cols = {n: [float(r[i+1]) for r in rows] for i, n in enumerate(names)}
    epochs = range(1, len(rows) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for n in ('train_loss', 'valid_loss'): ax1.plot(epochs, cols[n], 'o-', label=n.split('_')[0])
    ax1.set_xlabel('epoch'); ax1.set_ylabel('loss'); ax1.legend()
    for n in names[2:]: ax2.plot(epochs, cols[n], 'o-', label=n)
    ax2.set_xlabel('epoch'); ax2.set_ylabel('metric'); ax2.legend()
    fig.tight_layout()
    return save_figure(fig, fname, dpi=100)

PRECISION_CBS = (BF16Autocast, MixedPrecision)

def export_learner(learn, fname):
    "`learn.export` atomically, predicting in fp32 wherever it is loaded; the learner stays usable if export fails."
    dls, opt = learn.dls, learn.opt
    precision = [cb for cb in learn.cbs if isinstance(cb, PRECISION_CBS)]
    loss = learn.loss_func
    learn.remove_cbs(precision)
    learn.loss_func = loss.for_export() if hasattr(loss, 'for_export') else loss
    try:
        with atomic_path(fname) as tmp: learn.export(Path(tmp).resolve())
    finally:
        learn.dls, learn.opt, learn.loss_func = dls, opt, loss
        learn.add_cbs(precision)
    return Path(fname)

def train_classifier(out, data=None, preset=None, classes=None, per_class=None, epochs=5, budget=None, bs=128,
                     lr=3e-3, wd=None, size=64, label_smoothing=0.1, precision='auto', augment=True, trivial_augment=True, erase=0.25, pipeline='decoded',
                     progressive=False, max_epochs=1000, num_workers=None, seed=None, model_kwargs=None, resume=False,
                     skip_bad=False, tta=False, ema=None):
    "The whole recipe: data, learner, one-cycle (stretched over `budget` seconds if given), logs, plot and exports."
    from fastai.torch_core import set_seed
    if seed is not None: set_seed(seed)
    out = Path(out)
    ckpt = load_checkpoint(out, budget) if resume else None
    out.mkdir(parents=True, exist_ok=True)
    if pipeline not in ('datablock', 'decoded'): raise ValueError(f'pipeline must be datablock or decoded, not {pipeline!r}')
    subset = dict(classes=classes, per_class=per_class, size=size, bs=bs, augment=augment, trivial_augment=trivial_augment,
                  erase=erase, skip_bad=skip_bad)
    with main_process_first():  # rank 0 extracts and caches, the others reuse it
        dls = (classification_dls(data, num_workers=num_workers, **subset) if pipeline == 'datablock'
               else decoded_dls(data, **subset))
    learn = classifier_learner(dls, preset=preset, label_smoothing=label_smoothing, precision=precision,
                               model_kwargs=model_kwargs, path=out, wd=wd)
    learn.model.config['size'] = size
    meter, history = Throughput(), CSVHistory(out/'history.csv', _history_rows(out, ckpt))
    checkpoint = Checkpoint(out, steps=ckpt['steps'] if ckpt else 0)
    cbs = [history, checkpoint, meter] + ([TimeBudget(budget)] if budget else [])
    if ema: cbs.append(WeightAverage(ema))
    if progressive: cbs.append(ProgressiveResize(start=max(8, size//2), full_at=0.5 if progressive is True else progressive))
    fit_phase(learn, max_epochs if budget else epochs, lr, cbs, ckpt=ckpt)
    if is_main_process():
        extra = dict(tta_accuracy=float(accuracy(*learn.tta()))) if tta else {}
        _finish_run(learn, out, meter, history, epochs=len(history.rows), steps=checkpoint.steps, **extra)
    return learn

def unet_splitter(model):
    "Two parameter groups, the encoder then the rest, so `freeze()` freezes exactly the (pretrained) encoder."
    enc = {id(p) for p in model.encoder.parameters()}
    return [list(model.encoder.parameters()), [p for p in model.parameters() if id(p) not in enc]]

def default_feature_layers(clf, size=64, min_side=8):
    "The deepest body layer whose features keep at least `min_side` pixels a side: the reference's 256x8x8 on step2."
    sides, x = [], torch.zeros(1, 3, size, size, device=one_param(clf).device)
    with torch.no_grad():
        for i, layer in enumerate(clf[:-1]):
            x = layer(x)
            if i and x.shape[-1] >= min_side: sides.append(i)
    return (sides[-1],)

def sr_loss(loss='mse', classifier_model=None, feature_layers=None, feature_weights=None, gram_weight=0.):
    "A pixel loss (`mse`, `l1`) or `perceptual`: MSE plus features of a frozen classifier (weight 1/10 each)."
    if loss != 'perceptual': return pixel_loss(loss)
    if classifier_model is None: raise ValueError('the perceptual loss needs a trained classifier: pass --classifier RUN')
    from copy import deepcopy
    clf = deepcopy(classifier_model).eval()
    layers = tuple(feature_layers or default_feature_layers(clf))
    return FeatureLoss(clf, layers, feature_weights or (0.1,) * len(layers), pixel='mse', gram_wgt=gram_weight)

@delegates(Learner.__init__)
def restoration_learner(dls, arch='tiny_unet', loss='mse', classifier_model=None, preset='cpu', pretrained=True,
                     feature_layers=None, feature_weights=None, gram_weight=0., precision='auto', channels_last=True,
                     cbs=None, **kwargs):
    "A restoration Learner for the task of `dls`: UNet (encoder from `classifier_model` if `pretrained`), pixel or perceptual loss."
    encoder = classifier_model if pretrained else None
    if arch == 'dynamic_unet' and encoder is None: encoder = classifier(preset, n_out=1, mean=dls.stats[0], std=dls.stats[1])
    deg = getattr(dls, 'degradation', None)
    model = restorer(arch, preset, classifier_model=encoder, scale=getattr(dls, 'scale', 2), task=deg.spec if deg else None,
                     **({} if encoder is not None else dict(mean=dls.stats[0], std=dls.stats[1])))
    model.config['pretrained_encoder'] = classifier_model is not None and pretrained
    cbs = list(cbs or []) + precision_callbacks(precision, channels_last, dls.device)
    return Learner(dls, model, loss_func=sr_loss(loss, classifier_model, feature_layers, feature_weights, gram_weight),
                   opt_func=partial(Adam, eps=1e-5), metrics=[psnr, ssim], splitter=unet_splitter, cbs=cbs, **kwargs)

def show_results_png(learn, fname, n=6):
    "A grid of validation images, input | output | target, to judge a restoration model by eye."
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    xb, yb = learn.dls.valid.one_batch()
    learn.model.eval()
    with torch.inference_mode(): pred = learn.model(xb[:n]).float().clamp(0, 1)
    n = len(pred)
    fig, axs = plt.subplots(n, 3, figsize=(6, 2*n), squeeze=False)
    for i in range(n):
        for ax, img, title in zip(axs[i], (xb[i], pred[i], yb[i]), ('input', 'output', 'target')):
            ax.imshow(img.as_subclass(torch.Tensor).float().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
            ax.set_axis_off()
            if i == 0: ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, fname, dpi=80)

def _finish_run(learn, out, meter, history, **extra):
    "Everything a run folder holds: plot, weights-only model, exported learner, final metrics."
    plot_history(history, out/'history.png')
    save_model(learn.model, out/'model.pth')
    export_learner(learn, out/'export.pkl')
    metrics = dict(zip(history.names[1:-1], map(float, history.rows[-1][1:])),
                   train_imgs_per_s=meter.imgs_per_s, **extra)
    atomic_write_text(out/'metrics.json', json.dumps(metrics, indent=1))
    return metrics

def task_degradation(task='superres', scale=None, down=None, up=None, lr_input=False):
    "The training degradation of `task` (a spec); `scale`/`down`/`up` override its superres part; `lr_input` keeps LR small."
    deg = parse_degradation(task)
    parts = deg.parts if type(deg) is Chain else [deg]
    given = {k: v for k, v in dict(scale=scale, down=down, up=up).items() if v is not None}
    if not any(isinstance(d, Downscale) for d in parts):
        if given: raise ValueError(f'--{", --".join(given)} set(s) the superres task, not {task!r}: drop it or add +superres')
        if lr_input: raise ValueError(f'this arch upscales a low-resolution image: it needs a superres task, not {task!r}')
        return deg
    parts = [Downscale(**{**d.params, **given, **(dict(up=None) if lr_input else {})}) if isinstance(d, Downscale) else d
             for d in parts]
    return parts[0] if len(parts) == 1 else Chain(*parts)

def train_restorer(out, data=None, task='superres', arch='tiny_unet', loss='mse', classifier_path=None, trust_pickle=False,
                   pretrained=True, scale=None, classes=None, per_class=None, val_per_class=None, epochs=5, budget=None, bs=64,
                   lr=3e-3, size=64, preset='cpu', freeze_epochs=1, down=None, up=None, erase=True, feature_layers=None,
                   precision='auto', seed=None, num_workers=None, resume=False, skip_bad=False, pipeline='auto'):
    "The restoration recipe: paired data for `task`, UNet, loss; with a pretrained encoder, frozen for `freeze_epochs` first."
    from fastai.torch_core import set_seed
    from .data import decoded_paired_dls, decoded_pairs_unsupported, paired_dls
    from .inference import load_classifier
    if seed is not None: set_seed(seed)
    out = Path(out)
    ckpt = load_checkpoint(out, budget) if resume else None
    out.mkdir(parents=True, exist_ok=True)
    clf = load_classifier(classifier_path, trust_pickle) if classifier_path else None
    deg = task_degradation(task, scale, down, up, lr_input=restorer_config(arch).get('input') == 'lr')
    if pipeline not in ('auto', 'decoded', 'datablock'): raise ValueError(f'pipeline must be auto, decoded or datablock, not {pipeline!r}')
    decoded = pipeline == 'decoded' or (pipeline == 'auto' and not decoded_pairs_unsupported(data, deg, size))
    subset = dict(size=size, classes=classes, per_class=per_class, val_per_class=val_per_class, bs=bs, erase=erase, skip_bad=skip_bad)
    with main_process_first():
        dls = decoded_paired_dls(data, deg, **subset) if decoded else paired_dls(data, deg, num_workers=num_workers, **subset)
    learn = restoration_learner(dls, arch=arch, loss=loss, classifier_model=clf, pretrained=pretrained, preset=preset,
                             feature_layers=feature_layers, precision=precision, path=out)
    frozen = freeze_epochs if clf is not None and pretrained else 0
    done_before = frozen if ckpt and ckpt['phase'] == 1 else 0
    meter, history = Throughput(), CSVHistory(out/'history.csv', _history_rows(out, ckpt, done_before))
    checkpoint = Checkpoint(out, steps=ckpt['steps'] if ckpt else 0)
    start = time.perf_counter()
    if frozen:
        learn.freeze()
        fit_phase(learn, frozen, lr, [history, checkpoint, meter], phase=0, ckpt=ckpt)
        learn.unfreeze()
    cbs = [history, checkpoint, meter] + ([TimeBudget(max(0., budget - (time.perf_counter() - start)))] if budget else [])
    fit_phase(learn, 1000 if budget else epochs, lr, cbs, phase=1, ckpt=ckpt)
    if is_main_process():
        show_results_png(learn, out/'results.png')
        _finish_run(learn, out, meter, history, epochs=len(history.rows), steps=checkpoint.steps, arch=arch, loss=loss,
                    task=deg.spec, scale=deg.scale)
    return learn
