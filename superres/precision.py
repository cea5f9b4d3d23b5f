"""Numeric precision: one parse of `auto|fp32|bf16|fp16` and one meaning of `auto`, for training and inference alike."""
from contextlib import contextmanager

import torch

from .errors import UsageError

__all__ = ['PRECISIONS', 'cpu_supports_bf16', 'resolve_precision', 'inference_precision']

PRECISIONS = ('auto', 'fp32', 'bf16', 'fp16')

def cpu_supports_bf16():
    "Whether this CPU has native bf16 matmuls (AVX512-BF16 or AMX), where bf16 autocast beats fp32."
    return any(getattr(torch.cpu, f, lambda: False)() for f in ('_is_avx512_bf16_supported', '_is_amx_tile_supported'))

def _device_type(device):
    if device is None: return 'cuda' if torch.cuda.is_available() else 'cpu'
    return torch.device(device).type

def resolve_precision(precision='auto', device=None):
    "`fp32`, `bf16` or `fp16` for `device`; `auto`: bf16 where native (CPUs with it, Ampere+ GPUs), fp16 on older GPUs."
    if precision not in PRECISIONS: raise UsageError(f'precision must be one of {", ".join(PRECISIONS)}, '
                                                     f'not {precision!r}')
    cuda = _device_type(device) == 'cuda'
    if precision == 'auto':
        if cuda: return 'bf16' if torch.cuda.is_bf16_supported() else 'fp16'
        return 'bf16' if cpu_supports_bf16() else 'fp32'
    if precision == 'fp16' and not cuda: raise UsageError('fp16 needs a CUDA GPU; use bf16 on a CPU')
    return precision

@contextmanager
def inference_precision(precision='auto', device=None):
    "Run what is inside in `precision` (resolved for `device`): torch's autocast for bf16/fp16, nothing for fp32."
    precision, device_type = resolve_precision(precision, device), _device_type(device)
    dtype = torch.bfloat16 if precision == 'bf16' else torch.float16
    with torch.autocast(device_type, dtype=dtype, enabled=precision != 'fp32'): yield  # fp32: off, even inside one
