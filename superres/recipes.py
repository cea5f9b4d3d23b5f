"""Recipes: one skeleton (run folder, resume, frozen then unfrozen phases, logs, exports) to train every model kind."""
import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from fastai.callback.mixup import CutMix, MixUp
from fastai.metrics import accuracy
from fastai.torch_core import set_seed
from fastcore.foundation import L
from torch import nn

from .callbacks import (
    CHECKPOINT,
    Checkpoint,
    CSVHistory,
    EpochLabel,
    ProgressiveResize,
    Throughput,
    TimeBudget,
    WeightAverage,
    save_weights,
)
from .card import update_config
from .configs import (
    ClassifierData,
    ClassifierLoss,
    DataConfig,
    FineTuneConfig,
    GanConfig,
    RestorerData,
    RestorerLoss,
    RestorerNet,
    ScheduleConfig,
    loss_erase,
)
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
from .gan import gan_learner
from .hub import load_classifier, set_parent_weights
from .learner import classifier_learner, export_learner, restoration_learner, segmentation_learner
from .models import ARCHS, critic_config, critic_from_config
from .plots import plot_history, show_masks_png, show_results_png
from .ranks import is_main_process
from .style import style_tensor

__all__ = ['PAIRED_PIPELINES', 'load_checkpoint', 'fine_tune_phases', 'fit_phase', 'train_classifier', 'train_restorer',
           'train_segmenter']

PAIRED_PIPELINES = ('auto',) + PIPELINES  # auto: decoded where it serves the data and task
MAX_EPOCHS = 1000  # a time budget's schedule follows the clock: it stops long before this

def load_checkpoint(out):
    "The checkpoint of an interrupted run in `out`, checked to exist."
    f = Path(out)/CHECKPOINT
    if not f.is_file(): raise UsageError(f'{f} does not exist: nothing to resume (run without `resume`)')
    return torch.load(f, weights_only=True)

def fine_tune_phases(lr,  # the frozen phase's peak learning rate; the unfrozen phase peaks at half of it
                     lr_mult=100,  # the unfrozen phase's spread: its first group's lr is its last's / lr_mult
                     pct_start=0.3,  # the unfrozen phase's warm-up fraction (the frozen phase's: 0.99)
                     div=5.):  # the unfrozen phase's starting lr: its peak / div
    "The one-cycle arguments of `Learner.fine_tune`'s frozen and unfrozen phases, for `fit_phase` (which can resume)."
    return dict(lr_max=slice(lr), pct_start=0.99), dict(lr_max=slice(lr / 2 / lr_mult, lr / 2), pct_start=pct_start,
                                                        div=div)

def fit_phase(learn,  # the Learner
              n_epoch,  # the phase's epochs, all of them, resumed or not
              lr,  # the peak learning rate (unless `one_cycle` gives `lr_max`)
              cbs,  # the phase's callbacks, a `Checkpoint` among them
              phase=0,  # this phase's number in the run, as checkpoints record it
              ckpt=None,  # a checkpoint to resume from (`load_checkpoint`; None: from the start)
              last=True,  # the run's last phase: its finished checkpoint is refused (off: its weights loaded, skipped)
              **one_cycle):  # `fit_one_cycle`'s arguments
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
    label = [EpochLabel()] if learn.resume_epoch else []
    with data_parallel(learn):
        learn.fit_one_cycle(n_epoch, cbs=list(cbs) + label, start_epoch=learn.resume_epoch, **one_cycle)

def _history_rows(out, ckpt, done_before=0):
    "The CSV rows of the epochs a checkpoint had completed, so a resumed run's history is whole."
    f = Path(out)/'history.csv'
    if ckpt is None or not f.is_file(): return []
    return [r.split(',') for r in f.read_text().splitlines()[1:]][:done_before + ckpt['epoch']]

def _start(out, schedule):
    "Seed everything, find the checkpoint to resume from (if `schedule.resume`), make the run folder."
    if schedule.seed is not None: set_seed(schedule.seed)
    out = Path(out)
    ckpt = load_checkpoint(out) if schedule.resume else None
    out.mkdir(parents=True, exist_ok=True)
    return out, ckpt

def _fit(learn, out, ckpt, schedule, frozen=0, cbs=(), phase=1, fine_tune=False):
    """The skeleton: `frozen` epochs frozen, then `schedule.epochs` (or its `budget` seconds), its weights averaged if
    it says so; the lrs of `Learner.fine_tune` if asked (`schedule` a `FineTuneConfig` then)."""
    done_before = frozen if ckpt and ckpt['phase'] == 1 else 0
    meter, history = Throughput(), CSVHistory(out/'history.csv', _history_rows(out, ckpt, done_before))
    checkpoint = Checkpoint(out, steps=ckpt['steps'] if ckpt else 0)
    logs, start, budget, lr = [history, checkpoint, meter], time.perf_counter(), schedule.budget, schedule.lr
    cbs = ([WeightAverage(schedule.ema)] if schedule.ema else []) + list(cbs)
    frozen_cycle, cycle = fine_tune_phases(lr, schedule.lr_mult) if fine_tune else ({}, {})
    if frozen:
        learn.freeze()
        fit_phase(learn, frozen, lr, logs, phase=0, ckpt=ckpt, last=False, **frozen_cycle)
        learn.unfreeze()
    clock = [TimeBudget(max(0., budget - (time.perf_counter() - start)))] if budget else []
    fit_phase(learn, MAX_EPOCHS if budget else schedule.epochs, lr, logs + clock + cbs, phase=phase, ckpt=ckpt, **cycle)
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

def train_classifier(out,  # the run folder (made; `schedule.resume` goes on from its checkpoint)
                     data: ClassifierData = ClassifierData(),
                     schedule: ScheduleConfig = ScheduleConfig(),
                     loss: ClassifierLoss = ClassifierLoss(),
                     preset='cpu',  # a name of `PRESETS`
                     model_kwargs=None,  # fields of the preset's config overridden (e.g. `drop`)
                     tta=False):  # also score fastai's test-time-augmentation accuracy
    """The classification recipe: data, learner (a `preset` of `PRESETS`, `model_kwargs` overriding it), one-cycle,
    logs, plot and exports; `tta`: also fastai's test-time-augmentation accuracy."""
    out, ckpt = _start(out, schedule)
    subset = dict(classes=data.classes, per_class=data.per_class, val_per_class=data.val_per_class, size=data.size,
                  bs=data.bs, augment=data.augment, trivial_augment=data.trivial_augment, erase=data.erase,
                  skip_bad=data.skip_bad)
    with main_process_first():  # rank 0 extracts and caches, the others reuse it
        if _choice('pipeline', data.pipeline, PIPELINES) == 'datablock':
            dls = classification_dls(data.data, num_workers=data.num_workers, **subset)
        else: dls = decoded_dls(data.data, **subset)
    learn = classifier_learner(dls, preset=preset, label_smoothing=loss.label_smoothing, precision=schedule.precision,
                               model_kwargs=model_kwargs, path=out, wd=schedule.wd)
    update_config(learn.model, size=data.size)
    cbs = []
    if loss.mixup: cbs.append(MixUp(loss.mixup))  # fastai's own: blended images, blended losses
    if loss.cutmix: cbs.append(CutMix(loss.cutmix))
    if data.progressive: cbs.append(ProgressiveResize(start=max(8, data.size//2),
                                                      full_at=0.5 if data.progressive is True else data.progressive))
    run = _fit(learn, out, ckpt, schedule, cbs=cbs, phase=0)  # one phase, numbered as in its checkpoints
    if is_main_process():
        extra = dict(tta_accuracy=float(accuracy(*learn.tta()))) if tta else {}
        _finish_run(learn, out, run.pop('meter'), run.pop('history'), **run, **extra)
    return learn

def _paired_data(data, deg):
    "Paired DataLoaders by `data.pipeline`: decoded where it serves (`auto`) or is asked for, else the DataBlock."
    _choice('pipeline', data.pipeline, PAIRED_PIPELINES)
    subset = dict(size=data.size, classes=data.classes, per_class=data.per_class, val_per_class=data.val_per_class,
                  bs=data.bs, augment=data.augment, erase=data.erase, skip_bad=data.skip_bad,
                  sharpen_target=data.sharpen_target)
    decoded = data.pipeline == 'decoded' or (data.pipeline == 'auto' and
                                             not decoded_pairs_unsupported(data.data, deg, data.size))
    with main_process_first():
        if decoded: return decoded_paired_dls(data.data, deg, **subset)
        return paired_dls(data.data, deg, num_workers=data.num_workers, **subset)

def train_restorer(out,  # the run folder (made; `schedule.resume` goes on from its checkpoint)
                   task='superres',  # a task spec or Degradation
                   scale=None,  # the scale of its superres or real part (None: the spec's)
                   data: RestorerData = RestorerData(),
                   net: RestorerNet = RestorerNet(),
                   loss: RestorerLoss = RestorerLoss(),
                   schedule: FineTuneConfig = FineTuneConfig(),
                   classifier: nn.Module | None = None,  # UNet body, loss features (None: shipped if a loss needs it)
                   init: nn.Module | None = None,  # a restorer to fine-tune, loaded `folded=False` (None: a new net)
                   gan: GanConfig | None = None):  # fine-tune `init` as a GAN (None: no GAN)
    """The restoration recipe: paired data for `task` (a spec or `Degradation`; `scale` sets its superres part), a net
    on the body of `classifier` (the perceptual loss's; default the shipped one), or fine-tuned from `init` (a restorer
    of `load_restorer(..., folded=False)`), the fastai way or, with `gan`, fastai's GAN way. The style task (its picture
    `loss.style`) defaults to the style loss and no erasing, the others to mse and erasing a quarter of the inputs."""
    loss = _task_loss(task, loss)
    if data.erase is None: data = replace(data, erase=loss_erase(loss.loss))
    if gan is not None and init is None:
        raise UsageError('`gan` fine-tunes a trained generator, as fastai\'s recipe does: pass `init` (a model of this '
                         'task, e.g. a run trained with the same task and a pixel or perceptual loss)')
    out, ckpt = _start(out, schedule)
    critic = _critic(gan, data.size) if gan is not None else None  # after seeding: a new critic starts the same
    clf = load_classifier() if classifier is None and loss.loss in ('perceptual', 'style') else classifier
    arch = net.arch if init is None else init.card.arch
    deg = task_degradation(task, scale, data.down, data.up, lr_input=ARCHS[arch].takes_lr)
    dls = _paired_data(data, deg)
    learn = restoration_learner(dls, arch=arch, loss=loss.loss, classifier_model=clf, pretrained=net.pretrained,
                                preset=net.preset, feature_layers=loss.feature_layers, precision=schedule.precision,
                                path=out, init_model=init, wd=schedule.wd, top_skip=net.top_skip,
                                style=None if loss.style is None else style_tensor(loss.style, data.size))
    on_body = clf is not None and net.pretrained and ARCHS[arch].takes_classifier_body and init is None
    frozen = schedule.freeze_epochs if on_body or gan is not None or (init is not None and learn.new_params) else 0
    fit_learn = _gan(learn, init, critic, gan, schedule) if gan is not None else learn
    run = _fit(fit_learn, out, ckpt, schedule, frozen=frozen, fine_tune=init is not None and gan is None)
    if is_main_process():
        show_results_png(learn, out/'results.png')
        _finish_run(learn, out, run.pop('meter'), run.pop('history'), fit_learn, **run, arch=arch, loss=loss.loss,
                    task=deg.spec, scale=deg.scale, **(dict(gan_weight=gan.weight) if gan is not None else {}))
    return learn

def _task_loss(task, loss):
    "`loss`, its name the task's when none is given, checked: the style loss, task and picture go together."
    is_style = parse_degradation(task).name == 'style'
    if loss.loss is None: loss = replace(loss, loss='style' if is_style else 'mse')
    if is_style != (loss.loss == 'style'):
        raise UsageError('the style task trains with the style loss, and the style loss serves the style task alone '
                         f'(task {parse_degradation(task).spec}, loss {loss.loss})')
    if is_style != (loss.style is not None):
        raise UsageError('the style task needs its style image (`style`, --style-image), and only it takes one')
    return loss

def _critic(gan, size):
    "The critic of a `gan` run (its own, else a new one of its `critic_arch`), checked to judge crops of `size`."
    critic = gan.critic if gan.critic is not None else critic_from_config(critic_config(gan.critic_arch))
    if size < critic.card.min_size:
        raise UsageError(f'`gan` needs a `size` of at least {critic.card.min_size}, the smallest image its '
                         f'critic judges, not {size}')
    return critic

def _gan(learn, base, critic, gan, schedule):
    "The GAN learner around `learn`, its generator remembering `base`'s weights as the PSNR parent of `strength`."
    if learn.new_params:
        raise UsageError('`gan` fine-tunes a generator of the same task and scale as `init`: train that first, '
                         f'then fine-tune it with `gan` (`init` lacks {len(learn.new_params)} of its weights)')
    set_parent_weights(learn.model, {k: v.detach().clone() for k, v in base.state_dict().items()})
    return gan_learner(learn, critic, gan.weight, gan.thresh, schedule.precision, wd=schedule.wd)

def train_segmenter(out,  # the run folder (made; `schedule.resume` goes on from its checkpoint)
                    data: DataConfig = DataConfig(),
                    schedule: FineTuneConfig = FineTuneConfig(),
                    classifier: nn.Module | None = None,  # the encoder's classifier (None: the shipped one)
                    arch='dynamic_unet',  # a name of `SEGMENTERS`
                    pretrained=True):  # its weights, fine-tuned frozen first (off: its architecture from scratch)
    """The segmentation recipe: images and the masks of their boxes, a UNet of `arch` working at `data.size` on the
    body of `classifier` (default: the shipped one), fine-tuned as fastai's `fine_tune` (frozen body first) if
    `pretrained`, else its architecture from scratch; scored on val boxes."""
    out, ckpt = _start(out, schedule)
    clf = load_classifier() if classifier is None else classifier
    with main_process_first():
        dls = segmentation_dls(data.data, classes=data.classes, per_class=data.per_class,
                               val_per_class=data.val_per_class, bs=data.bs, augment=data.augment, erase=data.erase,
                               num_workers=data.num_workers, skip_bad=data.skip_bad)
    learn = segmentation_learner(dls, arch, clf, pretrained, size=data.size, precision=schedule.precision, path=out,
                                 wd=schedule.wd)
    run = _fit(learn, out, ckpt, schedule, frozen=schedule.freeze_epochs if pretrained else 0, fine_tune=pretrained)
    if is_main_process():
        show_masks_png(learn, out/'results.png')
        scores = evaluate_segmenter(learn.model.eval(), data.data, data.classes, data.val_per_class,
                                    precision=schedule.precision)
        _finish_run(learn, out, run.pop('meter'), run.pop('history'), **run, arch=arch, pretrained=pretrained,
                    **scores)
    return learn
