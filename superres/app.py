"""A local web app: drop an image, pick task and scale, compare before and after with a slider, download the result."""
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageOps

from .errors import UsageError
from .fills import SIDES
from .hub import load_restorer
from .inference import model_degradation, restore_image
from .precision import inference_precision
from .tiling import OVERLAP

__all__ = ['MAX_PIXELS', 'MAX_UPLOAD_MB', 'AppError', 'load_models', 'open_upload', 'restore_upload', 'ram_folder',
           'build_app', 'launch']

MAX_PIXELS = 4_000_000  # input pixels: an x2 result of this is 16 MP
MAX_UPLOAD_MB = 50.

class AppError(UsageError):
    "A problem with what the user gave the app, in words they can act on."

def load_models(paths=None, trust_pickle=False):
    "Task name -> restoration model, from run folders or model files (none: the shipped x2 superres model)."
    models = {}
    for p in paths or [None]:
        m = load_restorer(p, trust_pickle)
        models[model_degradation(m).name] = m
    return models

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

def restore_upload(models, path, task, scale=2, max_pixels=MAX_PIXELS, out_dir=None, progress=None, tile=None,
                   overlap=OVERLAP, precision='auto', **inputs):
    "Run the chosen task on an upload: (before, after) at the output size for the slider, the saved PNG, a status line."
    if path is None: raise AppError('no image yet: upload or drop one first')
    if task not in models: raise AppError(f'no model for {task!r}; this app has: {", ".join(models)}')
    img = open_upload(path, max_pixels)
    model = models[task]
    sr = model.config.get('scale', 1) > 1
    # entered here: autocast is per thread, and the app serves each request in its own
    with inference_precision(precision):
        out, notes = restore_image(model, img, scale=float(scale) if sr else None, tile=tile, overlap=overlap,
                                   progress=progress, **({} if sr else inputs))
    before = img.convert(out.mode).resize(out.size, Image.BICUBIC)
    if not sr and out.size != img.size:
        before = model_degradation(model).prepare(img.convert('RGB'), **inputs).convert(out.mode)
    dest = Path(tempfile.mkdtemp(prefix='superres-app-', dir=out_dir))/f'{Path(path).stem}_{task}.png'
    out.save(dest)
    status = (f'{img.width}x{img.height} -> {out.width}x{out.height} ({task})'
              + (f'; {"; ".join(notes)}' if notes else ''))
    return (before, out), str(dest), status

def ram_folder():
    "A private folder (mode 700) in RAM (/dev/shm, a tmpfs) if any, else in the temp dir: uploads never touch a disk."
    shm = Path('/dev/shm')
    return Path(tempfile.mkdtemp(prefix='superres-app-', dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))

def build_app(models, max_pixels=MAX_PIXELS, out_dir=None):
    "The Gradio Blocks UI around `models` (task name -> model); results go to `out_dir`."
    import gradio as gr
    def run(path, task, scale, side, amount, progress=gr.Progress()):
        try:
            return restore_upload(models, path, task, scale, max_pixels, side=side, amount=amount, out_dir=out_dir,
                                  progress=lambda done, total: progress(done / total, desc=f'tile {done}/{total}'))
        except AppError as e: raise gr.Error(str(e)) from None
    tasks = list(models)
    with gr.Blocks(title='superres', delete_cache=(300, 900)) as demo:  # uploads and results live 15 minutes at most
        gr.Markdown('# superres\nDrop an image, pick a task, compare before and after with the slider, '
                    'download the result.')
        with gr.Row():
            with gr.Column():
                upload = gr.Image(type='filepath', label='image', sources=['upload', 'clipboard'], elem_id='upload')
                task = gr.Dropdown(tasks, value=tasks[0], label='task')
                scale = gr.Dropdown([2, 3, 4], value=2, label='scale (superres)')
                with gr.Row():
                    side = gr.Dropdown(SIDES, value='right', label='side (outpaint)')
                    amount = gr.Slider(0.05, 0.5, value=0.25, step=0.05, label='extend by (outpaint)')
                button = gr.Button('Restore', variant='primary', elem_id='run')
                gr.Markdown(f'Images up to {max_pixels/1e6:.1f} MP.')
            with gr.Column():
                slider = gr.ImageSlider(label='before (bicubic / input) | after', type='pil', elem_id='slider')
                result = gr.File(label='result (full-resolution PNG)', elem_id='result')
                status = gr.Textbox(label='status', interactive=False, elem_id='status')
        button.click(run, [upload, task, scale, side, amount], [slider, result, status])
    return demo

def launch(model_paths=None, port=7860, max_pixels=MAX_PIXELS, trust_pickle=False, host='127.0.0.1',
           max_upload_mb=MAX_UPLOAD_MB):
    "Serve the app on localhost until interrupted; uploads and results stay in a private RAM folder, removed on exit."
    folder = ram_folder()
    os.environ['GRADIO_TEMP_DIR'] = str(folder)  # Gradio stores every upload as a file: keep those files in RAM
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so a terminated app still removes its folder
    print(f'uploads and results stay in {folder} (removed on exit)', flush=True)
    try:
        demo = build_app(load_models(model_paths, trust_pickle), max_pixels, out_dir=folder)
        demo.queue().launch(server_name=host, server_port=port, inbrowser=False, show_api=False,
                            max_file_size=int(max_upload_mb * 2**20))  # Gradio refuses bigger uploads unread
    finally: shutil.rmtree(folder, ignore_errors=True)
