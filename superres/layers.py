"""Building blocks of every superres network: activation, input contract, convs and residual blocks."""
from functools import partial

import torch
import torch.nn.functional as F
from fastcore.basics import store_attr
from torch import nn

from .errors import ContractError

__all__ = ['GeneralRelu', 'Normalizer', 'input_contract', 'RepConv', 'fold_rep_convs', 'conv', 'ResBlock', 'res_blocks',
           'init_weights', 'UpBlock', 'cross_conv', 'zero_last_conv', 'ESA', 'RFDB']

class GeneralRelu(nn.Module):
    "Leaky ReLU shifted down by `sub` so activations stay near zero mean, optionally clamped at `maxv`."
    def __init__(self, leak=0.1, sub=0.4, maxv=None):
        super().__init__()
        store_attr()
    def forward(self, x):
        x = F.leaky_relu(x, self.leak) if self.leak else F.relu(x)
        if self.sub: x = x - self.sub
        if self.maxv is not None: x = x.clamp_max(self.maxv)
        return x

class Normalizer(nn.Module):
    "Normalise raw images (in `input_range`) with stats stored as buffers, so the model carries its own input contract."
    def __init__(self, mean=(0.5,)*3, std=(0.25,)*3, input_range=(0., 1.)):
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.input_range = tuple(map(float, input_range))
    def forward(self, x): return (x - self.mean) / self.std
    def decode(self, x): return x * self.std + self.mean
    def extra_repr(self): return (f'mean={self._fmt(self.mean)}, std={self._fmt(self.std)}, '
                                  f'input_range={self.input_range}')

    @staticmethod
    def _fmt(t): return '(' + ', '.join(f'{v:.3f}' for v in t.flatten().tolist()) + ')'

    def _expected(self):
        lo, hi = self.input_range
        return (f'this model takes plain images in [{lo:g}, {hi:g}] and normalises them itself '
                f'(mean {self._fmt(self.mean)}, std {self._fmt(self.std)})')

    def check_range(self, x, tol=0.05):
        "Refuse inputs outside the raw range: shifted ([-0.5, 0.5], [-1, 1]), 0-255 or already normalised images."
        lo, hi = self.input_range
        xmin, xmax = (float(v) for v in x.detach().float().aminmax())
        span = tol * (hi - lo)
        if xmin < lo - span or xmax > hi + span:
            raise ContractError(f'{self._expected()}, but got values in [{xmin:.3f}, {xmax:.3f}]: pass unnormalised '
                                f'images scaled to [{lo:g}, {hi:g}] '
                                '(x/255 for 8-bit, x+0.5 for [-0.5, 0.5], (x+1)/2 for [-1, 1])')
        return x

    def check_stats(self, mean, std, max_ratio=3.):
        "Refuse a set of images whose pixel statistics are far from the contract (e.g. divided by 255 twice)."
        mean, std = (torch.as_tensor(v, dtype=torch.float32).flatten() for v in (mean, std))
        ratio = std / self.std.flatten().cpu()
        z = ((mean - self.mean.flatten().cpu()) / self.std.flatten().cpu()).abs()
        if (ratio < 1/max_ratio).any() or (ratio > max_ratio).any() or (z > max_ratio).any():
            raise ContractError(f'{self._expected()}, but these images have mean {self._fmt(mean)} and std '
                                f'{self._fmt(std)}: they look rescaled or normalised already; pass plain images')

def input_contract(model):
    "The `Normalizer` that holds a superres model's input contract (its first one)."
    norm = next((m for m in model.modules() if isinstance(m, Normalizer)), None)
    if norm is None: raise ContractError(f'{type(model).__name__} carries no input contract (no Normalizer): '
                                         'use a superres model')
    return norm

class RepConv(nn.Module):
    """A 3x3 conv trained as two linear branches, a 3x3 conv to `expand` times the channels then a 1x1 back, and a 1x1,
    collapsed into one kernel at every step (SESR's collapsed training): a plain conv's cost, a wider net's training."""
    def __init__(self, ni, nf, ks=3, stride=1, padding=1, bias=True, expand=4):
        super().__init__()
        assert ks == 3 and stride == 1 and padding == 1 and bias, 'RepConv folds into a 3x3, stride 1 conv with bias'
        self.wide, self.squeeze = nn.Conv2d(ni, nf * expand, 3, padding=1), nn.Conv2d(nf * expand, nf, 1)
        self.short = nn.Conv2d(ni, nf, 1)
    def kernel(self):
        "The one 3x3 kernel and bias that the branches add up to."
        sq = self.squeeze.weight[:, :, 0, 0]
        w = torch.einsum('oe,eikl->oikl', sq, self.wide.weight) + F.pad(self.short.weight, (1, 1, 1, 1))
        return w, sq @ self.wide.bias + self.squeeze.bias + self.short.bias
    def forward(self, x): return F.conv2d(x, *self.kernel(), padding=1)
    def fold(self):
        "The plain conv this computes, for inference and export."
        w, b = self.kernel()
        folded = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1).to(w.device)
        with torch.no_grad(): folded.weight.copy_(w), folded.bias.copy_(b)
        return folded

def fold_rep_convs(module):
    "Replace every `RepConv` in `module` by the plain conv it computes, in place; how many were folded."
    n = 0
    for name, child in module.named_children():
        if isinstance(child, RepConv): setattr(module, name, child.fold()); n += 1
        else: n += fold_rep_convs(child)
    return n

def conv(ni,  # input channels
         nf,  # output channels
         ks=3,  # kernel size (padded by ks//2: the same size at stride 1)
         stride=1,  # the stride
         act=GeneralRelu,  # the activation's class (None: none)
         norm=nn.BatchNorm2d,  # the norm's class (None: none)
         bias=None,  # a bias in the conv (None: only where there is no norm)
         preact=False,  # norm and activation before the conv, on its input (off: after it)
         layer=nn.Conv2d):  # the conv's class: nn.Conv2d or `RepConv`
    "A conv (`layer`: nn.Conv2d or a re-parameterised one) with norm and activation after it, or before (preact)."
    if bias is None: bias = norm is None
    layer = layer(ni, nf, ks, stride=stride, padding=ks//2, bias=bias)
    if preact: return nn.Sequential(*([norm(ni)] if norm else []), *([act()] if act else []), layer)
    return nn.Sequential(layer, *([norm(nf)] if norm else []), *([act()] if act else []))

class ResBlock(nn.Module):
    "Two convs plus an identity path (pooled and 1x1-projected when the shape changes)."
    def __init__(self, ni, nf, stride=1, ks=3, act=GeneralRelu, norm=nn.BatchNorm2d, preact=False, final_act=True,
                 stride_first=False, layer=nn.Conv2d):
        super().__init__()
        c = partial(conv, ks=ks, norm=norm, preact=preact, layer=layer)
        s1, s2 = (stride, 1) if stride_first else (1, stride)
        self.convs = nn.Sequential(c(ni, nf, stride=s1, act=act), c(nf, nf, stride=s2, act=act if preact else None))
        self.idconv = nn.Identity() if ni == nf else conv(ni, nf, ks=1, act=None, norm=None if preact else norm,
                                                          preact=False)
        self.pool = nn.Identity() if stride == 1 else nn.AvgPool2d(2, ceil_mode=True)
        self.act = act() if final_act and not preact else nn.Identity()
    def forward(self, x): return self.act(self.convs(x) + self.idconv(self.pool(x)))

def res_blocks(n,  # how many ResBlocks
               ni,  # the first block's input channels
               nf,  # every block's output channels
               stride=1,  # the downsampling block's stride (1: none)
               down_first=False,  # the first block downsamples, in its first conv (off: the last, in its second)
               **kwargs):  # `ResBlock`'s: `ks`, `act`, `norm`, `preact`, `layer`...
    "`n` ResBlocks, the last one downsampling as in the reference, or the first (in its first conv: 3x cheaper)."
    down = 0 if down_first else n - 1
    return nn.Sequential(*[ResBlock(ni if i == 0 else nf, nf, stride=stride if i == down else 1,
                                    stride_first=down_first, **kwargs) for i in range(n)])

def init_weights(m, leak=0.1):
    "Kaiming init for leaky ReLU, matching GeneralRelu's slope."
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)): nn.init.kaiming_normal_(m.weight, a=leak)

class UpBlock(nn.Module):
    "Nearest upsampling to the skip's size, then a ResBlock: the reference's up block, for any input size."
    def __init__(self, ni, nf, **kwargs):
        super().__init__()
        self.block = ResBlock(ni, nf, **kwargs)
    def forward(self, x, size):
        if x.shape[-2:] != size: x = F.interpolate(x, size=size, mode='nearest')
        return self.block(x)

def cross_conv(nf, act=GeneralRelu):
    "The reference's cross conv on a skip: a ResBlock then a conv."
    return nn.Sequential(ResBlock(nf, nf, act=act), conv(nf, nf, act=None, norm=None))

def zero_last_conv(block):
    "Zero a ResBlock's output convs so it starts by adding nothing."
    for seq in (block.convs[-1], block.idconv):
        for m in seq.modules() if isinstance(seq, nn.Module) else []:
            if isinstance(m, nn.Conv2d): nn.init.zeros_(m.weight)

class ESA(nn.Module):
    "Enhanced spatial attention (RFDN): a gate from a strided, max-pooled view of the features; any input size."
    def __init__(self, nf, f=None):
        super().__init__()
        f = f or nf // 4
        self.reduce, self.skip = nn.Conv2d(nf, f, 1), nn.Conv2d(f, f, 1)
        self.down = nn.Conv2d(f, f, 3, stride=2, padding=1)  # padded (the paper's is not): tiny tiles work too
        self.convs = nn.Sequential(nn.Conv2d(f, f, 3, padding=1), nn.ReLU(), nn.Conv2d(f, f, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(f, f, 3, padding=1))
        self.expand = nn.Conv2d(f, nf, 1)
    def forward(self, x):
        r = self.reduce(x)
        g = self.convs(F.max_pool2d(self.down(r), 7, stride=3, padding=3))
        g = F.interpolate(g, size=x.shape[-2:], mode='bilinear', align_corners=False)
        return x * torch.sigmoid(self.expand(g + self.skip(r)))

class RFDB(nn.Module):
    "Residual feature distillation block: shallow residual 3x3 convs, each step's 1x1 distillate concatenated, ESA."
    def __init__(self, nf, steps=3):
        super().__init__()
        d = nf // 2
        self.distill = nn.ModuleList([nn.Conv2d(nf, d, 1) for _ in range(steps)])
        self.refine = nn.ModuleList([nn.Conv2d(nf, nf, 3, padding=1) for _ in range(steps)])
        self.last = nn.Conv2d(nf, d, 3, padding=1)
        self.fuse, self.esa = nn.Conv2d(d * (steps + 1), nf, 1), ESA(nf)
    def forward(self, x):
        act, parts = partial(F.leaky_relu, negative_slope=0.05), []
        for distill, refine in zip(self.distill, self.refine):
            parts.append(act(distill(x)))
            x = act(refine(x) + x)
        return self.esa(self.fuse(torch.cat(parts + [act(self.last(x))], 1)))
