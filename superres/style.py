"""Fast style transfer (Johnson et al.): one style's loss on a frozen classifier's features, and Gatys et al.'s slow
per-image optimisation of the same loss, the reference a feed-forward model is measured against."""
import torch
import torch.nn.functional as F
from fastai.callback.hook import hook_outputs
from PIL import Image
from torch import nn

from .errors import UsageError
from .images import image_to_tensor

__all__ = ['gram_matrix', 'STYLE_LAYERS', 'CONTENT_LAYERS', 'STYLE_WEIGHT', 'StyleLoss', 'style_tensor',
           'stylize_by_optimisation']

STYLE_LAYERS = (1, 2, 3, 4)  # the classifier's stem and first three stages: textures from fine to coarse
CONTENT_LAYERS = (3,)  # a middle stage: shapes kept, surface free to change
STYLE_WEIGHT = 1e4  # Gram distances are small numbers: this puts style and content of a first output on one scale

def gram_matrix(x):
    "Channel correlations of feature maps, the style term of Gatys et al."
    b, c, h, w = x.shape
    f = x.flatten(2)
    return f @ f.transpose(1, 2) / (c * h * w)

def style_tensor(img, side):
    "A style picture (PIL) as the [0,1] tensor the loss reads, its shorter side `side`: its textures at that scale."
    w, h = img.size
    k = side / min(w, h)
    return image_to_tensor(img.convert('RGB').resize((max(1, round(w * k)), max(1, round(h * k))), Image.BICUBIC))[0]

class StyleLoss(nn.Module):
    "Content features of the target kept, the style image's Gram statistics taken, at layers of a frozen classifier."
    def __init__(self, classifier,  # a trained classifier (its Normalizer first): whose features define both terms
                 style,  # the style image as a [0,1] tensor (3, h, w), see `style_tensor`
                 content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS,
                 content_weight=1., style_weight=STYLE_WEIGHT,
                 tv_weight=0.):  # total variation of the output: smoother strokes
        super().__init__()
        layers = sorted(set(content_layers) | set(style_layers))
        n_body = len(classifier) - 1
        bad = [i for i in layers if not 0 < i < n_body]
        if bad: raise UsageError(f'style and content layers {bad} are outside the classifier body (1..{n_body-1})')
        self.net = classifier[:layers[-1] + 1].eval()  # keeps the Normalizer: the classifier's input contract
        for p in self.net.parameters(): p.requires_grad_(False)
        self.layers, self.content_layers, self.style_layers = layers, tuple(content_layers), tuple(style_layers)
        self.content_weight, self.style_weight, self.tv_weight = content_weight, style_weight, tv_weight
        self.hooks = hook_outputs([self.net[i] for i in layers], detach=False)
        with torch.no_grad(): feats = self._features(style[None].float())
        for i in self.style_layers: self.register_buffer(f'gram{i}', gram_matrix(feats[i]))

    def _features(self, x):
        "Features by layer id."
        self.net.eval()
        self.net(x)
        return dict(zip(self.layers, self.hooks.stored))

    def terms(self, pred, targ):
        "Per-image content, style and total-variation terms (unweighted): what the loss sums, what benchmarks report."
        pred, targ = pred.as_subclass(torch.Tensor), targ.as_subclass(torch.Tensor)
        if next(self.net.parameters()).device != pred.device: self.to(pred.device)
        with torch.autocast(pred.device.type, enabled=False):  # Gram matrices in fp32 even inside mixed precision
            pred, targ = pred.float(), self.net.contract.check_range(targ.float())
            with torch.no_grad(): want = {i: self._features(targ)[i].clone() for i in self.content_layers}
            got = self._features(pred)
            per_image = lambda d: d.flatten(1).mean(1)
            content = sum(per_image((got[i] - want[i]) ** 2) for i in self.content_layers)
            style = sum(per_image((gram_matrix(got[i]) - getattr(self, f'gram{i}')) ** 2) for i in self.style_layers)
            tv = (pred.diff(dim=-1).abs().flatten(1).mean(1) + pred.diff(dim=-2).abs().flatten(1).mean(1))
        return dict(content=content, style=style, tv=tv)

    def forward(self, pred, targ):
        t = self.terms(pred, targ)
        return (self.content_weight * t['content'] + self.style_weight * t['style'] + self.tv_weight * t['tv']).mean()

    def for_export(self):
        "The light pixel loss to store in an exported learner instead of the classifier, its hooks and the style."
        return F.mse_loss

def stylize_by_optimisation(loss,  # `loss(x, content)`, e.g. a `StyleLoss`
                            content,  # the [0,1] batch (n, 3, h, w) the pixels start from and are compared with
                            steps=300,  # Adam steps
                            lr=0.03):  # Adam's learning rate, on [0,1] pixels
    "Gatys et al.'s method: the pixels of `content` (a [0,1] batch) moved by Adam to minimise `loss` against it."
    x = content.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss(x, content).backward()
        opt.step()
        with torch.no_grad(): x.clamp_(0, 1)
    return x.detach()
