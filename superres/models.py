"""Networks: the ResNet classifier (named parts, presets), the restoration and segmentation nets, built from configs by
registry."""
import math
from copy import deepcopy
from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .card import ModelCard, attach_card, config_kind, update_config
from .errors import UsageError
from .layers import (
    RFDB,
    GeneralRelu,
    Normalizer,
    RepConv,
    ResBlock,
    UpBlock,
    conv,
    cross_conv,
    fold_rep_convs,
    init_weights,
    res_blocks,
    zero_last_conv,
)
from .registry import Registry

__all__ = ['Classifier', 'PRESETS', 'classifier_config', 'classifier', 'classifier_from_config', 'TinyUnet',
           'LRNet', 'SRResNet', 'RFDNBody', 'Restorer', 'Arch', 'UNET_PRESETS', 'SR_RESNET_PRESETS',
           'REP_RESNET_PRESETS', 'RFDN_PRESETS', 'ARCHS', 'restorer_config', 'restorer', 'restorer_from_config',
           'fold', 'UNetCritic', 'CRITICS', 'critic_config', 'check_config', 'critic_from_config', 'Segmenter',
           'SEGMENTERS', 'SEGMENTATION_CODES', 'segmenter_config', 'segmenter_from_config', 'segmenter',
           'model_from_config']

class Classifier(nn.Sequential):
    "A ResNet classifier: `contract` (its Normalizer), `stem`, `stages`, `head`; timm's forward_features/forward_head."
    # a Sequential, so the saved weights keep their keys and a body layer is still addressed by its index
    @property
    def contract(self): return self[0]
    @property
    def stem(self): return self[1]
    @property
    def stages(self): return list(self)[2:-1]
    @property
    def body(self): return nn.Sequential(*list(self)[1:-1])
    @property
    def head(self): return self[-1]
    def forward_features(self, x): return self.body(self.contract(x))
    def forward_head(self, x): return self.head(x)

_ref = dict(nfs=(32, 64, 128, 256, 512, 1024), stem_ks=5, stem_stride=1)
_cpu = dict(stem='conv', stem_ks=3, stem_stride=2, drop=0., preact=False, down_first=True)  # short runs underfit
PRESETS = Registry('classifier preset', {
    'step1': dict(_ref, nbks=(1, 1, 1, 1, 1), stem='conv', drop=0.1, preact=False),
    'step2': dict(_ref, nbks=(3, 2, 2, 1, 1), stem='resblock', drop=0.2, preact=False),
    'step3': dict(_ref, nbks=(4, 3, 3, 2, 1), stem='conv', drop=0.1, preact=True),
    'cpu': dict(_cpu, stem_stride=1, nfs=(24, 48, 96, 192, 384), nbks=(1, 1, 1, 1)),
    'cpu_deep': dict(_cpu, stem_stride=1, nfs=(24, 48, 96, 192, 384), nbks=(2, 2, 2, 2)),  # 2x cpu's cost (BENCHMARKS)
    'cpu_small': dict(_cpu, nfs=(24, 48, 96, 192), nbks=(1, 1, 2)),
})
_CLASSIFIER_DEFAULTS = dict(kind='classifier', down_first=False, n_out=200, leak=0.1, sub=0.4, mean=(0.5,)*3,
                            std=(0.25,)*3, input_range=(0., 1.))

def classifier_config(preset=None, **overrides):
    "A classifier's full config: a named preset (see `PRESETS`) with any field overridden."
    cfg = dict(_CLASSIFIER_DEFAULTS, **PRESETS[preset or 'cpu'])
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    if len(cfg['nbks']) != len(cfg['nfs']) - 1:
        raise UsageError(f'nbks needs one entry per stage: {len(cfg["nfs"])-1} for nfs {cfg["nfs"]}, got {cfg["nbks"]}')
    return cfg

def classifier(preset=None, **overrides):
    "A ResNet classifier taking [0,1] images: Normalizer, stem, stages of `res_blocks`, head."
    return classifier_from_config(classifier_config(preset, **overrides))

def classifier_from_config(cfg):
    "Rebuild a classifier from its saved config (see `classifier_config`)."
    card = ModelCard.from_config(cfg)
    act = partial(GeneralRelu, leak=cfg['leak'], sub=cfg['sub'])
    nfs, preact = cfg['nfs'], cfg['preact']
    stem_args = dict(ks=cfg['stem_ks'], stride=cfg['stem_stride'])
    if cfg['stem'] == 'resblock': stem = ResBlock(3, nfs[0], act=act, preact=preact, **stem_args)
    else: stem = conv(3, nfs[0], act=act, **stem_args)
    strides = cfg.get('strides') or (2,) * len(cfg['nbks'])
    stages = [res_blocks(n, nfs[i], nfs[i+1], stride=strides[i], act=act, preact=preact, down_first=cfg['down_first'])
              for i, n in enumerate(cfg['nbks'])]
    final = [act(), nn.BatchNorm2d(nfs[-1])] if preact else []
    head = nn.Sequential(*final, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(cfg['drop']),
                         nn.Linear(nfs[-1], cfg['n_out'], bias=False), nn.BatchNorm1d(cfg['n_out']))
    model = Classifier(Normalizer(card.mean, card.std, card.input_range), stem, *stages, head)
    model.apply(partial(init_weights, leak=cfg['leak']))
    return attach_card(model, card)

class TinyUnet(nn.Module):
    """A UNet with added skips, encoder `stem`+`downs`, decoder mirrored: `residual`, its untrained output equals its
    input (restoration); else it gives `n_out` logits per pixel (segmentation). `top_skip` off: no path from input to
    output at the highest resolution (neither the stem's skip nor the residual), the lesson's advice for style."""
    def __init__(self, stem, downs, nfs, cross=False, act=GeneralRelu, n_out=3, residual=True, top_skip=True):
        super().__init__()
        self.stem, self.downs, self.top_skip = stem, nn.ModuleList(downs), top_skip
        self.residual = residual and top_skip
        levels = list(reversed(range(len(downs))))
        self.ups = nn.ModuleList([UpBlock(nfs[i+1], nfs[i], act=act) for i in levels])
        self.crosses = nn.ModuleList([cross_conv(nfs[i], act) if cross and (i or top_skip) else nn.Identity()
                                      for i in levels])
        self.to_rgb = UpBlock(nfs[0], n_out, act=act, final_act=False)  # named for restoration: saved weights keep it
        self.end = ResBlock(n_out, n_out, act=act, final_act=False)
        self.multiple = 2 ** (len(downs) + int(self._stem_stride() > 1))
        for m in (self.ups, self.crosses, self.to_rgb, self.end): m.apply(partial(init_weights, leak=0.1))
        if self.residual: zero_last_conv(self.to_rgb.block); zero_last_conv(self.end)

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
            out = up(out, skip.shape[-2:])
            if skips or self.top_skip: out = out + cross(skip)  # no skips left: this is the stem's, the highest
        out = self.to_rgb(out, x.shape[-2:])
        out = self.end(out + x if self.residual else out)
        return out[..., :h, :w]

def _encoder_unet():
    "DynamicUnet with its encoder (layer 0) named, defined on first use: fastai's UNet imports its training side."
    if 'EncoderUnet' not in globals():
        from fastai.vision.models.unet import DynamicUnet
        class EncoderUnet(DynamicUnet):
            "fastai's `DynamicUnet` whose encoder is reachable by name, as for the other UNets."
            encoder = property(lambda self: self[0])
        EncoderUnet.__qualname__ = 'EncoderUnet'  # pickled by reference, found through the module's `__getattr__`
        globals()['EncoderUnet'] = EncoderUnet
    return globals()['EncoderUnet']

def __getattr__(name):
    if name == 'EncoderUnet': return _encoder_unet()
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

class LRNet(nn.Module):
    "A body in low-resolution space, PixelShuffle x`scale` at the end, added to a bicubic upsample of the input."
    def __init__(self, body, scale, nf, layer=nn.Conv2d):
        super().__init__()
        self.scale, self.head, self.body = scale, layer(3, nf, 3, padding=1), body
        self.up = nn.Sequential(nn.Conv2d(nf, 3 * scale**2, 3, padding=1), nn.PixelShuffle(scale))
        nn.init.zeros_(self.up[0].weight); nn.init.zeros_(self.up[0].bias)  # starts as plain bicubic upsampling
    def forward(self, x):
        base = F.interpolate(x, scale_factor=self.scale, mode='bicubic', align_corners=False)
        h = self.head(x)
        return base + self.up(h + self.body(h))

class SRResNet(LRNet):
    "EDSR-style net in low-resolution space: norm-free ResBlocks, PixelShuffle at the end, on a bicubic upsample."
    def __init__(self, scale=2, nf=64, n_blocks=8, layer=nn.Conv2d):
        body = nn.Sequential(*[ResBlock(nf, nf, act=nn.ReLU, norm=None, final_act=False, layer=layer)
                               for _ in range(n_blocks)], layer(nf, nf, 3, padding=1))  # drawn before the head
        super().__init__(body, scale, nf, layer)

class RFDNBody(nn.Module):
    "RFDN's body: RFDBs in a row, every block's output fused by a 1x1 conv, then a 3x3 conv."
    def __init__(self, nf=48, n_blocks=4):
        super().__init__()
        self.blocks = nn.ModuleList([RFDB(nf) for _ in range(n_blocks)])
        self.fuse = nn.Sequential(nn.Conv2d(nf * n_blocks, nf, 1), nn.LeakyReLU(0.05), nn.Conv2d(nf, nf, 3, padding=1))
    def forward(self, x):
        outs = []
        for b in self.blocks: outs.append(x := b(x))
        return self.fuse(torch.cat(outs, 1))

class Restorer(nn.Module):
    "An image-to-image net wrapped in its input contract: takes and returns [0,1] images, normalises inside."
    def __init__(self, net, mean=(0.5,)*3, std=(0.25,)*3, input_range=(0., 1.)):
        super().__init__()
        self.norm, self.net = Normalizer(mean, std, input_range), net
    @property
    def encoder(self):
        "The UNet's encoder, a classifier's stem and stages (what `freeze()` freezes); None for nets without one."
        return getattr(self.net, 'encoder', None)
    def forward(self, x): return self.norm.decode(self.net(self.norm(x)))

@dataclass(frozen=True)
class Arch:
    "A restoration architecture: its net from (config, classifier or None, its own upscale), presets, where it works."
    build: Callable
    presets: Registry  # its sizes when not built on a trained classifier's body
    about: str  # what it is, in a few words (`superres train --help`)
    takes_classifier_body: bool = True  # a UNet whose encoder is a classifier's stem and stages (pretrained or not)
    takes_lr: bool = False  # works on the low-resolution image and upscales itself

def _act(cfg): return partial(GeneralRelu, leak=cfg['encoder']['leak'], sub=cfg['encoder']['sub'])

def _tiny_unet(cfg, clf, scale, cross=False):
    return TinyUnet(clf.stem, clf.stages, cfg['encoder']['nfs'], cross, _act(cfg), top_skip=cfg.get('top_skip', True))
def _dynamic_unet(cfg, clf, scale):
    return _encoder_unet()(nn.Sequential(clf.stem, *clf.stages), n_out=3, img_size=(64, 64))
def _sr_resnet(cfg, clf, scale): return SRResNet(scale, cfg['nf'], cfg['n_blocks'])
def _rep_resnet(cfg, clf, scale):
    return SRResNet(scale, cfg['nf'], cfg['n_blocks'], partial(RepConv, expand=cfg['expand']))
def _rfdn(cfg, clf, scale): return LRNet(RFDNBody(cfg['nf'], cfg['n_blocks']), scale, cfg['nf'])

UNET_PRESETS = Registry('UNet preset', {
    'reference': dict(nfs=(32, 64, 128, 256, 512, 1024), nbks=(1, 1, 1, 1, 1), stem='resblock', stem_ks=3,
                      stem_stride=1, down_first=False),
    'cpu': dict(nfs=(32, 64, 128, 256), nbks=(1, 1, 1), stem='conv', stem_ks=3, stem_stride=1, down_first=True),
})
SR_RESNET_PRESETS = Registry('sr_resnet preset', {'reference': dict(nf=64, n_blocks=16),  # EDSR-baseline
                                                  'cpu': dict(nf=64, n_blocks=8)})
REP_RESNET_PRESETS = Registry('rep_resnet preset', {'cpu': dict(nf=64, n_blocks=8, expand=4)})  # sr_resnet's cost
RFDN_PRESETS = Registry('rfdn preset', {'reference': dict(nf=50, n_blocks=4),  # RFDN (Liu et al. 2020)
                                        'cpu': dict(nf=64, n_blocks=4)})
ARCHS = Registry('arch', {
    'tiny_unet': Arch(_tiny_unet, UNET_PRESETS, 'added skips, starts as identity'),
    'tiny_unet_cross': Arch(partial(_tiny_unet, cross=True), UNET_PRESETS, 'tiny_unet with convs on the skips'),
    # from scratch, its encoder is a fresh classifier of the preset (see `restoration_learner`)
    'dynamic_unet': Arch(_dynamic_unet, PRESETS, 'fastai DynamicUnet'),
    'sr_resnet': Arch(_sr_resnet, SR_RESNET_PRESETS, 'EDSR-style, works on the low-resolution image',
                      takes_classifier_body=False, takes_lr=True),
    'rep_resnet': Arch(_rep_resnet, REP_RESNET_PRESETS, 'sr_resnet whose convs train as wider branches, folded into '
                       'its plain convs for inference', takes_classifier_body=False, takes_lr=True),
    'rfdn': Arch(_rfdn, RFDN_PRESETS, 'RFDN-style distillation blocks on the low-resolution image',
                 takes_classifier_body=False, takes_lr=True),
})

def restorer_config(arch='tiny_unet',  # a name of `ARCHS`
                    preset='cpu',  # the size, a name of the arch's presets (UNets given `body_config`: unused)
                    body_config=None,  # a classifier's config, a UNet's encoder (None: the preset's); others refuse it
                    **overrides):  # config keys set, e.g. `scale`, `task` (None values: ignored)
    """Config of a restoration model: arch, the classifier config whose stem and stages are its encoder (saved as
    `encoder`; pretrained or not) and the rest."""
    spec = ARCHS[arch]
    if not spec.takes_classifier_body and body_config is not None:
        raise UsageError(f'{arch} has no classifier encoder to pretrain: train it from scratch (`pretrained` off keeps '
                         'the classifier for the perceptual loss)')
    if spec.takes_classifier_body:
        encoder = body_config or classifier_config(None, **{'drop': 0., 'preact': False, **spec.presets[preset]},
                                                   n_out=1)  # a classifier preset's own drop and preact kept
        cfg = dict(encoder=encoder, mean=encoder['mean'], std=encoder['std'],
                   input_range=encoder.get('input_range', (0., 1.)))
    else: cfg = dict(spec.presets[preset], mean=(0.5,)*3, std=(0.25,)*3, input_range=(0., 1.))
    if spec.takes_lr: cfg['input'] = 'lr'  # the arch's `takes_lr`, recorded for the card of every file it is saved in
    cfg = dict(kind='restorer', arch=arch, **cfg, scale=2, task='superres')
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg

def restorer_from_config(cfg, classifier_model=None):
    "Build a restoration model from its config, around the stem and stages of `classifier_model` if given."
    card = ModelCard.from_config(cfg)
    spec = ARCHS[card.arch]
    if card.takes_lr != spec.takes_lr:  # the arch decides; a config whose `input` says otherwise was mixed up
        lr = {True: 'the low-resolution image (input=lr)', False: 'an upsampled image'}
        raise UsageError(f'its config says {card.arch} reads {lr[card.takes_lr]}: it reads {lr[spec.takes_lr]}')
    clf = None if not spec.takes_classifier_body else (
        classifier_model if classifier_model is not None else classifier_from_config(cfg['encoder']))
    model = Restorer(spec.build(cfg, clf, card.net_scale), card.mean, card.std, card.input_range)
    if card.folded: fold_rep_convs(model)  # saved as the plain net it computes
    return attach_card(model, card)

def fold(model):
    "A restorer trained with re-parameterised convs as the plain net they compute (in place), for inference or export."
    if fold_rep_convs(model): update_config(model, folded=True)
    return model

def restorer(arch='tiny_unet',  # a name of `ARCHS`
             preset='cpu',  # the size from scratch, a name of the arch's presets (unused with `classifier_model`)
             classifier_model=None,  # a trained classifier whose encoder a UNet copies (None: from scratch)
             **overrides):  # config keys set, e.g. `scale`, `task`, `mean`, `std` (None values: ignored)
    "A restoration model: from scratch (`preset`) or with a copy of the encoder of a trained `classifier_model`."
    if classifier_model is None: return restorer_from_config(restorer_config(arch, preset, **overrides))
    cfg = restorer_config(arch, body_config=classifier_model.card.config, **overrides)
    return restorer_from_config(cfg, deepcopy(classifier_model))  # copied: the classifier stays intact

class Segmenter(nn.Module):
    """A segmentation net in its input contract: [0,1] images of any size in, resized to `size` for the net (the side
    it trained at), one logit per class and pixel out at the input's size."""
    def __init__(self, net, size=64, mean=(0.5,)*3, std=(0.25,)*3, input_range=(0., 1.)):
        super().__init__()
        self.norm, self.net, self.size = Normalizer(mean, std, input_range), net, size
    @property
    def encoder(self): return self.net.encoder
    def forward(self, x):
        size = x.shape[-2:]
        x = F.interpolate(self.norm(x), (self.size, self.size), mode='bilinear', antialias=True, align_corners=False)
        return F.interpolate(self.net(x), size, mode='bilinear', align_corners=False)

def _segmenting_tiny_unet(cfg, clf):
    return TinyUnet(clf.stem, clf.stages, cfg['encoder']['nfs'], act=_act(cfg), n_out=len(cfg['codes']),
                    residual=False)
def _segmenting_dynamic_unet(cfg, clf):
    body = nn.Sequential(clf.stem, *clf.stages)  # shapes probed at 64x64: it runs at any size, a file's `size` included
    return _encoder_unet()(body, n_out=len(cfg['codes']), img_size=(64, 64))

SEGMENTERS = Registry('segmentation arch', {'dynamic_unet': _segmenting_dynamic_unet,  # fastai's, on the encoder
                                            'tiny_unet': _segmenting_tiny_unet})  # the lesson's, light decoder
SEGMENTATION_CODES = ('background', 'object')

def segmenter_config(arch='dynamic_unet', body_config=None, **overrides):
    """Config of a segmentation model: arch, the classifier config whose stem and stages are its encoder (saved as
    `encoder`; pretrained or not), classes, working size."""
    SEGMENTERS[arch]  # an unknown arch is refused here, in one line
    encoder = body_config or classifier_config(None, n_out=1)
    cfg = dict(kind='segmenter', arch=arch, encoder=encoder, mean=encoder['mean'], std=encoder['std'],
               input_range=encoder.get('input_range', (0., 1.)), codes=list(SEGMENTATION_CODES), size=64)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg

def segmenter_from_config(cfg, classifier_model=None):
    "Build a segmentation model from its config, around the stem and stages of `classifier_model` if given."
    card = ModelCard.from_config(cfg)
    clf = classifier_model if classifier_model is not None else classifier_from_config(cfg['encoder'])
    net = SEGMENTERS[card.arch](cfg, clf)
    return attach_card(Segmenter(net, card.size, card.mean, card.std, card.input_range), card)

def segmenter(arch='dynamic_unet',  # a name of `SEGMENTERS`
              classifier_model=None,  # a classifier whose stem and stages the encoder copies (None: a fresh `cpu` one)
              pretrained=True,  # copy its weights (off: its architecture with fresh weights)
              **overrides):  # config keys set, e.g. `size`, `mean`, `std` (None values: ignored)
    """A segmentation model on the encoder of `classifier_model`: a copy of its weights if `pretrained`, else its
    architecture with fresh weights (None: the `cpu` classifier's, fresh)."""
    body_config = None if classifier_model is None else classifier_model.card.config
    cfg = segmenter_config(arch, body_config, **overrides)
    if classifier_model is None or not pretrained: return segmenter_from_config(cfg)
    return segmenter_from_config(cfg, deepcopy(classifier_model))  # copied: the classifier stays intact

class UNetCritic(nn.Module):
    "A U-Net critic with spectral norm (as Real-ESRGAN's): a realness logit for every pixel, from texture and context."
    def __init__(self, nf=32, n_down=3):
        super().__init__()
        sn = nn.utils.spectral_norm
        self.stem = nn.Conv2d(3, nf, 3, padding=1)
        self.downs = nn.ModuleList([sn(nn.Conv2d(nf * 2**i, nf * 2**(i+1), 4, 2, 1, bias=False))
                                    for i in range(n_down)])
        self.ups = nn.ModuleList([sn(nn.Conv2d(nf * 2**(i+1), nf * 2**i, 3, padding=1, bias=False))
                                  for i in reversed(range(n_down))])
        self.extra = nn.ModuleList([sn(nn.Conv2d(nf, nf, 3, padding=1, bias=False)) for _ in range(2)])
        self.out = nn.Conv2d(nf, 1, 3, padding=1)
    def forward(self, x):
        act = partial(F.leaky_relu, negative_slope=0.2)
        skips = [act(self.stem(x))]
        for down in self.downs: skips.append(act(down(skips[-1])))
        h = skips.pop()
        for up in self.ups:
            h = act(up(F.interpolate(h, scale_factor=2, mode='bilinear', align_corners=False))) + skips.pop()
        for layer in self.extra: h = act(layer(h))
        return self.out(h).flatten(1)  # one logit per pixel, flat as fastai's critic loss expects

def _gan_critic(cfg):
    from fastai.vision.gan import gan_critic  # fastai's GAN module imports its training side: only critics need it
    return gan_critic(3, cfg['nf'], cfg['n_blocks'], cfg['p'])

CRITICS = Registry('critic', {
    'gan_critic': (_gan_critic, dict(nf=32, n_blocks=3, p=0.15)),  # fastai's: spectral norm, self-attention, patches
    'unet_critic': (lambda cfg: UNetCritic(cfg['nf'], cfg['n_blocks']), dict(nf=32, n_blocks=3)),  # per pixel
})

def critic_config(arch='gan_critic', **overrides):
    "Config of a GAN critic (see `CRITICS`), `nf` features in its first layer, `n_blocks` halvings of the image."
    return dict(kind='critic', arch=arch, **dict(CRITICS[arch][1], **overrides), mean=(0.5,)*3, std=(0.25,)*3)

def critic_from_config(cfg):
    "A critic of [0,1] images, normalised as the restorers normalise, then the network its config names."
    card = ModelCard.from_config(cfg)
    return attach_card(nn.Sequential(Normalizer(card.mean, card.std), CRITICS[card.arch][0](cfg)), card)

# what a config from a file may hold, as (low, high) whole numbers: a larger net is no model superres trains, and
# building it would allocate before its weights are read
CONFIG_BOUNDS = dict(scale=(1, 8), nf=(1, 1024), n_blocks=(1, 64), expand=(1, 16), nfs=(1, 2048), nbks=(0, 16),
                     n_out=(1, 100_000), size=(1, 4096), stem_ks=(1, 15), stem_stride=(1, 8), n_down=(1, 8))

def check_config(cfg, where='config'):
    """A config read from a file, refused in one line where it is no dict, a size is no whole number in its bounds or a
    number is not finite (NaN, infinity): absurd values fail here, not in an allocation."""
    if not isinstance(cfg, dict): raise UsageError(f'its {where} is a {type(cfg).__name__}, not a mapping')
    for k, v in cfg.items():
        if k in CONFIG_BOUNDS:
            lo, hi = CONFIG_BOUNDS[k]
            values = v if isinstance(v, (list, tuple)) and k in ('nfs', 'nbks') else [v]
            if not values or not all(type(x) is int and lo <= x <= hi for x in values):
                raise UsageError(f'its {where} gives {k}={v!r:.60}: a whole number from {lo} to {hi} was expected')
        elif isinstance(v, dict): check_config(v, f'{where}.{k}')
        elif isinstance(v, float) and not math.isfinite(v): raise UsageError(f'its {where} gives {k}={v}')
        elif isinstance(v, (list, tuple)) and any(isinstance(x, float) and not math.isfinite(x) for x in v):
            raise UsageError(f'its {where} gives {k}={v!r:.60}: numbers must be finite')
    return cfg

def model_from_config(cfg):
    "Rebuild any superres model from its saved config (weights are loaded separately)."
    build = dict(classifier=classifier_from_config, restorer=restorer_from_config, segmenter=segmenter_from_config,
                 critic=critic_from_config)
    return build[config_kind(cfg)](cfg)
