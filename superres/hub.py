"""Model files: saving and loading weights without pickle, resolving run folders, the weights shipped in the package."""
import pickle
from pathlib import Path

import torch

from .errors import ModelError, UsageError
from .files import atomic_path
from .models import model_from_config, model_kind

__all__ = ['MODEL_FILES', 'WEIGHTS', 'save_model', 'load_model', 'resolve_model', 'bundled_model_file', 'load_any',
           'load_classifier', 'load_restorer']

MODEL_FILES = ('model.pth', 'model.onnx', 'export.pkl')  # weights first: a folder's pickle is the last resort
WEIGHTS = Path(__file__).parent/'weights'

def save_model(model, fname):
    "Weights plus config in one file that `torch.load(weights_only=True)` can read: no pickle, no code."
    with atomic_path(fname) as tmp: torch.save({'config': model.config, 'state_dict': model.state_dict()}, tmp)
    return Path(fname)

def load_model(fname):
    "Rebuild a model saved by `save_model`, in eval mode."
    try: saved = torch.load(fname, map_location='cpu', weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as e:
        raise ModelError(f'{fname} is not a superres model file (weights saved by superres, loaded without pickle): '
                         f'{str(e).splitlines()[0][:200]}') from e
    if not isinstance(saved, dict) or not {'config', 'state_dict'} <= saved.keys():
        raise ModelError(f'{fname} is not a superres model file: it holds no config and state_dict')
    model = model_from_config(saved['config'])
    model.load_state_dict(saved['state_dict'])
    return model.eval()

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

def bundled_model_file(scale=2):
    "The x`scale` model shipped in the package: trained by superres's own recipe, stored without pickle."
    f = WEIGHTS/f'sr_x{scale}.pth'
    if not f.is_file():
        shipped = ', '.join(p.stem for p in sorted(WEIGHTS.glob('sr_x*.pth'))) or 'none'
        raise ModelError(f'superres ships no x{scale} model (shipped: {shipped}); pass `model` (a run folder)')
    return f

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
        return load_learner(path).model.eval()
    return load_model(path)

def _kind(model): return model_kind(getattr(model, 'config', {}))

def load_classifier(path, trust_pickle=False):
    "A classifier in eval mode from a run folder, a weights file (`model.pth`) or an exported learner (`.pkl`)."
    model = load_any(path, trust_pickle)
    if _kind(model) != 'classifier':
        raise ModelError(f'{path} is a restoration model, not a classifier; pass the `out` folder of a classifier run '
                         '(`superres classify train`).')
    return model

def load_restorer(path=None, trust_pickle=False, device=None):
    "A restoration model in eval mode on `device` (default: the GPU if any); None or 'default': the shipped x2 model."
    if path is None or (str(path) == 'default' and not Path(path).exists()): path = bundled_model_file(2)
    model = load_any(path, trust_pickle)
    if _kind(model) != 'restorer':
        raise ModelError(f'{path} is a classifier, not a restoration model; pass the `out` folder of `superres train`.')
    if not isinstance(model, torch.nn.Module): return model  # ONNX Runtime, on the CPU
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')  # fastai's default device, without fastai
    return model.to(device, memory_format=torch.channels_last)  # channels-last: faster on CPUs
