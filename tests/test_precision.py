"""Numeric precision: one meaning of `auto` for training and inference, by device."""
import pytest
import torch

from superres.precision import cpu_supports_bf16, inference_precision, resolve_precision


@pytest.mark.parametrize('cuda,gpu_bf16,want', [(True, True, 'bf16'), (True, False, 'fp16'), (False, False, None)])
def test_auto_precision_by_device(monkeypatch, cuda, gpu_bf16, want):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: gpu_bf16)
    assert resolve_precision('auto') == (want or ('bf16' if cpu_supports_bf16() else 'fp32'))

def test_fp32_turns_an_outer_autocast_off():
    w = torch.randn(8, 8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert (w @ w).dtype == torch.bfloat16
        with inference_precision('fp32'): assert (w @ w).dtype == torch.float32
        with inference_precision('bf16'): assert (w @ w).dtype == torch.bfloat16
