"""Building blocks and classifiers: the reference's ResNets plus presets sized for a CPU."""
from functools import partial

import torch
from torch import nn
import torch.nn.functional as F
from fastcore.basics import store_attr

__all__ = ['GeneralRelu', 'Normalizer', 'conv', 'ResBlock', 'res_blocks', 'init_weights', 'PRESETS',
           'classifier', 'classifier_config', 'classifier_from_config']

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
    "Normalise [0,1] images with stats stored as buffers, so the model carries its own input contract."
    def __init__(self, mean=(0.5,)*3, std=(0.25,)*3):
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
    def forward(self, x): return (x - self.mean) / self.std
    def decode(self, x): return x * self.std + self.mean
    def extra_repr(self): return f'mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}'

def conv(ni, nf, ks=3, stride=1, act=GeneralRelu, norm=nn.BatchNorm2d, bias=None, preact=False):
    "A conv with norm and activation after it (post-activation) or before it (pre-activation)."
    if bias is None: bias = norm is None
    layer = nn.Conv2d(ni, nf, ks, stride=stride, padding=ks//2, bias=bias)
    if preact: return nn.Sequential(*([norm(ni)] if norm else []), *([act()] if act else []), layer)
    return nn.Sequential(layer, *([norm(nf)] if norm else []), *([act()] if act else []))

class ResBlock(nn.Module):
    "Two convs plus an identity path (pooled and 1x1-projected when the shape changes)."
    def __init__(self, ni, nf, stride=1, ks=3, act=GeneralRelu, norm=nn.BatchNorm2d, preact=False):
        super().__init__()
        c = partial(conv, ks=ks, norm=norm, preact=preact)
        self.convs = nn.Sequential(c(ni, nf, act=act), c(nf, nf, stride=stride, act=act if preact else None))
        self.idconv = nn.Identity() if ni == nf else conv(ni, nf, ks=1, act=None, norm=None if preact else norm, preact=False)
        self.pool = nn.Identity() if stride == 1 else nn.AvgPool2d(2, ceil_mode=True)
        self.act = nn.Identity() if preact else act()
    def forward(self, x): return self.act(self.convs(x) + self.idconv(self.pool(x)))

def res_blocks(n, ni, nf, stride=1, **kwargs):
    "`n` ResBlocks, the last one downsampling, as in the reference."
    return nn.Sequential(*[ResBlock(ni if i == 0 else nf, nf, stride=stride if i == n-1 else 1, **kwargs)
                           for i in range(n)])

def init_weights(m, leak=0.1):
    "Kaiming init for leaky ReLU, matching GeneralRelu's slope."
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)): nn.init.kaiming_normal_(m.weight, a=leak)

_ref = dict(nfs=(32, 64, 128, 256, 512, 1024), stem_ks=5, stem_stride=1)
_cpu = dict(stem='conv', stem_ks=3, stem_stride=2, drop=0.1, preact=False)
PRESETS = {
    'step1': dict(_ref, nbks=(1, 1, 1, 1, 1), stem='conv', drop=0.1, preact=False),
    'step2': dict(_ref, nbks=(3, 2, 2, 1, 1), stem='resblock', drop=0.2, preact=False),
    'step3': dict(_ref, nbks=(4, 3, 3, 2, 1), stem='conv', drop=0.1, preact=True),
    'cpu': dict(_cpu, nfs=(32, 64, 128, 256), nbks=(2, 2, 2)),
    'cpu_small': dict(_cpu, nfs=(24, 48, 96, 192), nbks=(1, 1, 2)),
}

def classifier_config(preset=None, **overrides):
    "A classifier's full config: a named preset (see `PRESETS`) with any field overridden."
    if preset is not None and preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; choose one of {", ".join(PRESETS)}')
    cfg = dict(PRESETS[preset or 'cpu'], n_out=200, leak=0.1, sub=0.4, mean=(0.5,)*3, std=(0.25,)*3)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    if len(cfg['nbks']) != len(cfg['nfs']) - 1:
        raise ValueError(f'nbks needs one entry per stage: {len(cfg["nfs"])-1} for nfs {cfg["nfs"]}, got {cfg["nbks"]}')
    return cfg

def classifier(preset=None, **overrides):
    "A ResNet classifier taking [0,1] images: Normalizer, stem, stages of `res_blocks`, head."
    return classifier_from_config(classifier_config(preset, **overrides))

def classifier_from_config(cfg):
    "Rebuild a classifier from its saved config (see `classifier_config`)."
    act = partial(GeneralRelu, leak=cfg['leak'], sub=cfg['sub'])
    nfs, preact = cfg['nfs'], cfg['preact']
    blk = partial(ResBlock, act=act, preact=preact)
    stem_args = dict(ks=cfg['stem_ks'], stride=cfg['stem_stride'])
    stem = blk(3, nfs[0], **stem_args) if cfg['stem'] == 'resblock' else conv(3, nfs[0], act=act, **stem_args)
    stages = [res_blocks(n, nfs[i], nfs[i+1], stride=2, act=act, preact=preact) for i, n in enumerate(cfg['nbks'])]
    final = [act(), nn.BatchNorm2d(nfs[-1])] if preact else []
    head = nn.Sequential(*final, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(cfg['drop']),
                         nn.Linear(nfs[-1], cfg['n_out'], bias=False), nn.BatchNorm1d(cfg['n_out']))
    model = nn.Sequential(Normalizer(cfg['mean'], cfg['std']), stem, *stages, head)
    model.apply(partial(init_weights, leak=cfg['leak']))
    model.config = cfg
    return model
