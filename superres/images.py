"""Images in and out: guarded reading (broken files, bombs), RGB, modes and alpha, [0,1] tensors, saving like the
source."""
import random
import struct
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from .errors import DataError, SuperresError, UsageError
from .files import atomic_path

__all__ = ['CORRUPT', 'BOMB_PIXELS_PER_BYTE', 'read_error', 'image_size', 'read_image', 'open_image', 'load_rgb',
           'image_peak', 'image_to_tensor', 'image_stats', 'split_alpha', 'output_mode', 'tensor_to_array',
           'tensor_to_image', 'with_alpha', 'pil_bicubic', 'save_like']

def image_peak(img):
    "The maximum pixel value of a PIL image's mode: 65535 for 16-bit ones, else 255."
    return 65535. if img.mode.startswith('I') else 255.

def image_to_tensor(img):
    "A PIL image (RGB, L or 16-bit) as a float CHW tensor in [0,1] and the maximum value of its mode."
    a = np.asarray(img)
    peak = 65535. if a.dtype == np.uint16 else image_peak(img)
    t = torch.from_numpy(a.astype(np.float32)).div_(peak)  # in place: one float copy of a large image, not two
    return (t.permute(2, 0, 1) if t.ndim == 3 else t[None].expand(3, -1, -1)), peak

def image_stats(files,  # image files
                n=2000,  # the most images sampled
                seed=0):  # the sample's random seed
    "Per-channel mean and std of a sample of `files` in [0,1], so normalisation comes from the data itself."
    files = list(files)
    sample = random.Random(seed).sample(files, min(n, len(files)))
    s, s2, count = np.zeros(3), np.zeros(3), 0
    for f in sample:
        a = np.asarray(load_rgb(f), dtype=np.float64).reshape(-1, 3) / 255.
        s += a.sum(0); s2 += (a**2).sum(0); count += len(a)
    mean = s / count
    return mean.tolist(), np.sqrt(s2/count - mean**2).tolist()

def split_alpha(img):
    "The colour part of an upright PIL image in a mode the models take (RGB, L or 16-bit), and its alpha or None."
    alpha = None
    if img.mode == 'P': img = img.convert('RGBA' if 'transparency' in img.info else 'RGB')
    if img.mode in ('RGBA', 'LA', 'PA'):
        alpha, img = img.getchannel('A'), img.convert('RGB' if img.mode == 'RGBA' else 'L')
    if img.mode in ('CMYK', 'YCbCr', 'HSV', 'LAB', '1'): img = img.convert('RGB' if img.mode != '1' else 'L')
    if img.mode == 'F': img = Image.fromarray((np.clip(np.asarray(img), 0, 1) * 65535).astype(np.uint16))
    return img, alpha

def output_mode(img):
    "The mode a result is written in for an input of `img`'s mode: RGB, 16-bit gray or 8-bit gray."
    return 'RGB' if img.mode == 'RGB' else ('I;16' if img.mode.startswith('I') else 'L')

def tensor_to_array(t,  # a CHW tensor in [0,1] (clamped)
                    mode,  # the output's PIL mode: RGB, else gray (the channels' mean)
                    peak=255.):  # gray only: the source's maximum (`image_peak`); above 255 gives 16-bit pixels
    "A [0,1] CHW tensor as the pixel array of `mode` (gray modes from the mean of the channels)."
    if mode == 'RGB': return t.clamp(0, 1).mul_(255).add_(0.5).permute(1, 2, 0).numpy().astype(np.uint8)
    wide = peak > 255
    return t.mean(0).clamp_(0, 1).mul_(peak if wide else 255).add_(0.5).numpy().astype(np.uint16 if wide else np.uint8)

def tensor_to_image(t,  # a CHW tensor in [0,1] (clamped)
                    mode='RGB',  # the output's PIL mode: RGB, else gray (the channels' mean)
                    peak=255.):  # gray only: the source's maximum (`image_peak`); above 255 gives 16-bit pixels
    "A [0,1] CHW tensor as a PIL image of `mode`."
    return Image.fromarray(tensor_to_array(t, mode, peak))

def with_alpha(out, alpha):
    "`out` with the alpha channel `alpha` put back (None: unchanged)."
    if alpha is None: return out
    out = out.convert('RGBA' if out.mode == 'RGB' else 'LA')
    out.putalpha(alpha)
    return out

def pil_bicubic(x, size):
    "PIL's bicubic resize (antialiased when shrinking) of a float CHW tensor, channel by channel without rounding."
    return torch.stack([torch.from_numpy(np.array(Image.fromarray(c.numpy(), 'F').resize(size, Image.BICUBIC)))
                        for c in x])

def save_like(out,  # the PIL image to save
              src_info,  # the source's info (`read_image`): its `icc_profile` and `exif` are kept
              dest,  # the path, whose extension picks the format (unknown: PNG)
              replace=True):  # overwrite a file at `dest` (off: keep one that appeared meanwhile, FileExistsError)
    """Save `out` atomically in the format its name says, carrying the source's ICC profile and EXIF (already upright);
    with `replace` off, a file that appeared at `dest` meanwhile is kept (FileExistsError)."""
    kw = {k: src_info[k] for k in ('icc_profile',) if src_info.get(k)}
    exif = src_info.get('exif')
    if exif: kw['exif'] = exif
    dest = Path(dest)
    fmt = Image.registered_extensions().get(dest.suffix.lower(), 'PNG')
    if fmt == 'JPEG':
        if out.mode not in ('RGB', 'L'): out = out.convert('RGB')
        kw['quality'] = 95
    if fmt == 'ICO':
        if max(out.size) > 256: raise UsageError(f'{dest.name}: an ICO file holds up to 256x256 pixels and the result '
                                                 f'is {out.width}x{out.height}; give the input another extension')
        kw['sizes'] = [out.size]
    with atomic_path(dest, replace=replace) as tmp:
        try: out.save(tmp, format=fmt, **kw)
        except (OSError, ValueError, KeyError) as e:  # a format that cannot store this mode, e.g. 16-bit gray as GIF
            if isinstance(e, OSError) and e.errno is not None: raise  # a failed write: a full disk, no permission
            try: out.convert('RGBA' if 'A' in out.getbands() else 'RGB').save(tmp, format=fmt, **kw)
            except (OSError, ValueError, KeyError) as again:  # the format's own limits, e.g. WebP's 16383 pixels
                if isinstance(again, OSError) and again.errno is not None: raise
                raise UsageError(f'{dest.name}: {fmt} cannot hold this {out.width}x{out.height} result ({again}); '
                                 'give the input another extension') from None
    return dest

def read_error(e):
    "Why an image file could not be used, in words."
    if isinstance(e, Image.UnidentifiedImageError): return ('not an image PIL can read (empty, another file type, '
                                                            'or a broken header)')
    if isinstance(e, FileNotFoundError): return 'no such file' if e.filename else str(e)
    if isinstance(e, PermissionError): return 'permission denied'
    if isinstance(e, Image.DecompressionBombError): return f'{e} (a decompression bomb?)'
    if isinstance(e, SuperresError): return str(e)
    return f'unreadable image: {e}'

# what PIL raises on a file whose bytes are garbled: caught around reading only, never around the model
CORRUPT = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError, struct.error,
           Image.DecompressionBombError, DataError)

BOMB_PIXELS_PER_BYTE = 1000  # over PIL's bomb threshold, a file decoding to more pixels per byte is refused

def _check_bomb(src, im):
    "Refuse an image over PIL's decompression-bomb threshold that decodes from far fewer bytes than a photo needs."
    w, h = im.size
    if w * h > Image.MAX_IMAGE_PIXELS and w * h > BOMB_PIXELS_PER_BYTE * (size := Path(src).stat().st_size):
        raise DataError(f'{w}x{h} pixels ({w*h/1e6:.0f} MP) from a file of {size/1e3:.0f} KB: a decompression bomb? '
                        f'(over {Image.MAX_IMAGE_PIXELS/1e6:.0f} MP, an image must hold a byte per '
                        f'{BOMB_PIXELS_PER_BYTE} pixels)')

@contextmanager
def _opened(src, decoding=True):
    """`src` opened (header only), PIL's warnings on odd files silenced; before `decoding`, decompression bombs
    refused."""
    with warnings.catch_warnings():  # the outcome says what matters, in one line
        warnings.simplefilter('ignore')
        with Image.open(src) as im:
            if decoding: _check_bomb(src, im)
            yield im

def image_size(src):
    "The width and height `src`'s header declares, nothing decoded: for a caller's own checks before the pixels."
    with _opened(src, decoding=False) as im: return im.size

def read_image(src):
    "The image in `src`, upright and decoded, its ICC profile and EXIF, and a note if it had several frames."
    with _opened(src) as im:
        note = [f'animated ({im.n_frames} frames): first frame only'] if getattr(im, 'n_frames', 1) > 1 else []
        upright = ImageOps.exif_transpose(im)  # drops the orientation tag: the pixels are written upright
        upright.load()
        return upright, dict(icc_profile=im.info.get('icc_profile'), exif=upright.getexif().tobytes() or None), note

def open_image(src):
    "The upright decoded image in `src`, guarded as `read_image`: a file that cannot be used is a one-line DataError."
    try: return read_image(src)[0]
    except CORRUPT as e: raise DataError(f'{src}: {read_error(e)}') from None

def load_rgb(path):
    """A training or statistics image as upright RGB, read as every command reads images (2% of Tiny ImageNet is
    grayscale); a file that cannot be used is named in the error."""
    try:
        with _opened(path) as im: return ImageOps.exif_transpose(im).convert('RGB')
    except CORRUPT as e:
        raise DataError(f'{path}: {read_error(e)}; replace or delete it, or pass `skip_bad` to leave unreadable files '
                        'out') from None
