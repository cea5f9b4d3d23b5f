"""What the training recipes take, grouped as fastai, BasicSR and timm group it: data, schedule, net, loss, GAN. Each
option is declared once, here, with its default; the `superres` training commands read their defaults from these."""
from dataclasses import dataclass
from os import PathLike

from PIL import Image
from torch import nn

from .errors import UsageError

__all__ = ['GAN_WEIGHT', 'CRITIC_THRESH', 'DataConfig', 'ClassifierData', 'RestorerData', 'ScheduleConfig',
           'FineTuneConfig', 'RestorerNet', 'ClassifierLoss', 'RestorerLoss', 'GanConfig', 'LOSS_ERASE', 'loss_erase']

GAN_WEIGHT = 5e-3  # adversarial loss per unit of restoration loss: ESRGAN's 5e-3 (L1 1e-2, perceptual 1)
CRITIC_THRESH = 0.65  # the course's: the critic trains until its loss is below this, then the generator one step

@dataclass(frozen=True)
class DataConfig:
    "Which images a recipe reads, at what size, batched and augmented how: a segmenter's data, the others' base."
    data: str | PathLike | list | None = None  # Tiny ImageNet zip or folder (None: $SUPERRES_DATA, found, downloaded)
    classes: int | None = None  # only the first N wnids (None: all 200)
    per_class: int | None = None  # only the first M training images of each class (None: all)
    val_per_class: int | None = None  # validate on the first N val images of each class (None: all 50)
    size: int = 64  # image or crop side the net trains at (64: Tiny ImageNet's own; a segmenter resizes inside)
    bs: int = 64  # batch size
    augment: bool = True  # random crops and flips of training images (a classifier's: with TrivialAugment and erasing)
    erase: float = 0.25  # probability of random erasing per training input (0: off)
    num_workers: int | None = None  # worker processes of fastai's DataBlock pipelines (None: up to 2)
    skip_bad: bool = False  # decode every image first and leave out unreadable ones (else stop at the first, naming it)

@dataclass(frozen=True)
class ClassifierData(DataConfig):
    "A classifier's data: labelled Tiny ImageNet images, each training image augmented with its own draw."
    bs: int = 128
    trivial_augment: bool = True  # TrivialAugment after pad+crop and flip (off: those and erasing only)
    pipeline: str = 'decoded'  # decoded: a uint8 cache, batches augmented as tensors; datablock: fastai's DataBlock
    progressive: float | None = None  # start at half `size`, reach it at this fraction of the schedule (True: 0.5)

LOSS_ERASE = {'style': 0.}  # erasing by restorer loss where not DataConfig's: the style loss paints whole photos

def loss_erase(loss):
    "The erasing probability a restorer trained with `loss` takes when none is given."
    return LOSS_ERASE.get(loss, DataConfig.erase)

@dataclass(frozen=True)
class RestorerData(DataConfig):
    "A restorer's pairs: crops of Tiny ImageNet and/or photo folders (`data` a list), degraded input, clean target."
    pipeline: str = 'auto'  # decoded, datablock, or auto: decoded where it serves the data and task
    erase: float | None = None  # as DataConfig's (None: the loss's, `loss_erase`)
    down: str | None = None  # superres task: the filter that makes the low-resolution input (None: the task's, bicubic)
    up: str | None = None  # superres task: the filter that upsamples it for nets that read upsampled inputs
    sharpen_target: float | None = None  # unsharp-mask targets by this weight (Real-ESRGAN's 0.5; None: off)

@dataclass(frozen=True)
class ScheduleConfig:
    "How a recipe trains: one-cycle over `epochs` or `budget` seconds, optimiser, precision, seed, resume, averaging."
    epochs: int = 5  # epochs of one-cycle training
    budget: float | None = None  # seconds of training instead of `epochs`: the schedule follows the clock
    lr: float = 3e-3  # peak one-cycle learning rate
    wd: float | None = None  # AdamW's decoupled weight decay (None: fastai's 0.01)
    precision: str = 'auto'  # auto, fp32, bf16 or fp16 (auto: bf16 where native, fp16 on older GPUs, else fp32)
    seed: int | None = None  # seed of every random draw, for a repeatable run
    resume: bool = False  # continue an interrupted `epochs` run from the checkpoint in its run folder
    ema: float | None = None  # validate and keep an exponential moving average of the weights, this decay per step

    def __post_init__(self):
        if self.resume and self.budget:
            raise UsageError('`resume` continues `epochs` runs: '
                             'a `budget` schedule follows the clock and cannot resume')

@dataclass(frozen=True)
class FineTuneConfig(ScheduleConfig):
    "A schedule with fastai's `fine_tune` before it: `freeze_epochs` with the pretrained part frozen, then all."
    freeze_epochs: int = 1  # epochs with the classifier's body, or the weights of `init`, frozen (a GAN: critic alone)
    lr_mult: float = 100  # fine_tune's: how many times slower the loaded weights learn once all train

@dataclass(frozen=True)
class RestorerNet:
    "A restorer's network when it is not fine-tuned from `init` (whose own it then is)."
    arch: str = 'tiny_unet'  # a name of `ARCHS`
    preset: str = 'cpu'  # its size when not built on a classifier's body: a name of the arch's presets
    pretrained: bool = True  # build UNets on a copy of the classifier's body (off: the classifier is the loss's alone)
    top_skip: bool = True  # tiny_unet: keep the highest-resolution skip and residual (off: nothing copies the input)

@dataclass(frozen=True)
class ClassifierLoss:
    "A classifier's loss: label-smoothed cross-entropy, or fastai's MixUp or CutMix blending images and labels."
    label_smoothing: float = 0.1  # cross-entropy label smoothing
    mixup: float | None = None  # fastai's MixUp: blends of two images and their labels, Beta(mixup, mixup) weights
    cutmix: float | None = None  # fastai's CutMix: a box of another image, labels weighted by its Beta(cutmix) area

    def __post_init__(self):
        if self.mixup and self.cutmix: raise UsageError('`mixup` and `cutmix` each replace the loss: pick one')

@dataclass(frozen=True)
class RestorerLoss:
    "A restorer's loss: a pixel loss, perceptual (MSE plus the features of a classifier), or style (its picture)."
    loss: str | None = None  # a name of `LOSSES` (None: the task's, style for the style task, else mse)
    feature_layers: tuple[int, ...] | None = None  # classifier layers of the perceptual loss (None: the deepest 8x8)
    style: Image.Image | None = None  # the style task's picture, whose style the model learns to paint photos in

@dataclass(frozen=True)
class GanConfig:
    "fastai's GAN fine-tuning of a restorer: the critic, and the weight of its verdict beside the restoration loss."
    critic: nn.Module | None = None  # a critic to go on training (`load_critic`); None: a new one of `critic_arch`
    critic_arch: str = 'gan_critic'  # a name of `CRITICS`, for a new critic
    weight: float = GAN_WEIGHT  # adversarial loss per unit of restoration loss
    thresh: float = CRITIC_THRESH  # the critic trains until its loss is below this, then the generator a step
