"""The run directory: the one contract between training and every tool that reads a run.

contract.py     the names of its files (config.json, summary.json, ...) and metrics (val/loss, ...), RunSummary,
                reading and writing
records.py      what its records mean: run statuses, and when two runs pair (the same data order)
checkpoints.py  checkpoints/: atomic checkpoint files, the latest and best pointers, safe loading
provenance.py   provenance.json: git commit and diff, versions, device
data_record.py  what a run records about its data and tokenizer
claims.py       a new directory per run, claimed atomically (two runs started in the same second never share one)
last.py         `last`: the newest run under the outputs root
find.py         the runs and checkpoints a command line names (directories, multiruns, globs)

The files a run directory holds, one by one: docs/training.md, "What a run writes". Rebuilding a run's model is
a tool's job, above this package: tinyx.tools.run_model. Nothing here imports torch, so compare and the sweep's
reports start fast.
"""
