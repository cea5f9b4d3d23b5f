"""Recipes: one skeleton (run folder, resume, frozen then unfrozen phases, logs, exports) to train every model kind."""
import json
import time
from pathlib import Path

import torch
from fastai.callback.mixup import CutMix, MixUp
from fastai.metrics import accuracy
from fastai.torch_core import set_seed
from fastcore.foundation import L

from .callbacks import (
    CHECKPOINT,
    Checkpoint,
    CSVHistory,
    ProgressiveResize,
    Throughput,
    TimeBudget,
    WeightAverage,
    save_weights,
)
from .card import update_config
from .data import (
    PIPELINES,
    classification_dls,
    decoded_dls,
    decoded_paired_dls,
    decoded_pairs_unsupported,
    paired_dls,
    segmentation_dls,
)
from .degradations import parse_degradation, task_degradation
from .distributed import data_parallel, main_process_first
from .errors import UsageError
from .evaluate import evaluate_segmenter
from .files import atomic_write_text
from .gan import CRITIC_THRESH, GAN_WEIGHT, gan_learner, load_critic
from .hub import load_classifier, load_restorer, set_parent_weights
from .learner import classifier_learner, export_learner, restoration_learner, segmentation_learner
from .models import ARCHS
from .plots import plot_history, show_masks_png, show_results_png
from .ranks import is_main_process
from .style import style_tensor

__all__ = ['PAIRED_PIPELINES', 'load_checkpoint', 'fine_tune_phases', 'fit_phase', 'train_classifier', 'train_restorer',
           'train_segmenter']

PAIRED_PIPELINES = ('auto',) + PIPELINES  # auto: decoded where it serves the data and task
MAX_EPOCHS = 1000  # a time budget's schedule follows the clock: it stops long before this

def load_checkpoint(out, budget=None):
    "The checkpoint of an interrupted run in `out`, checked to be resumable."
    f = Path(out)/CHECKPOINT
    if budget: raise UsageError('`resume` continues `epochs` runs: '
                                'a `budget` schedule follows the clock and cannot resume')
    if not f.is_file(): raise UsageError(f'{f} does not exist: nothing to resume (run without `resume`)')
    return torch.load(f, weights_only=True)

def fine_tune_phases(lr, lr_mult=100, pct_start=0.3, div=5.):
    "The one-cycle arguments of `Learner.fine_tune`'s frozen and unfrozen phases, for `fit_phase` (which can resume)."
    return dict(lr_max=slice(lr), pct_start=0.99), dict(lr_max=slice(lr / 2 / lr_mult, lr / 2), pct_start=pct_start,
                                                        div=div)

def fit_phase(learn, n_epoch, lr, cbs, phase=0, ckpt=None, last=True, **one_cycle):
    "`fit_one_cycle`, continuing from `ckpt` if it stopped in this phase: same schedule and total steps as one run."
    checkpoint = next(cb for cb in cbs if isinstance(cb, Checkpoint))
    checkpoint.phase, learn.resume_epoch, learn.resume_average = phase, 0, None
    if ckpt is not None and ckpt['phase'] > phase: return  # finished before the interruption
    if ckpt is not None and ckpt['phase'] == phase:
        if ckpt['epoch'] >= n_epoch and last:
            raise UsageError(f'the checkpoint in {checkpoint.out} is of a finished run: nothing to resume')
        learn.model.load_state_dict(ckpt['model'])
        if ckpt['epoch'] >= n_epoch: return  # interrupted between this phase's last epoch and the next phase's first
        learn.create_opt()
        learn.opt.load_state_dict(dict(state=ckpt['opt']['state'], hypers=L(ckpt['opt']['hypers'])))
        learn.resume_epoch, learn.resume_average = ckpt['epoch'], ckpt.get('average')
    one_cycle = dict(dict(lr_max=lr), **one_cycle)
    with data_parallel(learn): learn.fit_one_cycle(n_epoch, cbs=cbs, start_epoch=learn.resume_epoch, **one_cycle)

def _history_rows(out, ckpt, done_before=0):
    "The CSV rows of the epochs a checkpoint had completed, so a resumed run's history is whole."
    f = Path(out)/'history.csv'
    if ckpt is None or not f.is_file(): return []
    return [r.split(',') for r in f.read_text().splitlines()[1:]][:done_before + ckpt['epoch']]

def _start(out, seed, resume, budget):
    "Seed everything, find the checkpoint to resume from (if `resume`), make the run folder."
    if seed is not None: set_seed(seed)
    out = Path(out)
    ckpt = load_checkpoint(out, budget) if resume else None
    out.mkdir(parents=True, exist_ok=True)
    return out, ckpt

def _fit(learn, out, ckpt, epochs, lr, budget=None, frozen=0, cbs=(), phase=1, fine_tune=False, lr_mult=100):
    "The skeleton: `frozen` epochs frozen, then `epochs` (or `budget` seconds); lrs of `Learner.fine_tune` if asked."
    done_before = frozen if ckpt and ckpt['phase'] == 1 else 0
    meter, history = Throughput(), CSVHistory(out/'history.csv', _history_rows(out, ckpt, done_before))
    checkpoint = Checkpoint(out, steps=ckpt['steps'] if ckpt else 0)
    logs, start = [history, checkpoint, meter], time.perf_counter()
    frozen_cycle, cycle = fine_tune_phases(lr, lr_mult) if fine_tune else ({}, {})
    if frozen:
        learn.freeze()
        fit_phase(learn, frozen, lr, logs, phase=0, ckpt=ckpt, last=False, **frozen_cycle)
        learn.unfreeze()
    clock = [TimeBudget(max(0., budget - (time.perf_counter() - start)))] if budget else []
    fit_phase(learn, MAX_EPOCHS if budget else epochs, lr, logs + clock + list(cbs), phase=phase, ckpt=ckpt, **cycle)
    return dict(epochs=len(history.rows), steps=checkpoint.steps, meter=meter, history=history)

def _finish_run(learn, out, meter, history, fitted=None, **extra):
    "Everything a run folder holds: plot, weights-only model (of `fitted`, a GAN's), exported learner, final metrics."
    plot_history(history, out/'history.png')
    save_weights((fitted or learn).model, out)
    export_learner(learn, out/'export.pkl')
    metrics = dict(zip(history.names[1:-1], map(float, history.rows[-1][1:])), train_imgs_per_s=meter.imgs_per_s,
                   **extra)
    atomic_write_text(out/'metrics.json', json.dumps(metrics, indent=1))
    return metrics

def _choice(name, value, choices):
    if value not in choices: raise UsageError(f'`{name}` must be one of {", ".join(choices)}, not {value!r}')
    return value

def train_classifier(out, data=None, preset=None, classes=None, per_class=None, epochs=5, budget=None, bs=128, lr=3e-3,
                     wd=None, size=64, label_smoothing=0.1, precision='auto', augment=True, trivial_augment=True,
                     erase=0.25, pipeline='decoded', progressive=None, num_workers=None, seed=None, model_kwargs=None,
                     resume=False, skip_bad=False, tta=False, ema=None, mixup=None, cutmix=None):
    "The classification recipe: data, learner, one-cycle (over `budget` seconds if given), logs, plot and exports."
    if mixup and cutmix: raise UsageError('`mixup` and `cutmix` each replace the loss: pick one')
    out, ckpt = _start(out, seed, resume, budget)
    subset = dict(classes=classes, per_class=per_class, size=size, bs=bs, augment=augment,
                  trivial_augment=trivial_augment, erase=erase, skip_bad=skip_bad)
    with main_process_first():  # rank 0 extracts and caches, the others reuse it
        if _choice('pipeline', pipeline, PIPELINES) == 'datablock':
            dls = classification_dls(data, num_workers=num_workers, **subset)
        else: dls = decoded_dls(data, **subset)
    learn = classifier_learner(dls, preset=preset, label_smoothing=label_smoothing, precision=precision,
                               model_kwargs=model_kwargs, path=out, wd=wd)
    update_config(learn.model, size=size)
    cbs = [WeightAverage(ema)] if ema else []
    if mixup: cbs.append(MixUp(mixup))  # fastai's own: blended images, blended losses
    if cutmix: cbs.append(CutMix(cutmix))
    if progressive: cbs.append(ProgressiveResize(start=max(8, size//2),
                                                 full_at=0.5 if progressive is True else progressive))
    run = _fit(learn, out, ckpt, epochs, lr, budget, cbs=cbs, phase=0)  # one phase, numbered as in its checkpoints
    if is_main_process():
        extra = dict(tta_accuracy=float(accuracy(*learn.tta()))) if tta else {}
        _finish_run(learn, out, run.pop('meter'), run.pop('history'), **run, **extra)
    return learn

def _paired_data(data, deg, pipeline, num_workers, **subset):
    "Paired DataLoaders by `pipeline`: decoded where it serves (`auto`) or is asked for, else the DataBlock."
    _choice('pipeline', pipeline, PAIRED_PIPELINES)
    decoded = pipeline == 'decoded' or (pipeline == 'auto' and not decoded_pairs_unsupported(data, deg, subset['size']))
    with main_process_first():
        if decoded: return decoded_paired_dls(data, deg, **subset)
        return paired_dls(data, deg, num_workers=num_workers, **subset)

def train_restorer(out, data=None, task='superres', arch='tiny_unet', loss=None, classifier=None, trust_pickle=False,
                   pretrained=True, scale=None, classes=None, per_class=None, val_per_class=None, epochs=5, budget=None,
                   bs=64, lr=3e-3, size=64, preset='cpu', freeze_epochs=1, down=None, up=None, erase=None,
                   feature_layers=None, precision='auto', seed=None, num_workers=None, resume=False, skip_bad=False,
                   pipeline='auto', init=None, lr_mult=100, gan=False, gan_weight=GAN_WEIGHT, critic=None,
                   critic_arch='gan_critic', critic_thresh=CRITIC_THRESH, ema=None, sharpen_target=None, style=None,
                   top_skip=True):
    """The restoration recipe: paired data for `task`, net, loss; fine-tuned from `init` (`default`: the shipped one).
    The style task (its `style` a PIL image) defaults to the style loss and no erasing, the others to mse and 0.25."""
    loss = _task_loss(task, loss, style)
    if erase is None: erase = 0. if loss == 'style' else 0.25  # a style model paints whole photos, not holes
    if gan and init is None:
        raise UsageError('`gan` fine-tunes a trained generator, as fastai\'s recipe does: pass `init` (a model of this '
                         'task, e.g. a run trained with the same task and a pixel or perceptual loss)')
    out, ckpt = _start(out, seed, resume, budget)
    critic = _critic(critic, critic_arch, size) if gan else None  # after seeding: a new critic starts the same
    clf = load_classifier(classifier, trust_pickle) if classifier or loss in ('perceptual', 'style') else None
    base = load_restorer(init, trust_pickle, device='cpu', scale=scale, folded=False) if init is not None else None
    if base is not None: arch = base.card.arch
    deg = task_degradation(task, scale, down, up, lr_input=ARCHS[arch].takes_lr)
    dls = _paired_data(data, deg, pipeline, num_workers, size=size, classes=classes, per_class=per_class,
                       val_per_class=val_per_class, bs=bs, erase=erase, skip_bad=skip_bad,
                       sharpen_target=sharpen_target)
    learn = restoration_learner(dls, arch=arch, loss=loss, classifier_model=clf, pretrained=pretrained, preset=preset,
                                feature_layers=feature_layers, precision=precision, path=out, init_model=base,
                                style=style_tensor(style, size) if style is not None else None, top_skip=top_skip)
    encoder = clf is not None and pretrained and ARCHS[arch].encoder and base is None
    frozen = freeze_epochs if encoder or gan or (base is not None and learn.new_params) else 0
    fit_learn = _gan(learn, base, critic, gan_weight, critic_thresh, precision) if gan else learn
    run = _fit(fit_learn, out, ckpt, epochs, lr, budget, frozen=frozen, fine_tune=base is not None and not gan,
               lr_mult=lr_mult, cbs=[WeightAverage(ema)] if ema else [])
    if is_main_process():
        show_results_png(learn, out/'results.png')
        _finish_run(learn, out, run.pop('meter'), run.pop('history'), fit_learn, **run, arch=arch, loss=loss,
                    task=deg.spec, scale=deg.scale, **(dict(gan_weight=gan_weight) if gan else {}))
    return learn

def _task_loss(task, loss, style):
    "The loss name: the task's when none is given; the style loss and the style task (and its image) go together."
    is_style = parse_degradation(task).name == 'style'
    loss = loss or ('style' if is_style else 'mse')
    if is_style != (loss == 'style'):
        raise UsageError('the style task trains with the style loss, and the style loss serves the style task alone '
                         f'(task {parse_degradation(task).spec}, loss {loss})')
    if is_style != (style is not None):
        raise UsageError('the style task needs its style image (`style`, --style-image), and only it takes one')
    return loss

def _critic(path, arch, size):
    "The critic of a `gan` run (new, or an earlier run's), checked to judge crops of `size`."
    critic = load_critic(path, arch)
    if size < critic.card.min_size:
        raise UsageError(f'`gan` needs a `size` of at least {critic.card.min_size}, the smallest image its '
                         f'critic judges, not {size}')
    return critic

def _gan(learn, base, critic, weight, critic_thresh, precision):
    "The GAN learner around `learn`, its generator remembering `base`'s weights as the PSNR parent of `strength`."
    if learn.new_params:
        raise UsageError('`gan` fine-tunes a generator of the same task and scale as `init`: train that first, '
                         f'then fine-tune it with `gan` (`init` lacks {len(learn.new_params)} of its weights)')
    set_parent_weights(learn.model, {k: v.detach().clone() for k, v in base.state_dict().items()})
    return gan_learner(learn, critic, weight, critic_thresh, precision)

def train_segmenter(out, data=None, arch='dynamic_unet', classifier=None, trust_pickle=False, pretrained=True,
                    classes=None, per_class=None, val_per_class=None, epochs=5, budget=None, bs=64, lr=3e-3, size=64,
                    freeze_epochs=1, lr_mult=100, erase=0.25, precision='auto', seed=None, num_workers=None,
                    resume=False, skip_bad=False, ema=None):
    """The segmentation recipe: images and the masks of their boxes, a UNet on the classifier's encoder, fine-tuned as
    fastai's `fine_tune` (frozen encoder first) if `pretrained`, else from scratch; scored on val boxes."""
    out, ckpt = _start(out, seed, resume, budget)
    clf = load_classifier(classifier, trust_pickle)  # default: the shipped one (its architecture, if not pretrained)
    with main_process_first():
        dls = segmentation_dls(data, classes=classes, per_class=per_class, val_per_class=val_per_class, bs=bs,
                               erase=erase, num_workers=num_workers, skip_bad=skip_bad)
    learn = segmentation_learner(dls, arch, clf, pretrained, size=size, precision=precision, path=out)
    run = _fit(learn, out, ckpt, epochs, lr, budget, frozen=freeze_epochs if pretrained else 0, fine_tune=pretrained,
               lr_mult=lr_mult, cbs=[WeightAverage(ema)] if ema else [])
    if is_main_process():
        show_masks_png(learn, out/'results.png')
        scores = evaluate_segmenter(learn.model.eval(), data, classes, val_per_class, precision=precision)
        _finish_run(learn, out, run.pop('meter'), run.pop('history'), **run, arch=arch, pretrained=pretrained,
                    **scores)
    return learn
