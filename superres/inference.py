"""Loading trained models and running them on users' own images."""
import pickle
from pathlib import Path

import torch
from PIL import Image, ImageOps

from .learner import load_model

__all__ = ['resolve_model', 'load_classifier', 'prepare_image', 'predict_topk']

MODEL_FILES = ('model.pth', 'export.pkl')

def resolve_model(path):
    "The model file for `path`: the file itself, or the weights a training run wrote into its folder."
    path = Path(path).expanduser()
    if path.is_dir():
        for name in MODEL_FILES:
            if (path/name).is_file(): return path/name
        raise FileNotFoundError(f'{path} holds no model ({" or ".join(MODEL_FILES)}); pass the --out folder of a training run or a model file.')
    if not path.is_file(): raise FileNotFoundError(f'model {path} does not exist; pass the --out folder of a training run or a model file.')
    return path

def load_classifier(path):
    "A classifier in eval mode from a run folder, a weights file (`model.pth`) or an exported learner (`.pkl`)."
    path = resolve_model(path)
    if path.suffix == '.pkl':
        from fastai.learner import load_learner
        return load_learner(path).model.eval()
    try: return load_model(path)
    except (RuntimeError, KeyError, EOFError, pickle.UnpicklingError) as e:
        raise ValueError(f'{path} is not a superres model file (weights saved by superres, loaded without pickle): '
                         f'{str(e).splitlines()[0][:200]}') from e

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
