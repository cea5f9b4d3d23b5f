"""Losses for restoration by name: pixel losses, a perceptual loss from a frozen classifier's features, style."""
from copy import deepcopy

import torch
import torch.nn.functional as F
from fastai.callback.hook import hook_outputs
from fastai.torch_core import one_param
from torch import nn

from .errors import UsageError
from .registry import Registry
from .style import StyleLoss

__all__ = ['PIXEL_LOSSES', 'LOSSES', 'pixel_loss', 'FeatureLoss', 'default_feature_layers',
           'restoration_loss']

PIXEL_LOSSES = Registry('pixel loss', {'mse': F.mse_loss, 'l1': F.l1_loss})

def pixel_loss(name):
    "A pixel loss by name, on plain tensors."
    return PIXEL_LOSSES[name]

class FeatureLoss(nn.Module):
    "Pixel loss plus weighted distances between a frozen classifier's features of output and target."
    def __init__(self, classifier, layer_ids=(4,), layer_wgts=(0.1,), pixel='mse'):
        super().__init__()
        n_body = len(classifier) - 1
        bad = [i for i in layer_ids if not 0 < i < n_body]
        if bad: raise UsageError(f'feature layers {bad} are outside the classifier body (valid: 1..{n_body-1})')
        if len(layer_wgts) != len(layer_ids): raise UsageError('give one weight per feature layer')
        self.net = classifier[:max(layer_ids) + 1].eval()  # keeps the classifier's Normalizer: its input contract
        for p in self.net.parameters(): p.requires_grad_(False)
        self.layer_ids, self.layer_wgts, self.pixel = tuple(layer_ids), tuple(layer_wgts), pixel
        self.hooks = hook_outputs([self.net[i] for i in layer_ids], detach=False)

    def features(self, x):
        self.net.eval()
        self.net(x)
        return list(self.hooks.stored)

    def forward(self, pred, targ):
        pred, targ = pred.as_subclass(torch.Tensor), targ.as_subclass(torch.Tensor)
        if next(self.net.parameters()).device != pred.device: self.net.to(pred.device)
        with torch.autocast(pred.device.type, enabled=False):  # features in fp32 even inside mixed precision
            pred, targ = pred.float(), self.net.contract.check_range(targ.float())
            loss = pixel_loss(self.pixel)(pred, targ)
            with torch.no_grad(): targ_feats = [f.clone() for f in self.features(targ)]
            for w, p, t in zip(self.layer_wgts, self.features(pred), targ_feats): loss = loss + w * F.mse_loss(p, t)
        return loss

    def for_export(self):
        "The light pixel loss to store in an exported learner instead of the whole classifier and its hooks."
        return pixel_loss(self.pixel)

def default_feature_layers(clf,  # a superres classifier (its contract and body)
                           size=64,  # the side in pixels of the input it is probed with
                           min_side=8):  # the smallest side in pixels a feature map may have
    "The deepest body layer whose features keep at least `min_side` pixels a side: the reference's 256x8x8 on step2."
    sides = []
    with torch.no_grad():
        x = clf.contract(torch.zeros(1, 3, size, size, device=one_param(clf).device))
        for i, layer in enumerate(clf.body, start=1):  # numbered as the classifier's layers, its contract being 0
            x = layer(x)
            if x.shape[-1] >= min_side: sides.append(i)
    return (sides[-1],)

def _perceptual(classifier_model=None, feature_layers=None, feature_weights=None, **_):
    "MSE plus the features of a frozen copy of `classifier_model` (weight 1/10 per layer by default)."
    if classifier_model is None:
        raise UsageError('the perceptual loss needs a trained classifier: pass `classifier` (a classifier run)')
    clf = deepcopy(classifier_model).eval()
    layers = tuple(feature_layers or default_feature_layers(clf))
    return FeatureLoss(clf, layers, feature_weights or (0.1,) * len(layers), pixel='mse')

def _style(classifier_model=None, style=None, **_):
    "Johnson et al.'s loss for the `style` image (a [0,1] tensor) on the features of a frozen copy of the classifier."
    if classifier_model is None or style is None:
        raise UsageError('the style loss needs a trained classifier and a style image: pass `classifier` and `style`')
    return StyleLoss(deepcopy(classifier_model).eval(), style)

LOSSES = Registry('loss', {name: (lambda f: lambda **_: f)(f) for name, f in PIXEL_LOSSES.items()})
LOSSES['perceptual'] = _perceptual
LOSSES['style'] = _style

def restoration_loss(loss='mse', **kwargs):
    "A restoration loss by name: a pixel loss (`mse`, `l1`) or `perceptual` (its arguments: see `_perceptual`)."
    return LOSSES[loss](**kwargs)
