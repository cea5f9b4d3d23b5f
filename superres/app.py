"""A local web app: drop an image, pick task and scale, compare before and after with a slider, download the result."""
import fcntl
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image

from .backends import with_backend
from .errors import SuperresError, UsageError
from .fills import SIDES
from .hub import load_restorer, scale_for, shipped_scales
from .images import CORRUPT, image_size, read_error, read_image, save_like, split_alpha, with_alpha
from .inference import restore_image
from .precision import inference_precision
from .tiling import OVERLAP, model_device

__all__ = ['MAX_PIXELS', 'MAX_UPLOAD_MB', 'MAX_STORAGE_MB', 'FORM_SLACK', 'LOCK', 'QUEUE_PER_SLOT', 'RESULT_TTL',
           'REAL_PHOTO', 'AppError', 'TaskModels', 'default_concurrency', 'load_models', 'open_upload',
           'restore_upload', 'make_room', 'RequestLimits', 'ram_folder', 'build_app', 'launch']

MAX_PIXELS = 4_000_000  # input pixels: an x2 result of this is 16 MP
MAX_UPLOAD_MB = 50.
MAX_STORAGE_MB = 1024.  # what uploads and results may hold in the app's RAM folder; the oldest go to make room
FORM_SLACK = 64 * 2**10  # bytes a request may carry beyond the largest upload: the form or JSON around the file
LOCK = '.lock'  # in the RAM folder, locked while the app runs: a folder whose lock is free is a killed app's
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
        "The model for x`scale` (`hub.scale_for`); None: the smallest."
        return self.by_scale[min(self.by_scale) if scale is None else scale_for(self.by_scale, scale)]

def default_concurrency():
    "Upscales in flight: one per GPU; on CPUs two (one's decoding and encoding overlap the other's model pass) or more."
    return torch.cuda.device_count() if torch.cuda.is_available() else max(2, (os.cpu_count() or 1) // 8)

def _describe(model, source): return f'{source} ({model.card.arch}, x{model.card.scale})'

def _run_by(backend, by_scale, source):
    "TaskModels of `by_scale` run by `backend`, noting each model OpenVINO could not take."
    run = {s: with_backend(m, backend) for s, m in by_scale.items()}
    return TaskModels({s: m for s, (m, _) in run.items()}, source, tuple(n for _, notes in run.values() for n in notes))

def _scales(by_scale): return ', '.join(f'x{s}' for s in by_scale)

def load_models(paths=None,  # run folders or model files, served by their task (None or empty: the shipped models)
                trust_pickle=False,  # also load pickled learners (export.pkl), which run code: only files you trust
                backend='auto'):  # `torch` or `openvino`; `auto`: OpenVINO on a CPU where installed
    """Task name -> TaskModels, from run folders or model files (none: the shipped superres models of every scale), run
    by `backend` (`superres.backends`)."""
    if not paths:
        by_scale = {s: load_restorer(scale=s) for s in shipped_scales()}
        arch = next(iter(by_scale.values())).card.arch
        models = {'superres': _run_by(backend, by_scale, f'the shipped {arch} models, {_scales(by_scale)}')}
        if real := {s: load_restorer('real', scale=s) for s in shipped_scales('real')}:
            models[REAL_PHOTO] = _run_by(backend, real, f'the shipped real-photo models, {_scales(real)} (trained on '
                                         'photos blurred, noised and JPEG-compressed at their small size, then '
                                         'GAN-sharpened)')
        return models
    found = {}
    for p in paths:
        m = load_restorer(p, trust_pickle)
        found.setdefault(m.card.task.name, []).append((m.card.scale, m, _describe(m, p)))
    return {task: _run_by(backend, {s: m for s, m, _ in ms}, '; '.join(d for *_, d in ms))
            for task, ms in found.items()}

def _too_big(name, size, max_pixels):
    "The refusal of an image over `max_pixels`, with what to do instead."
    return AppError(f'{name}: the image is {size}; this app takes up to {max_pixels/1e6:.1f} MP. '
                    'Downscale it, start the app with a larger --max-pixels, or use `superres upscale`.')

def open_upload(path,  # the uploaded file
                max_pixels=MAX_PIXELS,  # the most pixels (width x height) its header may declare
                max_bytes=None):  # the file's largest size in bytes (None: any)
    "The upload read as `superres upscale` reads it (upright image, ICC/EXIF, notes); bytes and header checked first."
    name = Path(path).name
    try:
        size = Path(path).stat().st_size
        w, h = image_size(path)  # the header alone: nothing is decoded before the checks below
    except FileNotFoundError:
        raise AppError(f'{name} is gone (the app removes its oldest files to make room): upload it again') from None
    except Image.DecompressionBombError as e: raise _too_big(name, f'a decompression bomb? ({e})', max_pixels) from None
    except CORRUPT:
        raise AppError(f'{name} is not an image superres can read (PNG, JPEG, WebP, TIFF, BMP, GIF ...)') from None
    if max_bytes is not None and size > max_bytes:
        raise AppError(f'{name} is {size/2**20:.1f} MiB; this app takes up to {max_bytes/2**20:.1f} MiB')
    if w * h > max_pixels: raise _too_big(name, f'{w}x{h} ({w*h/1e6:.1f} MP)', max_pixels)
    try: return read_image(path)
    except CORRUPT as e: raise AppError(f'{name}: {read_error(e)}') from None

def _preview(img):
    "An 8-bit copy of a 16-bit image for the browser, scaled (PIL's convert would clip it to white); others unchanged."
    if not img.mode.startswith('I'): return img
    return Image.fromarray((np.clip(np.asarray(img), 0, 65535) >> 8).astype(np.uint8))

def _sweep(folder, age=RESULT_TTL):
    "Remove the result folders under `folder` older than `age` seconds, so a long-running app does not fill its RAM."
    now = time.time()
    for d in Path(folder).glob('result-*'):
        if now - d.stat().st_mtime > age: shutil.rmtree(d, ignore_errors=True)

def restore_upload(models,  # task name -> TaskModels (`load_models`)
                   path,  # the uploaded file (None: nothing uploaded yet)
                   task,  # a key of `models`
                   scale=2,  # the factor: picks the task's model (0 or None: the smallest) and a superres output's size
                   max_pixels=MAX_PIXELS,  # the most pixels (width x height) the upload may have
                   out_dir=None,  # where the result folders go, stale ones removed (None: the temp dir, none removed)
                   progress=None,  # `progress(done, total)` over the tiles (None: none)
                   tile=None,  # the side in pixels of the tiles the model reads (None: `default_tile`)
                   overlap=OVERLAP,  # pixels the tiles share, blended
                   precision='auto',  # `fp32`, `bf16` or `fp16`; `auto`: bf16 where native, fp16 on older GPUs
                   max_bytes=None,  # the upload's largest size in bytes (None: any)
                   **inputs):  # other tasks than superres: their own, e.g. `side` and `amount` (outpaint)
    "Run the chosen task on an upload as the CLI would: 8-bit (before, after) for the slider, the PNG, a status."
    if path is None: raise AppError('no image yet: upload or drop one first')
    if task not in models: raise AppError(f'no model for {task!r}; this app has: {", ".join(models)}')
    img, info, notes = open_upload(path, max_pixels, max_bytes)
    model = models[task].pick(float(scale) if scale else None)
    sr = model.card.upscales
    # entered here: autocast is per thread, and the app serves each request in its own
    with inference_precision(precision, model_device(model)):
        out, more = restore_image(model, img, scale=float(scale) if sr else None, tile=tile, overlap=overlap,
                                  progress=progress, **({} if sr else inputs))
    base, alpha = split_alpha(img)
    base = _preview(base)
    if not sr and out.size != img.size: before = model.card.task.prepare(base.convert('RGB'), **inputs)
    else: before = with_alpha(base.resize(out.size, Image.BICUBIC),
                              None if alpha is None else alpha.resize(out.size, Image.BICUBIC))
    if out_dir is not None: _sweep(out_dir)
    dest = save_like(out, info, Path(tempfile.mkdtemp(prefix='result-', dir=out_dir))/f'{Path(path).stem}_{task}.png')
    notes += more
    status = (f'{img.width}x{img.height} -> {out.width}x{out.height} ({task})'
              + (f'; {"; ".join(notes)}' if notes else ''))
    return (before, _preview(out)), str(dest), status

def make_room(folder,  # whose files (all below it but the lock) may be removed, oldest first
              quota,  # the bytes they may take
              incoming=0):  # bytes about to arrive, made room for too
    "Remove the oldest files in `folder` until they and `incoming` more bytes fit in `quota` bytes; whether they do."
    files = []
    for f in Path(folder).rglob('*'):
        try: st = f.stat()
        except OSError: continue  # removed meanwhile
        if f.is_file() and f.name != LOCK: files.append((st.st_mtime, st.st_size, f))
    used = sum(size for _, size, _ in files)
    for _, size, f in sorted(files):
        if used + incoming <= quota: break
        f.unlink(missing_ok=True)
        used -= size
    return used + incoming <= quota

class RequestLimits:
    "ASGI middleware: no body over `max_body` bytes is read (413), and an upload is read only into room in the folder."
    def __init__(self, app, max_body, folder, quota):
        self.app, self.max_body, self.folder, self.quota = app, max_body, folder, quota
        self.reserved = 0  # bytes of the uploads being received
    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http': return await self.app(scope, receive, send)
        from fastapi import HTTPException
        too_big = HTTPException(413, f'this app takes requests up to {self.max_body/2**20:.1f} MiB')
        declared = int(dict(scope['headers']).get(b'content-length', 0))
        reserve = min(declared or self.max_body, self.max_body) if scope['path'].endswith('/upload') else 0
        refusal = too_big if declared > self.max_body else None
        if not refusal and reserve and not make_room(self.folder, self.quota, self.reserved + reserve):
            refusal = HTTPException(503, 'the app is full with uploads in progress: try again in a minute')
        read = 0
        async def receive_within_limits():
            nonlocal read
            if refusal: raise refusal  # to the route reading the body: FastAPI answers with its status
            message = await receive()
            read += len(message.get('body', b''))
            if read > self.max_body: raise too_big
            return message
        self.reserved += 0 if refusal else reserve
        try: await self.app(scope, receive_within_limits, send)
        finally: self.reserved -= 0 if refusal else reserve

def _reclaim(parent):
    "Remove the folders of apps that are gone: a running app holds its folder's lock; a killed one left its folder."
    for folder in Path(parent).glob('superres-app-*'):
        try:
            with open(folder/LOCK) as f: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError: continue  # locked by a running app; no lock (an older superres's), or another user's: kept
        shutil.rmtree(folder, ignore_errors=True)

@contextmanager
def ram_folder():
    "A private folder (mode 700) in RAM (/dev/shm, a tmpfs) if any, else in the temp dir, removed after the block."
    shm = Path('/dev/shm')
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    _reclaim(parent)
    hidden = Path(tempfile.mkdtemp(prefix='.superres-app-', dir=parent))  # renamed once locked: never seen unlocked
    with open(hidden/LOCK, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        folder = hidden.with_name(hidden.name[1:])
        hidden.rename(folder)
        try: yield folder
        finally: shutil.rmtree(folder, ignore_errors=True)

def _controls(models, task):
    "Which controls the chosen task uses: the scale for superres models, the side and amount for outpainting."
    model = models[task].pick()
    return model.card.upscales, model.card.task.name == 'outpaint'

def _stored_file(component):
    "An image input's preprocessing: the uploaded file's path, undecoded (a data: URI stored first), from its folder."
    # (Gradio's own decodes any pixel count into 8-bit RGB, and a data: URI even unchecked, before the app sees a byte)
    from gradio import Error, processing_utils
    cache = Path(component.GRADIO_CACHE).resolve()
    def preprocess(payload):
        if payload is None: return None
        uri = next((s for s in (payload.url, payload.path) if s and s.startswith('data:')), None)
        if uri:
            try: return processing_utils.save_base64_to_cache(uri, str(cache), payload.orig_name)
            except ValueError: raise Error('the data: URI holds no base64 data') from None
        try: path = Path(payload.path).resolve()
        except (OSError, ValueError): path = None
        if path is None or cache not in path.parents: raise Error('this app reads only files uploaded to it')
        return str(path)
    return preprocess

def _local_files_only(block):
    "Make an input refuse a file given as a URL, which Gradio would download, of any size, before the app is called."
    from gradio import Error
    from gradio_client.utils import is_http_url_like
    move = block.async_move_resource_to_block_cache
    async def move_local(path):
        if is_http_url_like(str(path)): raise Error('this app fetches no URLs: download the image, then upload it')
        return await move(path)
    block.async_move_resource_to_block_cache = move_local

def build_app(models,  # task name -> TaskModels (`load_models`)
              max_pixels=MAX_PIXELS,  # the most pixels (width x height) an upload may have
              out_dir=None,  # where results go, kept within `max_storage_mb` (None: the temp dir, unbounded)
              max_upload_mb=MAX_UPLOAD_MB,  # the largest upload in MiB
              max_storage_mb=MAX_STORAGE_MB):  # the MiB `out_dir` may hold: the oldest files go to make room
    "The Gradio Blocks UI around `models` (task name -> TaskModels); results go to `out_dir`, kept within its quota."
    import gradio as gr
    def run(path, task, scale, side, amount, progress=gr.Progress()):
        try:
            result = restore_upload(models, path, task, scale, max_pixels, side=side, amount=amount, out_dir=out_dir,
                                    max_bytes=max_upload_mb * 2**20,
                                    progress=lambda done, total: progress(done / total, desc=f'tile {done}/{total}'))
        except SuperresError as e: raise gr.Error(str(e)) from None  # the one line the CLI prints for that file
        if out_dir is not None: make_room(out_dir, max_storage_mb * 2**20)
        return result
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
                upload.preprocess = _stored_file(upload)
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
        inputs = [upload, task, scale, side, amount]
        for block in inputs: _local_files_only(block)
        button.click(run, inputs, [slider, result, status], api_name='restore')
    return demo

def launch(model_paths=None,  # run folders or model files (None: the shipped models)
           port=7860,  # the port to serve on
           max_pixels=MAX_PIXELS,  # the most pixels (width x height) an upload may have
           trust_pickle=False,  # also load pickled learners (export.pkl), which run code: only files you trust
           host='127.0.0.1',  # the address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)
           max_upload_mb=MAX_UPLOAD_MB,  # the largest upload in MiB
           concurrency=None,  # upscales at a time, the rest queued (None: `default_concurrency`)
           max_storage_mb=MAX_STORAGE_MB,  # the MiB uploads and results may hold in RAM, at least twice `max_upload_mb`
           backend='auto'):  # `torch` or `openvino`; `auto`: OpenVINO on a CPU where installed
    "Serve the app until interrupted, `concurrency` upscales at a time, the rest queued; uploads stay in RAM."
    if max_storage_mb < 2 * max_upload_mb:
        raise UsageError(f'--max-storage-mb {max_storage_mb:g} holds less than an upload of --max-upload-mb '
                         f'{max_upload_mb:g} and its result: give at least {2 * max_upload_mb:g}')
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so a terminated app still removes its folder
    concurrency = concurrency or default_concurrency()
    with ram_folder() as folder:
        os.environ['GRADIO_TEMP_DIR'] = str(folder)  # Gradio stores every upload as a file: keep those files in RAM
        print(f'uploads and results stay in {folder} (removed on exit); {concurrency} upscale(s) at a time', flush=True)
        models = load_models(model_paths, trust_pickle, backend)
        for task, m in models.items():
            for note in m.notes: print(f'{task}: note: {note}', flush=True)
        demo = build_app(models, max_pixels, folder, max_upload_mb, max_storage_mb)
        demo.queue(default_concurrency_limit=concurrency, max_size=QUEUE_PER_SLOT * concurrency)
        from starlette.middleware import Middleware
        max_bytes = int(max_upload_mb * 2**20)
        limits = Middleware(RequestLimits, max_body=max_bytes + FORM_SLACK, folder=folder,
                            quota=int(max_storage_mb * 2**20))
        demo.launch(server_name=host, server_port=port, inbrowser=False, footer_links=['gradio', 'settings'],
                    max_file_size=max_bytes, app_kwargs={'middleware': [limits]})  # Gradio's own check on /upload
