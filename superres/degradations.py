"""Degradations: what turns a clean image into the input of a restoration task, random within ranges at training time.

A task is named by a spec: `jpeg`, `jpeg:quality=5..30`, `denoise:kind=gaussian,sigma=10..40`, or several joined by
`+` (applied left to right), e.g. `superres:scale=4+jpeg:quality=30`. `a..b` is a uniform range, `a|b` a random choice.
"""
import io
import random

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .errors import UsageError
from .fills import FILLS, SIDES, extend_canvas, fill_holes, inpaint_baselines, side_box
from .registry import Registry

__all__ = ['FILTERS', 'degrade_sr', 'BATCH_FILTERS', 'resize_batch', 'Degradation', 'Downscale', 'Resize', 'Blur',
           'Noise', 'JpegCompress', 'Grayscale', 'Holes', 'CropSide', 'Watermark', 'Chain', 'BLUR_KERNELS',
           'blur_kernel', 'sinc_kernel', 'random_blur_kernel', 'filter_image', 'RealPhoto', 'Style', 'TASKS',
           'parse_degradation', 'task_degradation']

FILTERS = {'nearest': Image.NEAREST, 'box': Image.BOX, 'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC,
           'lanczos': Image.LANCZOS}
def _filter(name):
    if name not in FILTERS: raise UsageError(f'unknown resize filter {name!r}; choose one of {", ".join(FILTERS)}')
    return FILTERS[name]

def degrade_sr(img,  # a PIL image
               scale=2,  # the downscale factor (sides rounded, at least 1 pixel)
               down='bicubic',  # the PIL filter shrinking it (a name of `FILTERS`)
               up='bicubic'):  # the PIL filter upsampling back to its size (None: keep it small)
    "Downscale by `scale` (PIL filters antialias) then upsample back (`up=None`: keep it small, for LR-space models)."
    w, h = img.size
    small = img.resize((max(1, round(w / scale)), max(1, round(h / scale))), _filter(down))
    return small if up is None else small.resize((w, h), _filter(up))

BATCH_FILTERS = {'nearest': 'nearest-exact', 'bilinear': 'bilinear', 'bicubic': 'bicubic'}  # PIL filter -> torch mode

def resize_batch(x,  # a uint8 batch (n, c, h, w) on any device
                 size,  # the output's (height, width)
                 filter='bicubic'):  # a name of `BATCH_FILTERS`: nearest, bilinear or bicubic
    "PIL's `resize` of a uint8 batch as tensor ops (any device): its kernels, width then height, rounding in between."
    mode = BATCH_FILTERS[filter]
    resize = lambda y, hw: F.interpolate(y, size=hw, mode=mode,
                                         **({} if mode.startswith('nearest') else dict(antialias=True)))
    y = resize(x.float(), (x.shape[-2], size[1])).round_().clamp_(0, 255)
    return resize(y, size).round_().clamp_(0, 255).to(torch.uint8)

def _options(v): return [v] if isinstance(v, str) else list(v)

def _draw(rng, v):
    "One value of a parameter: a (lo, hi) range is uniform, a list a random choice, anything else itself."
    if isinstance(v, tuple): return rng.uniform(*v)
    if isinstance(v, list): return rng.choice(v)
    return v

def _np_rng(rng): return np.random.default_rng(rng.getrandbits(64))

class Degradation:
    "A degradation of an RGB PIL image; `rng` (a `random.Random`, or `random` in DataLoaders) makes it repeatable."
    name, scale, batchable = None, 1, False  # batchable: `batch` degrades a whole uint8 tensor batch the same way
    def __init__(self, **params):
        self.params = params
        self.__dict__.update(params)
    def degrade(self, img, rng=random):
        "The degraded image and the mask of pixels it removed (None when it removes none)."
        return self.apply(img, rng), None
    def __call__(self, img, rng=random): return self.degrade(img, rng)[0]
    def prepare(self, img, **kwargs):
        "A real image as the model's input at inference: already degraded, so as is (holes get filled by their tasks)."
        return img
    def baselines(self):
        "Classic non-learned restorations of this degradation's output: name -> f(degraded image, mask)."
        return {}
    @property
    def spec(self):
        fmt = lambda v: ('..'.join(map(_num, v)) if isinstance(v, tuple)
                         else '|'.join(map(_num, v)) if isinstance(v, list) else _num(v))
        args = ','.join(f'{k}={fmt(v)}' for k, v in self.params.items())
        return self.name + (f':{args}' if args else '')
    def __repr__(self): return f'Degradation({self.spec})'

def _num(v): return f'{v:g}' if isinstance(v, float) else 'none' if v is None else str(v)

class Downscale(Degradation):
    "Super-resolution input: downscale by `scale`, then upsample with `up` (None: keep it small, for LR-space models)."
    name = 'superres'
    def __init__(self, scale=2, down='bicubic', up='bicubic'):
        for f in _options(down) + ([] if up is None else [up]): _filter(f)
        super().__init__(scale=scale, down=down, up=up)
    def apply(self, img, rng=random): return degrade_sr(img, self.scale, _draw(rng, self.down), self.up)
    @property
    def batchable(self):
        return all(f in BATCH_FILTERS for f in _options(self.down) + [self.up or 'nearest'])
    def batch(self, x):
        "`apply` to a uint8 batch (n, 3, h, w) on its own device, each image drawing its own `down` filter."
        h, w = x.shape[-2:]
        small_hw = max(1, round(h / self.scale)), max(1, round(w / self.scale))
        downs = _options(self.down)
        small = resize_batch(x, small_hw, downs[0])
        pick = torch.randint(len(downs), (len(x), 1, 1, 1), device=x.device)
        # no GPU sync
        for i, f in enumerate(downs[1:], 1): small = torch.where(pick == i, resize_batch(x, small_hw, f), small)
        return small if self.up is None else resize_batch(small, (h, w), self.up)

class Resize(Degradation):
    "Down to a random fraction of the size and back with a random filter: the resize step of a real-photo chain."
    name = 'resize'
    def __init__(self, factor=(0.3, 1.), filters=['bilinear', 'bicubic', 'box']):
        super().__init__(factor=factor, filters=filters)
    def apply(self, img, rng=random):
        f = _draw(rng, self.factor)
        small = img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))),
                           _filter(_draw(rng, self.filters)))
        return small.resize(img.size, _filter(_draw(rng, self.filters)))

class Blur(Degradation):
    "Gaussian blur of random radius (pixels): defocus and lens softness."
    name = 'blur'
    def __init__(self, sigma=(0.2, 2.)): super().__init__(sigma=sigma)
    def apply(self, img, rng=random): return img.filter(ImageFilter.GaussianBlur(_draw(rng, self.sigma)))
    def baselines(self): return {'sharpen': lambda im, m: im.filter(ImageFilter.UnsharpMask(2, 100, 0))}

class Noise(Degradation):
    "Gaussian noise (`sigma` on the 0-255 scale) or Poisson shot noise (`peak` photons at white); gray or per channel."
    name = 'denoise'
    def __init__(self, kind=['gaussian', 'poisson'], sigma=(5., 50.), peak=(5., 50.), gray=0.3):
        super().__init__(kind=kind, sigma=sigma, peak=peak, gray=gray)
    def apply(self, img, rng=random):
        g = _np_rng(rng)
        x = np.asarray(img, dtype=np.float32) / 255
        shape = x.shape[:2] + (1,) if rng.random() < self.gray else x.shape
        if _draw(rng, self.kind) == 'gaussian': x = x + g.normal(0, _draw(rng, self.sigma) / 255, shape)
        else:
            peak = _draw(rng, self.peak)
            base = x.mean(2, keepdims=True) if shape[-1] == 1 else x
            x = x + g.poisson(base * peak) / peak - base
        return Image.fromarray((np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8))
    def baselines(self): return {'median': lambda im, m: im.filter(ImageFilter.MedianFilter(3))}

class JpegCompress(Degradation):
    "JPEG encoding at a random quality (1-95): blocks and ringing."
    name = 'jpeg'
    def __init__(self, quality=(10, 50)): super().__init__(quality=quality)
    def apply(self, img, rng=random):
        buf = io.BytesIO()
        img.save(buf, format='JPEG', quality=int(round(_draw(rng, self.quality))))
        buf.seek(0)
        with Image.open(buf) as out: return out.convert('RGB')
    def baselines(self): return {'smooth': lambda im, m: im.filter(ImageFilter.SMOOTH)}

class Style(Degradation):
    "Style transfer's input: the photo itself (the style lives in the loss, not in the pairs)."
    name, batchable = 'style', True
    def apply(self, img, rng=random): return img
    def batch(self, x): return x

class Grayscale(Degradation):
    "Colourisation input: the luminance only, as three equal channels."
    name = 'colorize'
    def apply(self, img, rng=random): return img.convert('L').convert('RGB')
    def prepare(self, img, **kwargs): return self.apply(img)

def _check_fill(fill):
    if fill not in FILLS: raise UsageError(f'fill={fill!r}: choose from {", ".join(FILLS)}')

class Holes(Degradation):
    "Inpainting input: a rectangle of `area` (fraction of the image) at random (`where=centre`: the middle), filled."
    name = 'inpaint'
    def __init__(self, area=(0.05, 0.25), where='random', fill='smooth'):
        if where not in ('random', 'centre'): raise UsageError(f"inpaint where={where!r}: choose random or centre")
        _check_fill(fill)
        super().__init__(area=area, where=where, fill=fill)
    def mask(self, size, rng=random):
        "The hole, white on black, covering `area` of the image to within rounding."
        w, h = size
        a, aspect = _draw(rng, self.area), rng.uniform(0.5, 2.)
        hw = min(w, max(1, round((a * w * h * aspect) ** .5)))
        hh = min(h, max(1, round(a * w * h / hw)))
        x0, y0 = (((w - hw) // 2, (h - hh) // 2) if self.where == 'centre'
                  else (rng.randint(0, w - hw), rng.randint(0, h - hh)))
        m = Image.new('L', size, 0)
        m.paste(255, (x0, y0, x0 + hw, y0 + hh))
        return m
    def degrade(self, img, rng=random):
        m = self.mask(img.size, rng)
        return fill_holes(img, m, self.fill), m
    def prepare(self, img, mask=None, **kwargs):
        "Fill `mask` (white = missing, same size) as in training; a gray-fill model also takes holes pre-filled gray."
        if mask is None:
            if self.fill == 'gray': return img
            raise UsageError('this inpainting model needs to know where the holes are: pass `mask` (white = missing)')
        if mask.size != img.size: raise UsageError(f'the mask is {mask.size[0]}x{mask.size[1]} '
                                                   f'but the image is {img.size[0]}x{img.size[1]}')
        return fill_holes(img, mask.convert('L').point(lambda v: 255 if v > 127 else 0), self.fill)
    def baselines(self): return inpaint_baselines()

class CropSide(Degradation):
    "Outpainting input: a strip of `amount` (fraction of the width or height) removed from one side, filled."
    name = 'outpaint'
    def __init__(self, side=SIDES, amount=(0.1, 0.3), fill='smooth'):
        for s in ([side] if isinstance(side, str) else side):
            if s not in SIDES: raise UsageError(f'outpaint side={s!r}: choose from {", ".join(SIDES)}')
        _check_fill(fill)
        super().__init__(side=side, amount=amount, fill=fill)
    def degrade(self, img, rng=random):
        m = Image.new('L', img.size, 0)
        m.paste(255, side_box(img.size, _draw(rng, self.side), _draw(rng, self.amount)))
        return fill_holes(img, m, self.fill), m
    def prepare(self, img, side='right', amount=0.25, **kwargs):
        "Extend the canvas by `amount` of its size on `side`, filled as in training for the model to paint."
        return fill_holes(*extend_canvas(img, side, amount), self.fill)
    def baselines(self): return inpaint_baselines()

WORDS = ['superres', 'SAMPLE', 'stock photo', 'DRAFT', 'fast.ai', 'Tiny ImageNet', 'watermark', 'PREVIEW', 'photo by']

class Watermark(Degradation):
    "Random text (`size`: font height as a fraction of the image) and a logo shape, random colour, place and `opacity`."
    name = 'watermark'
    def __init__(self, opacity=(0.3, 0.8), size=(0.1, 0.3), logo=0.5):
        super().__init__(opacity=opacity, size=size, logo=logo)
    def apply(self, img, rng=random):
        w, h = img.size
        layer = Image.new('RGBA', img.size, (0, 0, 0, 0))
        d = ImageDraw.Draw(layer)
        colour = tuple(rng.randint(0, 255) for _ in range(3)) + (int(255 * _draw(rng, self.opacity)),)
        font = ImageFont.load_default(size=max(6, round(h * _draw(rng, self.size))))
        text = rng.choice(WORDS) + (f' {rng.randint(1990, 2030)}' if rng.random() < 0.3 else '')
        d.text((rng.randint(-w // 4, w - w // 4), rng.randint(-h // 8, h - h // 4)), text, fill=colour, font=font)
        if rng.random() < self.logo:
            r = round(min(w, h) * rng.uniform(0.1, 0.25))
            cx, cy = rng.randint(0, w), rng.randint(0, h)
            shape = d.ellipse if rng.random() < 0.5 else d.rectangle
            shape((cx - r, cy - r, cx + r, cy + r), outline=colour, width=max(1, r // 4))
        return Image.alpha_composite(img.convert('RGBA'), layer).convert('RGB')

class Chain(Degradation):
    "Degradations applied in order (each with probability `p`, the last always), e.g. noise then JPEG."
    def __init__(self, *degradations, p=1.): self.parts, self.p, self.params = list(degradations), p, {}
    name = property(lambda self: '+'.join(d.name for d in self.parts))
    scale = property(lambda self: int(np.prod([d.scale for d in self.parts])))
    spec = property(lambda self: '+'.join(d.spec for d in self.parts))
    def degrade(self, img, rng=random):
        mask = None
        for i, d in enumerate(self.parts):
            if self.p < 1 and i < len(self.parts) - 1 and rng.random() >= self.p: continue
            img, m = d.degrade(img, rng)
            if m is not None: mask = (m if mask is None or m.size != mask.size
                                      else Image.fromarray(np.maximum(np.asarray(mask), np.asarray(m))))
        return img, mask
    def prepare(self, img, **kwargs):
        for d in self.parts: img = d.prepare(img, **kwargs)
        return img
    def baselines(self): return {k: v for d in self.parts for k, v in d.baselines().items()}

# Real-ESRGAN's published blur kernel mix (Wang et al. 2021): kind -> probability
BLUR_KERNELS = {'iso': .45, 'aniso': .25, 'generalized_iso': .12, 'generalized_aniso': .03, 'plateau_iso': .12,
                'plateau_aniso': .03}
RESIZE_FILTERS = ['box', 'bilinear', 'bicubic']  # area, bilinear, bicubic: Real-ESRGAN's resize modes

def _grid(k):
    ax = np.arange(k) - k // 2
    return np.meshgrid(ax, ax)

def blur_kernel(k,  # the kernel's side in pixels (odd: centred)
                sx,  # the width along its first axis in pixels (a gaussian's sigma)
                sy,  # the width along its second axis in pixels
                theta=0.,  # the axes' rotation in radians
                beta=1.,  # the exponent of the scaled squared distance (1: a gaussian, or the plain plateau)
                plateau=False):  # Real-ESRGAN's plateau, 1 / (1 + q**beta), instead of exp(-q**beta / 2)
    "A normalised `k`x`k` kernel: (generalised) gaussian or plateau, `sx`/`sy` its axes rotated by `theta`."
    xx, yy = _grid(k)
    u, v = np.cos(theta) * xx + np.sin(theta) * yy, -np.sin(theta) * xx + np.cos(theta) * yy
    q = (u / sx) ** 2 + (v / sy) ** 2
    w = 1 / (1 + q ** beta) if plateau else np.exp(-0.5 * q ** beta)
    return w / w.sum()

def sinc_kernel(k, cutoff):
    "A normalised circular low-pass (2-D sinc) kernel cutting at `cutoff` radians per pixel: ringing and overshoot."
    from scipy.special import j1
    r = np.hypot(*_grid(k))
    with np.errstate(divide='ignore', invalid='ignore'): w = cutoff * j1(cutoff * r) / (2 * np.pi * r)
    w[k // 2, k // 2] = cutoff ** 2 / (4 * np.pi)
    return w / w.sum()

def random_sinc(rng, k=None):
    k = k or rng.choice(range(7, 22, 2))
    return sinc_kernel(k, rng.uniform(np.pi / 3 if k < 13 else np.pi / 5, np.pi))

def random_blur_kernel(rng,  # a `random.Random`, or the `random` module
                       sigma,  # the (lo, hi) range in pixels the axes' widths are drawn from
                       sinc_p=0.1):  # probability of a sinc (ringing) kernel instead
    "One of Real-ESRGAN's blur kernels, odd size 7-21, axes drawn from `sigma`; a sinc with probability `sinc_p`."
    if rng.random() < sinc_p: return random_sinc(rng)
    k, kind = rng.choice(range(7, 22, 2)), rng.choices(list(BLUR_KERNELS), weights=list(BLUR_KERNELS.values()))[0]
    sx = rng.uniform(*sigma)
    sy, theta = (rng.uniform(*sigma), rng.uniform(-np.pi, np.pi)) if kind.endswith('aniso') else (sx, 0.)
    beta = 1.
    if kind.startswith('generalized'): beta = rng.uniform(0.5, 1.) if rng.random() < 0.5 else rng.uniform(1., 4.)
    if kind.startswith('plateau'): beta = rng.uniform(1., 2.)
    return blur_kernel(k, sx, sy, theta, beta, plateau=kind.startswith('plateau'))

def filter_image(img, kernel):
    "`img` convolved with `kernel` per channel by FFT (4x a direct conv here), edges replicated (any image size)."
    from scipy.signal import fftconvolve
    p = kernel.shape[0] // 2
    x = np.pad(np.asarray(img, np.float32), ((p, p), (p, p), (0, 0)), mode='edge')
    y = fftconvolve(x, kernel[:, :, None].astype(np.float32), mode='valid', axes=(0, 1))
    return Image.fromarray(np.clip(y + 0.5, 0, 255).astype(np.uint8))

def _resize(img, size, rng): return img.resize((max(1, round(size[0])), max(1, round(size[1]))),
                                               FILTERS[rng.choice(RESIZE_FILTERS)])

def _random_factor(rng, probs, up, down):
    "A resize factor: up, down or kept with probabilities `probs`, uniform within `up` or `down`."
    how = rng.choices(['up', 'down', 'keep'], weights=probs)[0]
    return rng.uniform(*up) if how == 'up' else rng.uniform(*down) if how == 'down' else 1.

class RealPhoto(Degradation):
    """Real-ESRGAN's second-order degradation aimed at 1/`scale` of the size: blur, resize, noise and JPEG twice, the
    second resize relative to the low resolution, and the last resize, ringing (sinc) and JPEG at that resolution,
    where a real small photo has its blocks. `up` upsamples the result back (None: keep it small, for LR models);
    `blur` scales the blur kernels' widths (1: Real-ESRGAN's; 0: no blur, the photo's only softness its resizes)."""
    name = 'real'
    batchable = True
    def __init__(self, scale=1, up='bicubic', p=0.8, blur=1.):
        if up is not None: _filter(up)
        if not 0 <= blur <= 4: raise UsageError(f'real: blur scales the blur widths, from 0 to 4, not {blur}')
        super().__init__(scale=scale, up=up, p=p, blur=blur)
        self.noise1 = Noise(sigma=(1., 30.), peak=(30., 3000.), gray=0.4)
        self.noise2 = Noise(sigma=(1., 25.), peak=(40., 3000.), gray=0.4)
        self.jpeg = JpegCompress((30, 95))
    def apply(self, img, rng=random):
        w, h = img.size
        lw, lh = max(1, round(w / self.scale)), max(1, round(h / self.scale))
        if self.blur: img = filter_image(img, random_blur_kernel(rng, (0.2 * self.blur, 3. * self.blur)))  # 1st order
        f = _random_factor(rng, (0.2, 0.7, 0.1), (1., 1.5), (0.15, 1.))
        img = self.jpeg.apply(self.noise1.apply(_resize(img, (w * f, h * f), rng), rng), rng)
        if self.blur and rng.random() < self.p:  # the second order
            img = filter_image(img, random_blur_kernel(rng, (0.2 * self.blur, 1.5 * self.blur)))
        f = _random_factor(rng, (0.3, 0.4, 0.3), (1., 1.2), (0.3, 1.))
        img = self.noise2.apply(_resize(img, (lw * f, lh * f), rng), rng)
        def to_low(im):  # the final resize to the low resolution, with ringing most of the time
            im = _resize(im, (lw, lh), rng)
            return filter_image(im, random_sinc(rng)) if rng.random() < self.p else im
        img = self.jpeg.apply(to_low(img), rng) if rng.random() < 0.5 else to_low(self.jpeg.apply(img, rng))
        return img if self.up is None or self.scale == 1 else img.resize((w, h), _filter(self.up))
    def batch(self, x):
        "`apply` to each image of a uint8 batch (n, 3, h, w): JPEG has no tensor form, so image by image."
        out = [np.asarray(self.apply(Image.fromarray(im.permute(1, 2, 0).cpu().numpy()))) for im in x]
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).to(x.device)

TASKS = Registry('task', {'superres': Downscale, 'jpeg': JpegCompress, 'colorize': Grayscale, 'inpaint': Holes,
                         'outpaint': CropSide, 'watermark': Watermark, 'denoise': Noise, 'blur': Blur,
                         'real': RealPhoto, 'style': Style})

def _value(s):
    "A spec value: `a..b` a range, `a|b` a choice, else a number or a word."
    def one(v):
        for cast in (int, float):
            try: return cast(v)
            except ValueError: pass
        return None if v == 'none' else v
    if '..' in s:
        lo, hi = s.split('..')
        return (float(lo), float(hi))
    if '|' in s: return [one(v) for v in s.split('|')]
    return one(s)

def parse_degradation(spec):
    "A Degradation from its spec (a Degradation passes through), e.g. `jpeg:quality=5..30+denoise`."
    if isinstance(spec, Degradation): return spec
    parts = []
    for part in str(spec).split('+'):
        name, _, args = part.strip().partition(':')
        if name not in TASKS: raise UsageError(f'unknown task {name!r} in {spec!r}; choose from {", ".join(TASKS)} '
                                               '(join several with +, parameters as name:key=value,key=lo..hi)')
        kw = {}
        for a in filter(None, args.split(',')):
            k, eq, v = a.partition('=')
            if not eq: raise UsageError(f'{a!r} in {spec!r} is not key=value')
            kw[k.strip()] = _value(v.strip())
        try: parts.append(TASKS[name](**kw))
        except TypeError as e: raise UsageError(f'{name}: bad parameter in {part!r} ({e})') from None
    return parts[0] if len(parts) == 1 else Chain(*parts)

def _scaled_part(parts):
    "The part that sets a task's scale: its superres downscale, else a `real` degradation."
    return (next((d for d in parts if isinstance(d, Downscale)), None)
            or next((d for d in parts if isinstance(d, RealPhoto)), None))

def task_degradation(task='superres',  # a task spec or Degradation
                     scale=None,  # the scale of its superres or real part (None: the spec's)
                     down=None,  # the superres downscale filter (None: the spec's; real draws its own)
                     up=None,  # the filter upsampling the input back (None: the spec's)
                     lr_input=False):  # keep the input small (no upsampling), for archs that upscale it
    "The training degradation of `task`; `scale`/`down`/`up` override its scaled part; `lr_input` keeps LR small."
    deg = parse_degradation(task)
    parts = deg.parts if type(deg) is Chain else [deg]
    given, name = ({k: v for k, v in dict(scale=scale, down=down, up=up).items() if v is not None},
                   getattr(task, 'spec', task))
    target = _scaled_part(parts)
    if target is None:
        if given:
            raise UsageError(f'{", ".join(f"`{k}`" for k in given)} set(s) the superres task, not {name!r}: drop '
                             'it or add +superres')
        if lr_input: raise UsageError('this arch upscales a low-resolution image: '
                                      f'it needs a superres task, not {name!r}')
        return deg
    if isinstance(target, RealPhoto) and 'down' in given:
        raise UsageError(f'`down` sets the superres filter; {name!r} draws its own resize filters: drop `down`')
    scaled = type(target)(**{**target.params, **given, **(dict(up=None) if lr_input else {})})
    if lr_input and scaled.scale == 1:
        raise UsageError(f'this arch upscales a low-resolution image: give {name!r} a scale (e.g. real:scale=4)')
    parts = [scaled if d is target else d for d in parts]
    return parts[0] if len(parts) == 1 else Chain(*parts)
