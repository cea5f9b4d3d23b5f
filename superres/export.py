"""ONNX export of superres models, with any height and width, and running them back through ONNX Runtime."""
import copy
import json
from pathlib import Path

import numpy as np
import torch

from .errors import UsageError
from .files import atomic_path

__all__ = ['export_onnx', 'OnnxModel', 'load_onnx']

def export_onnx(model, dest, example_size=64):
    "Write `model` as ONNX (dynamic batch, height, width; its config in the metadata) atomically; returns the path."
    import onnx
    from torch.export import Dim
    # channels-last weights pin the batch size
    model = copy.deepcopy(model).eval().float().to(memory_format=torch.contiguous_format)
    x = torch.rand(1, 3, example_size, example_size)
    dims = {0: Dim('batch', min=1, max=1024), 2: Dim('height', min=8, max=16384), 3: Dim('width', min=8, max=16384)}
    with torch.no_grad():
        program = torch.onnx.export(model, (x,), dynamo=True, input_names=['image'], output_names=['output'],
                                    dynamic_shapes=(dims,), verbose=False)
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {'superres_config': json.dumps(getattr(model, 'config', {}))})
    dest = Path(dest)
    with atomic_path(dest) as tmp: onnx.save(proto, str(tmp))
    return dest

class OnnxModel:
    "An exported model run by ONNX Runtime, called like the PyTorch model on [0,1] NCHW tensors (tiling works as is)."
    def __init__(self, path, threads=None):
        import onnxruntime as ort
        opts = ort.SessionOptions()
        if threads: opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), opts, providers=['CPUExecutionProvider'])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.config = json.loads(meta.get('superres_config', '{}'))
    def eval(self): return self
    def __call__(self, x):
        out = self.session.run(None, {'image': x.detach().float().contiguous().numpy()})[0]
        return torch.from_numpy(np.ascontiguousarray(out))

def load_onnx(path, threads=None):
    "An exported `.onnx` model; needs onnxruntime."
    try: return OnnxModel(path, threads)
    except ImportError: raise UsageError('running .onnx models needs onnxruntime: pip install onnxruntime') from None
