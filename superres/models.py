"""Building blocks and classifiers: the reference's ResNets plus presets sized for a CPU."""
from functools import partial

import torch
from torch import nn
import torch.nn.functional as F
from fastcore.basics import store_attr

__all__ = ['GeneralRelu', 'ContractError', 'Normalizer', 'input_contract', 'conv', 'ResBlock', 'res_blocks', 'init_weights', 'PRESETS',
           'classifier', 'classifier_config', 'classifier_from_config', 'UpBlock', 'TinyUnet', 'Restorer',
           'SRResNet', 'UNET_PRESETS', 'SR_RESNET_PRESETS', 'ARCHS', 'takes_lr', 'restorer_config', 'restorer', 'restorer_from_classifier', 'restorer_from_config']

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

class ContractError(ValueError):
    "Images that do not match a model's input contract: the wrong value range or statistics."

class Normalizer(nn.Module):
    "Normalise raw images (in `input_range`) with stats stored as buffers, so the model carries its own input contract."
    def __init__(self, mean=(0.5,)*3, std=(0.25,)*3, input_range=(0., 1.)):
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.input_range = tuple(map(float, input_range))
    def forward(self, x): return (x - self.mean) / self.std
    def decode(self, x): return x * self.std + self.mean
    def extra_repr(self): return f'mean={self._fmt(self.mean)}, std={self._fmt(self.std)}, input_range={self.input_range}'

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
                                f'images scaled to [{lo:g}, {hi:g}] (x/255 for 8-bit, x+0.5 for [-0.5, 0.5], (x+1)/2 for [-1, 1])')
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
    if norm is None: raise ContractError(f'{type(model).__name__} carries no input contract (no Normalizer): use a superres model')
    return norm

def conv(ni, nf, ks=3, stride=1, act=GeneralRelu, norm=nn.BatchNorm2d, bias=None, preact=False):
    "A conv with norm and activation after it (post-activation) or before it (pre-activation)."
    if bias is None: bias = norm is None
    layer = nn.Conv2d(ni, nf, ks, stride=stride, padding=ks//2, bias=bias)
    if preact: return nn.Sequential(*([norm(ni)] if norm else []), *([act()] if act else []), layer)
    return nn.Sequential(layer, *([norm(nf)] if norm else []), *([act()] if act else []))

class ResBlock(nn.Module):
    "Two convs plus an identity path (pooled and 1x1-projected when the shape changes)."
    def __init__(self, ni, nf, stride=1, ks=3, act=GeneralRelu, norm=nn.BatchNorm2d, preact=False, final_act=True,
                 stride_first=False):
        super().__init__()
        c = partial(conv, ks=ks, norm=norm, preact=preact)
        s1, s2 = (stride, 1) if stride_first else (1, stride)
        self.convs = nn.Sequential(c(ni, nf, stride=s1, act=act), c(nf, nf, stride=s2, act=act if preact else None))
        self.idconv = nn.Identity() if ni == nf else conv(ni, nf, ks=1, act=None, norm=None if preact else norm, preact=False)
        self.pool = nn.Identity() if stride == 1 else nn.AvgPool2d(2, ceil_mode=True)
        self.act = act() if final_act and not preact else nn.Identity()
    def forward(self, x): return self.act(self.convs(x) + self.idconv(self.pool(x)))

def res_blocks(n, ni, nf, stride=1, down_first=False, **kwargs):
    "`n` ResBlocks, the last one downsampling as in the reference, or the first (in its first conv: 3x cheaper)."
    down = 0 if down_first else n - 1
    return nn.Sequential(*[ResBlock(ni if i == 0 else nf, nf, stride=stride if i == down else 1,
                                    stride_first=down_first, **kwargs) for i in range(n)])

def init_weights(m, leak=0.1):
    "Kaiming init for leaky ReLU, matching GeneralRelu's slope."
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)): nn.init.kaiming_normal_(m.weight, a=leak)

_ref = dict(nfs=(32, 64, 128, 256, 512, 1024), stem_ks=5, stem_stride=1)
_cpu = dict(stem='conv', stem_ks=3, stem_stride=2, drop=0., preact=False, down_first=True)  # short CPU runs underfit: no dropout
PRESETS = {
    'step1': dict(_ref, nbks=(1, 1, 1, 1, 1), stem='conv', drop=0.1, preact=False),
    'step2': dict(_ref, nbks=(3, 2, 2, 1, 1), stem='resblock', drop=0.2, preact=False),
    'step3': dict(_ref, nbks=(4, 3, 3, 2, 1), stem='conv', drop=0.1, preact=True),
    'cpu': dict(_cpu, stem_stride=1, nfs=(24, 48, 96, 192, 384), nbks=(1, 1, 1, 1)),
    'cpu_small': dict(_cpu, nfs=(24, 48, 96, 192), nbks=(1, 1, 2)),
}

def classifier_config(preset=None, **overrides):
    "A classifier's full config: a named preset (see `PRESETS`) with any field overridden."
    if preset is not None and preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; choose one of {", ".join(PRESETS)}')
    cfg = dict(dict(down_first=False, n_out=200, leak=0.1, sub=0.4, mean=(0.5,)*3, std=(0.25,)*3, input_range=(0., 1.)), **PRESETS[preset or 'cpu'])
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
    strides = cfg.get('strides') or (2,) * len(cfg['nbks'])
    stages = [res_blocks(n, nfs[i], nfs[i+1], stride=strides[i], act=act, preact=preact, down_first=cfg['down_first'])
              for i, n in enumerate(cfg['nbks'])]
    final = [act(), nn.BatchNorm2d(nfs[-1])] if preact else []
    head = nn.Sequential(*final, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(cfg['drop']),
                         nn.Linear(nfs[-1], cfg['n_out'], bias=False), nn.BatchNorm1d(cfg['n_out']))
    model = nn.Sequential(Normalizer(cfg['mean'], cfg['std'], cfg.get('input_range', (0., 1.))), stem, *stages, head)
    model.apply(partial(init_weights, leak=cfg['leak']))
    model.config = cfg
    return model

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

class TinyUnet(nn.Module):
    "A UNet with added skips whose untrained output equals its input: encoder `stem`+`downs`, decoder mirrored."
    def __init__(self, stem, downs, nfs, cross=False, act=GeneralRelu):
        super().__init__()
        self.stem, self.downs = stem, nn.ModuleList(downs)
        self.ups = nn.ModuleList([UpBlock(nfs[i+1], nfs[i], act=act) for i in reversed(range(len(downs)))])
        self.crosses = nn.ModuleList([cross_conv(nfs[i], act) if cross else nn.Identity() for i in reversed(range(len(downs)))])
        self.to_rgb = UpBlock(nfs[0], 3, act=act, final_act=False)
        self.end = ResBlock(3, 3, act=act, final_act=False)
        self.multiple = 2 ** (len(downs) + int(self._stem_stride() > 1))
        for m in (self.ups, self.crosses, self.to_rgb, self.end): m.apply(partial(init_weights, leak=0.1))
        zero_last_conv(self.to_rgb.block); zero_last_conv(self.end)

    def _stem_stride(self):
        return next(m.stride[0] for m in self.stem.modules() if isinstance(m, nn.Conv2d))

    @property
    def encoder(self): return nn.ModuleList([self.stem, *self.downs])

    def forward(self, x):
        h, w = x.shape[-2:]
        m = self.multiple
        x = F.pad(x, (0, (-w) % m, 0, (-h) % m), mode='replicate')  # always: a size test would be frozen by ONNX export
        skips = [self.stem(x)]
        for d in self.downs: skips.append(d(skips[-1]))
        out = skips.pop()
        for up, cross in zip(self.ups, self.crosses):
            skip = skips.pop()
            out = up(out, skip.shape[-2:]) + cross(skip)
        out = self.end(self.to_rgb(out, x.shape[-2:]) + x)
        return out[..., :h, :w]

class SRResNet(nn.Module):
    "EDSR-style net in low-resolution space (norm-free ResBlocks, PixelShuffle at the end) added to a bicubic upsample."
    def __init__(self, scale=2, nf=64, n_blocks=8):
        super().__init__()
        self.scale = scale
        self.head = nn.Conv2d(3, nf, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(nf, nf, act=nn.ReLU, norm=None, final_act=False) for _ in range(n_blocks)],
                                  nn.Conv2d(nf, nf, 3, padding=1))
        self.up = nn.Sequential(nn.Conv2d(nf, 3 * scale**2, 3, padding=1), nn.PixelShuffle(scale))
        nn.init.zeros_(self.up[0].weight); nn.init.zeros_(self.up[0].bias)  # starts as plain bicubic upsampling
    @property
    def encoder(self): return self.head
    def forward(self, x):
        base = F.interpolate(x, scale_factor=self.scale, mode='bicubic', align_corners=False)
        h = self.head(x)
        return base + self.up(h + self.body(h))

class Restorer(nn.Module):
    "An image-to-image net wrapped in its input contract: takes and returns [0,1] images, normalises inside."
    def __init__(self, net, mean=(0.5,)*3, std=(0.25,)*3, input_range=(0., 1.)):
        super().__init__()
        self.norm, self.net = Normalizer(mean, std, input_range), net
    @property
    def encoder(self): return self.net.encoder if hasattr(self.net, 'encoder') else self.net[0]
    def forward(self, x): return self.norm.decode(self.net(self.norm(x)))

UNET_PRESETS = {
    'reference': dict(nfs=(32, 64, 128, 256, 512, 1024), nbks=(1, 1, 1, 1, 1), stem='resblock', stem_ks=3, stem_stride=1,
                      down_first=False),
    'cpu': dict(nfs=(32, 64, 128, 256), nbks=(1, 1, 1), stem='conv', stem_ks=3, stem_stride=1, down_first=True),
}

SR_RESNET_PRESETS = {'reference': dict(nf=64, n_blocks=16), 'cpu': dict(nf=64, n_blocks=8)}  # reference: EDSR-baseline
ARCHS = ('tiny_unet', 'tiny_unet_cross', 'dynamic_unet', 'sr_resnet')

def takes_lr(model):
    "Whether a restoration model takes the low-resolution image itself (and upscales), not a pre-upsampled one."
    return getattr(model, 'config', {}).get('input') == 'lr'

def restorer_config(arch='tiny_unet', preset='cpu', encoder=None, **overrides):
    "Config of a restoration model: arch, encoder (a classifier config, pretrained or not) and the rest."
    if arch not in ARCHS: raise ValueError(f'unknown arch {arch!r}; choose one of {", ".join(ARCHS)}')
    if arch == 'sr_resnet':
        if encoder is not None: raise ValueError('sr_resnet has no classifier encoder to pretrain: train it from scratch '
                                                 '(--no-pretrained keeps the classifier for the perceptual loss)')
        if preset not in SR_RESNET_PRESETS: raise ValueError(f'unknown sr_resnet preset {preset!r}; choose one of {", ".join(SR_RESNET_PRESETS)}')
        cfg = dict(arch=arch, **SR_RESNET_PRESETS[preset], mean=(0.5,)*3, std=(0.25,)*3, input_range=(0., 1.), scale=2,
                   task='superres', input='lr')
        cfg.update({k: v for k, v in overrides.items() if v is not None})
        return cfg
    if encoder is None:
        if preset not in UNET_PRESETS: raise ValueError(f'unknown UNet preset {preset!r}; choose one of {", ".join(UNET_PRESETS)}')
        encoder = classifier_config(None, **UNET_PRESETS[preset], drop=0., preact=False, n_out=1)
    cfg = dict(arch=arch, encoder=encoder, mean=encoder['mean'], std=encoder['std'],
               input_range=encoder.get('input_range', (0., 1.)), scale=2, task='superres')
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg

def restorer_from_classifier(clf, cfg):
    "Build the UNet of `cfg` around a classifier's stem and stages (copied, so the classifier stays intact)."
    from copy import deepcopy
    stem, stages = deepcopy(clf[1]), deepcopy(list(clf[2:-1]))
    enc = cfg['encoder']
    act = partial(GeneralRelu, leak=enc['leak'], sub=enc['sub'])
    if cfg['arch'] == 'dynamic_unet':
        from fastai.vision.models.unet import DynamicUnet
        net = DynamicUnet(nn.Sequential(stem, *stages), n_out=3, img_size=(64, 64))
    else: net = TinyUnet(stem, stages, enc['nfs'], cross=cfg['arch'] == 'tiny_unet_cross', act=act)
    model = Restorer(net, cfg['mean'], cfg['std'], cfg.get('input_range', (0., 1.)))
    model.config = cfg
    return model

def restorer(arch='tiny_unet', preset='cpu', classifier_model=None, **overrides):
    "A restoration model: from scratch (`preset`) or with the encoder of a trained `classifier_model`."
    if classifier_model is not None:
        cfg = restorer_config(arch, encoder=classifier_model.config, **overrides)
        return restorer_from_classifier(classifier_model, cfg)
    return restorer_from_config(restorer_config(arch, preset, **overrides))

def restorer_from_config(cfg):
    "Rebuild a restoration model from its saved config (weights are loaded separately)."
    if cfg['arch'] == 'sr_resnet':
        model = Restorer(SRResNet(cfg['scale'], cfg['nf'], cfg['n_blocks']), cfg['mean'], cfg['std'], cfg['input_range'])
        model.config = cfg
        return model
    return restorer_from_classifier(classifier_from_config(cfg['encoder']), cfg)
