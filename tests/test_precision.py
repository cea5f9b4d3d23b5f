"""Numeric precision: one meaning of `auto` for training and inference, by device."""
from pathlib import Path

import pytest
import torch

from superres import precision
from superres.precision import cpu_supports_bf16, inference_precision, resolve_precision


@pytest.mark.parametrize('cuda,gpu_bf16,cpu_bf16,want', [(True, True, False, 'bf16'), (True, False, True, 'fp16'),
                                                       (False, True, True, 'bf16'), (False, False, False, 'fp32')])
def test_auto_precision_by_device(monkeypatch, cuda, gpu_bf16, cpu_bf16, want):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: gpu_bf16)
    monkeypatch.setattr(precision, 'cpu_supports_bf16', lambda: cpu_bf16)
    assert resolve_precision('auto') == want

@pytest.mark.skipif(not Path('/proc/cpuinfo').exists(), reason='reads the CPU flags Linux reports')
def test_cpu_bf16_is_what_the_cpu_flags_say():
    flags = set(Path('/proc/cpuinfo').read_text().split())
    assert cpu_supports_bf16() == bool({'avx512_bf16', 'amx_bf16', 'amx_tile'} & flags)

def test_fp32_turns_an_outer_autocast_off():
    w = torch.randn(8, 8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert (w @ w).dtype == torch.bfloat16
        with inference_precision('fp32'): assert (w @ w).dtype == torch.float32
        with inference_precision('bf16'): assert (w @ w).dtype == torch.bfloat16
