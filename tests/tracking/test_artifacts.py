"""Artifacts stay inside the run folder: traversal payloads, planted links, good paths."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from tracking.artifacts import (
    clean_artifact_path,
    copy_artifacts,
    list_artifacts,
    log_artifact,
    log_artifacts,
    open_artifact,
    resolve_in_run,
    write_artifact,
)
from tracking.entities import FileInfo
from tracking.errors import ArtifactPathError, InvalidInputError, NotFoundError, TrackingError

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX symlinks")

# reliability.md §2.1, plus a few neighbours of each shape
PAYLOADS = [
    "../x",
    "../../../../etc/passwd",
    "./../x",
    "a/../../x",
    "a/./../../x",
    "a/b/../../../x",
    "a/..",
    "..",
    "../other_run/x",
    "/",
    "//etc/passwd",
    "/etc/passwd",
    "~/.ssh/id_rsa",
    "~root/x",
    "..\\x",
    "a\\..\\..\\x",
    "C:\\Windows\\win.ini",
    "C:x",
    "c:/x",
    "\\\\server\\share\\x",
    "%2e%2e/x",
    "%2e%2e%2fx",
    "..%2fx",
    "%252e%252e%252fx",
    "..%252f..%252fx",
    "..%c0%af",
    "..%5c",
    "%00",
    "a%00.txt",
    "a\x00b",
    "a\nb",
    "a\x7f",
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "http:///#/../../etc/",
    "x?y=../../etc",
    "x#../../etc",
    "CON",
    "NUL",
    "COM1",
    "lpt9.log",
    "aux.txt",
    "a/con/b",
    "x.",
    "\uff0e\uff0e/x",  # fullwidth '..' folds to '..' under NFKC
    "a\uff3c..\uff3cx",  # fullwidth backslash
    "A" * 5000,
    "b" * 256,
    "a/" + "é" * 128,  # 256 bytes in UTF-8
    ".sweepbook-tmp-deadbeef",
]


def _tree(top: Path) -> dict[str, str]:
    """Every path under `top` (links not followed) with a digest of files and link targets."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            rel = full.relative_to(top).as_posix()
            if full.is_symlink():
                out[rel] = "link:" + os.readlink(full)
            elif full.is_file():
                out[rel] = hashlib.sha256(full.read_bytes()).hexdigest()
            elif full.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = "special"
    return out


class Layout:
    """tmp_path/root/artifacts/0/run (the run), a sibling run and a folder outside, as canaries."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.run = tmp_path / "root" / "artifacts" / "0" / "run"
        self.other_run = tmp_path / "root" / "artifacts" / "0" / "other_run"
        self.outside = tmp_path / "outside"
        for folder in (self.run, self.other_run, self.outside):
            folder.mkdir(parents=True)
        (self.other_run / "secret.txt").write_text("other run's artifact")
        (self.outside / "canary.txt").write_text("outside")
        self.local = tmp_path / "local.txt"
        self.local.write_text("payload")
        self.before_tmp = _tree(tmp_path)
        self.before_parent = sorted(os.listdir(tmp_path.parent))

    def assert_untouched(self, *, run_may_change: bool = False) -> None:
        after = _tree(self.tmp)
        before = self.before_tmp
        if run_may_change:
            prefix = "root/artifacts/0/run/"
            after = {k: v for k, v in after.items() if not k.startswith(prefix)}
            before = {k: v for k, v in before.items() if not k.startswith(prefix)}
        assert after == before
        assert sorted(os.listdir(self.tmp.parent)) == self.before_parent


@pytest.fixture
def lay(tmp_path: Path) -> Layout:
    return Layout(tmp_path)


# --------------------------------------------------------------------------- payloads


@pytest.mark.parametrize("payload", PAYLOADS)
def test_clean_refuses_payload_with_one_line_message(payload: str) -> None:
    with pytest.raises(ArtifactPathError) as info:
        clean_artifact_path(payload)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300


@pytest.mark.parametrize("payload", PAYLOADS)
def test_log_artifact_refuses_payload(lay: Layout, payload: str) -> None:
    with pytest.raises(ArtifactPathError):
        log_artifact(lay.run, lay.local, payload)
    lay.assert_untouched()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_log_artifacts_refuses_payload(lay: Layout, payload: str) -> None:
    src = lay.tmp / "src"
    src.mkdir()
    (src / "f.txt").write_text("x")
    lay.before_tmp = _tree(lay.tmp)
    with pytest.raises(ArtifactPathError):
        log_artifacts(lay.run, src, payload)
    lay.assert_untouched()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_write_artifact_refuses_payload(lay: Layout, payload: str) -> None:
    with pytest.raises(ArtifactPathError):
        write_artifact(lay.run, payload, b"payload")
    lay.assert_untouched()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_list_artifacts_refuses_payload(lay: Layout, payload: str) -> None:
    with pytest.raises(ArtifactPathError):
        list_artifacts(lay.run, payload)
    lay.assert_untouched()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_download_artifacts_refuses_payload(lay: Layout, payload: str) -> None:
    write_artifact(lay.run, "x", "in the run")
    lay.before_tmp = _tree(lay.tmp)
    with pytest.raises(ArtifactPathError):
        copy_artifacts(lay.run, payload, lay.tmp / "dl")
    lay.assert_untouched()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_resolve_in_run_refuses_payload(lay: Layout, payload: str) -> None:
    with pytest.raises(ArtifactPathError):
        resolve_in_run(lay.run, payload)


@pytest.mark.parametrize("name", ["CON", "a:b.txt", "x%2e.txt", "bad\\name"])
def test_log_artifact_refuses_unsafe_file_name(lay: Layout, name: str) -> None:
    local = lay.tmp / "names" / name
    local.parent.mkdir()
    local.write_text("x")
    lay.before_tmp = _tree(lay.tmp)
    with pytest.raises(ArtifactPathError, match="file name"):
        log_artifact(lay.run, local)
    lay.assert_untouched()


def test_log_artifacts_refuses_unsafe_name_before_copying_anything(lay: Layout) -> None:
    src = lay.tmp / "src"
    (src / "ok").mkdir(parents=True)
    (src / "ok" / "a.txt").write_text("a")
    (src / "ok" / "aux.txt").write_text("b")
    lay.before_tmp = _tree(lay.tmp)
    with pytest.raises(ArtifactPathError, match="aux.txt"):
        log_artifacts(lay.run, src)
    lay.assert_untouched()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (None, ""),
        ("", ""),
        (".", ""),
        ("./", ""),
        ("plots/roc/", "plots/roc"),
        ("a//b/./c", "a/b/c"),
        ("$HOME/x", "$HOME/x"),
        ("${HOME}/x", "${HOME}/x"),
        ("name with spaces", "name with spaces"),
        ('"quote\'d"', '"quote\'d"'),
        ("<script>.txt", "<script>.txt"),
        ("a~b/c", "a~b/c"),
        ("100%", "100%"),
        ("...x", "...x"),
        ("console.log", "console.log"),
        ("c" * 255, "c" * 255),
        ("données/模型.bin", "données/模型.bin"),
    ],
)
def test_clean_accepts_and_normalises(raw: str | None, clean: str) -> None:
    assert clean_artifact_path(raw) == clean


def test_total_length_limit_counts_bytes() -> None:
    ok = "/".join(["d" * 200] * 5)  # 1004 bytes
    assert clean_artifact_path(ok) == ok
    with pytest.raises(ArtifactPathError, match="1024"):
        clean_artifact_path(ok + "/" + "e" * 30)


# --------------------------------------------------------------------------- planted links


def _plant(lay: Layout, kind: str) -> None:
    evil = lay.run / "evil"
    if kind == "absolute_dir":
        evil.symlink_to(lay.outside, target_is_directory=True)
    elif kind == "relative_sibling":
        evil.symlink_to(Path("..") / "other_run", target_is_directory=True)
    elif kind == "dangling":
        evil.symlink_to(lay.tmp / "does_not_exist")
    elif kind == "outside_file":
        evil.symlink_to(lay.outside / "canary.txt")
    lay.before_tmp = _tree(lay.tmp)


LINKS = ["absolute_dir", "relative_sibling", "dangling", "outside_file"]


@posix_only
@pytest.mark.parametrize("kind", LINKS)
def test_planted_link_refused_for_every_operation(lay: Layout, kind: str) -> None:
    _plant(lay, kind)
    for target in ("evil", "evil/x.txt", "evil/sub/x.txt"):
        with pytest.raises(ArtifactPathError, match="symbolic link"):
            write_artifact(lay.run, target, b"pwned")
        with pytest.raises(ArtifactPathError, match="symbolic link"):
            copy_artifacts(lay.run, target, lay.tmp / "dl")
        with pytest.raises(ArtifactPathError, match="symbolic link"):
            list_artifacts(lay.run, target)
        with pytest.raises(ArtifactPathError, match="symbolic link"):
            resolve_in_run(lay.run, target)
    with pytest.raises(ArtifactPathError, match="symbolic link"):
        log_artifact(lay.run, lay.local, "evil")
    src = lay.tmp / "src"
    src.mkdir()
    (src / "f.txt").write_text("f")
    lay.before_tmp = _tree(lay.tmp)
    with pytest.raises(ArtifactPathError, match="symbolic link"):
        log_artifacts(lay.run, src, "evil")
    lay.assert_untouched()


@posix_only
@pytest.mark.parametrize("kind", LINKS)
def test_planted_link_skipped_when_listing_and_downloading_everything(
    lay: Layout, kind: str
) -> None:
    write_artifact(lay.run, "real.txt", "real")
    _plant(lay, kind)
    assert list_artifacts(lay.run) == [FileInfo("real.txt", False, 4)]
    dl = lay.tmp / "dl"
    assert copy_artifacts(lay.run, None, dl) == str(dl)
    assert sorted(os.listdir(dl)) == ["real.txt"]
    assert not any(p.is_symlink() for p in dl.rglob("*"))


@posix_only
def test_nested_planted_link_refused(lay: Layout) -> None:
    write_artifact(lay.run, "a/b/keep.txt", "k")
    (lay.run / "a" / "b" / "evil").symlink_to(lay.outside, target_is_directory=True)
    lay.before_tmp = _tree(lay.tmp)
    with pytest.raises(ArtifactPathError):
        write_artifact(lay.run, "a/b/evil/x.txt", "pwned")
    with pytest.raises(ArtifactPathError):
        log_artifact(lay.run, lay.local, "a/b/evil/deeper")
    assert [f.path for f in list_artifacts(lay.run, "a/b")] == ["a/b/keep.txt"]
    lay.assert_untouched()


@posix_only
def test_link_swapped_in_under_concurrent_writes_never_writes_outside(lay: Layout) -> None:
    """TOCTOU: a thread swaps run/d between a real folder and a link to `outside`."""
    d, real, stop = lay.run / "d", lay.run / "d_real", threading.Event()
    d.mkdir()

    def swap() -> None:
        while not stop.is_set():
            try:
                os.rename(d, real)
                os.symlink(lay.outside, d)
                os.unlink(d)
                os.rename(real, d)
            except OSError:
                pass

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        for i in range(300):
            try:
                write_artifact(lay.run, f"d/x{i}.txt", b"pwned")
            except (TrackingError, OSError):
                pass
    finally:
        stop.set()
        swapper.join()
    assert sorted(os.listdir(lay.outside)) == ["canary.txt"]
    lay.assert_untouched(run_may_change=True)


# --------------------------------------------------------------------------- good paths


def test_write_nested_overwrite_and_modes(lay: Layout) -> None:
    assert write_artifact(lay.run, "a/b/c/notes.txt", "one") == "a/b/c/notes.txt"
    assert write_artifact(lay.run, "a/b/c/notes.txt", b"two") == "a/b/c/notes.txt"
    target = lay.run / "a" / "b" / "c" / "notes.txt"
    assert target.read_bytes() == b"two"
    if os.name == "posix":
        assert stat.S_IMODE((lay.run / "a").stat().st_mode) & 0o077 == 0
        assert stat.S_IMODE(target.stat().st_mode) & 0o077 == 0
    lay.assert_untouched(run_may_change=True)


def test_write_creates_missing_run_folder_privately(tmp_path: Path) -> None:
    run = tmp_path / "artifacts" / "7" / "newrun"
    write_artifact(run, "x.json", "{}")
    assert (run / "x.json").read_text() == "{}"
    if os.name == "posix":
        for folder in (tmp_path / "artifacts", run.parent, run):
            assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0


def test_atomic_write_leaves_no_temp_files(lay: Layout) -> None:
    for i in range(20):
        write_artifact(lay.run, "metrics/summary.json", f'{{"i": {i}}}')
    assert os.listdir(lay.run / "metrics") == ["summary.json"]
    assert (lay.run / "metrics" / "summary.json").read_text() == '{"i": 19}'


def test_write_refuses_empty_name_and_folder_target(lay: Layout) -> None:
    with pytest.raises(ArtifactPathError, match="file name"):
        write_artifact(lay.run, "./", b"x")
    write_artifact(lay.run, "folder/inner.txt", b"x")
    with pytest.raises(InvalidInputError, match="folder"):
        write_artifact(lay.run, "folder", b"x")
    with pytest.raises(InvalidInputError, match="file, not a folder"):
        write_artifact(lay.run, "folder/inner.txt/deeper.txt", b"x")
    assert sorted(os.listdir(lay.run / "folder")) == ["inner.txt"]


@pytest.mark.parametrize("name", ["name with spaces.txt", "données 模型.txt", "<script>.txt"])
def test_log_artifact_good_names(lay: Layout, name: str) -> None:
    local = lay.tmp / "src" / name
    local.parent.mkdir()
    local.write_text("content")
    lay.before_tmp = _tree(lay.tmp)
    assert log_artifact(lay.run, local, "sub dir/deeper") == f"sub dir/deeper/{name}"
    assert (lay.run / "sub dir" / "deeper" / name).read_text() == "content"
    assert log_artifact(lay.run, local) == name
    lay.assert_untouched(run_may_change=True)


def test_log_artifact_missing_and_folder(lay: Layout) -> None:
    with pytest.raises(NotFoundError, match="nope.txt"):
        log_artifact(lay.run, lay.tmp / "nope.txt")
    with pytest.raises(InvalidInputError, match="log_artifacts"):
        log_artifact(lay.run, lay.outside)


@posix_only
def test_log_artifact_refuses_fifo(lay: Layout) -> None:
    fifo = lay.tmp / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInputError, match="regular file"):
        log_artifact(lay.run, fifo)


@posix_only
def test_log_artifacts_tree_with_links(lay: Layout) -> None:
    src = lay.tmp / "src"
    (src / "sub" / "empty").mkdir(parents=True)
    (src / "top.txt").write_text("top")
    (src / "sub" / "inner.txt").write_text("inner")
    (src / "alias.txt").symlink_to(src / "sub" / "inner.txt")  # file link: content copied
    (src / "sub" / "loop").symlink_to(src, target_is_directory=True)  # folder link: skipped
    (src / "dangling").symlink_to(src / "gone")
    os.mkfifo(src / "pipe")
    lay.before_tmp = _tree(lay.tmp)
    stored = log_artifacts(lay.run, src, "tree")
    assert stored == ["tree/alias.txt", "tree/sub/inner.txt", "tree/top.txt"]
    assert (lay.run / "tree" / "alias.txt").read_text() == "inner"
    assert (lay.run / "tree" / "sub" / "empty").is_dir()
    assert not any(p.is_symlink() for p in lay.run.rglob("*"))
    lay.assert_untouched(run_may_change=True)


def test_log_artifacts_missing_and_file(lay: Layout) -> None:
    with pytest.raises(NotFoundError):
        log_artifacts(lay.run, lay.tmp / "nope")
    with pytest.raises(InvalidInputError, match="log_artifact"):
        log_artifacts(lay.run, lay.local)


def test_list_one_level_sorted(lay: Layout) -> None:
    write_artifact(lay.run, "b.txt", "bb")
    write_artifact(lay.run, "a/inner.txt", "i")
    write_artifact(lay.run, "a/deeper/x.txt", "x")
    assert list_artifacts(lay.run) == [FileInfo("a", True, None), FileInfo("b.txt", False, 2)]
    assert list_artifacts(lay.run, "a/") == [
        FileInfo("a/deeper", True, None),
        FileInfo("a/inner.txt", False, 1),
    ]
    assert list_artifacts(lay.run, "b.txt") == []
    assert list_artifacts(lay.run, "missing") == []
    assert list_artifacts(lay.tmp / "no_such_run") == []


def test_list_skips_temp_files_and_unsafe_names(lay: Layout) -> None:
    write_artifact(lay.run, "ok.txt", "ok")
    (lay.run / ".sweepbook-tmp-0123").write_text("half")
    (lay.run / "back\\slash").write_text("odd")
    assert [f.path for f in list_artifacts(lay.run)] == ["ok.txt"]


def test_download_file_folder_and_everything(lay: Layout) -> None:
    write_artifact(lay.run, "model.bin", b"\x00\x01")
    write_artifact(lay.run, "plots/roc/roc.json", "{}")
    write_artifact(lay.run, "plots/loss.json", "[]")
    dl = lay.tmp / "dl"
    one = copy_artifacts(lay.run, "plots/roc/roc.json", dl)
    assert one == str(dl / "plots" / "roc" / "roc.json")
    assert Path(one).read_text() == "{}"
    folder = copy_artifacts(lay.run, "plots", lay.tmp / "dl2")
    assert folder == str(lay.tmp / "dl2" / "plots")
    assert _tree(Path(folder)) == _tree(lay.run / "plots")
    everything = copy_artifacts(lay.run, None, lay.tmp / "dl3")
    assert _tree(Path(everything)) == _tree(lay.run)
    with pytest.raises(NotFoundError):
        copy_artifacts(lay.run, "missing.txt", dl)
    with pytest.raises(NotFoundError):
        copy_artifacts(lay.tmp / "no_such_run", "x", dl)
    assert copy_artifacts(lay.tmp / "no_such_run", None, lay.tmp / "dl4") == str(
        lay.tmp / "dl4"
    )


def test_resolve_in_run_good_path(lay: Layout) -> None:
    assert resolve_in_run(lay.run, "a/b.txt") == lay.run.resolve() / "a" / "b.txt"
    assert resolve_in_run(lay.run, "") == lay.run.resolve()


# --------------------------------------------------------------------------- linked store folders


def _link_store_folder(lay: Layout, which: str) -> Path:
    """Make the run folder, or its experiment folder, a link to `outside`; returns the run path."""
    if which == "run":
        linked = lay.run.parent / "linked_run"
        run = linked
    else:
        linked = lay.run.parent.parent / "9"
        run = linked / "run"
    linked.symlink_to(lay.outside, target_is_directory=True)
    (lay.outside / "run").mkdir()
    (lay.outside / "run" / "secret.txt").write_text("outside the store")
    (lay.outside / "secret.txt").write_text("outside the store")
    lay.before_tmp = _tree(lay.tmp)
    return run


@posix_only
@pytest.mark.parametrize("which", ["run", "experiment"])
def test_linked_run_or_experiment_folder_refused_for_every_operation(
    lay: Layout, which: str
) -> None:
    run = _link_store_folder(lay, which)
    with pytest.raises(ArtifactPathError, match="run folder .* symbolic link"):
        write_artifact(run, "notes.txt", "pwned")
    with pytest.raises(ArtifactPathError, match="symbolic link"):
        log_artifact(run, lay.local)
    with pytest.raises(ArtifactPathError, match="symbolic link"):
        log_artifacts(run, lay.outside)
    with pytest.raises(ArtifactPathError, match="symbolic link"):
        list_artifacts(run)
    with pytest.raises(ArtifactPathError, match="symbolic link"):
        copy_artifacts(run, "secret.txt", lay.tmp / "dl")
    with pytest.raises(ArtifactPathError, match="symbolic link"):
        copy_artifacts(run, None, lay.tmp / "dl2")
    with pytest.raises(ArtifactPathError, match="symbolic link"):
        open_artifact(run, "secret.txt")
    lay.assert_untouched()


@posix_only
def test_linked_artifact_root_is_followed(tmp_path: Path) -> None:
    """Only the store's own folders are confined: the artifact root the user chose may be a link."""
    (tmp_path / "real_root").mkdir()
    (tmp_path / "artifacts").symlink_to(tmp_path / "real_root", target_is_directory=True)
    run = tmp_path / "artifacts" / "0" / "run"
    write_artifact(run, "a.txt", "ok")
    assert (tmp_path / "real_root" / "0" / "run" / "a.txt").read_text() == "ok"
    assert list_artifacts(run) == [FileInfo("a.txt", False, 2)]


@posix_only
def test_hard_linked_file_never_listed_read_or_copied_out(lay: Layout) -> None:
    write_artifact(lay.run, "real.txt", "real")
    os.link(lay.outside / "canary.txt", lay.run / "secret.txt")
    assert list_artifacts(lay.run) == [FileInfo("real.txt", False, 4)]
    with pytest.raises(InvalidInputError, match="hard links"):
        copy_artifacts(lay.run, "secret.txt", lay.tmp / "dl")
    with pytest.raises(InvalidInputError, match="hard links"):
        open_artifact(lay.run, "secret.txt")
    everything = copy_artifacts(lay.run, None, lay.tmp / "all")
    assert sorted(os.listdir(everything)) == ["real.txt"]


def test_open_artifact_reads_file_and_refuses_folder_and_missing(lay: Layout) -> None:
    write_artifact(lay.run, "a/b.txt", "hello")
    handle, size, rel = open_artifact(lay.run, "a//b.txt")
    with handle:
        assert (handle.read(), size, rel) == (b"hello", 5, "a/b.txt")
    with pytest.raises(InvalidInputError, match="is a folder"):
        open_artifact(lay.run, "a")
    with pytest.raises(InvalidInputError, match="names the run folder"):
        open_artifact(lay.run, "")
    with pytest.raises(NotFoundError):
        open_artifact(lay.run, "a/missing.txt")
    with pytest.raises(NotFoundError):
        open_artifact(lay.run.parent / "no_run", "x.txt")


@posix_only
def test_client_refuses_a_linked_experiment_folder(tmp_path: Path) -> None:
    """Through a real store: a linked experiment folder takes no write and serves nothing."""
    from tracking import Client

    client = Client(tmp_path / "store")
    run_id = client.create_run(client.create_experiment("e"), run_name="r").info.run_id
    run_dir = client.artifact_dir(run_id)
    outside = tmp_path / "outside"
    (outside / run_id).mkdir(parents=True)
    (outside / run_id / "secret.txt").write_text("secret")
    run_dir.parent.parent.mkdir(parents=True, exist_ok=True)
    run_dir.parent.symlink_to(outside, target_is_directory=True)
    with pytest.raises(ArtifactPathError, match="symbolic link"):
        client.log_text(run_id, "pwned", "notes.txt")
    with pytest.raises(ArtifactPathError, match="symbolic link"):
        client.list_artifacts(run_id)
    with pytest.raises(ArtifactPathError, match="symbolic link"):
        client.download_artifacts(run_id, "secret.txt", tmp_path / "dl")
    assert sorted(os.listdir(outside / run_id)) == ["secret.txt"]
    assert not (tmp_path / "dl").exists()
