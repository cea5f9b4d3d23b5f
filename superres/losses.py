"""Losses for restoration: pixel losses and a perceptual loss from a frozen classifier's features."""
import torch
from torch import nn
import torch.nn.functional as F
from fastai.callback.hook import hook_outputs

__all__ = ['PIXEL_LOSSES', 'pixel_loss', 'gram_matrix', 'FeatureLoss']

PIXEL_LOSSES = {'mse': F.mse_loss, 'l1': F.l1_loss}

def pixel_loss(name):
    "A pixel loss by name, on plain tensors."
    if name not in PIXEL_LOSSES: raise ValueError(f'unknown pixel loss {name!r}; choose one of {", ".join(PIXEL_LOSSES)}')
    return PIXEL_LOSSES[name]

def gram_matrix(x):
    "Channel correlations of feature maps, the style term of Gatys et al."
    b, c, h, w = x.shape
    f = x.flatten(2)
    return f @ f.transpose(1, 2) / (c * h * w)

class FeatureLoss(nn.Module):
    "Pixel loss plus weighted distances between a frozen classifier's features of output and target."
    def __init__(self, classifier, layer_ids=(4,), layer_wgts=(0.1,), pixel='mse', gram_wgt=0.):
        super().__init__()
        n_body = len(classifier) - 1
        bad = [i for i in layer_ids if not 0 < i < n_body]
        if bad: raise ValueError(f'feature layers {bad} are outside the classifier body (valid: 1..{n_body-1})')
        if len(layer_wgts) != len(layer_ids): raise ValueError('give one weight per feature layer')
        self.net = classifier[:max(layer_ids) + 1].eval()  # keeps the classifier's Normalizer: its input contract
        for p in self.net.parameters(): p.requires_grad_(False)
        self.layer_ids, self.layer_wgts, self.pixel, self.gram_wgt = tuple(layer_ids), tuple(layer_wgts), pixel, gram_wgt
        self.hooks = hook_outputs([self.net[i] for i in layer_ids], detach=False)

    def features(self, x):
        self.net.eval()
        self.net(x)
        return list(self.hooks.stored)

    def forward(self, pred, targ):
        pred, targ = pred.as_subclass(torch.Tensor), targ.as_subclass(torch.Tensor)
        if next(self.net.parameters()).device != pred.device: self.net.to(pred.device)
        with torch.autocast(pred.device.type, enabled=False):  # features in fp32 even inside mixed precision
            pred, targ = pred.float(), self.net[0].check_range(targ.float())
            loss = pixel_loss(self.pixel)(pred, targ)
            with torch.no_grad(): targ_feats = [f.clone() for f in self.features(targ)]
            for w, p, t in zip(self.layer_wgts, self.features(pred), targ_feats):
                loss = loss + w * F.mse_loss(p, t)
                if self.gram_wgt: loss = loss + self.gram_wgt * w * F.mse_loss(gram_matrix(p), gram_matrix(t))
        return loss

    def for_export(self):
        "The light pixel loss to store in an exported learner instead of the whole classifier and its hooks."
        return pixel_loss(self.pixel)
