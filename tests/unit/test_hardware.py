"""The peak FLOP/s table behind the MFU figure: dense (no-sparsity) datasheet figures."""

import pytest
import torch

from tinyx import hardware


@pytest.mark.parametrize("name, dtype, peak", [
    ("NVIDIA H100 80GB HBM3", torch.float32, 494.7e12),  # SXM5: TF32 dense, not the 989 with sparsity
    ("NVIDIA H100 80GB HBM3", torch.bfloat16, 989.4e12),
    ("NVIDIA H200", torch.float32, 494.7e12),  # the H100 SXM's compute
    ("NVIDIA H100 PCIe", torch.float32, 378e12),  # not the SXM's figures
    ("NVIDIA H100 PCIe", torch.bfloat16, 756e12),
    ("NVIDIA A100-SXM4-80GB", torch.float32, 156e12),
    ("NVIDIA A100-SXM4-80GB", torch.bfloat16, 312e12),
    ("NVIDIA L40S", torch.bfloat16, 362e12),  # not the L40's row
    ("NVIDIA A10", torch.float32, 62.5e12),  # TF32 (tinyx turns it on), not the plain FP32 31.2
])
def test_cuda_peaks_are_the_dense_datasheet_figures(name, dtype, peak, monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    assert hardware.peak_flops(torch.device("cuda"), dtype) == peak


def test_an_unknown_gpu_has_no_peak(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Some Future GPU")
    assert hardware.peak_flops(torch.device("cuda"), torch.bfloat16) is None
