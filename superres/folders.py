"""Whole folders of images into an output folder (restored, degraded or segmented): one bad file never stops the run,
a rerun resumes, and processes launched together share the files."""
import hashlib
import json
import random
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from fastprogress.fastprogress import progress_bar

from .boxes import NO_BOX, mask_boxes
from .degradations import parse_degradation, task_degradation
from .errors import SuperresError, UsageError
from .files import atomic_write_text, list_images, output_folder, partial_files, printable
from .hub import weights_digest
from .images import CORRUPT, open_image, read_error, read_image, save_like, split_alpha
from .inference import check_task_inputs, mask_overlay, restore_image, segment_image
from .ranks import barrier, gather, process_group, rank, share
from .tiling import OVERLAP, check_tiling

__all__ = ['Outcome', 'RESUME_FILE', 'map_images', 'restore_files', 'degrade_files', 'MASKS', 'segment_files']

class Outcome(NamedTuple):
    "What became of one input image: `status` written, skipped (its output was there) or failed (`notes[0]`: why)."
    src: Path
    dest: Path | None  # None when it failed
    status: str
    notes: list

RESUME_FILE = '.superres-resume'  # in the output folder while an `overwrite` run is unfinished

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

def _contents(src):
    "SHA-256 of a file's bytes (None where it cannot be read): what a resumed output was made from."
    h = hashlib.sha256()
    try:
        with open(src, 'rb') as f:
            while chunk := f.read(1 << 20): h.update(chunk)
    except OSError: return None
    return h.hexdigest()

class _Resume:
    """The outputs an `overwrite` run has finished, each with the digest of the input it was made from, kept in its
    output folder so that the same rerun on the same inputs redoes none of them (another or an edited input: redone)."""
    def __init__(self, out_dir, key):
        self.path, self.out_dir, self.inputs = out_dir/RESUME_FILE, out_dir, {}
        lines = self.path.read_text().splitlines() if self.path.is_file() else []
        self.done = {tuple(json.loads(line)) for line in lines[1:]} if lines[:1] == [key] else set()
        barrier()  # everyone has read it before rank 0 starts it afresh
        if rank() == 0 and lines[:1] != [key]: atomic_write_text(self.path, key + '\n')
        barrier()
    def _entry(self, dest, src):
        if src not in self.inputs: self.inputs[src] = _contents(src)  # read before the model ran on it
        return (str(dest.relative_to(self.out_dir)), self.inputs[src])
    def finished(self, dest, src): return self._entry(dest, src) in self.done and dest.exists()
    def add(self, dest, src):
        with open(self.path, 'a') as f: f.write(json.dumps(self._entry(dest, src)) + '\n')  # one short append: atomic
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

def _map_one(fn, i, src, dest, extra, progress, overwrite=False):
    "Read, run `fn`, write (a file there by now kept unless `overwrite`): the outcome for one image, never an error."
    try: upright, info, note = read_image(src)
    except CORRUPT as e: return Outcome(src, None, 'failed', [read_error(e)])  # one bad file never stops a run
    try: out, notes, mask = fn(upright, i, src, progress)
    except SuperresError as e: return Outcome(src, None, 'failed', [str(e)])
    for img, path, kept in ((out, dest, info), (mask, extra, {})):
        if img is None or path is None: continue
        try: save_like(img, kept, path, replace=overwrite)
        except FileExistsError:  # made while the model ran: the user's, never replaced
            return Outcome(src, dest, 'skipped', ['appeared while the model ran: kept (pass `overwrite` to replace)'])
        except OSError as e: return Outcome(src, None, 'failed', [f'could not write {path}: {e.strerror or e}'])
        except SuperresError as e: return Outcome(src, None, 'failed', [str(e)])
    return Outcome(src, dest, 'written', note + notes)

def map_images(fn,  # `fn(image, index, source, progress)` -> (image, notes, extra or None); a SuperresError: failed
               inputs,  # image files and folders (a folder's images keep their paths below it)
               out_dir,  # the output folder (neither an input folder nor inside one)
               overwrite=False,  # replace outputs already there (off: skip them); a rerun of the same `key` resumes
               extra_dir=None,  # where the extra images go, PNGs at the same relative paths (None: not written)
               key=''):  # what the outputs depend on: an interrupted `overwrite` run resumes only under the same key
    "`fn(image, index, source, progress)` -> (image, notes, extra) written per input image into `out_dir`: Outcomes."
    # a rerun skips what is written (with `overwrite`: what the run of the same `key` wrote); launched processes share
    out_dir = output_folder(out_dir, inputs)
    if extra_dir is not None: output_folder(extra_dir, inputs)
    jobs = _jobs(inputs, out_dir)
    first = {}
    with process_group():
        if rank() == 0: out_dir.mkdir(parents=True, exist_ok=True)
        barrier()
        resume, partials, mine = _Resume(out_dir, key) if overwrite else None, _Partials(), []
        for i, (src, dest) in enumerate(jobs): first.setdefault(dest, (i, src))
        my_jobs = share(range(len(jobs)))  # this process's share of the job indices
        bar = progress_bar(my_jobs) if rank() == 0 and len(jobs) > 1 else None  # none: fastprogress prints anyway
        def tiles(name):
            def show(done, total):
                bar.comment = printable(f'{name}: tile {done}/{total}')
                bar.update_bar(bar.last_v or 0)
            return show if bar is not None else None
        for i in my_jobs if bar is None else bar:
            src, dest = jobs[i]
            extra = None if extra_dir is None else Path(extra_dir)/dest.relative_to(out_dir).with_suffix('.png')
            if first[dest][0] != i:
                o = Outcome(src, None, 'failed', [f'same output name as {first[dest][1]}: run them separately'])
            elif resume.finished(dest, src) if resume else dest.exists():
                o = Outcome(src, dest, 'skipped', ['written by this run before it was interrupted' if resume
                                                   else 'exists: kept (pass `overwrite` to replace)'])
            else:
                for p in (dest, extra):
                    if p is not None: partials.clean(p)
                o = _map_one(fn, i, src, dest, extra, tiles(src.name), overwrite)
                if resume and o.status == 'written': resume.add(dest, src)
            mine.append((i, o))
        everyone = sorted((r for rs in gather(mine) for r in rs), key=lambda r: r[0])
        if resume: resume.close()
    return [o for _, o in everyone]

def _mask_for(mask, src):
    "The user's mask for `src`: one file for all images, or the same-named PNG in a folder of masks."
    if mask is None: return None
    m = Path(mask)/f'{Path(src).stem}.png' if Path(mask).is_dir() else Path(mask)
    if not m.is_file(): raise UsageError(f'no mask {m} for {src}')
    return open_image(m).convert('L')

def _fingerprint(model, **options):
    "What makes a model's outputs what they are (config, weights, options), hashed: a rerun with others starts afresh."
    weights = weights_digest(model.state_dict()) if isinstance(model, torch.nn.Module) else None
    return hashlib.sha1(json.dumps([model.card.config, options, weights], sort_keys=True,
                                   default=str).encode()).hexdigest()

def restore_files(model,  # a restoration model of any task (`load_restorer`)
                  inputs,  # image files and folders (a folder's images keep their paths below it)
                  out_dir,  # the output folder (neither an input folder nor inside one)
                  overwrite=False,  # replace outputs already there (off: skip them); an interrupted rerun resumes
                  mask=None,  # inpainting: one mask file for all, or a folder of same-named PNGs (white = missing)
                  tile=None,  # the side in pixels of the tiles the model reads (None: `default_tile`)
                  overlap=OVERLAP,  # pixels the tiles share, blended
                  **kwargs):  # `restore_image`'s: `scale`, or the task's own (`side`, `amount`, `passes`)
    "Restore images and folders by the model's task (upscale, ...) into `out_dir`; `mask`: a mask file or folder."
    tile = check_tiling(model, tile, overlap)  # refused before any file is read, as are inputs the task does not take
    check_task_inputs(model, **kwargs)
    def restore(img, i, src, progress):
        masked = {} if mask is None else {'mask': _mask_for(mask, src)}
        out, notes = restore_image(model, img, tile=tile, overlap=overlap, progress=progress, **kwargs, **masked)
        return out, notes, None
    key = _fingerprint(model, mask=mask, tile=tile, overlap=overlap, **kwargs)
    return map_images(restore, inputs, out_dir, overwrite, key=key)

def degrade_files(task,  # a task spec or Degradation (a scaled one writes the small image)
                  inputs,  # image files and folders (a folder's images keep their paths below it)
                  out_dir,  # the output folder (neither an input folder nor inside one)
                  seed=0,  # image i's random draws come from `random.Random(seed + i)`
                  overwrite=False,  # replace outputs already there (off: skip them); an interrupted rerun resumes
                  mask_dir=None):  # where the masks of the pixels a task removes go, as PNGs (None: not written)
    "Degrade images as `task` trains on them (image i with `seed + i`): inputs a user would have; masks to `mask_dir`."
    deg = parse_degradation(task)
    if deg.scale > 1: deg = task_degradation(deg, lr_input=True)  # the small image, not upsampled back
    def degrade(img, i, src, progress):
        out, m = deg.degrade(split_alpha(img)[0].convert('RGB'), random.Random(seed + i))
        return out, [], m
    return map_images(degrade, inputs, out_dir, overwrite, extra_dir=mask_dir, key=f'{deg.spec} seed={seed}')

MASKS = 'masks'  # the folder of the masks in a `segment_files` output folder

def _box_of(mask_file):
    "The box around the object of a mask file (None: no object, or no readable mask there)."
    try: mask = torch.from_numpy(np.asarray(open_image(mask_file).convert('L')) > 127)
    except SuperresError: return None
    box = tuple(mask_boxes(mask).tolist())
    return None if box == NO_BOX else list(box)

def segment_files(model,  # a segmentation model (`load_segmenter`)
                  inputs,  # image files and folders (a folder's images keep their paths below it)
                  out_dir,  # the output folder (neither an input folder nor inside one); masks go to its `masks`
                  overwrite=False):  # replace outputs already there (off: skip them); an interrupted rerun resumes
    """Segment images and folders into `out_dir`: each image with its mask tinted over it and its box outlined (name
    kept), its mask as a PNG in `out_dir`/masks; with the Outcomes, each written image's box from its mask file."""
    def segment(img, i, src, progress):
        mask, box = segment_image(model, img)
        return mask_overlay(img, mask, box), [f'box {list(box)}' if box else 'no object found'], mask
    out_dir = Path(out_dir)
    rows = map_images(segment, inputs, out_dir, overwrite, extra_dir=out_dir/MASKS, key=_fingerprint(model))
    masks = {str(o.src): out_dir/MASKS/o.dest.relative_to(out_dir).with_suffix('.png') for o in rows if o.dest}
    return rows, {src: _box_of(m) for src, m in masks.items() if m.is_file()}
