"""Device resolution, autocast dtype, float16 loss scaling, compile policy and peak FLOP/s."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from tinyx.config import HardwareConfig
from tinyx.errors import ConfigError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# Dense peak FLOP/s by device name fragment, (float32, bfloat16/float16). float32 means TF32 tensor cores
# where the GPU has them (setup() allows TF32 matmuls). Datasheets print the with-sparsity figure first
# (2:4 structured sparsity, which training never uses): these are the dense ones, half of it.
# The first fragment found in torch.cuda.get_device_name() wins, so the longer names come first.
_CUDA_PEAKS = [
    ("H200 NVL", 417.5e12, 835.5e12),  # NVIDIA H200 datasheet (NVL: TF32 835, BF16 1,671 with sparsity)
    ("H200", 494.7e12, 989.4e12),  # NVIDIA H200 datasheet (SXM: TF32 989, BF16 1,979 with sparsity); also GH200
    ("H100 NVL", 417.5e12, 835.5e12),  # NVIDIA H100 datasheet (NVL: TF32 835, BF16 1,671 with sparsity)
    ("H100 PCIe", 378e12, 756e12),  # NVIDIA H100 Tensor Core GPU Architecture whitepaper, PCIe
    ("H100", 494.7e12, 989.4e12),  # NVIDIA H100 Tensor Core GPU Architecture whitepaper, SXM5
    ("A100", 156e12, 312e12),  # NVIDIA A100 datasheet (SXM4 and PCIe alike)
    ("L40S", 183e12, 362e12),  # NVIDIA L40S datasheet
    ("L40", 90.5e12, 181e12),  # NVIDIA L40 datasheet
    ("A10", 62.5e12, 125e12),  # NVIDIA A10 datasheet (TF32 62.5; plain FP32 is 31.2)
    ("4090", 82.6e12, 165.2e12),  # NVIDIA Ada GPU architecture whitepaper, RTX 4090 (BF16 with FP32 accumulate)
    ("3090", 35.6e12, 71e12),  # NVIDIA Ampere GA102 GPU architecture whitepaper, RTX 3090 (FP32 accumulate)
    ("V100", 15.7e12, 125e12),  # NVIDIA V100 datasheet, SXM2 (no TF32: plain FP32; FP16 tensor cores, no BF16)
    ("T4", 8.1e12, 65e12),  # NVIDIA T4 datasheet (no TF32: plain FP32; FP16 mixed precision)
]
# Measured on the team's 2-core CPU machines: ~200 GFLOP/s float32.
CPU_PEAK_FLOPS = 200e9
_DEFAULT_THREADS = torch.get_num_threads()


@dataclass
class Hardware:
    device: torch.device
    dtype: torch.dtype  # the autocast dtype; float32 means no autocast
    compile: bool
    peak_flops: float | None

    def autocast(self):
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A real scaler for float16 (its range needs it); a disabled pass-through otherwise."""
        return torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"hardware.device={name} but no CUDA GPU is visible: use hardware=auto or hardware=cpu.")
    if name == "mps" and not _mps_available():
        raise ConfigError("hardware.device=mps but this machine has no MPS (Apple silicon) device: "
                          "use hardware=auto or hardware=cpu.")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        # bfloat16 matmuls are ~4x slower than float32 on common CPUs, so CPU stays float32.
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    dtype = DTYPES[name]
    if dtype == torch.float16 and device.type == "cpu":
        raise ConfigError("hardware.dtype=float16 is not supported for training on CPU: use float32 or bfloat16.")
    return dtype


def resolve_compile(value: str | bool, device: torch.device) -> bool:
    """hardware.compile: auto compiles on CUDA only (on CPU it measured ~1.08x faster steps for ~30 s of
    compile time on 2 cores, a net loss for runs of minutes; MPS support is partial)."""
    value = str(value).lower()
    return device.type == "cuda" if value == "auto" else value == "true"


def peak_flops(device: torch.device, dtype: torch.dtype) -> float | None:
    if device.type == "cpu":
        return CPU_PEAK_FLOPS
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for fragment, fp32, half in _CUDA_PEAKS:
            if fragment in name:
                return fp32 if dtype == torch.float32 else half
    return None  # unknown device: set hardware.peak_flops to get an MFU figure


def setup(cfg: HardwareConfig, local_rank: int = 0, world_size: int = 1) -> Hardware:
    """The device to train on; under torchrun with CUDA, GPU `local_rank` of this node."""
    device = resolve_device(cfg.device)
    if device.type == "cuda" and world_size > 1:
        if device.index is not None:
            raise ConfigError(f"hardware.device={cfg.device} under torchrun: use hardware.device=cuda, and each "
                              f"process takes the GPU of its LOCAL_RANK (set CUDA_VISIBLE_DEVICES to choose GPUs).")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dtype = resolve_dtype(cfg.dtype, device)
    # 0 means torch's own default, restored even after an earlier run in this process (a sweep trial) set another.
    torch.set_num_threads(cfg.threads or _DEFAULT_THREADS)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return Hardware(device=device, dtype=dtype, compile=resolve_compile(cfg.compile, device),
                    peak_flops=cfg.peak_flops or peak_flops(device, dtype))
