"""Learner factories: classifier, restoration and segmentation Learners with the CPU/GPU speed-ups fastai leaves out,
and export."""
from functools import partial
from pathlib import Path

from fastai.callback.schedule import *  # noqa: F403 (patches fit_one_cycle, fine_tune and lr_find onto Learner)
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat
from fastai.metrics import Dice, JaccardCoeff, accuracy, top_k_accuracy
from fastai.optimizer import Adam
from fastcore.meta import delegates

from .callbacks import PRECISION_CBS, precision_callbacks
from .card import update_config
from .errors import UsageError
from .files import atomic_path
from .losses import restoration_loss
from .metrics import psnr, ssim
from .models import classifier, restorer, restorer_from_config, segmenter

__all__ = ['top5_accuracy', 'classifier_learner', 'unet_splitter', 'load_matching', 'loaded_splitter',
           'restoration_learner', 'segmentation_learner', 'export_learner']

def top5_accuracy(inp, targ):
    "Top-5 accuracy, or top-n when there are fewer than 5 classes (small subsets)."
    return top_k_accuracy(inp, targ, k=min(5, inp.shape[-1]))

def _batch_stats(dls):
    "Normalisation stats from one training batch, for DataLoaders that did not bring their own."
    x = dls.one_batch()[0].float()
    return x.mean((0, 2, 3)).tolist(), x.std((0, 2, 3)).tolist()

@delegates(Learner.__init__)
def classifier_learner(dls,  # labelled DataLoaders (`decoded_dls`, `classification_dls`): their vocab, their stats
                       model=None,  # a classifier to train (None: a new one of `preset`)
                       preset=None,  # a name of `PRESETS` (None: cpu)
                       label_smoothing=0.1,  # cross-entropy label smoothing
                       precision='auto',  # auto, fp32, bf16 or fp16
                       channels_last=True,  # convs in channels-last memory order (faster on CPUs and GPUs)
                       model_kwargs=None,  # fields of the preset's config overridden (e.g. `drop`)
                       cbs=None,  # more callbacks
                       **kwargs):
    "A classification Learner: AdamW(eps 1e-5), cross-entropy, accuracy and top-5, fastest precision available."
    if model is None:
        mean, std = getattr(dls, 'stats', None) or _batch_stats(dls)
        vocab = list(dls.vocab)
        names = [dls.tin.names[w] for w in vocab] if hasattr(dls, 'tin') else vocab
        model = classifier(preset, n_out=len(vocab), mean=mean, std=std, vocab=vocab, names=names,
                           **(model_kwargs or {}))
    cbs = list(cbs or []) + precision_callbacks(precision, channels_last, dls.device)
    return Learner(dls, model, loss_func=CrossEntropyLossFlat(label_smoothing=label_smoothing),
                   opt_func=partial(Adam, eps=1e-5), metrics=[accuracy, top5_accuracy], cbs=cbs, **kwargs)

def unet_splitter(model):
    """Two parameter groups, the encoder then the rest, so `freeze()` freezes exactly the (pretrained) encoder; one
    group for nets without an encoder, which `freeze()` leaves training."""
    if model.encoder is None: return [list(model.parameters())]
    enc = {id(p) for p in model.encoder.parameters()}
    return [list(model.encoder.parameters()), [p for p in model.parameters() if id(p) not in enc]]

def load_matching(model, init_model):
    "Copy `init_model`'s weights into `model` wherever name and shape match; the names of those left as they were."
    own, given = model.state_dict(), init_model.state_dict()
    same = {k: v for k, v in given.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(same, strict=False)
    return [k for k, _ in model.named_parameters() if k not in same]

def loaded_splitter(new):
    "Two parameter groups, the loaded weights then the `new` ones, so `freeze()` trains only what was not loaded."
    new = set(new)
    def split(model):
        named = list(model.named_parameters())
        return [[p for k, p in named if k not in new], [p for k, p in named if k in new]]
    return split

@delegates(Learner.__init__)
def restoration_learner(dls,  # paired DataLoaders (`paired_dls`, `decoded_paired_dls`): their task sets the model's
                        arch='tiny_unet',  # a name of `ARCHS`
                        loss='mse',  # a name of `LOSSES`: mse, l1, perceptual, style
                        classifier_model=None,  # a trained classifier: the UNet's body and the feature losses' features
                        preset='cpu',  # the arch's size when not built on a classifier's body
                        pretrained=True,  # build UNets on a copy of `classifier_model`'s body (off: the loss's alone)
                        feature_layers=None,  # the perceptual loss's classifier layers (None: the deepest 8x8)
                        feature_weights=None,  # their weights (None: 0.1 each)
                        style=None,  # the style loss's picture, a [0,1] tensor (`style_tensor`)
                        top_skip=True,  # tiny_unet: keep the highest-resolution skip and residual
                        precision='auto',  # auto, fp32, bf16 or fp16
                        channels_last=True,  # convs in channels-last memory order (faster on CPUs and GPUs)
                        cbs=None,  # more callbacks
                        init_model=None,  # a restorer to start from (its arch and weights; others' tails train new)
                        **kwargs):
    "A restoration Learner for `dls`'s task: net (on the body of `classifier_model`, or from `init_model`), loss."
    body = classifier_model if pretrained else None  # the classifier whose stem and stages a UNet copies
    if arch == 'dynamic_unet' and body is None:  # its presets are the classifier's
        body = classifier(preset, n_out=1, mean=dls.stats[0], std=dls.stats[1])
    deg = getattr(dls, 'degradation', None)
    stats = {} if body is not None else dict(mean=dls.stats[0], std=dls.stats[1])
    task = dict(scale=getattr(dls, 'scale', 2), task=deg.spec if deg else None)
    if init_model is not None:
        model = restorer_from_config({**init_model.card.config, **task})
        new = load_matching(model, init_model)
        splitter = loaded_splitter(new)
    else:
        if not top_skip and not arch.startswith('tiny_unet'):
            raise UsageError(f'only tiny_unet and tiny_unet_cross can drop their highest-resolution skip, not {arch}')
        skip = {} if top_skip else dict(top_skip=False)  # recorded only where it changes the net
        model, new = restorer(arch, preset, classifier_model=body, **task, **stats, **skip), None
        splitter = unet_splitter
        update_config(model, pretrained_encoder=classifier_model is not None and pretrained)
    loss_func = restoration_loss(loss, classifier_model=classifier_model, feature_layers=feature_layers,
                                 feature_weights=feature_weights, style=style)
    cbs = list(cbs or []) + precision_callbacks(precision, channels_last, dls.device)
    learn = Learner(dls, model, loss_func=loss_func, opt_func=partial(Adam, eps=1e-5), metrics=[psnr, ssim],
                    splitter=splitter, cbs=cbs, **kwargs)
    learn.new_params = new  # started from `init_model`: the weights it did not have (e.g. another scale's tail)
    return learn

@delegates(Learner.__init__)
def segmentation_learner(dls,  # image and mask DataLoaders (`segmentation_dls`)
                         arch='dynamic_unet',  # a name of `SEGMENTERS`
                         classifier_model=None,  # a classifier whose stem and stages the UNet's encoder copies
                         pretrained=True,  # its weights (off: its architecture with fresh weights)
                         size=64,  # the side the net works at (images are resized to it inside the model)
                         precision='auto',  # auto, fp32, bf16 or fp16
                         channels_last=True,  # convs in channels-last memory order (faster on CPUs and GPUs)
                         cbs=None,  # more callbacks
                         **kwargs):
    """A segmentation Learner: a UNet on the encoder of `classifier_model` (its weights if `pretrained`), per-pixel
    cross-entropy, fastai's Dice and Jaccard; `freeze()` freezes the encoder."""
    stats = {} if classifier_model is not None and pretrained else dict(mean=dls.stats[0], std=dls.stats[1])
    model = segmenter(arch, classifier_model, pretrained, size=size, **stats)
    update_config(model, pretrained_encoder=classifier_model is not None and pretrained)
    cbs = list(cbs or []) + precision_callbacks(precision, channels_last, dls.device)
    return Learner(dls, model, loss_func=CrossEntropyLossFlat(axis=1), opt_func=partial(Adam, eps=1e-5),
                   metrics=[Dice(), JaccardCoeff()], splitter=unet_splitter, cbs=cbs, **kwargs)

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
