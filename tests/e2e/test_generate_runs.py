"""tinyx generate on a trained run: the same greedy text with and without the KV cache, top-p sampling."""

from helpers import CORPUS

from tinyx.tools import generate as generate_tool


def test_the_command_streams_the_same_greedy_text_with_and_without_the_cache(trained_run, capsys):
    run_dir, _ = trained_run
    outputs = []
    for kv_cache in ([], ["--no-kv-cache"]):
        generate_tool.main([str(run_dir), "--prompt", "ROMEO:", "--max-new-tokens", "45", "--temperature", "0",
                            *kv_cache])
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith("ROMEO:") and len(outputs[0]) == len("ROMEO:") + 45 + 1
    corpus_chars = set(CORPUS.read_text())
    assert set(outputs[0]) <= corpus_chars


def test_the_command_samples_with_top_p(trained_run, capsys):
    run_dir, _ = trained_run
    args = [str(run_dir), "--prompt", "ROMEO:", "--max-new-tokens", "30", "--top-p", "0.9", "--top-k", "none",
            "--num-samples", "2"]
    generate_tool.main(args)
    first = capsys.readouterr().out
    generate_tool.main(args)
    assert capsys.readouterr().out == first
    assert first.count("--- sample") == 2 and first.count("ROMEO:") == 2
