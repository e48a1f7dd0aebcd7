"""Device resolution, autocast dtype, float16 loss scaling, compile policy and peak FLOP/s."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import torch

from tinyx.common.errors import ConfigError
from tinyx.config import HardwareConfig

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# Dense peak FLOP/s by device name fragment, (float32, bfloat16/float16). float32 means TF32 tensor cores
# where the GPU has them (setup() allows TF32 matmuls). Datasheets print the with-sparsity figure first
# (2:4 structured sparsity, which training never uses): these are the dense ones, half of it.
# The first fragment found in torch.cuda.get_device_name() (not followed by a digit) wins, so the longer
# names come first.
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
    notes: list[str] = field(default_factory=list)  # one line each, said once the run's console exists

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


def _torch_version() -> tuple[int, int]:
    major, minor = torch.__version__.split(".")[:2]
    return int(major), int(minor)


def _mps_unavailable_reason() -> str | None:
    """Why a torch built with MPS cannot use it here; None where MPS works or this torch has none."""
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_built() or mps.is_available():
        return None
    if platform.machine() != "arm64":
        return (f"this Python runs as {platform.machine()}, not Apple silicon (an Intel Mac, or an x86_64 Python "
                f"under Rosetta): MPS needs an arm64 Python on an M-series Mac")
    version = platform.mac_ver()[0]
    if version and int(version.split(".")[0]) < 14:
        return f"macOS {version} is older than 14, which this torch ({torch.__version__}) needs for MPS"
    return f"torch.backends.mps.is_available() is false on macOS {version or 'unknown'}"


def _nvidia_gpu_present() -> bool:
    """An NVIDIA driver is installed (its tool or its kernel module), whether or not CUDA can use it."""
    return shutil.which("nvidia-smi") is not None or Path("/proc/driver/nvidia").exists()


def _cuda_unavailable_reason() -> str:
    """Why torch.cuda.is_available() is false, in the words a user can act on."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None and not os.environ["CUDA_VISIBLE_DEVICES"].strip(","):
        return "CUDA_VISIBLE_DEVICES is empty, which hides every GPU"
    if _nvidia_gpu_present():
        if torch.version.cuda is None:
            return f"an NVIDIA GPU is present but this torch ({torch.__version__}) is built without CUDA"
        # torch.cuda reports no device (not an error) when the driver is older than the wheel's CUDA.
        return (f"an NVIDIA GPU is present but CUDA cannot use it: this torch is built for CUDA {torch.version.cuda}, "
                f"which needs a driver whose nvidia-smi shows 'CUDA Version' >= {torch.version.cuda} (update the "
                f"driver, or install a torch built for an older CUDA)")
    return "no CUDA GPU is visible"


def resolve_device(name: str, notes: list[str] | None = None) -> torch.device:
    """hardware.device; under auto, a GPU that is there but unusable is named in `notes` (one line)."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        if notes is not None:
            if _nvidia_gpu_present():
                notes.append(f"warning: training on CPU: {_cuda_unavailable_reason()}.")
            elif (why := _mps_unavailable_reason()) is not None:
                notes.append(f"warning: training on CPU, not MPS: {why}.")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"hardware.device={name} but {_cuda_unavailable_reason()}: "
                          f"use hardware=auto or hardware=cpu.")
    if name == "mps" and not _mps_available():
        why = _mps_unavailable_reason() or "this machine has no MPS (Apple silicon) device"
        raise ConfigError(f"hardware.device=mps but {why}: use hardware=auto or hardware=cpu.")
    return torch.device(name)


# MPS's half-precision causal attention lets positions see later tokens from torch 2.10 on
# (pytorch#195910; closed, but no release is known to carry the fix): set the release that does.
_MPS_HALF_ATTENTION_BROKEN_SINCE = (2, 10)
_MPS_HALF_ATTENTION_FIXED_IN: tuple[int, int] | None = None


def _mps_half_attention_broken() -> bool:
    version = _torch_version()
    fixed = _MPS_HALF_ATTENTION_FIXED_IN
    return version >= _MPS_HALF_ATTENTION_BROKEN_SINCE and (fixed is None or version < fixed)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        # bfloat16 matmuls are ~4x slower than float32 on common CPUs, so CPU stays float32; MPS stays float32
        # too, since half-precision attention there is wrong on the torch versions tinyx runs (see above).
        if device.type != "cuda":
            return torch.float32
        # Pre-Ampere GPUs (T4, V100) report bfloat16 through emulation, far slower than their float16
        # tensor cores: there float16, with the GradScaler its range needs (Hardware.grad_scaler).
        return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16
    dtype = DTYPES[name]
    if dtype == torch.float16 and device.type == "cpu":
        raise ConfigError("hardware.dtype=float16 is not supported for training on CPU: use float32 or bfloat16.")
    if dtype != torch.float32 and device.type == "mps" and _mps_half_attention_broken():
        raise ConfigError(f"hardware.dtype={name} on MPS with torch {torch.__version__}: its half-precision causal "
                          f"attention attends to future tokens (pytorch#195910), so losses would be wrong. "
                          f"Use hardware.dtype=float32 (or auto).")
    return dtype


def compile_blocker() -> str | None:
    """Why torch.compile's CUDA backend (Triton) would fail at the first step here; None if nothing is seen.

    Triton builds a small C module at first use: it needs a C compiler and the Python headers, and it
    has no Windows support.
    """
    if sys.platform == "win32":
        return "Triton (torch.compile's CUDA backend) does not run on Windows"
    # Triton's own search (triton/runtime/build.py): $CC, else gcc, else clang; a plain `cc` is not tried.
    cc = os.environ.get("CC")
    if not (shutil.which(cc) if cc else shutil.which("gcc") or shutil.which("clang")):
        return (f"no C compiler ({'CC=' + cc if cc else 'gcc or clang'}) is on PATH, which Triton needs "
                f"(install gcc, e.g. build-essential)")
    include = sysconfig.get_paths().get("include")
    if not include or not (Path(include) / "Python.h").exists():
        return (f"the Python headers (Python.h in {include}) are missing, which Triton needs "
                f"(install python3-dev, or a Python that ships them such as uv's)")
    return None


def resolve_compile(value: str | bool, device: torch.device, notes: list[str] | None = None) -> bool:
    """hardware.compile: auto compiles on CUDA only (on CPU it measured ~1.08x faster steps for ~30 s of
    compile time on 2 cores, a net loss for runs of minutes; MPS support is partial), and not where
    Triton cannot build its kernels: that would crash at step 1, so auto runs eagerly and says why."""
    value = str(value).lower()
    if value != "auto":
        return value == "true"
    if device.type != "cuda":
        return False
    why = compile_blocker()
    if why is not None and notes is not None:
        notes.append(f"warning: hardware.compile=auto runs without torch.compile: {why}.")
    return why is None


def peak_flops(device: torch.device, dtype: torch.dtype) -> float | None:
    if device.type == "cpu":
        return CPU_PEAK_FLOPS
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for fragment, fp32, half in _CUDA_PEAKS:
            # Not followed by a digit: "A100" is not in "RTX A1000", nor "A10" in "A100".
            if re.search(re.escape(fragment) + r"(?!\d)", name):
                return fp32 if dtype == torch.float32 else half
    return None  # unknown device: set hardware.peak_flops to get an MFU figure


def setup(cfg: HardwareConfig, local_rank: int = 0, world_size: int = 1) -> Hardware:
    """The device to train on; under torchrun with CUDA, GPU `local_rank` of this node."""
    notes: list[str] = []
    device = resolve_device(cfg.device, notes)
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
    return Hardware(device=device, dtype=dtype, compile=resolve_compile(cfg.compile, device, notes),
                    peak_flops=cfg.peak_flops or peak_flops(device, dtype), notes=notes)
