"""scripts/build_english_corpus.py on packages made here: a two-entry GCIDE (dictzip file and index), a WordNet
data file and a reST page under a fake root, so the default tests need none of the Debian packages. The text
each source gives, the same bytes twice, a missing package (exit 2, nothing written), and data=english_char's
missing corpus naming the script.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
from pathlib import Path

import pytest

from tinyx.common.errors import DataError
from tinyx.config import DataConfig
from tinyx.data.download import resolve_corpus

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("build_english_corpus", ROOT / "scripts" / "build_english_corpus.py")
corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(corpus)

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
NOTE = b"\n00-database-info\n   The notes of the database.\n"
ABANDON = (b"Abandon \\A*ban\"don\\ ([.a]*b[a^]n\"d[u^]n), v. t. [imp. & p. p.\n   {Abandoned}.] [OF. abandoner.]\n"
           b"   1. To cast or drive out; to banish. [Obs.]\n      [1913 Webster]\n\n"
           b"            That he might . . . abandon them. --Udall.\n      [1913 Webster]\n")
CAFE = "Caf\u00e9 \\Ca*f['e]\"\\, n. A coffee house; a [ae]sthetic place \u2014 see {Coffee}.\n   [PJC]\n".encode()
WORDNET = ("  1 This software and database is being provided to you, the LICENSEE, by\n"
           "00001740 03 n 02 entity 0 physical_entity 0 001 ~ 00001930 n 0000 | that which is perceived "
           "or known  ; \"an entity\"  \n")
WORDNET_ADJ = "00001740 00 a 01 able(a) 0 000 | (usually followed by `to') having the means to do something  \n"
RST = (".. _intro:\n\nIntroduction\n============\n\nThe :func:`len` function returns the number of items of\n"
       "an object; see :ref:`the tutorial <tut>` and ``sys.getsizeof``.\n\n::\n\n   >>> len([1, 2])\n   2\n\n"
       "   indented code, not prose\n\n* a list item\n\nA **strong** and *emphasised* word in `a link`_,\n"
       "in a paragraph of two lines.\n\nA short line\n")


def b64(n: int) -> str:
    digits = ""
    while True:
        digits, n = B64[n % 64] + digits, n // 64
        if n == 0:
            return digits


def make_root(tmp_path: Path, sources=("gcide", "wordnet", "pydoc")) -> Path:
    """The packages' files under tmp_path/root: GCIDE's entries indexed under several headwords."""
    root = tmp_path / "root"
    if "gcide" in sources:
        dictd = root / "usr/share/dictd"
        dictd.mkdir(parents=True)
        body = NOTE + ABANDON + CAFE
        at = {"note": (0, len(NOTE)), "abandon": (len(NOTE), len(ABANDON)), "cafe": (len(NOTE + ABANDON), len(CAFE))}
        rows = [("00-database-info", "note"), ("Abandon", "abandon"), ("Abandoned", "abandon"), ("Cafe", "cafe")]
        (dictd / "gcide.dict.dz").write_bytes(gzip.compress(body, mtime=0))
        (dictd / "gcide.index").write_text("".join(f"{w}\t{b64(at[k][0])}\t{b64(at[k][1])}\n" for w, k in rows))
    if "wordnet" in sources:
        wordnet = root / "usr/share/wordnet"
        wordnet.mkdir(parents=True)
        for pos in corpus.WORDNET_POS:
            (wordnet / f"data.{pos}").write_text(WORDNET if pos == "noun" else WORDNET_ADJ if pos == "adj" else "")
    if "pydoc" in sources:
        sources_dir = root / "usr/share/doc/python3-doc/html/_sources/library"
        sources_dir.mkdir(parents=True)
        (sources_dir / "functions.rst.txt").write_text(RST)
    return root


def test_dictd_numbers_are_base64_most_significant_first():
    assert corpus.dictd_number("5I") == 57 * 64 + 8
    assert corpus.dictd_number("A") == 0 and corpus.dictd_number("BAA") == 4096


def test_gcide_entries_once_each_without_pronunciation_markup_or_source_tags(tmp_path):
    root = make_root(tmp_path, ["gcide"]) / "usr/share/dictd"
    assert list(corpus.gcide_entries(root / "gcide.dict.dz", root / "gcide.index")) == [
        "Abandon, v. t. [imp. & p. p. Abandoned.] [OF. abandoner.] 1. To cast or drive out; to banish. [Obs.]\n"
        "That he might . . . abandon them. --Udall.",
        "Cafe, n. A coffee house; a aesthetic place see Coffee.",
    ]


def test_wordnet_synsets_words_part_of_speech_and_gloss(tmp_path):
    root = make_root(tmp_path, ["wordnet"]) / "usr/share/wordnet"
    files = [root / f"data.{pos}" for pos in corpus.WORDNET_POS]
    assert list(corpus.wordnet_synsets(files)) == [
        'entity, physical entity (n.): that which is perceived or known ; "an entity"',
        "able (adj.): (usually followed by `to') having the means to do something",
    ]


def test_rst_keeps_prose_paragraphs_without_markup():
    assert list(corpus.rst_paragraphs(RST)) == [
        "The len function returns the number of items of an object; see the tutorial and sys.getsizeof.",
        "A strong and emphasised word in a link, in a paragraph of two lines.",
    ]


def test_same_packages_same_bytes_and_the_printed_sha256(tmp_path):
    root, lines = make_root(tmp_path), []
    for name in ("a.txt", "b.txt"):
        assert corpus.main(["--root", str(root), "--out", str(tmp_path / name)], say=lines.append) == 0
    first = (tmp_path / "a.txt").read_bytes()
    assert first == (tmp_path / "b.txt").read_bytes()
    assert hashlib.sha256(first).hexdigest() in lines[0] and f"{len(first):,} characters" in lines[0]
    assert first.isascii() and first.endswith(b"of two lines.\n")
    paragraphs = first.decode().split("\n\n")
    starts = ["Abandon, v. t.", "Cafe, n.", "entity, physical entity (n.)", "able (adj.)", "The len function",
              "A strong"]
    assert [p[:len(start)] for p, start in zip(paragraphs, starts)] == starts and len(paragraphs) == len(starts)


def test_a_missing_package_is_named_with_its_apt_command_and_nothing_is_written(tmp_path):
    root, lines, out = make_root(tmp_path, ["gcide"]), [], tmp_path / "out" / "english.txt"
    assert corpus.main(["--root", str(root), "--out", str(out), "--sources", "gcide,wordnet"], say=lines.append) == 2
    assert lines == ["error: Debian package wordnet-base is not installed: sudo apt-get install -y wordnet-base "
                     "(or pass --install)"]
    assert not out.parent.exists()
    assert corpus.main(["--root", str(root), "--out", str(out), "--sources", "gcide,novels"], say=lines.append) == 2
    assert "choose from gcide, wordnet, pydoc" in lines[-1]


def test_a_named_corpus_without_url_names_the_command_that_makes_it(tmp_path):
    cfg = DataConfig(name="english_char", url=None, sha256=None, size_bytes=None, filename="english.txt",
                     build_command="uv run python scripts/build_english_corpus.py --install",
                     cache_dir=str(tmp_path), search_dirs=[str(tmp_path / "mirror")])
    with pytest.raises(DataError, match=r"english.txt is not in .* nor in data.search_dirs=.*make it with "
                                        r"`uv run python scripts/build_english_corpus.py --install`"):
        resolve_corpus(cfg)
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "english.txt").write_text("any bytes: no sha256 is pinned\n")
    assert resolve_corpus(cfg) == tmp_path / "mirror" / "english.txt"
