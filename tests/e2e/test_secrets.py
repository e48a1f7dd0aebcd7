"""Secrets: a real train.py run with wandb (offline) and TensorBoard, fake secrets planted in a .env file
and in the environment, one of them used by the config through `${oc.env:...}`; no file the run
writes (run directory, wandb's and tinyx's caches, the home directory) holds any of them; nor does a
corpus download from a URL carrying a token (in its userinfo or its path), its log lines, console, error,
nor what tools write from the run: an export's model card, a sweep's best-trial experiment file."""

import base64
import contextlib
import hashlib
import http.server
import io
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import CORPUS, MICRO, ROOT, compose, run_cli

from tinyx.rundir.checkpoints import load_checkpoint

# Values no file could hold by chance.
DOTENV_SECRETS = {
    "WANDB_API_KEY": "0f1e2d3c4b5a69788796a5b4c3d2e1f0fedcba98",  # wandb's 40-character form
    "TINYX_DATA_TOKEN": "tok-planted-7c1d9e55b0a2-not-for-files",  # used by the config below
}
ENVIRONMENT_SECRETS = {
    "HF_TOKEN": "hf_plantedSecretToken4242424242424242",  # in the environment, unrelated to tinyx
    "AWS_SECRET_ACCESS_KEY": "planted/aws+secret/31415926535897932384",
}

# train.py itself, run as a script after loading the test's .env, as train.py's own load_env() loads
# the current directory's and the checkout's (which never override a variable already set).
RUN_TRAIN_PY = ("import runpy, sys, dotenv; dotenv.load_dotenv(sys.argv[1]); sys.argv = ['train.py', *sys.argv[2:]]; "
                "runpy.run_path('train.py', run_name='__main__')")


def test_no_planted_secret_reaches_any_file_a_run_writes(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    dotenv = tmp_path / "secrets.env"
    dotenv.write_text("".join(f"{k}={v}\n" for k, v in DOTENV_SECRETS.items()))
    run_dir = tmp_path / "run"
    env = {**os.environ, **ENVIRONMENT_SECRETS, "HOME": str(home), "WANDB_MODE": "offline",
           "WANDB_CONFIG_DIR": str(home / ".config" / "wandb"), "WANDB_CACHE_DIR": str(home / ".cache" / "wandb"),
           "WANDB_DATA_DIR": str(home / ".local" / "share" / "wandb"), "TINYX_CACHE_DIR": str(tmp_path / "cache")}
    for key in DOTENV_SECRETS:
        env.pop(key, None)
    result = subprocess.run(
        [sys.executable, "-c", RUN_TRAIN_PY, str(dotenv), *MICRO, "logger=[wandb,tensorboard]",
         "train.max_steps=10", "train.eval_every=5", "train.ckpt_every=5", "hardware.threads=1",
         "data.url=https://${oc.env:TINYX_DATA_TOKEN}@data.example.org/tinyshakespeare.txt",
         f"hydra.run.dir={run_dir}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != dotenv]
    names = {p.name for p in written}
    # The run wrote what it should: Hydra's files, the logs, checkpoints, wandb's offline run, TensorBoard's events.
    assert {"config.yaml", "overrides.yaml", "hydra.yaml", "summary.json", "metrics.jsonl", "ckpt_000010.pt",
            "tokenizer.json"} <= names
    assert any(n.endswith(".wandb") for n in names) and any(n.startswith("events.out.tfevents") for n in names)
    assert any(p.name == "output.log" and "wandb" in p.parts for p in written)  # wandb's copy of the console
    secrets = {**DOTENV_SECRETS, **ENVIRONMENT_SECRETS}
    leaks = [f"{name} in {path.relative_to(tmp_path)}" for path in written for name, value in secrets.items()
             if value.encode() in path.read_bytes()]
    assert leaks == [], f"{len(leaks)} leaks in {len(written)} files"
    assert secrets["TINYX_DATA_TOKEN"] not in result.stdout + result.stderr

    # The checkpoint holds the value's source; a process with the variable set gets the value back.
    url_source = "https://${oc.env:TINYX_DATA_TOKEN}@data.example.org/tinyshakespeare.txt"
    monkeypatch.delenv("TINYX_DATA_TOKEN", raising=False)
    assert load_checkpoint(run_dir / "checkpoints" / "ckpt_000010.pt")["config"]["data"]["url"] == url_source
    monkeypatch.setenv("TINYX_DATA_TOKEN", DOTENV_SECRETS["TINYX_DATA_TOKEN"])
    assert load_checkpoint(run_dir / "checkpoints" / "ckpt_000010.pt")["config"]["data"]["url"] == \
        url_source.replace("${oc.env:TINYX_DATA_TOKEN}", DOTENV_SECRETS["TINYX_DATA_TOKEN"])


class _CorpusServer(http.server.BaseHTTPRequestHandler):
    """Serves `files` to requests carrying HTTP Basic credentials `expected_auth` (user:token); 401 otherwise."""
    files: dict[str, bytes] = {}
    expected_auth = ""
    requests: list[tuple[str, int]] = []

    def do_GET(self):
        authorized = self.headers.get("Authorization") == \
            "Basic " + base64.b64encode(self.expected_auth.encode()).decode()
        body = self.files.get(self.path) if authorized else None
        status = 401 if not authorized else 200 if body is not None else 404
        self.requests.append((self.path, status))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        """Quiet: the test reads `requests`."""


@pytest.mark.slow
def test_a_download_with_a_token_in_its_url_writes_the_token_nowhere(tmp_path):
    # No data.path, nothing in search_dirs, an empty cache: the corpus is downloaded from a real local server,
    # with the token in the URL's userinfo; a second run asks for a file the server does not have (404).
    token = DOTENV_SECRETS["TINYX_DATA_TOKEN"]
    corpus = CORPUS.read_bytes()[:20_000]
    handler = type("Handler", (_CorpusServer,), {"files": {"/corpus.txt": corpus}, "expected_auth": f"user:{token}",
                                                 "requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://user:${{oc.env:TINYX_DATA_TOKEN}}@127.0.0.1:{server.server_address[1]}"
    env = {"TINYX_DATA_TOKEN": token, "TINYX_CACHE_DIR": str(tmp_path / "cache")}
    overrides = [o for o in MICRO if not o.startswith("data.path=")] + [
        "data.search_dirs=[]", "data.filename=corpus.txt", f"data.size_bytes={len(corpus)}",
        f"data.sha256={hashlib.sha256(corpus).hexdigest()}", "train.max_steps=10", "train.eval_every=5",
        "train.ckpt_every=5", "hardware.threads=1"]
    try:
        ok = run_cli("train.py", *overrides, f"data.url={url}/corpus.txt", f"hydra.run.dir={tmp_path / 'run'}",
                     env=env)
        failed = run_cli("train.py", *overrides, f"data.url={url}/missing.txt", "data.filename=missing.txt",
                         f"hydra.run.dir={tmp_path / 'failed'}", env=env)
    finally:
        server.shutdown()

    assert ok.returncode == 0, ok.stderr[-3000:]
    assert handler.requests == [("/corpus.txt", 200), ("/missing.txt", 404)]  # the credentials were sent
    assert (tmp_path / "cache" / "corpora" / "corpus.txt").read_bytes() == corpus
    assert "downloading http://***@127.0.0.1:" in (tmp_path / "run" / "train.log").read_text()
    assert failed.returncode != 0
    error = failed.stderr.strip().splitlines()[-1]
    assert "could not download missing.txt from http://***@127.0.0.1:" in error and "404" in error, failed.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 10 and any(p.name == "train.log" for p in written)
    assert [p for p in written if token.encode() in p.read_bytes()] == []
    assert token not in ok.stdout + ok.stderr + failed.stdout + failed.stderr


# ---------------------------------------------------------------- a token in the URL's path (a signed URL)
# Made at run time: a literal would be in provenance.json's git diff while this file has uncommitted changes.
PATH_TOKEN = "tok-inpath-" + hashlib.sha256(b"tinyx test token").hexdigest()[:20]
PATH_CORPUS = CORPUS.read_bytes()[:20_000]


class _PathTokenServer(http.server.BaseHTTPRequestHandler):
    """Serves PATH_CORPUS at /<PATH_TOKEN>/corpus.txt, as a signed URL does: the path is the credential."""

    def do_GET(self):
        body = PATH_CORPUS if self.path == f"/{PATH_TOKEN}/corpus.txt" else None
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        """Quiet: its lines would hold the token, and they are not tinyx's."""


@contextlib.contextmanager
def path_token_server():
    """The URL (with the token as `${oc.env:TINYX_DATA_TOKEN}`) of a local server, the variable set meanwhile."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PathTokenServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("TINYX_DATA_TOKEN", PATH_TOKEN)
            yield f"http://127.0.0.1:{server.server_address[1]}/${{oc.env:TINYX_DATA_TOKEN}}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def captured_output():
    """Every log record (at INFO, as train.py's Hydra logging has it) and every printed line, as text."""
    text, root = io.StringIO(), logging.getLogger()
    handler, level = logging.StreamHandler(text), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
            yield text
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def download_overrides(url: str, filename: str) -> list[str]:
    """A micro run whose corpus must be downloaded from `url`: no data.path, no folder to find it in."""
    return [o for o in MICRO if not o.startswith("data.path=")] + [
        "data.search_dirs=[]", f"data.filename={filename}", f"data.size_bytes={len(PATH_CORPUS)}",
        f"data.sha256={hashlib.sha256(PATH_CORPUS).hexdigest()}", f"data.url={url}/{filename}",
        "train.max_steps=10", "train.eval_every=5", "hardware.threads=1"]


def files_holding(folder: Path, secret: str) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


@pytest.fixture(scope="module")
def path_token_run(tmp_path_factory):
    """A micro run trained in-process (train.py's body) on a corpus downloaded from a URL with the token in its
    path; with what it logged and printed."""
    from tinyx.hydra_glue.train_main import run_train

    tmp = tmp_path_factory.mktemp("path_token")
    with path_token_server() as url, pytest.MonkeyPatch.context() as env, captured_output() as output:
        env.setenv("TINYX_CACHE_DIR", str(tmp / "cache"))
        run_train(compose(download_overrides(url, "corpus.txt")), tmp / "run")
    assert (tmp / "cache" / "corpora" / "corpus.txt").read_bytes() == PATH_CORPUS  # it was downloaded
    return tmp, output.getvalue()


def test_a_token_in_the_urls_path_is_in_no_line_and_no_file_of_the_run(path_token_run):
    tmp, output = path_token_run
    assert "downloading http://127.0.0.1:" in output and "/${oc.env:TINYX_DATA_TOKEN}/corpus.txt to " in output
    assert "tinyx: 27,616 parameters" in output and "val/loss_best" in output  # the console's lines too
    assert PATH_TOKEN not in output
    assert len(list((tmp / "run").rglob("*"))) > 5 and files_holding(tmp / "run", PATH_TOKEN) == []


def test_a_failed_download_shows_the_token_of_its_url_masked(tmp_path, capsys):
    from tinyx.common.errors import exit_on_user_error
    from tinyx.hydra_glue.train_main import run_train

    with path_token_server() as url, pytest.MonkeyPatch.context() as env, captured_output() as output:
        env.setenv("TINYX_CACHE_DIR", str(tmp_path / "cache"))
        with pytest.raises(SystemExit) as exit_:
            exit_on_user_error(run_train)(compose(download_overrides(url, "missing.txt")), tmp_path / "run")
    assert exit_.value.code == 2
    error = output.getvalue().strip().splitlines()[-1]
    assert error.startswith("error: could not download missing.txt from http://127.0.0.1:") and "404" in error
    assert "/${oc.env:TINYX_DATA_TOKEN}/missing.txt" in error
    assert PATH_TOKEN not in output.getvalue() + "".join(capsys.readouterr())
    assert files_holding(tmp_path, PATH_TOKEN) == []


@pytest.mark.slow
def test_train_py_writes_a_token_in_the_urls_path_nowhere(tmp_path):
    """As above through train.py itself: Hydra's train.log and console, the exit path's error line."""
    env = {"TINYX_CACHE_DIR": str(tmp_path / "cache")}
    with path_token_server() as url:
        ok = run_cli("train.py", *download_overrides(url, "corpus.txt"), f"hydra.run.dir={tmp_path / 'run'}", env=env)
        failed = run_cli("train.py", *download_overrides(url, "missing.txt"), f"hydra.run.dir={tmp_path / 'failed'}",
                         env=env)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "/${oc.env:TINYX_DATA_TOKEN}/corpus.txt to " in (tmp_path / "run" / "train.log").read_text()
    assert failed.returncode == 2 and "/${oc.env:TINYX_DATA_TOKEN}/missing.txt (HTTPError: HTTP Error 404" in \
        failed.stderr.strip().splitlines()[-1]
    assert files_holding(tmp_path, PATH_TOKEN) == []
    assert PATH_TOKEN not in ok.stdout + ok.stderr + failed.stdout + failed.stderr


def test_a_secret_is_masked_only_where_it_could_be_a_credential(tmp_path):
    """Short values ("1", "cpu"), numbers and existing paths from the environment are settings: masking them
    would garble every line; the rest is masked wherever it stands, URL-encoded too."""
    from tinyx.common.masking import mask, register
    from tinyx.config.secrets import Redactor

    environ = {"SEED": "1", "DEVICE": "cpu", "LR": "0.000301", "SCRATCH": str(tmp_path),
               "KEY": "k3y/with+slash-0451"}
    tree = {"seed": "1", "hardware": {"device": "cpu"}, "optim": {"lr": "0.000301"},
            "data": {"cache_dir": f"{tmp_path}/cache", "url": "https://h/k3y/with+slash-0451/a.txt"}}
    sources = {"seed": "${oc.env:SEED}", "hardware.device": "${oc.env:DEVICE}", "optim.lr": "${oc.env:LR}",
               "data.cache_dir": "${oc.env:SCRATCH}/cache", "data.url": "https://h/${oc.env:KEY}/a.txt"}
    masks = Redactor(sources).masks(tree, environ)
    assert masks == {"k3y/with+slash-0451": "${oc.env:KEY}"}
    register(masks)
    assert mask("seed 1 on cpu at lr 0.000301") == "seed 1 on cpu at lr 0.000301"
    assert mask(f"GET https://h/k3y%2Fwith%2Bslash-0451/a.txt into {tmp_path}/cache") == \
        f"GET https://h/${{oc.env:KEY}}/a.txt into {tmp_path}/cache"


def test_the_model_card_shows_the_config_as_config_json_does(path_token_run):
    """load_model resolves the data URL again (evaluate needs it to download): the card, written to be
    published, shows the URL as config.json does."""
    from tinyx.rundir.contract import read_config
    from tinyx.tools.export import model_card
    from tinyx.tools.run_model import load_model

    run_dir = path_token_run[0] / "run"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TINYX_DATA_TOKEN", PATH_TOKEN)
        run = load_model(run_dir)
    assert PATH_TOKEN in run.config["data"]["url"]  # resolved, for the tools that download the corpus
    card = model_card(run, "GPT2LMHeadModel", 0.0, None)
    assert read_config(run_dir)["data"]["url"] in card and "/${oc.env:TINYX_DATA_TOKEN}/corpus.txt" in card
    assert PATH_TOKEN not in card


@pytest.mark.slow
def test_no_file_of_an_export_holds_the_token(path_token_run, tmp_path):
    pytest.importorskip("transformers")
    from tinyx.tools.export import export

    with pytest.MonkeyPatch.context() as env:
        env.setenv("TINYX_DATA_TOKEN", PATH_TOKEN)
        export(path_token_run[0] / "run", tmp_path / "hf", say=lambda line: None)
    assert "/${oc.env:TINYX_DATA_TOKEN}/corpus.txt" in (tmp_path / "hf" / "README.md").read_text()
    assert len(list((tmp_path / "hf").iterdir())) > 5 and files_holding(tmp_path / "hf", PATH_TOKEN) == []


def test_the_best_trials_experiment_file_keeps_a_value_from_the_environment_as_its_source(tmp_path, monkeypatch):
    """The file is meant to be committed: `data.name=${oc.env:...}` (a private dataset) stays that text."""
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from tinyx.config import SweepConfig
    from tinyx.sweep.report import write_best_experiment

    monkeypatch.setenv("TINYX_PRIVATE_DATASET", "org-private/dataset-3f9a77c1")
    overrides = ["optim.lr=0.001", "data.name=${oc.env:TINYX_PRIVATE_DATASET}"]
    best = SimpleNamespace(number=3, value=1.5, user_attrs={"train_overrides": overrides})
    sweep = SweepConfig(study_name="s", experiment_dir=str(tmp_path))
    path = write_best_experiment(SimpleNamespace(study_name="s"), best, sweep, OmegaConf.from_dotlist)
    experiment = OmegaConf.load(path)
    assert "org-private/dataset-3f9a77c1" not in path.read_text()
    assert OmegaConf.to_container(experiment)["data"]["name"] == "${oc.env:TINYX_PRIVATE_DATASET}"
    assert experiment.optim.lr == 0.001 and experiment.data.name == "org-private/dataset-3f9a77c1"  # still resolves
