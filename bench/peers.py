"""Peer models for side-by-side benchmarks, rebuilt from the architectures described in `../shared/peers/README.md` and
loaded from their authors' released weights there: RLFN (x2, x4) and Real-ESRGAN's compact real-world x4 model.

Benchmarks only: the library never loads these, nothing here is shipped. Each loader returns a module that takes and
returns RGB in [0, 1] at low resolution with a superres model card (scale, `input='lr'`), so `superres.evaluate`,
`upscale_image` and the tiling run it exactly as they run our models.
"""
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from superres.card import ModelCard, attach_card

PEERS = Path(__file__).parents[1]/'..'/'shared'/'peers'

def conv(ni, nf, ks=3, stride=1, padding=None):
    return nn.Conv2d(ni, nf, ks, stride, ks // 2 if padding is None else padding)

class ESA(nn.Module):
    "RLFN's enhanced spatial attention: a strided, max-pooled 1/6-resolution branch gating the features."
    def __init__(self, nf=52, f=16):
        super().__init__()
        self.conv1, self.conv_f, self.conv4 = conv(nf, f, 1), conv(f, f, 1), conv(f, nf, 1)
        self.conv2, self.conv3 = conv(f, f, 3, stride=2, padding=0), conv(f, f, 3)
    def forward(self, x):
        c1 = self.conv1(x)
        c3 = self.conv3(F.max_pool2d(self.conv2(c1), kernel_size=7, stride=3))
        c3 = F.interpolate(c3, x.shape[-2:], mode='bilinear', align_corners=False)
        return x * torch.sigmoid(self.conv4(c3 + self.conv_f(c1)))

class RLFB(nn.Module):
    "RLFN's block: three 3x3 convs with LeakyReLU(0.05) and a residual, a 1x1 conv, ESA."
    def __init__(self, nf=52):
        super().__init__()
        self.c1_r, self.c2_r, self.c3_r = conv(nf, nf), conv(nf, nf), conv(nf, nf)
        self.c5, self.esa = conv(nf, nf, 1), ESA(nf)
    def forward(self, x):
        out = x
        for c in (self.c1_r, self.c2_r, self.c3_r): out = F.leaky_relu(c(out), 0.05)
        return self.esa(self.c5(out + x))

class RLFN(nn.Module):
    "RLFN (Kong et al. 2022): six RLFBs on 52 channels, a long skip, a conv + PixelShuffle tail; RGB in [0, 255]."
    def __init__(self, scale, nf=52):
        super().__init__()
        self.conv_1, self.conv_2 = conv(3, nf), conv(nf, nf)
        for i in range(1, 7): setattr(self, f'block_{i}', RLFB(nf))
        self.upsampler = nn.Sequential(conv(nf, 3 * scale * scale), nn.PixelShuffle(scale))
        attach_card(self, ModelCard.from_config(dict(kind='restorer', arch='rlfn_peer', scale=scale, input='lr',
                                                     task=f'superres:scale={scale}')))
    def forward(self, x):
        feat = self.conv_1(x * 255)
        out = feat
        for i in range(1, 7): out = getattr(self, f'block_{i}')(out)
        return self.upsampler(self.conv_2(out) + feat) / 255

class SRVGGNetCompact(nn.Module):
    "Real-ESRGAN's compact net: 3x3 conv + PReLU, 32 more of them, a conv to 3*16 channels, PixelShuffle, + nearest x4."
    def __init__(self, nf=64, n_conv=32, scale=4):
        super().__init__()
        layers = [conv(3, nf), nn.PReLU(nf)]
        for _ in range(n_conv): layers += [conv(nf, nf), nn.PReLU(nf)]
        self.body, self.up = nn.Sequential(*layers, conv(nf, 3 * scale * scale)), nn.PixelShuffle(scale)
        self.scale = scale
        attach_card(self, ModelCard.from_config(dict(kind='restorer', arch='srvgg_peer', scale=scale, input='lr',
                                                     task=f'real:scale={scale}')))
    def forward(self, x):
        return self.up(self.body(x)) + F.interpolate(x, scale_factor=self.scale, mode='nearest')

def _weights(name):
    d = torch.load(PEERS/name, map_location='cpu', weights_only=True)
    return {k: v.float() for k, v in d.get('params', d).items()}

def available(): return PEERS.is_dir() and any(PEERS.glob('*.pth'))

def rlfn(scale):
    "RLFN x2 or x4 with its released weights."
    net = RLFN(scale)
    net.load_state_dict(_weights(f'rlfn_x{scale}.pth'))
    return net.eval()

def realesrgan_compact(denoise=0.5):
    "realesr-general-x4v3 as Real-ESRGAN runs it by default (`-dn 0.5`): weights blended with its weak-denoise twin."
    net = SRVGGNetCompact()
    general, weak = _weights('realesr-general-x4v3.pth'), _weights('realesr-general-wdn-x4v3.pth')
    net.load_state_dict({k: denoise * general[k] + (1 - denoise) * weak[k] for k in general})
    return net.eval()
