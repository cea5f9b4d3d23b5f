"""The one-call API for the common case, `superres.upscale(photo)`: what `superres upscale` does, in Python."""
from pathlib import Path

from PIL import Image

from .backends import with_backend
from .degradations import parse_degradation
from .errors import DataError, UsageError
from .folders import CORRUPT, read_error, read_image
from .hub import is_default, load_restorer
from .inference import SelfEnsemble, upscale_image
from .precision import inference_precision
from .tiling import OVERLAP, check_tiling, model_device

__all__ = ['load_for_task', 'upscale']

def load_for_task(model=None,  # a run folder, model file or ONNX export; None or `default`: shipped; `real`: real-photo
                  task=None,  # the task expected (a spec or Degradation), checked against the model's; None: any
                  trust_pickle=False,  # allow a pickled learner (`export.pkl`), which can run any code when loaded
                  scale=None,  # the output scale, which picks the shipped model when `model` is None
                  strength=None,  # 0..1: blend a GAN model with its PSNR parent (`real`), 1 the GAN model
                  backend='auto',  # `torch` or `openvino`; `auto`: OpenVINO on a CPU where installed
                  precision='auto'):  # `fp32`, `bf16` or `fp16`; `auto`: bf16 where native, fp16 on older GPUs
    "A restoration model ready to run, checked against the task asked of it, and notes for the user: the one loader."
    task = None if task is None else parse_degradation(task)
    if is_default(model) and task is not None and task.scale == 1:
        raise UsageError(f'superres ships superres models only: train one with `superres train --task {task.spec} '
                         '--out RUN` and pass `model` RUN')
    loaded = load_restorer(model, trust_pickle, scale=scale, strength=strength)
    card = loaded.card
    if task is not None and task.name != card.task.name and min(task.scale, card.scale) == 1:  # upscalers all upscale
        raise UsageError(f'{model} was trained for the {card.task.name} task, not {task.spec}: pass a `model` trained '
                         f'with `task` {task.name}')
    return with_backend(loaded, backend, precision)

def _read(img):
    "The image to upscale and the colour profile and EXIF its result keeps; a path is read as `superres upscale` does."
    if isinstance(img, Image.Image): return img, {'icc_profile': img.info.get('icc_profile')}
    if not isinstance(img, (str, Path)):
        raise UsageError(f'upscale takes an image file path or a PIL image, not {type(img).__name__}')
    try: upright, info, _ = read_image(img)
    except CORRUPT as e: raise DataError(f'{img}: {read_error(e)}') from e
    return upright, info

def upscale(img,  # an image file (str or Path) or a PIL image, of any size and mode
            scale=None,  # output scale; default: the model's own (the shipped default model: x2)
            model=None,  # None or `default`: the shipped model for `scale`; `real`: for real photos; or a run or file
            strength=None,  # `real` only: 0..1 from its PSNR parent to the GAN model (default: the model's own)
            tta=False,  # average the 8 flips and rotations of the input (self-ensemble): 8x the time
            tile=None,  # tile size in the pixels the model reads (default: 512 on a CPU, 2048 on a GPU)
            overlap=OVERLAP,  # pixels tiles share, blended
            precision='auto',  # `fp32`, `bf16` or `fp16`; `auto`: bf16 where native, fp16 on older GPUs, else fp32
            backend='auto',  # `torch` or `openvino`; `auto`: OpenVINO on a CPU where installed
            trust_pickle=False):  # allow a pickled learner (`export.pkl`) as `model`
    "Upscale one photo and return the PIL image, with the pixels `superres upscale` writes for it: the common case."
    img, info = _read(img)
    loaded, _ = load_for_task(model, 'superres', trust_pickle, scale, strength, backend, precision)
    if tta: loaded = SelfEnsemble(loaded)
    tile = check_tiling(loaded, tile, overlap)
    with inference_precision(precision, model_device(loaded)):  # OpenVINO's on the CPU, even beside a GPU
        out, _ = upscale_image(loaded, img, scale, tile, overlap)
    out.info.update({k: v for k, v in info.items() if v})  # `out.save(...)` keeps the colour profile
    return out
