"""Device, dtype and compile resolution (GPUs and Macs faked on CPU), and the peak FLOP/s table behind MFU."""

import pytest
import torch

from tinyx.common.errors import ConfigError
from tinyx.config import HardwareConfig
from tinyx.runtime import hardware


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


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA RTX A1000 6GB Laptop GPU", None),  # not the A100's figures (nor the A10's)
    ("NVIDIA GH200 480GB", 989.4e12),  # the H200's compute
    ("NVIDIA A10", 125e12),
])
def test_a_fragment_matches_a_whole_model_number(name, peak, monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    assert hardware.peak_flops(torch.device("cuda"), torch.bfloat16) == peak


# --- a GPU or a Mac that torch cannot use: said, not trained on CPU in silence -------------------------


def _no_cuda(monkeypatch, driver: bool):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "_nvidia_gpu_present", lambda: driver)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def _mps(monkeypatch, built: bool, available: bool, machine: str = "arm64", macos: str = "13.6.1"):
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: built)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: available)
    monkeypatch.setattr(hardware.platform, "machine", lambda: machine)
    monkeypatch.setattr(hardware.platform, "mac_ver", lambda: (macos, ("", "", ""), machine))


def test_a_gpu_whose_driver_is_too_old_for_the_wheel_is_named(monkeypatch):
    _no_cuda(monkeypatch, driver=True)
    _mps(monkeypatch, built=False, available=False)
    monkeypatch.setattr(torch.version, "cuda", "13.2")
    with pytest.raises(ConfigError, match=r"built for CUDA 13\.2.*'CUDA Version' >= 13\.2"):
        hardware.resolve_device("cuda")
    notes = []
    assert hardware.resolve_device("auto", notes) == torch.device("cpu")
    assert len(notes) == 1 and "CUDA 13.2" in notes[0] and "driver" in notes[0]


def test_no_gpu_at_all_says_so_and_auto_is_silent(monkeypatch):
    _no_cuda(monkeypatch, driver=False)
    _mps(monkeypatch, built=False, available=False)
    with pytest.raises(ConfigError, match="no CUDA GPU is visible"):
        hardware.resolve_device("cuda")
    notes = []
    assert hardware.resolve_device("auto", notes) == torch.device("cpu") and notes == []


@pytest.mark.parametrize("machine, macos, reason", [
    ("arm64", "13.6.1", "macOS 13.6.1 is older than 14"),
    ("x86_64", "14.5", "not Apple silicon"),
])
def test_mps_built_but_unavailable_names_the_reason(machine, macos, reason, monkeypatch):
    _no_cuda(monkeypatch, driver=False)
    _mps(monkeypatch, built=True, available=False, machine=machine, macos=macos)
    notes = []
    assert hardware.resolve_device("auto", notes) == torch.device("cpu")
    assert len(notes) == 1 and reason in notes[0]
    with pytest.raises(ConfigError, match=f"hardware.device=mps but .*{reason}"):
        hardware.resolve_device("mps")


def test_setup_carries_the_note_for_the_run_to_say(monkeypatch):
    _no_cuda(monkeypatch, driver=False)
    _mps(monkeypatch, built=True, available=False)
    hw = hardware.setup(HardwareConfig(device="auto"))
    assert hw.device.type == "cpu" and len(hw.notes) == 1 and "macOS 13.6.1" in hw.notes[0]


# --- dtype -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("native_bf16, dtype", [(True, torch.bfloat16), (False, torch.float16)])
def test_auto_dtype_on_cuda_wants_native_bfloat16_else_float16(native_bf16, dtype, monkeypatch):
    # A T4 or V100 reports bfloat16 through emulation (including_emulation=True, torch's default).
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                        lambda including_emulation=True: including_emulation or native_bf16)
    assert hardware.resolve_dtype("auto", torch.device("cuda")) == dtype


def test_float16_gets_the_grad_scaler():
    hw = hardware.Hardware(torch.device("cpu"), torch.float16, compile=False, peak_flops=None)
    assert hw.grad_scaler().is_enabled()


@pytest.mark.parametrize("version, refused", [("2.9.1", False), ("2.10.0", True), ("2.15.0", True)])
def test_half_precision_on_mps_is_refused_where_its_attention_leaks(version, refused, monkeypatch):
    monkeypatch.setattr(torch, "__version__", version)
    mps = torch.device("mps")
    assert hardware.resolve_dtype("auto", mps) == torch.float32
    assert hardware.resolve_dtype("float32", mps) == torch.float32
    for name in ("bfloat16", "float16"):
        if refused:
            with pytest.raises(ConfigError, match=f"hardware.dtype={name} on MPS.*195910"):
                hardware.resolve_dtype(name, mps)
        else:
            assert hardware.resolve_dtype(name, mps) == hardware.DTYPES[name]


# --- compile ------------------------------------------------------------------------------------------


def _toolchain(monkeypatch, tmp_path, compilers=("gcc",), headers=True, platform="linux"):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(hardware.sys, "platform", platform)
    monkeypatch.setattr(hardware.shutil, "which", lambda name: f"/usr/bin/{name}" if name in compilers else None)
    if headers:
        (tmp_path / "Python.h").write_text("")
    monkeypatch.setattr(hardware.sysconfig, "get_paths", lambda *a, **k: {"include": str(tmp_path)})


@pytest.mark.parametrize("compilers, headers, platform, reason", [
    (("gcc",), True, "linux", None),
    (("clang",), True, "linux", None),
    (("cc",), True, "linux", "no C compiler"),  # Triton looks for $CC, gcc or clang, not cc
    ((), True, "linux", "no C compiler"),
    (("gcc",), False, "linux", "Python headers"),
    (("gcc",), True, "win32", "Windows"),
])
def test_auto_compile_on_cuda_falls_back_to_eager_where_triton_cannot_build(
        compilers, headers, platform, reason, monkeypatch, tmp_path):
    _toolchain(monkeypatch, tmp_path, compilers, headers, platform)
    notes = []
    assert hardware.resolve_compile("auto", torch.device("cuda"), notes) is (reason is None)
    assert (notes == []) if reason is None else (len(notes) == 1 and reason in notes[0])
    assert hardware.resolve_compile("true", torch.device("cuda")) is True  # asked for: not second-guessed
    assert hardware.resolve_compile("auto", torch.device("cpu")) is False


def test_cc_names_the_compiler_triton_uses(monkeypatch, tmp_path):
    _toolchain(monkeypatch, tmp_path, compilers=("my-cc",))
    monkeypatch.setenv("CC", "my-cc")
    assert hardware.compile_blocker() is None
    monkeypatch.setenv("CC", "missing-cc")
    assert "CC=missing-cc" in hardware.compile_blocker()
