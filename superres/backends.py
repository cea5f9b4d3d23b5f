"""What runs a restoration model: PyTorch, or OpenVINO, which compiles our ONNX export for the CPU (1.45x there)."""
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import tempfile
import threading
from functools import cache

import torch

from . import __version__
from .card import attach_card
from .errors import ModelError, UsageError
from .export import OnnxModel, onnx_proto
from .files import PARTIAL, cache_dir
from .hub import weights_digest
from .precision import resolve_precision
from .tiling import model_device

__all__ = ['BACKENDS', 'openvino_installed', 'resolve_backend', 'OpenVinoModel', 'openvino_model', 'with_backend']

BACKENDS = ('auto', 'torch', 'openvino')
OPENVINO_EXTRA = ('openvino', 'onnx', 'onnxscript')  # `superres[openvino]`: OpenVINO reads our ONNX export

def openvino_installed():
    "Whether the `superres[openvino]` extra is installed: OpenVINO and the ONNX exporter it reads our models from."
    return all(importlib.util.find_spec(m) is not None for m in OPENVINO_EXTRA)

def resolve_backend(backend='auto', device='cpu'):
    "`torch` or `openvino` for a model on `device`; `auto`: OpenVINO on a CPU where the extra is installed, else torch."
    if backend not in BACKENDS: raise UsageError(f'backend must be one of {", ".join(BACKENDS)}, not {backend!r}')
    if backend == 'openvino' and not openvino_installed():
        raise UsageError('`backend` openvino needs OpenVINO: pip install "superres[openvino]"')
    if backend == 'auto': return 'openvino' if torch.device(device).type == 'cpu' and openvino_installed() else 'torch'
    return backend

@cache
def _core():
    """The process's one OpenVINO Core: a second Core in a process crashes it after some model loads (segfaults seen in
    this test suite and in ultralytics#25864), and one Core shares its CPU plugin and thread pools across models."""
    import openvino as ov
    return ov.Core()

class OpenVinoModel(torch.nn.Module):
    """A model compiled by OpenVINO for this CPU, called like the PyTorch model on [0,1] NCHW tensors; it runs in the
    precision torch's CPU autocast is set to around the call (`inference_precision`), as the PyTorch model would."""
    def __init__(self, converted, card, digest, precision='auto'):
        super().__init__()
        self.converted, self.compiled, self.lock = converted, {}, threading.Lock()
        attach_card(self, card)  # the card of the model it was converted from
        # its state: the SHA-256 it was compiled from, so a run's fingerprint (superres.folders) tells weights apart
        self.register_buffer('digest', torch.frombuffer(bytearray(bytes.fromhex(digest)), dtype=torch.uint8))
        self.compiled_for(resolve_precision(precision, 'cpu'))  # now: a network OpenVINO cannot compile fails here
    def compiled_for(self, precision):
        "The model compiled for `precision` (fp32 or bf16) with torch's thread count, on first use."
        with self.lock:  # the app runs requests in threads
            if precision not in self.compiled:
                self.compiled[precision] = _core().compile_model(self.converted, 'CPU', {
                    'INFERENCE_PRECISION_HINT': {'fp32': 'f32', 'bf16': 'bf16'}[precision],
                    'INFERENCE_NUM_THREADS': torch.get_num_threads()})
            return self.compiled[precision]
    def forward(self, x):
        bf16 = torch.is_autocast_enabled('cpu') and torch.get_autocast_dtype('cpu') == torch.bfloat16
        request = self.compiled_for('bf16' if bf16 else 'fp32').create_infer_request()  # one a call: threads again
        try: out = request.infer({0: x.detach().float().contiguous().numpy()})[0]
        except RuntimeError as e:  # OpenVINO failing on this input (a shape the graph refuses): this image's failure
            raise ModelError(f'OpenVINO could not run this model on a {"x".join(map(str, x.shape))} input: '
                             f'{_first_line(e)}') from e
        return torch.from_numpy(out)

def _cache_key(model):
    "SHA-256 of what the conversion depends on: the model's config and weights, and the versions that convert them."
    import openvino as ov
    what = [model.card.config, weights_digest(model.state_dict()), __version__, torch.__version__, ov.__version__]
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()

def _save(converted, folder):
    "Keep a converted model in `folder`: written in a temporary folder beside it and renamed, so it is whole or absent."
    import openvino as ov
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{folder.name}{PARTIAL}', dir=folder.parent)
    try:
        ov.save_model(converted, os.path.join(tmp, 'model.xml'), compress_to_fp16=False)
        os.replace(tmp, folder)  # refused where another process saved it first: theirs is the same model
    finally: shutil.rmtree(tmp, ignore_errors=True)

def openvino_model(model, precision='auto'):
    """`model` (PyTorch, or an ONNX file already loaded) compiled by OpenVINO for `precision`; a PyTorch model is
    exported and converted once, kept in `$SUPERRES_CACHE/openvino` by its SHA-256 (in memory where it is read-only)."""
    import openvino as ov
    if isinstance(model, OnnxModel):
        onnx = model.proto.SerializeToString()
        return OpenVinoModel(ov.convert_model(io.BytesIO(onnx)), model.card, hashlib.sha256(onnx).hexdigest(),
                             precision)
    key = _cache_key(model)
    folder = cache_dir()/'openvino'/key
    if (folder/'model.xml').is_file():
        return OpenVinoModel(_core().read_model(folder/'model.xml'), model.card, key, precision)
    converted = ov.convert_model(io.BytesIO(onnx_proto(model).SerializeToString()))
    try: _save(converted, folder)
    except OSError: pass  # a cache folder that cannot be written (or was written meanwhile): this run converted it
    return OpenVinoModel(converted, model.card, key, precision)

def _first_line(e):
    "An exception in one line of plain text (the exporter colours its messages)."
    return re.sub(r'\x1b\[[0-9;]*m', '', f'{type(e).__name__}: {str(e).strip()}'.splitlines()[0])[:200]

def with_backend(model,  # a loaded restoration model (PyTorch, or ONNX Runtime for an ONNX file)
                 backend='auto',  # `torch` or `openvino`; `auto`: OpenVINO on a CPU where installed
                 precision='auto'):  # OpenVINO's, on the CPU: `fp32` or `bf16`; `auto`: bf16 where native
    """`model` as `backend` runs it (auto: OpenVINO on a CPU where installed; compiled for `precision` now, others on
    first use), and notes for the user: one where OpenVINO could not take the model, which then runs as it was loaded
    (PyTorch, or ONNX Runtime for an ONNX file)."""
    if resolve_backend(backend, model_device(model)) == 'torch': return model, []
    resolve_precision(precision, 'cpu')  # a precision the CPU cannot run is the user's to fix, not a conversion failure
    try: return openvino_model(model, precision), []
    except Exception as e:  # whatever the exporter or OpenVINO raise on a network they cannot take: never an error
        engine = 'ONNX Runtime' if isinstance(model, OnnxModel) else 'PyTorch'
        return model, [f'OpenVINO could not convert this model, so {engine} runs it ({_first_line(e)})']
