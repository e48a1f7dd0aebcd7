"""The Hugging Face mapping (tinyx.hf, tinyx.tools.export): each exportable block computes in `transformers`
what it computes in tinyx, and each block with no equivalent is refused by name.

Tiny random models, in-process: a folder written by tinyx.tools.export's own write_folder, loaded back with
transformers' from_pretrained / AutoTokenizer as a user would. The weights are drawn wider than
training's init (std 0.3) and the norms' and biases' parameters moved off their identity values, so a
wrong transpose, split, norm or bias shows in the logits, and greedy decoding has clear winners.
The tool itself (where an export goes, its model card) runs on such a model saved as a run's checkpoint.
"""

from __future__ import annotations

import pytest
import torch
from helpers import CORPUS

from tinyx.common.errors import ExportError
from tinyx.config import ModelConfig
from tinyx.hf.architectures import architecture

LLAMA = {"norm": "rmsnorm", "pos": "rope", "mlp": "swiglu"}
BLOCKS = {  # the default suite: each architecture, and an untied head (a second or two each)
    "gpt2-no-bias": ({"bias": False}, "GPT2LMHeadModel"),
    "llama-gqa-4-2": ({**LLAMA, "n_head": 4, "n_kv_head": 2}, "LlamaForCausalLM"),
    # rope_theta neither tinyx's default (10,000) nor Qwen3's (1,000,000): config.json must carry it.
    "qwen3-qk-norm": ({**LLAMA, "n_head": 4, "n_kv_head": 2, "qk_norm": True, "rope_theta": 50_000.0},
                      "Qwen3ForCausalLM"),
    "gpt2-no-positions-relu2-untied": ({"pos": "none", "mlp": "relu2", "tie_embeddings": False}, "GPT2LMHeadModel"),
}
SLOW_BLOCKS = {  # exact too, and checked the same way: in the slow suite (.ci/run) to keep the default one short
    "gpt2-bias": ({"bias": True}, "GPT2LMHeadModel"),
    "llama-bias": ({**LLAMA, "bias": True, "n_kv_head": 1}, "LlamaForCausalLM"),
}


@pytest.fixture(scope="module")
def corpus_text() -> str:
    return CORPUS.read_text()[:20_000]


@pytest.fixture(scope="module")
def char_tokenizer(corpus_text):
    from tinyx.data import CharTokenizer

    return CharTokenizer.from_text(CORPUS.read_text())


def random_model(switches: dict, vocab_size: int):
    from tinyx.nn.gpt import GPT

    torch.manual_seed(0)
    cfg = ModelConfig(**{"n_layer": 2, "n_head": 2, "d_model": 32, "block_size": 64, "vocab_size": vocab_size,
                         "init_std": 0.3, **switches})
    model = GPT(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(0.2 * torch.randn_like(p))
    return model


def check_export(switches, expected_class, char_tokenizer, corpus_text, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tinyx.tools.export import check_batch, write_folder

    model = random_model(switches, char_tokenizer.vocab_size)
    assert write_folder(model, char_tokenizer, tmp_path) == expected_class
    hf = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
    assert type(hf).__name__ == expected_class

    x = check_batch(model.cfg)
    with torch.no_grad():
        diff = (model(x, x)[0] - hf(input_ids=x).logits).abs().max().item()
    print(f"{expected_class} {switches}: max |logit(tinyx) - logit(transformers)| = {diff:.3g}")
    assert diff <= 1e-5

    prompt = torch.tensor([char_tokenizer.encode("ROMEO:\nI")])
    ours = model.generate(prompt, 50, temperature=0.0)
    theirs = hf.generate(prompt, max_new_tokens=50, do_sample=False)
    assert ours.shape == (1, prompt.shape[1] + 50)
    assert torch.equal(ours, theirs)

    hf_tok = AutoTokenizer.from_pretrained(tmp_path)
    ids = hf_tok(corpus_text, add_special_tokens=False)["input_ids"]
    assert ids == char_tokenizer.encode(corpus_text)
    assert hf_tok.decode(ids) == corpus_text


@pytest.mark.parametrize("name", list(BLOCKS))
def test_exported_block_matches_transformers(name, char_tokenizer, corpus_text, tmp_path):
    check_export(*BLOCKS[name], char_tokenizer, corpus_text, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_BLOCKS))
def test_exported_block_matches_transformers_more(name, char_tokenizer, corpus_text, tmp_path):
    check_export(*SLOW_BLOCKS[name], char_tokenizer, corpus_text, tmp_path)


@pytest.mark.parametrize("switches, words", [
    ({"attn_sink": "logit"}, ["model.attn_sink=logit", "no Hugging Face equivalent", "what exports"]),
    ({"attn_sink": "token"}, ["model.attn_sink=token"]),
    ({"norm": "rmsnorm"}, ["model.pos=learned with model.norm=rmsnorm", "Llama-style block"]),
    ({**LLAMA, "mlp": "gelu"}, ["model.mlp=gelu with model.norm=rmsnorm"]),
    ({"pos": "rope"}, ["model.pos=rope with model.norm=layernorm"]),
    ({"n_kv_head": 1}, ["model.n_kv_head=1 with model.norm=layernorm"]),
    ({**LLAMA, "qk_norm": True, "bias": True}, ["model.bias=true with model.qk_norm=true"]),
])
def test_switch_without_hf_equivalent_is_named(switches, words):
    with pytest.raises(ExportError) as error:
        architecture(ModelConfig(vocab_size=65, **switches))
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_round_trip_of_weights_is_exact():
    """HF -> tinyx inverts tinyx -> HF for every exportable block (what init_from loads)."""
    from tinyx.hf.weights import from_hf_state_dict, to_hf_state_dict

    for switches, _ in [*BLOCKS.values(), *SLOW_BLOCKS.values()]:
        model = random_model(switches, 65)
        kind = architecture(model.cfg)
        hf_sd = to_hf_state_dict(model.state_dict(), model.cfg)
        if model.cfg.tie_embeddings:
            hf_sd["lm_head.weight"] = hf_sd.get("transformer.wte.weight", hf_sd.get("model.embed_tokens.weight"))
        if kind == "gpt2":  # a folder with more positions than the run's context: its first block_size load
            wpe = hf_sd["transformer.wpe.weight"]
            hf_sd["transformer.wpe.weight"] = torch.cat([wpe, torch.randn(16, wpe.shape[1])])
        back = from_hf_state_dict(hf_sd, model.cfg, kind)
        ours = model.state_dict()
        assert set(ours) <= set(back), switches
        for key, value in ours.items():
            assert torch.equal(back[key], value), (switches, key)


@pytest.mark.parametrize("name", ["qwen3-qk-norm", "gpt2-no-positions-relu2-untied"])
def test_init_from_loads_back_exactly_the_exported_weights(name, char_tokenizer, tmp_path):
    """Export, then model.init_from's loader (transformers' from_pretrained, then HF -> tinyx) into a model of
    another init: every weight is the exported one (the untied head its own, the QK-norms Qwen3's)."""
    from tinyx.hf.load import load_weights
    from tinyx.nn.gpt import GPT
    from tinyx.tools.export import write_folder

    model = random_model(BLOCKS[name][0], char_tokenizer.vocab_size)
    write_folder(model, char_tokenizer, tmp_path)
    torch.manual_seed(1)
    fresh = GPT(model.cfg)
    load_weights(fresh, f"hf:{tmp_path}")
    loaded, exported = fresh.state_dict(), model.state_dict()
    assert set(loaded) == set(exported)
    assert all(torch.equal(loaded[k], exported[k]) for k in exported), [k for k in exported
                                                                       if not torch.equal(loaded[k], exported[k])]
    if not model.cfg.tie_embeddings:
        assert not torch.equal(loaded["lm_head.weight"], loaded["tok_emb.weight"])


@pytest.mark.slow
def test_gpt2_bpe_tokenizer_encodes_like_tiktoken(tmp_path):
    """The GPT-2 tokenizer.json built from tiktoken's ranks: AutoTokenizer encodes the corpus and odd
    whitespace, digits and accents as tiktoken does, and decodes back to the text."""
    from transformers import AutoTokenizer

    from tinyx.data import TiktokenTokenizer
    from tinyx.hf.tokenizer import write_tokenizer

    tinyx_tok = TiktokenTokenizer("gpt2")
    assert write_tokenizer(tinyx_tok, tmp_path) == 50256
    hf_tok = AutoTokenizer.from_pretrained(tmp_path)
    texts = [CORPUS.read_text()[:100_000], "  Hello,\tworld!!  \n\n\n  café 12345 naïve — ok's we'll  ",
             " ROMEO:\r\n  x   \n"]
    for text in texts:
        ids = hf_tok(text, add_special_tokens=False)["input_ids"]
        assert ids == tinyx_tok.encode(text)
        assert hf_tok.decode(ids) == text
    assert hf_tok.eos_token == "<|endoftext|>" and hf_tok.eos_token_id == 50256
    assert len(hf_tok) == 50257


@pytest.mark.parametrize("name", [*BLOCKS, *SLOW_BLOCKS])
def test_init_from_reads_the_shape_an_export_wrote(name, tmp_path):
    """config.json (+ tinyx_model.json) of an export describe the exported model exactly: the same run config
    passes init_from's check, and another shape fails it with the overrides that would make it match."""
    import json
    from dataclasses import asdict, replace

    from tinyx.hf.architectures import TINYX_MODEL_FILE, hf_config
    from tinyx.hf.load import check_shape, read_shape

    switches = {**BLOCKS, **SLOW_BLOCKS}[name][0]
    cfg = ModelConfig(**{"n_layer": 2, "n_head": 4, "d_model": 32, "block_size": 64, "vocab_size": 65, **switches})
    (tmp_path / "config.json").write_text(json.dumps(hf_config(cfg)))
    (tmp_path / TINYX_MODEL_FILE).write_text(json.dumps(asdict(cfg)))
    _, shape = read_shape(tmp_path)
    check_shape(cfg, shape, "here")
    with pytest.raises(ExportError, match=r"another shape than this run's \(n_layer=3, tie_embeddings=\w+\): add "
                                          r"model.n_layer=2 model.tie_embeddings=(true|false)\.$"):
        check_shape(replace(cfg, n_layer=3, tie_embeddings=not cfg.tie_embeddings), shape, "here")

    (tmp_path / TINYX_MODEL_FILE).unlink()  # a folder transformers wrote: config.json alone
    _, shape = read_shape(tmp_path)
    if cfg.norm == "rmsnorm" or cfg.bias:  # GPT-2's form cannot say bias=false or pos=none: those need the record
        check_shape(cfg, shape, "here")


def test_hf_tokenizer_run_exports_its_own_tokenizer_json(char_tokenizer, corpus_text, tmp_path):
    """A run trained with data.tokenizer=hf: its tokenizer.json goes into the folder as it is, AutoTokenizer
    encodes like the run's tokenizer, and init_from reads back the same tokenizer."""
    from transformers import AutoTokenizer

    from tinyx.data.tokenizers import HFTokenizer
    from tinyx.hf.tokenizer import char_to_tokenizer, folder_tokenizer, write_tokenizer

    run_tok = HFTokenizer(char_to_tokenizer(char_tokenizer.chars).to_str(), "somewhere/tokenizer.json")
    write_tokenizer(run_tok, tmp_path)
    hf_tok = AutoTokenizer.from_pretrained(tmp_path)
    assert hf_tok(corpus_text, add_special_tokens=False)["input_ids"] == run_tok.encode(corpus_text)
    assert folder_tokenizer(tmp_path, run_tok.vocab_size)["json"] == run_tok.json_text


@pytest.fixture
def saved_run(char_tokenizer, tmp_path, monkeypatch):
    """A random GPT-2 model (64-token context) saved as a run's checkpoint under $TINYX_OUTPUTS (a tmp folder),
    where train.py's default naming puts a run: outputs/runs/<date>/<time>. Saved, not trained."""
    from dataclasses import asdict

    from tinyx.rundir.checkpoints import save_checkpoint

    monkeypatch.setenv("TINYX_OUTPUTS", str(tmp_path / "outs"))
    model = random_model({}, char_tokenizer.vocab_size)
    run_dir = tmp_path / "outs" / "runs" / "2026-11-21" / "01-04-15"
    config = {"model": asdict(model.cfg), "data": {"name": "shakespeare_char", "tokenizer": "char"}}
    save_checkpoint(run_dir, 40, {"model": model.state_dict(), "config": config, "step": 40,
                                  "tokenizer": char_tokenizer.to_dict()}, keep=1)
    return run_dir


def test_export_without_out_goes_to_a_new_folder_under_the_outputs_root(saved_run, tmp_path, capsys):
    """issue 25: the README's `--out hf/mine` left an untracked hf/; with no --out an export lands under
    $TINYX_OUTPUTS/exports/, named by the run and step, says where, and a second one never overwrites the first."""
    from tinyx.tools.export import main

    first = main([str(saved_run)])
    assert first.folder == tmp_path / "outs" / "exports" / "2026-11-21_01-04-15-step40"
    assert (first.folder / "model.safetensors").is_file() and (first.folder / "README.md").is_file()
    assert f"to {first.folder}" in capsys.readouterr().out
    second = main([str(saved_run)])
    assert second.folder == first.folder.with_name("2026-11-21_01-04-15-step40_2")
    assert sorted(p.name for p in (tmp_path / "outs").iterdir()) == ["exports", "runs"]


def test_default_export_folder_names_the_run(tmp_path, monkeypatch):
    """A multirun's job keeps its sweep and job number; a run outside the outputs root is named by its folder;
    an empty folder of that name is used, a file of that name skipped."""
    from tinyx.tools.export_out import default_out

    monkeypatch.setenv("TINYX_OUTPUTS", str(tmp_path / "outs"))
    exports = tmp_path / "outs" / "exports"
    assert default_out(tmp_path / "outs" / "multirun" / "2026-11-21" / "01-04-15" / "3", 7) == \
        exports / "multirun_2026-11-21_01-04-15_3-step7"
    (exports / "my-run-step7").mkdir(parents=True)
    assert default_out(tmp_path / "elsewhere" / "my-run", 7) == exports / "my-run-step7"
    (exports / "my-run-step7").rmdir()
    (exports / "my-run-step7").write_text("not a folder")
    assert default_out(tmp_path / "elsewhere" / "my-run", 7) == exports / "my-run-step7_2"


def test_model_card_links_nothing_fake_and_its_snippet_runs_in_the_context(saved_run, tmp_path, capsys):
    """issue 25: the card linked a placeholder https://github.com/ and asked a 64-token GPT-2 for 100 new tokens
    (past its last position). The card's snippet, run as printed on the folder, generates within the context."""
    import re

    from tinyx.tools.export import main

    folder = main([str(saved_run), "--out", str(tmp_path / "hf")]).folder
    card = (folder / "README.md").read_text()
    assert "https://github.com/" not in card and "](http" not in card
    snippet = re.search(r"```python\n(.*?)```", card, re.S).group(1)
    new_tokens = int(re.search(r"max_new_tokens=(\d+)", snippet).group(1))
    assert 0 < new_tokens <= 64 - len("ROMEO:")
    capsys.readouterr()
    exec(snippet.replace("<this folder>", str(folder)), {})
    printed = capsys.readouterr().out
    assert printed.startswith("ROMEO:") and len(printed) == len("ROMEO:") + new_tokens + 1  # print's newline
