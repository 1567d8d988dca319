"""Artifact files of a run, kept inside the run's folder and never outside it.

A run's artifacts live under `<root>/artifacts/<experiment_id>/<run_id>/`; every function here
takes that folder as `run_dir`. Each artifact path is validated by `clean_artifact_path` (one
closed set of rules, listed there), and every folder below `run_dir` is then opened one
component at a time with `O_NOFOLLOW` relative to its parent's descriptor, so a symbolic link
planted in the run folder, or swapped in between the check and the use, is refused rather than
followed. The run folder itself and its experiment folder are opened the same way from the
artifact root down, so a linked run or experiment folder is refused too; a file with more than
one hard link is never listed, read or copied out. Files are written under a temporary name in
their final folder and moved into place with `os.replace`: no half-written file ever stands
under its final name. Folders we create get mode 0o700, files 0o600. Where the platform lacks
descriptor-relative calls (Windows), the same checks run on paths, re-checked after each folder
is created.

    >>> rel = write_artifact(run_dir, "plots/roc.json", '{"auc": 0.91}')
    >>> [f.path for f in list_artifacts(run_dir, "plots")]
    ['plots/roc.json']
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tracking.entities import FileInfo
from tracking.errors import ArtifactPathError, InvalidInputError, NotFoundError

__all__ = [
    "MAX_COMPONENT_BYTES",
    "MAX_PATH_BYTES",
    "clean_artifact_path",
    "copy_artifacts",
    "download_artifacts",
    "list_artifacts",
    "log_artifact",
    "log_artifacts",
    "open_artifact",
    "resolve_in_run",
    "write_artifact",
]

MAX_PATH_BYTES = 1024
MAX_COMPONENT_BYTES = 255

_TMP_PREFIX = ".sweepbook-tmp-"
_STORE_DEPTH = 2  # <experiment_id>/<run_id>: the folders the store makes below its artifact root
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"123456789", "\u00b9", "\u00b2", "\u00b3"]]
)

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not hang
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_DIR_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC | _O_BINARY
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC | _O_BINARY
# Descriptor-relative walking (openat and friends); without it we fall back to checked paths.
_USE_DIR_FD = (
    bool(_O_DIRECTORY and _O_NOFOLLOW)
    and all(f in os.supports_dir_fd for f in (os.open, os.mkdir, os.stat, os.rename, os.unlink))
    and os.scandir in os.supports_fd
)


# --------------------------------------------------------------------------- validation


def _show(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= 80 else f"{shown[:60]}... ({len(text)} chars)"


def _component_violation(part: str) -> str | None:
    if part == "..":
        return "'..' would leave the run folder"
    if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
        return f"a component is longer than {MAX_COMPONENT_BYTES} bytes"
    if part.split(".")[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        return f"{part!r} is a reserved device name on Windows (CON, NUL, COM1, ...)"
    if part.endswith((".", " ")):
        return f"{part!r} ends with '.' or ' ', which Windows drops (two names would collide)"
    if part.startswith(_TMP_PREFIX):
        return f"names starting with {_TMP_PREFIX!r} are reserved for temporary files"
    return None


def _violation(path: str) -> str | None:
    """The first rule `path` breaks, or None."""
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid Unicode text (lone surrogate)"
    if size > MAX_PATH_BYTES:
        return f"is {size} bytes long; the limit is {MAX_PATH_BYTES}"
    if any(unicodedata.category(ch) == "Cc" for ch in path):
        return "contains a control character (NUL, newline, ...)"
    if "\\" in path:
        return "contains a backslash; separate folders with '/'"
    if _PERCENT_ESCAPE.search(path):
        return (
            "contains a percent-encoded sequence ('%' and two hex digits); names are never decoded"
        )
    if "?" in path or "#" in path:
        return "contains '?' or '#' (URL query or fragment)"
    if ":" in path:
        return "contains ':' (URI scheme, drive letter or Windows stream)"
    if path.startswith("/"):
        return "is absolute; artifact paths are relative to the run folder"
    if path.startswith("~"):
        return "starts with '~' (home folder expansion)"
    for part in path.split("/"):
        if part not in ("", "."):
            rule = _component_violation(part)
            if rule is not None:
                return rule
    return None


def _clean(path: str | None, what: str = "artifact path") -> str:
    if path is None:
        return ""
    if not isinstance(path, str):
        raise ArtifactPathError(f"{what} must be a str, got {type(path).__name__}")
    rule = _violation(path)
    if rule is None:
        folded = unicodedata.normalize("NFKC", path)
        if folded != path and (folded_rule := _violation(folded)) is not None:
            rule = f"after Unicode NFKC normalisation to {_show(folded)}, {folded_rule}"
    if rule is not None:
        raise ArtifactPathError(f"{what} {_show(path)}: {rule}")
    return "/".join(part for part in path.split("/") if part not in ("", "."))


def clean_artifact_path(artifact_path: str | None) -> str:
    """Validate an artifact path and return it normalised ('' for the run folder itself).

    Empty components and '.' are dropped (`'a//b/./c/'` -> `'a/b/c'`); names are never URL-decoded
    and '$' is a plain character. Refused with ArtifactPathError: '..' components, absolute paths,
    a leading '~', backslashes, ':' (drive letters, URI schemes), '?' and '#', any '%' followed
    by two hex digits, control characters, Windows device names (CON, aux.txt, COM1 ...),
    components ending in '.' or ' ', components over 255 bytes, paths over 1024 bytes; the same
    rules are applied again after Unicode NFKC folding (so fullwidth '．．' counts as '..').

        >>> clean_artifact_path("plots//roc/")
        'plots/roc'
    """
    return _clean(artifact_path)


def _link_error(rel: str) -> ArtifactPathError:
    return ArtifactPathError(
        f"artifact path {rel!r} is a symbolic link; links are never followed inside a run folder"
    )


def resolve_in_run(run_dir: Path, relative: str) -> Path:
    """Clean `relative` and return it joined to the resolved `run_dir`, checked to stay inside.

    Every existing component below `run_dir` must not be a symbolic link, and the resolved path
    must lie inside `run_dir.resolve()`; ArtifactPathError otherwise. The path need not exist.

        >>> resolve_in_run(Path("/r/artifacts/0/abc"), "plots/roc.png")
        PosixPath('/r/artifacts/0/abc/plots/roc.png')
    """
    rel = _clean(relative)
    root = Path(os.path.realpath(run_dir))
    current = root
    for part in rel.split("/") if rel else ():
        current = current / part
        if current.is_symlink():
            raise _link_error(current.relative_to(root).as_posix())
        if not os.path.lexists(current):
            break
    target = root / rel if rel else root
    real = os.path.realpath(target)
    if os.path.commonpath([real, str(root)]) != str(root):
        raise ArtifactPathError(f"artifact path {rel!r} resolves outside the run folder")
    return target


# --------------------------------------------------------------------------- folder handles


class _NotAFolder(InvalidInputError):
    """A path component that exists but is a file."""


@dataclass
class _Dir:
    """An open folder: a descriptor where the platform allows, its real path in any case."""

    root: str  # the resolved top folder, for the fallback's containment check
    path: str
    rel: str
    fd: int | None

    def at(self, name: str) -> tuple[str, int | None]:
        """Arguments naming `name` inside this folder: (name, dir_fd) or (full path, None)."""
        return (name, self.fd) if self.fd is not None else (os.path.join(self.path, name), None)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> _Dir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _makedirs_private(path: str) -> None:
    """Create `path` and any missing parents with mode 0o700; existing folders are left as is."""
    missing = []
    current = path
    while not os.path.lexists(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass


def _open_root(top: str | os.PathLike[str], *, create: bool) -> _Dir | None:
    root = os.path.realpath(top)
    if create:
        _makedirs_private(root)
    if not os.path.isdir(root):
        if os.path.lexists(root):
            raise InvalidInputError(f"{root!r} is not a folder")
        return None
    fd = os.open(root, _DIR_FLAGS) if _USE_DIR_FD else None
    return _Dir(root, root, "", fd)


def _open_run(run_dir: str | os.PathLike[str], *, create: bool) -> _Dir | None:
    """Open the run folder from the artifact root down; None if it is missing (and not created).

    The last `_STORE_DEPTH` components of `run_dir` (`<experiment_id>/<run_id>`) are the store's
    own folders and are opened without following links, like every folder below them; only the
    artifact root above them, which the user or the config chose (a shared mount may well be
    reached through a link), is resolved.
    """
    tail: list[str] = []
    anchor = os.path.abspath(run_dir)
    while len(tail) < _STORE_DEPTH:
        anchor, name = os.path.split(anchor)
        if not name:
            break
        tail.insert(0, name)
    top = _open_root(anchor, create=create)
    if top is None:
        return None
    shown = os.path.join(top.path, *tail)
    with top:
        try:
            run = _walk(top, "/".join(tail), create=create)
        except NotFoundError:
            return None
        except ArtifactPathError:
            raise ArtifactPathError(
                f"run folder {shown!r} goes through a symbolic link; the store's folders are "
                "never followed") from None
        except _NotAFolder:
            raise InvalidInputError(f"{shown!r} is not a folder") from None
    return _Dir(run.path, run.path, "", run.fd)


def _child(parent: _Dir, name: str, *, create: bool) -> _Dir:
    """Open the sub-folder `name`, creating it (0o700) if asked; never through a link."""
    rel = f"{parent.rel}/{name}" if parent.rel else name
    arg, dir_fd = parent.at(name)
    if create:
        try:
            os.mkdir(arg, 0o700, dir_fd=dir_fd)
        except FileExistsError:
            pass
    try:
        st = os.stat(arg, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise NotFoundError(f"artifact {rel!r} does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise _link_error(rel)
    if not stat.S_ISDIR(st.st_mode):
        raise _NotAFolder(f"artifact path {rel!r} is a file, not a folder")
    if dir_fd is None:  # fallback: re-check the folder we just made or found
        real = os.path.realpath(arg)
        if os.path.islink(arg) or os.path.commonpath([real, parent.root]) != parent.root:
            raise _link_error(rel)
        return _Dir(parent.root, arg, rel, None)
    try:  # the descriptor is the authority: O_NOFOLLOW refuses a link swapped in since stat
        fd = os.open(arg, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise _link_error(rel) from None
        if exc.errno == errno.ENOENT:
            raise NotFoundError(f"artifact {rel!r} does not exist") from None
        raise
    return _Dir(parent.root, os.path.join(parent.path, name), rel, fd)


def _walk(top: _Dir, rel: str, *, create: bool) -> _Dir:
    """Open the folder `rel` below `top` one component at a time; the caller closes it."""
    current = _Dir(top.root, top.path, top.rel, os.dup(top.fd) if top.fd is not None else None)
    try:
        for part in rel.split("/") if rel else ():
            nxt = _child(current, part, create=create)
            current.close()
            current = nxt
    except BaseException:
        current.close()
        raise
    return current


def _write_file(folder: _Dir, name: str, fill: Callable[[BinaryIO], object]) -> None:
    """Write `name` in `folder` atomically: a temp file (0o600), fsync, then os.replace."""
    tmp_arg, dir_fd = folder.at(_TMP_PREFIX + os.urandom(8).hex())
    final_arg, _ = folder.at(name)
    fd = os.open(tmp_arg, _TMP_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        try:  # replaces a file, never writes through a link; a folder there makes it fail
            os.replace(tmp_arg, final_arg, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except (IsADirectoryError, PermissionError) as exc:
            rel = f"{folder.rel}/{name}" if folder.rel else name
            if isinstance(exc, IsADirectoryError) or os.path.isdir(os.path.join(folder.path, name)):
                raise InvalidInputError(
                    f"artifact {rel!r} is a folder; a file cannot replace it"
                ) from None
            raise
    except BaseException:
        try:
            os.unlink(tmp_arg, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise


def _open_regular(arg: str, dir_fd: int | None, *, follow: bool, shown: str) -> BinaryIO:
    """Open a regular file for reading; FIFOs and devices are refused, and unless `follow`
    (a run's own file, not the caller's) so are symbolic links and files with hard links."""
    flags = _READ_FLAGS | (0 if follow else _O_NOFOLLOW)
    try:
        fd = os.open(arg, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow:
            raise _link_error(shown) from None
        if exc.errno == errno.ENOENT:
            raise NotFoundError(f"{shown!r} does not exist") from None
        raise
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif not follow and info.st_nlink > 1:
        problem = "has other hard links; a file linked from outside the run is never served"
    if problem:
        os.close(fd)
        raise InvalidInputError(f"{shown!r} {problem}")
    return os.fdopen(fd, "rb")


def _copy_into(folder: _Dir, name: str, source: BinaryIO) -> None:
    with source:
        _write_file(folder, name, lambda out: shutil.copyfileobj(source, out, 1 << 20))


def _entries(folder: _Dir) -> Iterator[tuple[str, bool, int]]:
    """(name, is_dir, size) of the folder's children; links (symbolic or hard), temp files and
    odd names skipped."""
    with os.scandir(folder.fd if folder.fd is not None else folder.path) as it:
        for entry in it:
            name = entry.name
            if entry.is_symlink() or name.startswith(_TMP_PREFIX) or _violation(name):
                continue
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                yield name, True, 0
            elif stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
                yield name, False, st.st_size


def _split(rel: str) -> tuple[str, str]:
    parent, _, name = rel.rpartition("/")
    return parent, name


# --------------------------------------------------------------------------- public API


def write_artifact(run_dir: Path, relative_file: str, data: bytes | str) -> str:
    """Write `data` (text is UTF-8 encoded) to the artifact file `relative_file`, atomically.

    Missing folders are created (0o700); an existing file is replaced. Returns the clean path.

        >>> write_artifact(run_dir, "notes/summary.txt", "converged at step 40")
        'notes/summary.txt'
    """
    rel = _clean(relative_file)
    if not rel:
        raise ArtifactPathError(f"artifact path {relative_file!r}: needs a file name")
    if isinstance(data, str):
        payload = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        payload = bytes(data)
    else:
        raise InvalidInputError(f"data must be bytes or str, got {type(data).__name__}")
    resolve_in_run(run_dir, rel)
    parent_rel, name = _split(rel)
    root = _open_run(run_dir, create=True)
    assert root is not None
    with root, _walk(root, parent_rel, create=True) as folder:
        _write_file(folder, name, lambda out: out.write(payload))
    return rel


def log_artifact(
    run_dir: Path, local_path: str | os.PathLike[str], artifact_path: str | None = None
) -> str:
    """Copy one local file to `run_dir/artifact_path/<its name>`; returns the stored path.

    The file's name is validated like any artifact path. A missing file raises NotFoundError,
    a folder InvalidInputError (use `log_artifacts`). A link given here is followed: the
    caller named it.

        >>> log_artifact(run_dir, "out/model.pkl", "models")
        'models/model.pkl'
    """
    source = os.fspath(local_path)
    if not os.path.exists(source):
        raise NotFoundError(f"local file {source!r} does not exist")
    if os.path.isdir(source):
        raise InvalidInputError(f"{source!r} is a folder; use log_artifacts() to copy a folder")
    name = os.path.basename(source)
    _clean(name, what=f"file name (of {source!r})")
    base = _clean(artifact_path)
    rel = _clean(f"{base}/{name}" if base else name)
    resolve_in_run(run_dir, rel)
    root = _open_run(run_dir, create=True)
    assert root is not None
    with root:
        _copy_file(root, base, name, source)
    return rel


def _copy_file(root: _Dir, parent_rel: str, name: str, local: str) -> None:
    """Copy the local file into the folder `parent_rel` (made if missing) under `root`."""
    with _open_regular(local, None, follow=True, shown=local) as stream, \
            _walk(root, parent_rel, create=True) as folder:
        _copy_into(folder, name, stream)


def log_artifacts(
    run_dir: Path, local_dir: str | os.PathLike[str], artifact_path: str | None = None
) -> list[str]:
    """Copy a local folder's contents, recursively, to `run_dir/artifact_path`.

    Returns the stored file paths, sorted. Every name is validated before anything is copied.
    Links in the source: a link to a file is copied as the file's content; links to folders,
    dangling links and special files (FIFOs, sockets, devices) are skipped, so a link cycle
    cannot hang the copy. No link is ever created in the run folder. Empty folders are kept.

        >>> log_artifacts(run_dir, "out/plots", "plots")
        ['plots/loss.png', 'plots/roc/roc.png']
    """
    source = os.fspath(local_dir)
    if not os.path.exists(source):
        raise NotFoundError(f"local folder {source!r} does not exist")
    if not os.path.isdir(source):
        raise InvalidInputError(f"{source!r} is a file; use log_artifact() to copy one file")
    base = _clean(artifact_path)
    resolve_in_run(run_dir, base)

    def stop(exc: OSError) -> None:
        raise exc

    folders: list[str] = []
    files: list[tuple[str, str]] = []  # (stored path, local path)
    for top, dirnames, filenames in os.walk(source, onerror=stop, followlinks=False):
        sub = Path(os.path.relpath(top, source)).as_posix()
        prefix = "/".join(p for p in (base, "" if sub == "." else sub) if p)
        for dirname in list(dirnames):
            if os.path.islink(os.path.join(top, dirname)):
                dirnames.remove(dirname)  # links to folders are skipped, never descended
                continue
            local = os.path.join(top, dirname)
            _clean(dirname, what=f"folder name (of {local!r})")
            folders.append(_clean(f"{prefix}/{dirname}" if prefix else dirname))
        for filename in filenames:
            local = os.path.join(top, filename)
            if not os.path.isfile(local):  # follows links: dangling, FIFO, socket... skipped
                continue
            _clean(filename, what=f"file name (of {local!r})")
            files.append((_clean(f"{prefix}/{filename}" if prefix else filename), local))

    root = _open_run(run_dir, create=True)
    assert root is not None
    with root:
        _walk(root, base, create=True).close()
        for folder_rel in folders:
            _walk(root, folder_rel, create=True).close()
        for rel, local in files:
            _copy_file(root, *_split(rel), local)
    return sorted(rel for rel, _ in files)


def list_artifacts(run_dir: Path, path: str | None = None) -> list[FileInfo]:
    """The direct children of `run_dir/path` (one level, as MLflow), sorted by path.

    `FileInfo.path` is relative to `run_dir` with '/'; folders have `file_size` None. A missing
    run folder or path, or a path naming a file, gives []. Links, leftover temp files and names
    that `clean_artifact_path` would refuse are left out; a link on `path` itself is refused.

        >>> list_artifacts(run_dir)
        [FileInfo(path='model.pkl', is_dir=False, file_size=2048), FileInfo(path='plots', ...)]
    """
    rel = _clean(path)
    resolve_in_run(run_dir, rel)
    root = _open_run(run_dir, create=False)
    if root is None:
        return []
    with root:
        try:
            folder = _walk(root, rel, create=False)
        except (NotFoundError, _NotAFolder):
            return []
        with folder:
            infos = [
                FileInfo(f"{rel}/{name}" if rel else name, is_dir, None if is_dir else size)
                for name, is_dir, size in _entries(folder)
            ]
    return sorted(infos, key=lambda info: info.path)


def open_artifact(run_dir: Path, path: str) -> tuple[BinaryIO, int, str]:
    """(open binary file, size, clean path) of the artifact file `path`, for reading.

    Opened like every artifact, never through a link; ArtifactPathError for an unsafe path or a
    link, NotFoundError for a missing file, InvalidInputError for the run folder itself, a
    folder, a special file or a file with other hard links. The caller closes the file.

        >>> handle, size, rel = open_artifact(run_dir, "plots/roc.json")
    """
    rel = _clean(path)
    if not rel:
        raise InvalidInputError("artifact path: names the run folder; give a file")
    resolve_in_run(run_dir, rel)
    root = _open_run(run_dir, create=False)
    if root is None:
        raise NotFoundError(f"artifact {rel!r} does not exist (the run has no artifacts)")
    parent_rel, name = _split(rel)
    with root:
        try:
            folder = _walk(root, parent_rel, create=False)
        except _NotAFolder:
            raise NotFoundError(f"artifact {rel!r} does not exist") from None
        with folder:
            arg, dir_fd = folder.at(name)
            try:
                if stat.S_ISDIR(os.stat(arg, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                    raise InvalidInputError(f"artifact {rel!r} is a folder")
            except FileNotFoundError:
                raise NotFoundError(f"artifact {rel!r} does not exist") from None
            handle = _open_regular(arg, dir_fd, follow=False, shown=rel)
    os.set_blocking(handle.fileno(), True)
    return handle, os.fstat(handle.fileno()).st_size, rel


def _copy_tree(src: _Dir, dst: _Dir) -> None:
    for name, is_dir, _ in _entries(src):
        if is_dir:
            with _child(src, name, create=False) as src_child, \
                    _child(dst, name, create=True) as dst_child:
                _copy_tree(src_child, dst_child)
        else:
            arg, dir_fd = src.at(name)
            shown = f"{src.rel}/{name}" if src.rel else name
            _copy_into(dst, name, _open_regular(arg, dir_fd, follow=False, shown=shown))


def download_artifacts(artifact_uri: str | None = None, run_id: str | None = None,
                       artifact_path: str | None = None,
                       dst_path: str | os.PathLike[str] | None = None,
                       tracking_uri: str | os.PathLike[str] | None = None) -> str:
    """MLflow's `mlflow.artifacts.download_artifacts`: copy the artifact that `artifact_uri`
    (`runs:/…`, `models:/…`, a local path) or `run_id` + `artifact_path` names to `dst_path`
    (a new temporary folder if None) and return its local path.

        >>> download_artifacts(artifact_uri="runs:/0a1b.../model", dst_path="/tmp/m")
        '/tmp/m/model'
    """
    from tracking.models.uri import download_artifacts as download  # it needs the Client
    return download(artifact_uri=artifact_uri, run_id=run_id, artifact_path=artifact_path,
                    dst_path=dst_path, tracking_uri=tracking_uri)


def copy_artifacts(run_dir: Path, path: str | None, dst_path: str | os.PathLike[str]) -> str:
    """Copy the artifact file or folder `path` (everything if None) into `dst_path`.

    The artifact keeps its relative path below `dst_path` (MLflow's layout): `path='plots/roc'`
    lands in `dst_path/plots/roc`. `dst_path` is created (0o700) if missing. Links inside the
    run folder are skipped, never followed; a link on `path` itself is refused. Returns the
    local path of the copy. A missing artifact raises NotFoundError.

        >>> copy_artifacts(run_dir, "plots", "/tmp/dl")
        '/tmp/dl/plots'
    """
    rel = _clean(path)
    resolve_in_run(run_dir, rel)
    destination = os.path.abspath(os.fspath(dst_path))
    root = _open_run(run_dir, create=False)
    if root is None:
        if rel:
            raise NotFoundError(f"artifact {rel!r} does not exist (the run has no artifacts)")
        _makedirs_private(destination)
        return destination
    parent_rel, name = _split(rel)
    with root:
        try:
            src_parent = _walk(root, parent_rel, create=False)
        except _NotAFolder:
            raise NotFoundError(f"artifact {rel!r} does not exist") from None
        with src_parent:
            dst_root = _open_root(destination, create=True)
            assert dst_root is not None
            with dst_root:
                return _download(src_parent, dst_root, rel, parent_rel, name, destination)


def _download(src_parent: _Dir, dst_root: _Dir, rel: str, parent_rel: str, name: str,
              destination: str) -> str:
    """The copying part of `copy_artifacts`, with both folders open."""
    if not rel:
        _copy_tree(src_parent, dst_root)
        return destination
    arg, dir_fd = src_parent.at(name)
    try:
        st = os.stat(arg, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise NotFoundError(f"artifact {rel!r} does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise _link_error(rel)
    with _walk(dst_root, parent_rel, create=True) as dst_parent:
        if stat.S_ISDIR(st.st_mode):
            with _child(src_parent, name, create=False) as src_dir, \
                    _child(dst_parent, name, create=True) as dst_dir:
                _copy_tree(src_dir, dst_dir)
        else:
            _copy_into(dst_parent, name,
                       _open_regular(arg, dir_fd, follow=False, shown=rel))
    return os.path.join(destination, *rel.split("/"))
