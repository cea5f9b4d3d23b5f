"""Whole folders of images into an output folder: one bad file never stops the run, a rerun resumes, and processes
launched together share the files."""
import hashlib
import json
import random
import struct
import warnings
from pathlib import Path
from typing import NamedTuple

import torch
from fastprogress.fastprogress import progress_bar
from PIL import Image, ImageOps

from .degradations import parse_degradation, task_degradation
from .errors import DataError, SuperresError, UsageError
from .files import atomic_write_text, list_images, partial_files
from .hub import weights_digest
from .images import save_like, split_alpha
from .inference import restore_image
from .ranks import barrier, gather, process_group, rank, share
from .tiling import OVERLAP, check_tiling

__all__ = ['Outcome', 'RESUME_FILE', 'CORRUPT', 'read_error', 'read_image', 'map_images', 'restore_files',
           'degrade_files']

class Outcome(NamedTuple):
    "What became of one input image: `status` written, skipped (its output was there) or failed (`notes[0]`: why)."
    src: Path
    dest: Path | None  # None when it failed
    status: str
    notes: list

RESUME_FILE = '.superres-resume'  # in the output folder while an `overwrite` run is unfinished

def read_error(e):
    "Why an image file could not be used, in words."
    if isinstance(e, Image.UnidentifiedImageError): return ('not an image PIL can read (empty, another file type, '
                                                            'or a broken header)')
    if isinstance(e, FileNotFoundError): return 'no such file' if e.filename else str(e)
    if isinstance(e, PermissionError): return 'permission denied'
    if isinstance(e, Image.DecompressionBombError): return f'{e} (a decompression bomb?)'
    if isinstance(e, SuperresError): return str(e)
    return f'unreadable image: {e}'

def _jobs(inputs, out_dir):
    "(source, output) per input image: a folder's files keep their paths below it (not the output's), a file its name."
    out, jobs = out_dir.resolve(), []
    for p in map(Path, inputs):
        if not p.is_dir(): jobs.append((p, out_dir/p.name))
        else: jobs += [(f, out_dir/f.relative_to(p)) for f in list_images(p) if out not in f.resolve().parents]
    srcs = {f.resolve() for f, _ in jobs}
    clash = next((dest for _, dest in jobs if dest.resolve() in srcs), None)
    if clash: raise UsageError(f'{clash} is an input: choose an output folder that is not an input folder')
    return jobs

class _Resume:
    "The outputs an `overwrite` run has finished, kept in its output folder so that the same rerun redoes none of them."
    def __init__(self, out_dir, key):
        self.path, self.out_dir = out_dir/RESUME_FILE, out_dir
        lines = self.path.read_text().splitlines() if self.path.is_file() else []
        self.done = {json.loads(line) for line in lines[1:]} if lines[:1] == [key] else set()
        barrier()  # everyone has read it before rank 0 starts it afresh
        if rank() == 0 and lines[:1] != [key]: atomic_write_text(self.path, key + '\n')
        barrier()
    def _name(self, dest): return str(dest.relative_to(self.out_dir))
    def finished(self, dest): return self._name(dest) in self.done and dest.exists()
    def add(self, dest):
        with open(self.path, 'a') as f: f.write(json.dumps(self._name(dest)) + '\n')  # one short append: atomic
    def close(self):
        barrier()
        if rank() == 0: self.path.unlink(missing_ok=True)

class _Partials:
    "Partial files that killed writes left, found once per folder and removed before their output is written again."
    def __init__(self): self.found = {}
    def clean(self, dest):
        folder = dest.parent
        if folder not in self.found: self.found[folder] = partial_files(folder) if folder.is_dir() else {}
        for p in self.found[folder].pop(dest.name, []): p.unlink(missing_ok=True)

# what PIL raises on a file whose bytes are garbled: caught around reading only, never around the model
CORRUPT = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError, struct.error,
           Image.DecompressionBombError, DataError)

BOMB_PIXELS_PER_BYTE = 1000  # over PIL's bomb threshold, a file decoding to more pixels per byte is refused

def _check_bomb(src, im):
    "Refuse an image over PIL's decompression-bomb threshold that decodes from far fewer bytes than a photo needs."
    w, h = im.size
    size = Path(src).stat().st_size
    if w * h > Image.MAX_IMAGE_PIXELS and w * h > BOMB_PIXELS_PER_BYTE * size:
        raise DataError(f'{w}x{h} pixels ({w*h/1e6:.0f} MP) from a file of {size/1e3:.0f} KB: a decompression bomb? '
                        f'(over {Image.MAX_IMAGE_PIXELS/1e6:.0f} MP, an image must hold a byte per '
                        f'{BOMB_PIXELS_PER_BYTE} pixels)')

def read_image(src):
    "The image in `src`, upright and decoded, its ICC profile and EXIF, and a note if it had several frames."
    with warnings.catch_warnings():  # PIL's warnings on odd files: the outcome says what matters, in one line
        warnings.simplefilter('ignore')
        with Image.open(src) as im:
            _check_bomb(src, im)
            note = [f'animated ({im.n_frames} frames): first frame only'] if getattr(im, 'n_frames', 1) > 1 else []
            upright = ImageOps.exif_transpose(im)  # drops the orientation tag: the pixels are written upright
            upright.load()
            return upright, dict(icc_profile=im.info.get('icc_profile'), exif=upright.getexif().tobytes() or None), note

def _map_one(fn, i, src, dest, extra, progress):
    "Read, run `fn`, write: the outcome for one image, a read or write that fails becoming a failed outcome."
    try: upright, info, note = read_image(src)
    except CORRUPT as e: return Outcome(src, None, 'failed', [read_error(e)])  # one bad file never stops a run
    try: out, notes, mask = fn(upright, i, src, progress)
    except SuperresError as e: return Outcome(src, None, 'failed', [str(e)])
    for img, path, kept in ((out, dest, info), (mask, extra, {})):
        if img is None or path is None: continue
        try: save_like(img, kept, path)
        except OSError as e: return Outcome(src, None, 'failed', [f'could not write {path}: {e.strerror or e}'])
        except SuperresError as e: return Outcome(src, None, 'failed', [str(e)])
    return Outcome(src, dest, 'written', note + notes)

def map_images(fn, inputs, out_dir, overwrite=False, extra_dir=None, key=''):
    "`fn(image, index, source, progress)` -> (image, notes, extra) written per input image into `out_dir`: Outcomes."
    # a rerun skips what is written (with `overwrite`: what the run of the same `key` wrote); launched processes share
    out_dir = Path(out_dir)
    jobs = _jobs(inputs, out_dir)
    first = {}
    with process_group():
        if rank() == 0: out_dir.mkdir(parents=True, exist_ok=True)
        barrier()
        resume, partials, mine = _Resume(out_dir, key) if overwrite else None, _Partials(), []
        for i, (src, dest) in enumerate(jobs): first.setdefault(dest, (i, src))
        bar = progress_bar(share(range(len(jobs))), display=rank() == 0 and len(jobs) > 1)
        def tiles(name):
            def show(done, total):
                bar.comment = f'{name}: tile {done}/{total}'
                bar.update_bar(bar.last_v or 0)
            return show if bar.display else None
        for i in bar:
            src, dest = jobs[i]
            extra = None if extra_dir is None else Path(extra_dir)/dest.relative_to(out_dir).with_suffix('.png')
            if first[dest][0] != i:
                o = Outcome(src, None, 'failed', [f'same output name as {first[dest][1]}: run them separately'])
            elif resume.finished(dest) if resume else dest.exists():
                o = Outcome(src, dest, 'skipped', ['written by this run before it was interrupted' if resume
                                                   else 'exists: kept (pass `overwrite` to replace)'])
            else:
                for p in (dest, extra):
                    if p is not None: partials.clean(p)
                o = _map_one(fn, i, src, dest, extra, tiles(src.name))
                if resume and o.status == 'written': resume.add(dest)
            mine.append((i, o))
        everyone = sorted((r for rs in gather(mine) for r in rs), key=lambda r: r[0])
        if resume: resume.close()
    return [o for _, o in everyone]

def _mask_for(mask, src):
    "The user's mask for `src`: one file for all images, or the same-named PNG in a folder of masks."
    if mask is None: return None
    m = Path(mask)/f'{Path(src).stem}.png' if Path(mask).is_dir() else Path(mask)
    if not m.is_file(): raise UsageError(f'no mask {m} for {src}')
    with Image.open(m) as im: return ImageOps.exif_transpose(im).convert('L')

def _fingerprint(model, **options):
    "What makes a model's outputs what they are (config, weights, options), hashed: a rerun with others starts afresh."
    weights = weights_digest(model.state_dict()) if isinstance(model, torch.nn.Module) else None
    return hashlib.sha1(json.dumps([getattr(model, 'config', {}), options, weights], sort_keys=True,
                                   default=str).encode()).hexdigest()

def restore_files(model, inputs, out_dir, overwrite=False, mask=None, tile=None, overlap=OVERLAP, **kwargs):
    "Restore images and folders by the model's task (upscale, ...) into `out_dir`; `mask`: a mask file or folder."
    tile = check_tiling(model, tile, overlap)  # refused before any file is read
    def restore(img, i, src, progress):
        masked = {} if mask is None else {'mask': _mask_for(mask, src)}
        out, notes = restore_image(model, img, tile=tile, overlap=overlap, progress=progress, **kwargs, **masked)
        return out, notes, None
    key = _fingerprint(model, mask=mask, tile=tile, overlap=overlap, **kwargs)
    return map_images(restore, inputs, out_dir, overwrite, key=key)

def degrade_files(task, inputs, out_dir, seed=0, overwrite=False, mask_dir=None):
    "Degrade images as `task` trains on them (image i with `seed + i`): inputs a user would have; masks to `mask_dir`."
    deg = parse_degradation(task)
    if deg.scale > 1: deg = task_degradation(deg, lr_input=True)  # the small image, not upsampled back
    def degrade(img, i, src, progress):
        out, m = deg.degrade(split_alpha(img)[0].convert('RGB'), random.Random(seed + i))
        return out, [], m
    return map_images(degrade, inputs, out_dir, overwrite, extra_dir=mask_dir, key=f'{deg.spec} seed={seed}')
