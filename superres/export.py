"""ONNX export of superres models, with any height and width, and running them back through ONNX Runtime."""
import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from .card import ModelCard, attach_card
from .errors import ModelError, UsageError
from .files import atomic_path
from .models import check_config

__all__ = ['onnx_proto', 'export_onnx', 'OnnxModel', 'load_onnx']

def onnx_proto(model, example_size=64):
    "`model` as an ONNX ModelProto: dynamic batch, height and width; its saved config and a checksum in the metadata."
    import onnx
    from torch.export import Dim
    # channels-last weights pin the batch size; the example input is on the CPU, and so must the copy be
    model = copy.deepcopy(model).eval().float().cpu().to(memory_format=torch.contiguous_format)
    x = torch.rand(1, 3, example_size, example_size)
    dims = {0: Dim('batch', min=1, max=1024), 2: Dim('height', min=8, max=16384), 3: Dim('width', min=8, max=16384)}
    with torch.no_grad():
        program = torch.onnx.export(model, (x,), dynamo=True, input_names=['image'], output_names=['output'],
                                    dynamic_shapes=(dims,), verbose=False)
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {'superres_config': json.dumps(model.card.config),
                                        'superres_sha256': _graph_digest(proto)})
    return proto

def export_onnx(model,  # a superres model with its card
                dest,  # the .onnx file to write
                example_size=64):  # the side of the example input traced (the export takes any side from 8 to 16384)
    "Write `model` as ONNX (see `onnx_proto`) atomically; returns the path."
    import onnx
    dest = Path(dest)
    with atomic_path(dest) as tmp: onnx.save(onnx_proto(model, example_size), str(tmp))
    return dest

def _graph_digest(proto):
    "SHA-256 of the graph (weights included) as protobuf writes it: a file changed on disk no longer matches it."
    return hashlib.sha256(proto.graph.SerializeToString(deterministic=True)).hexdigest()

def _checked_proto(path):
    "The ONNX model in `path` and its card, refused in words where it is truncated, garbled or changed since export."
    import onnx
    from google.protobuf.message import DecodeError
    def refused(why): return ModelError(f'{path} is not a usable superres ONNX model ({why}): export it again '
                                        '(`superres export`), or pass another `model`')
    try: proto = onnx.load(str(path))
    except (DecodeError, ValueError, RuntimeError) as e: raise refused(f'unreadable: {str(e)[:120]}') from e
    meta = {p.key: p.value for p in proto.metadata_props}
    if 'superres_sha256' in meta and _graph_digest(proto) != meta['superres_sha256']:
        raise refused('its graph does not match its checksum: the file changed after it was exported')
    try: card = ModelCard.from_config(check_config(json.loads(meta.get('superres_config', '{}'))))
    except json.JSONDecodeError as e: raise refused(f'its config is not JSON: {e}') from e
    except UsageError as e: raise refused(str(e)) from e
    return proto, card, refused

class OnnxModel:
    "An exported model run by ONNX Runtime, called like the PyTorch model on [0,1] NCHW tensors (tiling works as is)."
    def __init__(self, path, threads=None):
        import onnxruntime as ort
        self.proto, card, refused = _checked_proto(path)  # the proto: what OpenVINO reads (superres.backends)
        attach_card(self, card)
        opts = ort.SessionOptions()
        opts.log_severity_level = 4  # ONNX Runtime's own error log: its failures are reported here, in one line
        if threads: opts.intra_op_num_threads = threads
        try: self.session = ort.InferenceSession(self.proto.SerializeToString(), opts,
                                                 providers=['CPUExecutionProvider'])
        except Exception as e:  # ONNX Runtime's own exception types, one per failure kind, none exported
            if not type(e).__module__.startswith('onnxruntime'): raise
            raise refused(str(e).splitlines()[0][:160]) from e
    def eval(self): return self
    def __call__(self, x):
        "The output for `x`; ONNX Runtime failing on it (a shape the graph refuses, memory) is a one-line ModelError."
        try: out = self.session.run(None, {'image': x.detach().float().contiguous().numpy()})[0]
        except Exception as e:  # ONNX Runtime's own exception types, as at load time
            if not type(e).__module__.startswith('onnxruntime'): raise
            raise ModelError(f'ONNX Runtime could not run this model on a {"x".join(map(str, x.shape))} input: '
                             f'{" ".join(str(e).split())[:200]}') from e
        return torch.from_numpy(np.ascontiguousarray(out))

def load_onnx(path, threads=None):
    "An exported `.onnx` model; needs onnx and onnxruntime."
    try: return OnnxModel(path, threads)
    except ImportError: raise UsageError('.onnx models need onnxruntime: pip install "superres[onnx]"') from None
