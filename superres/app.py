"""A local web app: drop an image, pick task and scale, compare before and after with a slider, download the result."""
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import torch
from PIL import Image, ImageOps

from .backends import with_backend
from .errors import UsageError
from .fills import SIDES
from .hub import SHIPPED_NAMED, load_restorer, shipped_scales
from .inference import model_degradation, restore_image
from .precision import inference_precision
from .tiling import OVERLAP, model_device

__all__ = ['MAX_PIXELS', 'MAX_UPLOAD_MB', 'QUEUE_PER_SLOT', 'RESULT_TTL', 'REAL_PHOTO', 'AppError', 'TaskModels',
           'default_concurrency', 'load_models', 'open_upload', 'restore_upload', 'ram_folder', 'build_app', 'launch']

MAX_PIXELS = 4_000_000  # input pixels: an x2 result of this is 16 MP
MAX_UPLOAD_MB = 50.
QUEUE_PER_SLOT = 32  # requests waiting per upscale in flight; beyond that Gradio says the queue is full
REAL_PHOTO = 'real photo'  # the task name the app shows for the shipped real-photo model
RESULT_TTL = 300  # seconds our copy of a result is kept: Gradio copies it into its own cache as the request ends

class AppError(UsageError):
    "A problem with what the user gave the app, in words they can act on."

class TaskModels(NamedTuple):
    "The models serving one task, by scale, where they came from, as the app tells its users, and notes for its host."
    by_scale: dict
    source: str
    notes: tuple = ()
    def pick(self, scale=None):
        "The model for x`scale`: that scale's, else the smallest larger one (resized down), else the largest."
        scales = sorted(self.by_scale)
        if scale is None: return self.by_scale[scales[0]]
        return self.by_scale[next((s for s in scales if s >= scale - 1e-9), scales[-1])]

def default_concurrency():
    "Upscales in flight: one per GPU; on CPUs two (one's decoding and encoding overlap the other's model pass) or more."
    return torch.cuda.device_count() if torch.cuda.is_available() else max(2, (os.cpu_count() or 1) // 8)

def _describe(model, source):
    cfg = getattr(model, 'config', {})
    return f'{source} ({cfg.get("arch", "model")}, x{cfg.get("scale", 1)})'

def _run_by(backend, by_scale, source):
    "TaskModels of `by_scale` run by `backend`, noting each model OpenVINO could not take."
    run = {s: with_backend(m, backend) for s, m in by_scale.items()}
    return TaskModels({s: m for s, (m, _) in run.items()}, source, tuple(n for _, notes in run.values() for n in notes))

def load_models(paths=None, trust_pickle=False, backend='auto'):
    """Task name -> TaskModels, from run folders or model files (none: the shipped superres models of every scale), run
    by `backend` (`superres.backends`)."""
    if not paths:
        by_scale = {s: load_restorer(scale=s) for s in shipped_scales()}
        arch = next(iter(by_scale.values())).config.get('arch')
        scales = ', '.join(f'x{s}' for s in by_scale)
        models = {'superres': _run_by(backend, by_scale, f'the shipped {arch} models, {scales}')}
        if SHIPPED_NAMED['real'].is_file():
            real = load_restorer('real')
            models[REAL_PHOTO] = _run_by(backend, {real.config['scale']: real}, 'the shipped real-photo model (x4, '
                                         'trained on noisy, blurred, JPEG-compressed inputs, then GAN-sharpened)')
        return models
    found = {}
    for p in paths:
        m = load_restorer(p, trust_pickle)
        found.setdefault(model_degradation(m).name, []).append((m.config.get('scale', 1), m, _describe(m, p)))
    return {task: _run_by(backend, {s: m for s, m, _ in ms}, '; '.join(d for *_, d in ms))
            for task, ms in found.items()}

def open_upload(path, max_pixels=MAX_PIXELS):
    "The uploaded file as an upright PIL image, refused clearly when it is not an image or too big."
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise AppError(f'the image is {w}x{h} ({w*h/1e6:.1f} MP); '
                               f'this app takes up to {max_pixels/1e6:.1f} MP. '
                               'Downscale it, start the app with a larger --max-pixels, or use `superres upscale`.')
            return ImageOps.exif_transpose(im).copy()
    except (Image.UnidentifiedImageError, Image.DecompressionBombError, OSError):
        raise AppError(f'{Path(path).name} is not an image superres can read '
                       '(PNG, JPEG, WebP, TIFF, BMP, GIF ...)') from None

def _sweep(folder, age=RESULT_TTL):
    "Remove the result folders under `folder` older than `age` seconds, so a long-running app does not fill its RAM."
    now = time.time()
    for d in Path(folder).glob('result-*'):
        if now - d.stat().st_mtime > age: shutil.rmtree(d, ignore_errors=True)

def restore_upload(models, path, task, scale=2, max_pixels=MAX_PIXELS, out_dir=None, progress=None, tile=None,
                   overlap=OVERLAP, precision='auto', **inputs):
    "Run the chosen task on an upload: (before, after) at the output size for the slider, the saved PNG, a status line."
    if path is None: raise AppError('no image yet: upload or drop one first')
    if task not in models: raise AppError(f'no model for {task!r}; this app has: {", ".join(models)}')
    img = open_upload(path, max_pixels)
    model = models[task].pick(float(scale) if scale else None)
    sr = model.config.get('scale', 1) > 1
    # entered here: autocast is per thread, and the app serves each request in its own
    with inference_precision(precision, model_device(model)):
        out, notes = restore_image(model, img, scale=float(scale) if sr else None, tile=tile, overlap=overlap,
                                   progress=progress, **({} if sr else inputs))
    before = img.convert(out.mode).resize(out.size, Image.BICUBIC)
    if not sr and out.size != img.size:
        before = model_degradation(model).prepare(img.convert('RGB'), **inputs).convert(out.mode)
    if out_dir is not None: _sweep(out_dir)
    dest = Path(tempfile.mkdtemp(prefix='result-', dir=out_dir))/f'{Path(path).stem}_{task}.png'
    out.save(dest)
    status = (f'{img.width}x{img.height} -> {out.width}x{out.height} ({task})'
              + (f'; {"; ".join(notes)}' if notes else ''))
    return (before, out), str(dest), status

def ram_folder():
    "A private folder (mode 700) in RAM (/dev/shm, a tmpfs) if any, else in the temp dir: uploads never touch a disk."
    shm = Path('/dev/shm')
    return Path(tempfile.mkdtemp(prefix='superres-app-', dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))

def _controls(models, task):
    "Which controls the chosen task uses: the scale for superres models, the side and amount for outpainting."
    model = models[task].pick()
    return model.config.get('scale', 1) > 1, model_degradation(model).name == 'outpaint'

def _passing_on(preprocess):
    "An image input's preprocessing that hands on files Gradio cannot open, so `open_upload` says what is wrong."
    def run(payload):
        try: return preprocess(payload)
        except Exception:  # whatever PIL raised inside Gradio on a file that is not an image it can read: a bare Error
            return None if payload is None or payload.path is None else str(payload.path)
    return run

def build_app(models, max_pixels=MAX_PIXELS, out_dir=None):
    "The Gradio Blocks UI around `models` (task name -> TaskModels); results go to `out_dir`."
    import gradio as gr
    def run(path, task, scale, side, amount, progress=gr.Progress()):
        try:
            return restore_upload(models, path, task, scale, max_pixels, side=side, amount=amount, out_dir=out_dir,
                                  progress=lambda done, total: progress(done / total, desc=f'tile {done}/{total}'))
        except AppError as e: raise gr.Error(str(e)) from None
    def show_controls(task):
        sr, outpaint = _controls(models, task)
        return gr.update(visible=sr), gr.update(visible=outpaint), gr.update(visible=outpaint)
    tasks = list(models)
    sr, outpaint = _controls(models, tasks[0])
    scales = sorted({s for m in models.values() for s in m.by_scale if s > 1} | {2, 3, 4})
    with gr.Blocks(title='superres', delete_cache=(300, 900)) as demo:  # uploads and results live 15 minutes at most
        gr.Markdown('# superres\nDrop an image, pick a task, compare before and after with the slider, '
                    'download the result.')
        with gr.Row():
            with gr.Column():
                upload = gr.Image(type='filepath', label='image', sources=['upload', 'clipboard'], elem_id='upload')
                upload.preprocess = _passing_on(upload.preprocess)
                task = gr.Dropdown(tasks, value=tasks[0], label='task', elem_id='task')
                scale = gr.Dropdown(scales, value=2, label='scale', visible=sr, elem_id='scale')
                with gr.Row():
                    side = gr.Dropdown(SIDES, value='right', label='side', visible=outpaint, elem_id='side')
                    amount = gr.Slider(0.05, 0.5, value=0.25, step=0.05, label='extend by', visible=outpaint,
                                       elem_id='amount')
                button = gr.Button('Restore', variant='primary', elem_id='run')
                gr.Markdown(f'Images up to {max_pixels/1e6:.1f} MP.\n\n**Models**: '
                            + '; '.join(f'{t}: {m.source}' for t, m in models.items()), elem_id='models')
            with gr.Column():
                slider = gr.ImageSlider(label='before (bicubic / input) | after', type='pil', elem_id='slider')
                result = gr.File(label='result (full-resolution PNG)', elem_id='result')
                status = gr.Textbox(label='status', interactive=False, elem_id='status')
        task.change(show_controls, task, [scale, side, amount], api_name=False)
        button.click(run, [upload, task, scale, side, amount], [slider, result, status], api_name='restore')
    return demo

def launch(model_paths=None, port=7860, max_pixels=MAX_PIXELS, trust_pickle=False, host='127.0.0.1',
           max_upload_mb=MAX_UPLOAD_MB, concurrency=None, backend='auto'):
    "Serve the app until interrupted, `concurrency` upscales at a time, the rest queued; uploads stay in RAM."
    folder = ram_folder()
    os.environ['GRADIO_TEMP_DIR'] = str(folder)  # Gradio stores every upload as a file: keep those files in RAM
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so a terminated app still removes its folder
    concurrency = concurrency or default_concurrency()
    print(f'uploads and results stay in {folder} (removed on exit); {concurrency} upscale(s) at a time', flush=True)
    try:
        models = load_models(model_paths, trust_pickle, backend)
        for task, m in models.items():
            for note in m.notes: print(f'{task}: note: {note}', flush=True)
        demo = build_app(models, max_pixels, out_dir=folder)
        demo.queue(default_concurrency_limit=concurrency, max_size=QUEUE_PER_SLOT * concurrency)
        demo.launch(server_name=host, server_port=port, inbrowser=False, show_api=False,
                    max_file_size=int(max_upload_mb * 2**20))  # Gradio refuses bigger uploads unread
    finally: shutil.rmtree(folder, ignore_errors=True)
