"""Model files: saving and loading weights without pickle, resolving run folders, the weights shipped in the package."""
import hashlib
from dataclasses import replace
from pathlib import Path

import torch

from .card import ModelCard, attach_card
from .errors import ModelError, UsageError
from .files import atomic_path
from .models import check_config, fold, model_from_config
from .ranks import local_device

__all__ = ['MODEL_FILES', 'WEIGHTS', 'SHIPPED_CLASSIFIER', 'SHIPPED_NAMED', 'weights_digest', 'save_model',
           'set_parent_weights', 'load_model', 'blend_with_parent', 'resolve_model', 'shipped_scales', 'scale_for',
           'shipped_scale_for', 'shipped_model_file', 'is_default', 'shipped_named', 'load_any', 'KIND_NAMES',
           'load_classifier', 'load_segmenter', 'load_restorer']

MODEL_FILES = ('model.pth', 'model.onnx', 'export.pkl')  # weights first: a folder's pickle is the last resort
WEIGHTS = Path(__file__).parent/'weights'
SHIPPED_CLASSIFIER = WEIGHTS/'classifier.pth'
SHIPPED_NAMED = {'real': 4}  # `model` names of shipped families (files NAME_xS.pth) beside sr, their default scale

def weights_digest(state):
    "SHA-256 of a state dict's names and tensor bytes, in order: a file that changed on disk no longer matches it."
    h = hashlib.sha256()
    for k, v in state.items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()

def _cast(state, dtype):
    return {k: v.to(dtype) if dtype is not None and v.is_floating_point() else v for k, v in state.items()}

def _file_digest(state, parent=None):
    "The digest a model file stores: its weights', then its PSNR parent's where it holds one."
    return weights_digest(state) + (weights_digest(parent) if parent is not None else '')

def save_model(model,  # a superres model with its card (and its PSNR parent's weights, if any)
               fname,  # the file to write, atomically
               dtype=None):  # the floats' dtype in the file, e.g. torch.float16 (None: the model's own)
    "Weights, config and their digest in a file `torch.load(weights_only=True)` reads; `dtype`: float16 halves it."
    state, parent = _cast(model.state_dict(), dtype), getattr(model, 'parent_weights', None)
    saved = {'config': model.card.config, 'state_dict': state}
    if parent is not None: saved['parent_state_dict'] = _cast(parent, dtype)  # a GAN model's PSNR parent: `strength`
    digest = _file_digest(state, saved.get('parent_state_dict'))
    with atomic_path(fname) as tmp: torch.save({**saved, 'sha256': digest}, tmp)
    return Path(fname)

def set_parent_weights(model, state):
    "Give `model` the PSNR parent its `strength` blends towards (saved in its file beside its own weights), carded."
    model.parent_weights = state
    return attach_card(model, replace(model.card, parent=True))

def _line(e, n=0):
    "Line `n` of an exception's message (else its last), at most 160 characters; its type where it has none."
    lines = str(e).strip().splitlines() or [type(e).__name__]  # an empty file's error says nothing
    return lines[min(n, len(lines) - 1)].strip()[:160]

def _corrupt(fname, why):
    return ModelError(f'{fname} is not a usable superres model file ({why}): download or train it again, or pass '
                      'another `model`')

def _sized(config, state):
    "The model `config` describes, built once a weightless copy shows it is not far larger than the file's weights."
    with torch.device('meta'): shape = model_from_config(config)  # shapes only: nothing allocated
    need, have = sum(p.numel() for p in shape.parameters()), sum(v.numel() for v in state.values())
    if need > 2 * have + 10**6:
        raise UsageError(f'it describes a network of {need:,} weights and holds {have:,}')
    return model_from_config(config)

def load_model(fname):
    "Rebuild a model saved by `save_model`, in eval mode; a file damaged or mixed up on disk is refused in words."
    try: saved = torch.load(fname, map_location='cpu', weights_only=True)
    except Exception as e:  # garbled bytes trip torch's unpickler anywhere (IndexError, struct.error, ...): the file's
        raise _corrupt(fname, f'not weights saved by superres: {_line(e)}') from e  # fault, not ours
    if not isinstance(saved, dict) or not {'config', 'state_dict'} <= saved.keys():
        raise _corrupt(fname, 'it holds no config and state_dict')
    parent = saved.get('parent_state_dict')
    if not all(isinstance(s, dict) and all(isinstance(v, torch.Tensor) for v in s.values())
               for s in (saved['state_dict'], parent or {})):
        raise _corrupt(fname, 'its state_dict holds something other than tensors')
    if 'sha256' in saved and _file_digest(saved['state_dict'], parent) != saved['sha256']:
        raise _corrupt(fname, 'its weights do not match their checksum: the file changed after it was saved')
    try:  # built with fresh weights the file's replace: drawn from a forked RNG, so loading leaves a seeded run alone
        with torch.random.fork_rng(devices=[]): model = _sized(check_config(saved['config']), saved['state_dict'])
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:  # UsageError is a ValueError
        why = _line(e) if isinstance(e, UsageError) else repr(e)[:200]
        raise _corrupt(fname, f'its config describes no model this superres builds: {why}') from e
    try: model.load_state_dict(saved['state_dict'])
    except RuntimeError as e:
        raise _corrupt(fname, f'its weights do not fit the architecture its config names: {_line(e, 1)}') from e
    if parent is not None: set_parent_weights(model, _cast(parent, torch.float32))
    return model.eval()

def blend_with_parent(model, strength):
    "ESRGAN's network interpolation, in place: `strength` 1 keeps a GAN model's weights, 0 gives its PSNR parent's."
    parent = getattr(model, 'parent_weights', None)
    if parent is None:
        raise UsageError('`strength` blends a GAN-trained model with the PSNR model it started from, and this model '
                         'holds none: use it without `strength`, or with `model` real, which holds both')
    if not 0 <= strength <= 1: raise UsageError(f'`strength` must be between 0 and 1, not {strength:g}')
    own = model.state_dict()
    model.load_state_dict({k: torch.lerp(parent[k].to(v), v, strength) if v.is_floating_point() else v
                           for k, v in own.items()})
    return model

def resolve_model(path):
    "The model file for `path`: the file itself, or the weights a training run wrote into its folder."
    path = Path(path).expanduser()
    if path.is_dir():
        for name in MODEL_FILES:
            if (path/name).is_file(): return path/name
        raise ModelError(f'{path} holds no model ({" or ".join(MODEL_FILES)}); pass the `out` folder of a training '
                         'run or a model file.')
    if not path.is_file():
        raise ModelError(f'model {path} does not exist; pass the `out` folder of a training run or a model file.')
    return path

def shipped_scales(family='sr'):
    "The scales of the models of `family` (sr: the superres models; real) shipped in the package, smallest first."
    return sorted(int(p.stem.removeprefix(f'{family}_x')) for p in WEIGHTS.glob(f'{family}_x*.pth'))

def scale_for(scales, scale):
    "Of models of `scales`, the one for x`scale`: the smallest at least as large (output resized), else the largest."
    scales = sorted(scales)
    return next((s for s in scales if s >= scale - 1e-9), scales[-1])

def shipped_scale_for(scale=2, family='sr'):
    "The scale of the shipped model for x`scale`, by `scale_for`."
    scales = shipped_scales(family)
    if not scales:
        raise ModelError(f'this installation has no shipped {family} models in {WEIGHTS}; pass `model` (a run)')
    return scale_for(scales, scale)

def shipped_model_file(scale=2):
    "The x`scale` model shipped in the package: trained by superres's own recipe, stored without pickle."
    f = WEIGHTS/f'sr_x{scale}.pth'
    if not f.is_file():
        shipped = ', '.join(f'x{s}' for s in shipped_scales()) or 'none'
        raise ModelError(f'superres ships no x{scale} model (shipped: {shipped}); pass `model` (a run folder)')
    return f

def is_default(path):
    "Whether `path` asks for a shipped model: None, or `default` where no such file or folder exists."
    return path is None or (str(path) == 'default' and not Path(path).exists())

def shipped_named(path, scale=None):
    """The shipped file that `path` names (`real`, where no such file or folder exists) for x`scale` (default: the
    family's own), else None."""
    if str(path) not in SHIPPED_NAMED or Path(path).exists(): return None
    return WEIGHTS/f'{path}_x{shipped_scale_for(scale or SHIPPED_NAMED[str(path)], str(path))}.pth'

def load_any(path, trust_pickle=False):
    "A superres model in eval mode: weights without pickle, ONNX (onnxruntime), or a pickled learner if `trust_pickle`."
    path = resolve_model(path)
    if path.suffix == '.onnx':
        from .export import load_onnx
        return load_onnx(path)
    if path.suffix == '.pkl':
        if not trust_pickle:
            raise UsageError(f'{path} is a pickled learner: loading it runs any code it holds. Load the model.pth '
                             'beside it (weights only), or pass `trust_pickle` if you made this file yourself')
        from fastai.learner import load_learner  # a pickled learner needs fastai's training side, by its nature
        return _carded(load_learner(path).model.eval())
    return load_model(path)

def _carded(model):
    "A pickled learner's model with its card: one pickled before models had cards gets it from its saved config."
    if hasattr(model, 'card'): return model
    return attach_card(model, ModelCard.from_config(model.config, parent=hasattr(model, 'parent_weights')))

KIND_NAMES = dict(classifier='a classifier', restorer='a restoration model', segmenter='a segmentation model',
                  critic='a GAN critic')

def _what(model):
    "What `model` is, in words, for the message refusing it where another kind was asked for."
    kind = model.card.kind
    return KIND_NAMES.get(kind, f'a model of kind {kind!r:.40}')

def load_classifier(path=None, trust_pickle=False):
    "A classifier in eval mode from a run folder, weights file or exported learner; None or `default`: the shipped one."
    if is_default(path):
        if not SHIPPED_CLASSIFIER.is_file():
            raise ModelError(f'this installation has no shipped classifier ({SHIPPED_CLASSIFIER}); pass `classifier` '
                             '(a run folder of `superres classify train`)')
        path = SHIPPED_CLASSIFIER
    model = load_any(path, trust_pickle)
    if model.card.kind != 'classifier':
        raise ModelError(f'{path} is {_what(model)}, not a classifier; pass the `out` folder of a '
                         'classifier run (`superres classify train`).')
    return model

def load_segmenter(path,  # a run folder of `superres segment train`, model.pth, ONNX or export.pkl
                   trust_pickle=False,  # also load pickled learners (export.pkl), which run code: only files you trust
                   device='cpu'):  # where it runs
    "A segmentation model in eval mode on `device` from a run folder of `superres segment train` or its model file."
    model = load_any(path, trust_pickle)
    if model.card.kind != 'segmenter':
        raise ModelError(f'{path} is {_what(model)}, not a segmentation model; pass the `out` folder of '
                         '`superres segment train`.')
    return model.to(device)

def load_restorer(path=None,  # a run folder, model.pth, ONNX or export.pkl; None or `default`: the shipped x2 or x4
                  trust_pickle=False,  # also load pickled learners (export.pkl), which run code: only files you trust
                  device=None,  # where it runs (None: this process's GPU if any, else the CPU)
                  scale=None,  # the shipped superres model for this factor (`default`, `real`)
                  strength=None,  # a GAN model blended with its PSNR parent: 1 all GAN texture, 0 the PSNR model
                  folded=True):  # re-parameterised convs as the plain convs they compute; off to fine-tune them
    "A restoration model in eval mode on `device` (default: this process's GPU if any); None, `default`, `real`: ours."
    if is_default(path): path = shipped_model_file(shipped_scale_for(scale or 2))
    path = shipped_named(path, scale) or path
    model = load_any(path, trust_pickle)
    if model.card.kind != 'restorer':
        raise ModelError(f'{path} is {_what(model)}, not a restoration model; pass the `out` folder of '
                         '`superres train`.')
    if strength is None and model.card.parent: strength = model.card.strength  # its own
    if strength is not None: blend_with_parent(model, strength)
    if not isinstance(model, torch.nn.Module): return model  # ONNX Runtime, on the CPU
    if folded: fold(model)
    device = device or local_device()
    return model.to(device, memory_format=torch.channels_last)  # channels-last: faster on CPUs
