"""Hugging Face interop: tinyx models as `transformers` folders and back.

    mapping.py    which HF architecture each tinyx block is, its config.json, and the weight names both ways
    tokenizer.py  tinyx tokenizers as `tokenizers` tokenizer.json files, and the tokenizer of a folder
    load.py       `model.init_from=hf:<folder>`: a tinyx model's weights from a folder on disk

`transformers`, `tokenizers` and `safetensors` are imported inside functions: `import tinyx` stays fast.
"""
