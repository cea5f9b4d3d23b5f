"""Whole folders of images: each file restored or degraded into an output folder; one bad file never stops the run."""
import random
from pathlib import Path

from fastprogress.fastprogress import progress_bar
from PIL import Image, ImageOps

from .degradations import parse_degradation, task_degradation
from .errors import SuperresError, UsageError
from .files import list_images
from .images import save_like, split_alpha
from .inference import restore_image
from .tiling import OVERLAP, check_tiling

__all__ = ['map_images', 'restore_files', 'degrade_files']

def _read_error(e):
    "Why an image file could not be used, in words."
    if isinstance(e, Image.UnidentifiedImageError): return ('not an image PIL can read (empty, another file type, '
                                                            'or a broken header)')
    if isinstance(e, FileNotFoundError): return 'no such file' if e.filename else str(e)
    if isinstance(e, PermissionError): return 'permission denied'
    if isinstance(e, SuperresError): return str(e)
    return f'unreadable image: {e}'

def _input_files(inputs):
    return [f for p in map(Path, inputs) for f in (list_images(p) if p.is_dir() else [p])]

def map_images(fn, inputs, out_dir, overwrite=False, extra_dir=None):
    "Write `fn(image, index, source)` -> (image, notes, extra) per input image into `out_dir`, never over an input."
    files, out_dir = _input_files(inputs), Path(out_dir)
    srcs = {f.resolve() for f in files}
    clash = [f for f in files if (out_dir/f.name).resolve() in srcs]
    if clash: raise UsageError(f'{out_dir/clash[0].name} is an input: '
                               'choose an output folder that is not an input folder')
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for i, f in enumerate(progress_bar(files, display=len(files) > 1)):
        dest = out_dir/f.name
        if dest.exists() and not overwrite:
            results.append((f, dest, ['exists: kept (pass `overwrite` to replace)']))
            continue
        try:
            with Image.open(f) as im:
                note = [f'animated ({im.n_frames} frames): first frame only'] if getattr(im, 'n_frames', 1) > 1 else []
                upright = ImageOps.exif_transpose(im)  # drops the orientation tag: the pixels are written upright
                info = dict(icc_profile=im.info.get('icc_profile'), exif=upright.getexif().tobytes() or None)
                out, notes, extra = fn(upright, i, f)
        except (OSError, Image.DecompressionBombError, SuperresError) as e:  # one bad file never stops a folder run
            results.append((f, None, [_read_error(e)]))
            continue
        save_like(out, info, dest)
        if extra is not None and extra_dir is not None:  # a mask, same stem, PNG
            Path(extra_dir).mkdir(parents=True, exist_ok=True)
            save_like(extra, {}, Path(extra_dir)/f'{f.stem}.png')
        results.append((f, dest, note + notes))
    return results

def _mask_for(mask, src):
    "The user's mask for `src`: one file for all images, or the same-named PNG in a folder of masks."
    if mask is None: return None
    m = Path(mask)/f'{Path(src).stem}.png' if Path(mask).is_dir() else Path(mask)
    if not m.is_file(): raise UsageError(f'no mask {m} for {src}')
    with Image.open(m) as im: return ImageOps.exif_transpose(im).convert('L')

def restore_files(model, inputs, out_dir, overwrite=False, mask=None, tile=None, overlap=OVERLAP, **kwargs):
    "Restore images and folders by the model's task (upscale, ...) into `out_dir`; `mask`: a mask file or folder."
    tile = check_tiling(model, tile, overlap)  # refused before any file is read
    def restore(img, i, src):
        masked = {} if mask is None else {'mask': _mask_for(mask, src)}
        out, notes = restore_image(model, img, tile=tile, overlap=overlap, **kwargs, **masked)
        return out, notes, None
    return map_images(restore, inputs, out_dir, overwrite)

def degrade_files(task, inputs, out_dir, seed=0, overwrite=False, mask_dir=None):
    "Degrade images as `task` trains on them (image i with `seed + i`): inputs a user would have; masks to `mask_dir`."
    deg = parse_degradation(task)
    if deg.scale > 1: deg = task_degradation(deg, lr_input=True)  # the small image, not upsampled back
    def degrade(img, i, src):
        out, m = deg.degrade(split_alpha(img)[0].convert('RGB'), random.Random(seed + i))
        return out, [], m
    return map_images(degrade, inputs, out_dir, overwrite, extra_dir=mask_dir)
