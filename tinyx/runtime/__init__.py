"""The machine a run uses: devices and precision, the torchrun process group, the pool of parallel jobs."""
