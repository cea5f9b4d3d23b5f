"""Loading trained models and running them on users' own images."""
import pickle
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from fastai.torch_core import default_device, one_param
from PIL import Image, ImageOps

from .data import image_peak, image_to_tensor
from .degradations import FILTERS, extend_canvas, parse_degradation
from .learner import cpu_supports_bf16, load_model
from .models import takes_lr

__all__ = ['TILE', 'GPU_TILE', 'OVERLAP', 'default_tile', 'auto_precision', 'inference_precision', 'resolve_model', 'load_any', 'load_classifier', 'prepare_image', 'predict_topk', 'bundled_model_file', 'load_restorer', 'refine',
           'upscale_image', 'model_degradation',
           'restore_image', 'save_like', 'map_images', 'restore_files', 'degrade_files',
           'evaluate_sr', 'evaluate_task']

MODEL_FILES = ('model.pth', 'model.onnx', 'export.pkl')  # weights first: a folder's pickle is used only if nothing else is

def resolve_model(path):
    "The model file for `path`: the file itself, or the weights a training run wrote into its folder."
    path = Path(path).expanduser()
    if path.is_dir():
        for name in MODEL_FILES:
            if (path/name).is_file(): return path/name
        raise FileNotFoundError(f'{path} holds no model ({" or ".join(MODEL_FILES)}); pass the --out folder of a training run or a model file.')
    if not path.is_file(): raise FileNotFoundError(f'model {path} does not exist; pass the --out folder of a training run or a model file.')
    return path

def load_any(path, trust_pickle=False):
    "A superres model in eval mode: weights without pickle, ONNX (run by onnxruntime), or a pickled learner if `trust_pickle`."
    path = resolve_model(path)
    if path.suffix == '.onnx':
        from .export import load_onnx
        return load_onnx(path)
    if path.suffix == '.pkl':
        if not trust_pickle:
            raise ValueError(f'{path} is a pickled learner: loading it runs any code it holds. Load the model.pth beside '
                             'it (weights only), or pass --trust-pickle if you made this file yourself')
        from fastai.learner import load_learner
        return load_learner(path).model.eval()
    try: return load_model(path)
    except (RuntimeError, KeyError, EOFError, pickle.UnpicklingError) as e:
        raise ValueError(f'{path} is not a superres model file (weights saved by superres, loaded without pickle): '
                         f'{str(e).splitlines()[0][:200]}') from e

def load_classifier(path, trust_pickle=False):
    "A classifier in eval mode from a run folder, a weights file (`model.pth`) or an exported learner (`.pkl`)."
    model = load_any(path, trust_pickle)
    if 'arch' in getattr(model, 'config', {}):
        raise ValueError(f'{path} is a restoration model, not a classifier; pass the --out folder of `superres classify train`.')
    return model

def prepare_image(img, size=64):
    "An image file or PIL image as a [0,1] tensor the classifier expects: upright, RGB, short side `size`, centre crop."
    if not isinstance(img, Image.Image):
        with Image.open(img) as im: img = ImageOps.exif_transpose(im).convert('RGB')
    img = img.convert('RGB')
    img = ImageOps.fit(img, (size, size), Image.BICUBIC) if img.size != (size, size) else img
    return torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(size, size, 3).permute(2, 0, 1).float() / 255

@torch.inference_mode()
def predict_topk(model, images, k=5, size=64, bs=64):
    "The `k` most likely classes of each image as (name, wnid, probability) rows."
    vocab, names = model.config['vocab'], model.config['names']
    results = []
    for i in range(0, len(images), bs):
        x = torch.stack([prepare_image(im, size) for im in images[i:i+bs]])
        probs, idxs = model(x).float().softmax(1).topk(min(k, len(vocab)), dim=1)
        results += [[(names[j], vocab[j], float(p)) for p, j in zip(ps, js)] for ps, js in zip(probs.tolist(), idxs.tolist())]
    return results

BUNDLED = Path(__file__).parent/'weights'

def bundled_model_file(scale=2):
    "The x`scale` model shipped in the package: trained by superres's own recipe, stored without pickle."
    f = BUNDLED/f'sr_x{scale}.pth'
    if not f.is_file():
        shipped = ', '.join(p.stem for p in sorted(BUNDLED.glob('sr_x*.pth'))) or 'none'
        raise FileNotFoundError(f'superres ships no x{scale} model (shipped: {shipped}); pass --model RUN_DIR')
    return f

def load_restorer(path=None, trust_pickle=False, device=None):
    "A restoration model in eval mode, on `device` (default: the GPU if there is one), from a run folder, `model.pth` or an exported learner; None: the bundled x2 model."
    if path is None or (str(path) == 'default' and not Path(path).exists()): path = bundled_model_file(2)
    model = load_any(path, trust_pickle)
    if 'arch' not in getattr(model, 'config', {}):
        raise ValueError(f'{path} is a classifier, not a restoration model; pass the --out folder of `superres train`.')
    if not isinstance(model, torch.nn.Module): return model  # ONNX Runtime, on the CPU
    return model.to(device or default_device(), memory_format=torch.channels_last)  # channels-last: 1.2x on CPU

TILE, OVERLAP = 512, 32  # pixels of the image the model reads (the low-resolution one for LR-space models); overlap beyond their reach
GPU_TILE = 2048  # H100, 2048x2048 photo: 512-pixel tiles ran at 0.47x one untiled pass, 2048 at 0.88x (fp32), 1.52x (bf16)

def _device(model): return one_param(model).device if isinstance(model, torch.nn.Module) else torch.device('cpu')

def default_tile(model):
    "Tile size for `model` where the user gives none: larger on a GPU, whose memory holds it and whose speed needs it."
    return GPU_TILE if _device(model).type == 'cuda' else TILE

def auto_precision():
    "What `--precision auto` runs in: bf16 where it is native (CPUs with AVX512-BF16/AMX, GPUs from Ampere on), fp16 on older GPUs, else fp32."
    if torch.cuda.is_available(): return 'bf16' if torch.cuda.is_bf16_supported() else 'fp16'
    return 'bf16' if cpu_supports_bf16() else 'fp32'

@contextmanager
def inference_precision(precision='auto'):
    "Run the models inside in bf16 or fp16 autocast: 1.7x fp32 on an H100 (bf16), about 2x on an AMX CPU, Set5/Set14 PSNR within 0.005 dB."
    if precision == 'auto': precision = auto_precision()
    if precision == 'fp32': yield; return
    if precision not in ('bf16', 'fp16'): raise ValueError(f'precision must be auto, fp32, bf16 or fp16, not {precision!r}')
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if precision == 'fp16' and device == 'cpu': raise ValueError('fp16 inference needs a CUDA GPU; use bf16 on a CPU')
    with torch.autocast(device, dtype=torch.bfloat16 if precision == 'bf16' else torch.float16): yield

def _feather(n, overlap, start, end):
    "1D weights of a tile: over each overlap shared with a neighbour, zero for the outer quarter, then a linear ramp."
    w = torch.ones(n)
    if overlap:
        m = overlap // 4
        ramp = ((torch.arange(overlap) - m + 0.5) / max(overlap - 2*m, 1)).clamp(0, 1)
        if not start: w[:overlap] = ramp
        if not end: w[-overlap:] = ramp.flip(0)
    return w

def _starts(length, tile, step):
    if length <= tile: return [0]
    s = list(range(0, length - tile, step))
    return s + [length - tile]

def _tiling(model, tile, overlap):
    "The tile size to use (`default_tile` where none was given), refused when the overlaps would leave nothing."
    tile = tile or default_tile(model)
    if tile <= 2 * overlap: raise ValueError(f'tile ({tile}) must be larger than twice the overlap ({overlap})')
    return tile

def _forward(model, x, tile):
    "The model's output in fp32; a GPU running out of memory becomes advice instead of a CUDA traceback."
    try: return model(x).float()
    except torch.cuda.OutOfMemoryError:
        raise ValueError(f'the GPU ran out of memory on tiles of {tile} pixels: pass a smaller --tile, e.g. {max(64, tile // 2)}') from None

@torch.inference_mode()
def refine(model, img, tile=None, overlap=OVERLAP, progress=None):
    "Run a restoration model over a [0,1] CHW tensor in overlapping input tiles blended with feathered edges, on the model's device; `progress(done, total)`."
    c, h, w = img.shape
    s = model.config['scale'] if takes_lr(model) else 1
    tile, dev = _tiling(model, tile, overlap), _device(model)
    if h <= tile and w <= tile: return _forward(model, img[None].to(dev), tile)[0].cpu()
    out, weight = torch.zeros(c, h*s, w*s, device=dev), torch.zeros(1, h*s, w*s, device=dev)
    boxes = [(y, x) for y in _starts(h, tile, tile - overlap) for x in _starts(w, tile, tile - overlap)]
    th, tw = min(tile, h), min(tile, w)
    bs = max(1, 4 * TILE**2 // (th * tw))  # tiles per forward pass: up to four of the CPU's size
    for i in range(0, len(boxes), bs):
        group = boxes[i:i+bs]
        pred = _forward(model, torch.stack([img[:, y:y+th, x:x+tw] for y, x in group]).to(dev), tile)
        for p, (y, x) in zip(pred, group):
            wy = _feather(th*s, min(overlap, th // 2)*s, y == 0, y + th >= h)
            wx = _feather(tw*s, min(overlap, tw // 2)*s, x == 0, x + tw >= w)
            wt = (wy[:, None] * wx[None, :]).to(dev)
            out[:, y*s:(y+th)*s, x*s:(x+tw)*s] += p * wt
            weight[:, y*s:(y+th)*s, x*s:(x+tw)*s] += wt
        if progress is not None: progress(i + len(group), len(boxes))
    return out.div_(weight).cpu()

def _restore(model, lr, size, tile=None, overlap=OVERLAP, progress=None):
    "Upscale a [0,1] CHW tensor to `size` (w, h) with one model pass: on the LR image, or on its bicubic upsample."
    if takes_lr(model): return refine(model, lr, tile, overlap, progress=progress)
    return refine(model, pil_bicubic(lr, size).clamp(0, 1), tile, overlap, progress=progress)

def _to_array(t, mode, peak):
    "A [0,1] CHW tensor as the pixel array of `mode` (gray modes from the mean of the channels)."
    if mode == 'RGB': return t.clamp(0, 1).mul_(255).add_(0.5).permute(1, 2, 0).numpy().astype(np.uint8)
    return t.mean(0).clamp_(0, 1).mul_(peak if peak > 255 else 255).add_(0.5).numpy().astype(np.uint16 if peak > 255 else np.uint8)

def _from_tensor(t, mode, peak): return Image.fromarray(_to_array(t, mode, peak))

STRIP_PIXELS = 2**20  # input pixels per strip: more costs memory (2**21 measured 1.4x the peak), fewer costs context rows

def _image_rows(img):
    "Rows [a, b) of a PIL image as a [0,1] float CHW tensor, converted only when asked for."
    return lambda a, b: image_to_tensor(img.crop((0, a, img.width, b)))[0]

def _strip_rows(w, sm, tile, overlap):
    "Input rows per strip: within the pixel budget, and so that a strip with its context rows is whole rows of tiles the model reads at `sm` times the input's size."
    budget, step = max(STRIP_PIXELS, tile * tile) // w, tile - overlap
    n = (sm * (budget + 2 * overlap) - overlap) // step
    return max(4 * overlap, int((n * step + overlap) / sm) - 2 * overlap if n else budget)

def _restore_in_strips(model, rows, in_size, out_size, mode, tile=None, overlap=OVERLAP, progress=None, peak=255.):
    "One model pass over input `rows(a, b)` strip by strip, pasted into the output image: memory grows with the output image's bytes, not with float copies of it."
    (w, h), (ow, oh) = in_size, out_size
    tile = _tiling(model, tile, overlap)
    s = oh / h
    strip = _strip_rows(w, 1 if takes_lr(model) else s, tile, overlap)
    out, starts = None, list(range(0, h, strip))
    for k, a in enumerate(starts):
        b = min(h, a + strip)
        a0, b0 = max(0, a - overlap), min(h, b + overlap)  # context rows as wide as the tiles' overlap, cut off after the pass
        step = None if progress is None else (lambda i, n, k=k: progress(k * n + i, len(starts) * n))
        y = _restore(model, rows(a0, b0), (ow, round((b0 - a0) * s)), tile, overlap, step)
        part = Image.fromarray(_to_array(y[:, round((a - a0) * s):round((b - a0) * s)], mode, peak))
        if out is None: out = Image.new(part.mode, (ow, oh))
        out.paste(part, (0, round(a * s)))
    return out

def pil_bicubic(x, size):
    "PIL's bicubic resize (antialiased when shrinking) of a float CHW tensor, channel by channel without rounding."
    return torch.stack([torch.from_numpy(np.array(Image.fromarray(c.numpy(), 'F').resize(size, Image.BICUBIC))) for c in x])

def _split_alpha(img):
    "The colour part of an upright PIL image in a mode the models take (RGB, L or 16-bit), and its alpha or None."
    alpha = None
    if img.mode == 'P': img = img.convert('RGBA' if 'transparency' in img.info else 'RGB')
    if img.mode in ('RGBA', 'LA', 'PA'): alpha, img = img.getchannel('A'), img.convert('RGB' if img.mode == 'RGBA' else 'L')
    if img.mode in ('CMYK', 'YCbCr', 'HSV', 'LAB', '1'): img = img.convert('RGB' if img.mode != '1' else 'L')
    if img.mode == 'F': img = Image.fromarray((np.clip(np.asarray(img), 0, 1) * 65535).astype(np.uint16))
    return img, alpha

def _out_mode(img): return 'RGB' if img.mode == 'RGB' else ('I;16' if img.mode.startswith('I') else 'L')

def upscale_image(model, img, scale=None, tile=None, overlap=OVERLAP, progress=None):
    "Upscale a PIL image of any size and mode; alpha is upscaled separately; returns the image and notes for the user."
    img, alpha = _split_alpha(ImageOps.exif_transpose(img))
    mscale = model.config.get('scale', 2)
    scale = scale or mscale
    notes, peak = [], image_peak(img)
    target = (round(img.width * scale), round(img.height * scale))
    passes = 1
    while mscale ** passes < scale - 1e-9: passes += 1
    if passes > 1 or abs(mscale ** passes - scale) > 1e-9:
        notes.append(f'model is x{mscale}: ran {passes} pass(es)' + (f' then resized to x{scale}' if abs(mscale ** passes - scale) > 1e-9 else ''))
    if passes == 1 and (img.width * mscale, img.height * mscale) == target:  # the common case, in bounded memory
        out = _restore_in_strips(model, _image_rows(img), img.size, target, _out_mode(img), tile, overlap, progress, peak=peak)
    else:
        x = image_to_tensor(img)[0]
        for _ in range(passes): x = _restore(model, x, (x.shape[-1] * mscale, x.shape[-2] * mscale), tile, overlap, progress)
        out = _from_tensor(pil_bicubic(x, target) if tuple(x.shape[-2:][::-1]) != target else x, _out_mode(img), peak)
    if alpha is not None: alpha = alpha.resize(target, Image.BICUBIC)
    return _with_alpha(out, alpha), notes

def _with_alpha(out, alpha):
    if alpha is None: return out
    out = out.convert('RGBA' if out.mode == 'RGB' else 'LA')
    out.putalpha(alpha)
    return out

def model_degradation(model):
    "The degradation a restoration model was trained to undo: its saved task."
    return parse_degradation(getattr(model, 'config', {}).get('task', 'superres'))

def restore_image(model, img, scale=None, tile=None, overlap=OVERLAP, progress=None, **inputs):
    "Restore a PIL image by the model's task: upscale, or make it that task's input (`mask`, `side`, `amount`) and run."
    if model.config.get('scale', 1) > 1:
        if inputs: raise ValueError(f'{", ".join(inputs)}: not used by a superres model')
        return upscale_image(model, img, scale, tile, overlap, progress)
    deg = model_degradation(model)
    if scale not in (None, 1): raise ValueError(f'this model restores {deg.name} at the same size: --scale is for superres models')
    img, alpha = _split_alpha(ImageOps.exif_transpose(img))
    mode = 'RGB' if deg.name == 'colorize' else _out_mode(img)
    peak = image_peak(img)
    rgb = img.convert('RGB') if peak == 255 else _from_tensor(image_to_tensor(img)[0], 'RGB', peak)
    prepared = deg.prepare(rgb, **inputs)
    out = _restore_in_strips(model, _image_rows(prepared), prepared.size, prepared.size, mode, tile, overlap, progress, peak=peak)
    if alpha is not None and prepared.size != img.size:  # outpainted: the new strip is opaque
        alpha = extend_canvas(alpha, inputs.get('side', 'right'), inputs.get('amount', 0.25), 255)[0]
    notes = [] if mode != 'I;16' else ['16-bit input restored at 8-bit precision']
    return _with_alpha(out, alpha), notes

def save_like(out, src_info, dest):
    "Save `out` atomically, carrying the source's ICC profile and EXIF (orientation already applied)."
    from .files import atomic_path
    kw = {k: src_info[k] for k in ('icc_profile',) if src_info.get(k)}
    exif = src_info.get('exif')
    if exif: kw['exif'] = exif
    fmt = Image.registered_extensions().get(Path(dest).suffix.lower(), 'PNG')
    if fmt == 'JPEG':
        if out.mode not in ('RGB', 'L'): out = out.convert('RGB')
        kw['quality'] = 95
    with atomic_path(dest) as tmp: out.save(tmp, format=fmt, **kw)
    return Path(dest)

def _read_error(e):
    "Why an image file could not be used, in words."
    if isinstance(e, Image.UnidentifiedImageError): return 'not an image PIL can read (empty, another file type, or a broken header)'
    if isinstance(e, FileNotFoundError): return 'no such file' if e.filename else str(e)
    if isinstance(e, PermissionError): return 'permission denied'
    if isinstance(e, ValueError): return str(e)
    return f'unreadable image: {e}'

def map_images(fn, inputs, out_dir, overwrite=False, extra_dir=None):
    "Write `fn(image, index, source)` -> (image, notes, extra) per input image into `out_dir`, never over an input; returns rows."
    from fastprogress.fastprogress import progress_bar
    from .files import list_images
    files = [f for p in map(Path, inputs) for f in (list_images(p) if p.is_dir() else [p])]
    out_dir = Path(out_dir)
    srcs = {f.resolve() for f in files}
    clash = [f for f in files if (out_dir/f.name).resolve() in srcs]
    if clash: raise ValueError(f'{out_dir/clash[0].name} is an input: choose an output folder that is not an input folder')
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for i, f in enumerate(progress_bar(files, display=len(files) > 1)):
        dest = out_dir/f.name
        if dest.exists() and not overwrite:
            results.append((f, dest, ['exists: kept (pass --overwrite to replace)']))
            continue
        try:
            with Image.open(f) as im:
                note = [f'animated ({im.n_frames} frames): first frame only'] if getattr(im, 'n_frames', 1) > 1 else []
                upright = ImageOps.exif_transpose(im)  # drops the orientation tag: the pixels are written upright
                info = dict(icc_profile=im.info.get('icc_profile'), exif=upright.getexif().tobytes() or None)
                out, notes, extra = fn(upright, i, f)
        except (OSError, Image.DecompressionBombError, ValueError) as e:  # one bad file never stops a folder run
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
    if not m.is_file(): raise FileNotFoundError(f'no mask {m} for {src}')
    with Image.open(m) as im: return ImageOps.exif_transpose(im).convert('L')

def restore_files(model, inputs, out_dir, overwrite=False, mask=None, tile=None, overlap=OVERLAP, **kwargs):
    "Restore images and folders by the model's task (upscale, ...) into `out_dir`; `mask`: a mask file or folder of them."
    tile = _tiling(model, tile, overlap)  # refused before any file is read
    def restore(img, i, src):
        masked = {} if mask is None else {'mask': _mask_for(mask, src)}
        out, notes = restore_image(model, img, tile=tile, overlap=overlap, **kwargs, **masked)
        return out, notes, None
    return map_images(restore, inputs, out_dir, overwrite)

def degrade_files(task, inputs, out_dir, seed=0, overwrite=False, mask_dir=None):
    "Degrade images as `task` trains on them (image i with `seed + i`): test inputs for a model; masks go to `mask_dir`."
    import random
    deg = parse_degradation(task)
    def degrade(img, i, src):
        out, m = deg.degrade(_split_alpha(img)[0].convert('RGB'), random.Random(seed + i))
        return out, [], m
    return map_images(degrade, inputs, out_dir, overwrite, extra_dir=mask_dir)

def evaluate_sr(hr_dir, scale=2, model=None, tile=None, limit=None, baselines=('bicubic',), classifier=None):
    "The standard SR protocol (bicubic LR, Y-channel PSNR/SSIM, `scale` pixels shaved); with a `classifier`, patch FID/KID too."
    from .files import list_images
    from .metrics import psnr_y, ssim_y
    files = list_images(hr_dir)[:limit]
    if not files: raise ValueError(f'no images in {hr_dir}')
    names = list(baselines) + (['model'] if model is not None else [])
    rows, kept = [], {n: [] for n in ['target'] + names}
    for f in files:
        with Image.open(f) as im: hr = ImageOps.exif_transpose(im).convert('RGB')
        hr = hr.crop((0, 0, hr.width - hr.width % scale, hr.height - hr.height % scale))
        lr = hr.resize((hr.width // scale, hr.height // scale), Image.BICUBIC)
        target = image_to_tensor(hr)[0]
        outs = {b: image_to_tensor(lr.resize(hr.size, FILTERS[b]))[0] for b in baselines}
        if model is not None: outs['model'] = _restore(model, image_to_tensor(lr)[0], hr.size, tile)
        row = dict(image=f.name)
        for name, out in outs.items():
            row[f'{name}_psnr'] = psnr_y(out[None], target[None], shave=scale)
            row[f'{name}_ssim'] = ssim_y(out[None], target[None], shave=scale)
        rows.append(row)
        if classifier is not None:  # kept as 8-bit, exactly what a saved output file would hold
            for name, t in dict(outs, target=target).items(): kept[name].append((t.clamp(0, 1) * 255).round().byte())
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0] if k != 'image'}
    report = dict(scale=scale, hr_dir=str(hr_dir), methods=names, mean=mean, images=rows)
    if classifier is not None: report['distances'] = _set_distances(classifier, kept, names)
    return report

def evaluate_task(images, task, model=None, limit=None, seed=0, classifier=None, tile=None):
    "Degrade each image repeatably (image i with `seed + i`), restore it by the model and the classic baselines, score all."
    import random
    from .files import list_images
    from .metrics import colorfulness, psnr, ssim
    deg = parse_degradation(task)
    if deg.scale > 1: raise ValueError(f'{deg.spec} upscales: evaluate it by the SR protocol (evaluate without --task)')
    files = list_images(images)[:limit]
    if not files: raise ValueError(f'no images in {images}')
    classic = deg.baselines()
    names = ['input'] + list(classic) + (['model'] if model is not None else [])
    rows, kept = [], {n: [] for n in ['target'] + names}
    as8bit = lambda t: t.clamp(0, 1).mul(255).round().div(255)  # scored as the files a user would save
    for i, f in enumerate(files):
        with Image.open(f) as im: target = ImageOps.exif_transpose(im).convert('RGB')
        degraded, mask = deg.degrade(target, random.Random(seed + i))
        outs = {'input': degraded, **{n: b(degraded, mask) for n, b in classic.items()}}
        outs = {n: image_to_tensor(o)[0] for n, o in outs.items()}
        if model is not None: outs['model'] = as8bit(refine(model, outs['input'], tile))
        targ = image_to_tensor(target)[0]
        row = dict(image=f.name)
        for name, out in outs.items():
            row[f'{name}_psnr'], row[f'{name}_ssim'] = float(psnr(out[None], targ[None])), float(ssim(out[None], targ[None]))
            if deg.name == 'colorize': row[f'{name}_colorfulness'] = float(colorfulness(out[None])[0])
        if deg.name == 'colorize': row['target_colorfulness'] = float(colorfulness(targ[None])[0])
        rows.append(row)
        if classifier is not None:
            for name, t in dict(outs, target=targ).items(): kept[name].append((t.clamp(0, 1) * 255).round().byte())
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0] if k != 'image'}
    report = dict(task=deg.spec, images_dir=str(images), seed=seed, methods=names, mean=mean, images=rows)
    if classifier is not None: report['distances'] = _set_distances(classifier, kept, names)
    return report

def _set_distances(classifier, kept, names):
    "FID/KID of each method's outputs against the targets, on 64x64 patches at native resolution."
    from .metrics import ClassifierFeatures, distances
    feats = ClassifierFeatures(classifier, patches=True)
    targ = feats(kept['target'])
    return {name: distances(feats(kept[name]), targ) for name in names}
