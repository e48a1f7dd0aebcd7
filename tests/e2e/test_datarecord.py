"""What a run records about its data (provenance.json, the tokenizer), and the tokenizer-mismatch wording."""

from __future__ import annotations

import json

from helpers import micro_config

from tinyx.rundir.data_record import describe_tokenizer, tokenizer_mismatch


def test_provenance_names_the_tokens_and_tokenizer_a_run_trained_on(trained_run):
    run_dir, _ = trained_run
    data = json.loads((run_dir / "provenance.json").read_text())["data"]
    # The cache's folder is named by the source kind, the tokenizer and the fingerprint (the source files'
    # paths, sizes and mtimes, the tokenizer and the split settings: tinyx/data/cache.py).
    assert data["tokens"] == f"text-char-{data['fingerprint']}"
    assert len(data["fingerprint"]) == 20 and int(data["fingerprint"], 16) >= 0
    assert (data["tokenizer"], data["vocab_size"], data["documents"]) == ("char (65 characters)", 65, 1)  # one document: the whole file
    assert json.loads((run_dir / "tokenizer.json").read_text())["kind"] == "char"


def test_generate_decodes_with_the_runs_own_tokenizer_after_its_corpus_is_gone(tmp_path, capsys):
    from tinyx.tools.generate import main
    from tinyx.training import train

    corpus = tmp_path / "accents.txt"
    corpus.write_text("Ça va très bien, àéîõü. Déjà vu, naïve café. " * 400)
    cfg = micro_config(f"data.path={corpus}", "train.max_steps=10", "train.eval_every=10", "train.sample_tokens=0")
    train(cfg, tmp_path / "run", quiet=True)
    corpus.unlink()
    main([str(tmp_path / "run"), "--prompt", "Déjà", "--max-new-tokens", "40", "--temperature", "0"])
    text = capsys.readouterr().out
    assert text.startswith("Déjà") and len(text.rstrip("\n")) == 44
    assert set(text.rstrip("\n")) <= set("Ça va très bien, àéîõü. Déjà vu, naïve café. ")


def test_a_mismatch_names_both_tokenizers():
    char = {"kind": "char", "chars": list("abc")}
    assert tokenizer_mismatch(char, dict(char)) is None
    assert tokenizer_mismatch(char, {"kind": "tiktoken", "encoding": "gpt2"}) == \
        "tokenizer char (3 characters), but this data gives tiktoken gpt2"
    assert tokenizer_mismatch(char, {"kind": "char", "chars": list("abd")}) == \
        "tokenizer char (3 characters), but this data gives char (3 characters) ('c' only in the checkpoint's; " \
        "'d' only in the data's)"
    assert tokenizer_mismatch({"kind": "tiktoken", "encoding": "gpt2"}, {"kind": "tiktoken", "encoding": "r50k_base",
                                                                         "extra": 1}).endswith("tiktoken r50k_base")
    assert describe_tokenizer({"kind": "hf", "path": "/models/tok", "vocab": {"a": 0}}) == "hf /models/tok"
