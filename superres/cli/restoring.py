"""The commands on users' own images: `upscale`, `restore`, `degrade`, `export` and the web `app`."""
from pathlib import Path

from .options import (
    add_backend,
    add_image_io,
    add_model,
    add_precision,
    add_strength,
    add_tiling,
    add_trust,
    add_tta,
    amount,
    call,
    checked,
    positive,
    report_outcomes,
    scale_factor,
    task_help,
    task_model,
    task_spec,
)

__all__ = ['add_upscale_args', 'cmd_upscale', 'add_restore_args', 'cmd_restore', 'add_degrade_args', 'cmd_degrade',
           'add_export_args', 'cmd_export', 'add_app_args', 'cmd_app']

def _restore_files(a, task, scale=None, **inputs):
    from ..folders import restore_files
    from ..inference import SelfEnsemble
    from ..precision import inference_precision
    from ..tiling import model_device
    model = task_model(a.model, task, a.trust_pickle, scale, a.strength, a.backend, a.precision)
    if a.tta: model = SelfEnsemble(model)
    with inference_precision(a.precision, model_device(model)):  # OpenVINO's on the CPU, even beside a GPU
        return report_outcomes(restore_files(model, a.inputs, a.output, overwrite=a.overwrite, tile=a.tile,
                                             overlap=a.overlap, scale=scale, **inputs))

def add_upscale_args(p):
    add_image_io(p, 'upscaled')
    add_model(p, 'superres train (default: the shipped model for --scale)')
    add_strength(p)
    p.add_argument('--scale', type=scale_factor(), help="output scale (default: the model's own; the shipped models: "
                   'x2 and x4, other scales by the next larger one, resized down: x3 by the x4 model)')
    add_tta(p)
    add_tiling(p)
    add_precision(p)
    add_backend(p)
    add_trust(p)

def cmd_upscale(a): return _restore_files(a, task_spec('superres'), scale=a.scale)

def add_restore_args(p):
    from ..panorama import MAX_PASSES, PANORAMA_SIDES, check_passes
    add_image_io(p, 'restored')
    expected = 'the task expected of --model (checked; default: whatever the model was trained for)'
    p.add_argument('--task', type=task_spec, help=task_help(expected))
    add_model(p, 'superres train --task ... (default: the shipped x2 superres model)')
    add_strength(p)
    p.add_argument('--mask', help='inpaint: mask image (white = missing) for all inputs, or a folder of same-named PNG '
                   'masks (as `superres degrade` writes); only a fill=gray model takes images with gray holes and '
                   'no mask')
    p.add_argument('--side', choices=PANORAMA_SIDES, help='outpaint: the side to extend, or both (left and right) '
                   '(default right)')
    p.add_argument('--amount', type=amount, help='outpaint: how much to extend, as a fraction of the size, each pass '
                   'and side (default 0.25)')
    p.add_argument('--passes', type=checked(check_passes, int), help='outpaint: passes, each painting from the '
                   f"model's previous strip, as a panorama (1 to {MAX_PASSES}; default 1): each pass adds AMOUNT of "
                   "the photo's size on each side extended; the photo's own pixels are kept")
    add_tta(p)
    add_tiling(p)
    add_precision(p)
    add_backend(p)
    add_trust(p)

def cmd_restore(a):
    inputs = {k: v for k, v in dict(side=a.side, amount=a.amount, passes=a.passes).items() if v is not None}
    return _restore_files(a, a.task, mask=a.mask, **inputs)

def add_degrade_args(p):
    add_image_io(p, 'degraded')
    p.add_argument('--task', type=task_spec, required=True,
                   help=task_help('restoration task') + '. Superres tasks write the low-resolution image')
    p.add_argument('--masks', help='folder for the masks of removed pixels, inpaint/outpaint (default: OUTPUT-masks)')
    p.add_argument('--seed', type=int, default=0, help='image i is degraded with seed + i (default 0)')

def cmd_degrade(a):
    from ..folders import degrade_files
    masks = a.masks or f'{Path(a.output)}-masks'
    rows = degrade_files(a.task, a.inputs, a.output, seed=a.seed, overwrite=a.overwrite, mask_dir=masks)
    if Path(masks).is_dir(): print(f'masks of the removed pixels: {masks}/')
    return report_outcomes(rows)

def add_export_args(p):
    p.add_argument('model', nargs='?', help='run folder or model.pth of a classifier or restoration model (default: '
                   'the shipped x2 model)')
    p.add_argument('--onnx', required=True, help='the .onnx file to write (its config rides in the metadata)')
    add_trust(p)

def cmd_export(a):
    from torch import nn

    from ..errors import UsageError
    from ..export import export_onnx
    from ..hub import load_any, shipped_model_file
    model = load_any(a.model if a.model is not None else shipped_model_file(2), a.trust_pickle)
    if not isinstance(model, nn.Module): raise UsageError(f'{a.model} is already an ONNX model; '
                                                          'pass a model.pth or a run folder')
    print(f'wrote {export_onnx(model, a.onnx)} (ONNX, any height and width; `--model` of upscale/restore takes it)')

def add_app_args(p):
    p.add_argument('--model', dest='model_paths', action='append', help='run folder or model.pth; repeat for several '
                   'tasks (default: the shipped x2 superres model)')
    p.add_argument('--port', type=positive(int), default=7860, help='port on localhost (default 7860)')
    p.add_argument('--max-pixels', type=positive(int), default=4_000_000, help='largest input accepted, in pixels '
                   '(default 4000000)')
    p.add_argument('--max-upload-mb', type=positive(float), default=50., help='largest upload accepted, in MiB '
                   '(default 50): bigger files are refused before they are read')
    p.add_argument('--max-storage-mb', type=positive(float), default=1024., help='RAM the uploads and results may '
                   'hold, in MiB (default 1024): the oldest are removed to make room')
    p.add_argument('--concurrency', type=positive(int), help='upscales run at once, the rest queued with their '
                   'position shown (default: one per GPU, else 2, or one per 8 CPU cores where more)')
    add_backend(p)
    add_trust(p)

def cmd_app(a):
    from ..errors import UsageError
    try:
        from ..app import launch
    except ImportError: raise UsageError('the web app needs gradio: pip install "superres[app]"') from None
    call(launch, a)
