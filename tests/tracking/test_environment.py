"""tracking.environment: the `sys.*` tags captured when a run starts."""

from __future__ import annotations

import platform
import subprocess
import sys

from tracking import Client, environment


def test_capture_has_the_interpreter_and_entry_point():
    tags = environment.capture()
    assert all(key.startswith("sys.") for key in tags)
    assert tags["sys.python"] == platform.python_version()
    assert tags["sys.entry_point"] == (sys.argv[0] or "<interactive>")
    assert tags["sys.argv"] == " ".join(sys.argv)[:2000]
    assert tags["sys.host"]
    assert tags["sys.lib.pandas"]
    assert all(isinstance(v, str) and "\x00" not in v and len(v) <= 8000 for v in tags.values())


def test_git_state_of_a_repository(tmp_path, monkeypatch):
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (tmp_path / "f.txt").write_text("one")
    git("add", "f.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "c")
    monkeypatch.chdir(tmp_path)
    environment._source.cache_clear()
    tags = environment.capture()
    assert len(tags["sys.git.commit"]) == 40
    assert tags["sys.git.branch"] == "main"
    assert tags["sys.git.dirty"] == "False"
    (tmp_path / "f.txt").write_text("two")
    environment._source.cache_clear()
    assert environment.capture()["sys.git.dirty"] == "True"
    environment._source.cache_clear()


def test_no_git_tags_outside_a_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not any(key.startswith("sys.git.") for key in environment.capture())


def test_long_argv_is_cut_to_a_tag(root, python):
    done = python(f"""
        import sys, tracking
        sys.argv = ["train.py", "--blob", "x" * 50_000]
        tracking.set_tracking_uri({str(root)!r})
        with tracking.start_run() as run:
            pass
        print(run.info.run_id)
    """)
    tags = Client(root).get_run(done.stdout.strip()).data.tags
    assert tags["sys.entry_point"] == "train.py"
    assert len(tags["sys.argv"]) == 2000 and tags["sys.argv"].startswith("train.py --blob x")


def test_library_versions_are_those_importlib_metadata_reads():
    import importlib.metadata
    tags = environment.capture()
    for name in environment.KEY_LIBRARIES:
        try:
            expected = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            assert f"sys.lib.{name}" not in tags
        else:
            assert tags[f"sys.lib.{name}"] == expected
