"""Model URIs: runs:/, local paths, models:/, and every bad URI as one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

import tracking
from tracking import Client
from tracking.errors import ArtifactPathError, InvalidInputError, NotFoundError, TrackingError
from tracking.models import download_artifacts


@pytest.fixture
def logged(mlflow, iris):
    X, y = iris
    with tracking.start_run() as run:
        tracking.sklearn.log_model(LogisticRegression(max_iter=300).fit(X, y), name="model")
        tracking.log_text("hello", "notes/a.txt")
    return run.info.run_id


def test_download_artifacts_with_mlflows_signature(logged, tmp_path):
    got = download_artifacts(artifact_uri=f"runs:/{logged}/notes", dst_path=tmp_path / "d")
    assert Path(got) == tmp_path / "d" / "notes"
    assert (Path(got) / "a.txt").read_text() == "hello"
    by_id = download_artifacts(run_id=logged, artifact_path="notes/a.txt",
                               dst_path=tmp_path / "e")
    assert Path(by_id).read_text() == "hello"
    whole = download_artifacts(run_id=logged, dst_path=tmp_path / "f")
    assert {p.name for p in Path(whole).iterdir()} == {"model", "notes"}
    local = download_artifacts(artifact_uri=got, dst_path=tmp_path / "g")
    assert (Path(local) / "a.txt").read_text() == "hello"
    assert os.path.isdir(download_artifacts(artifact_uri=f"runs:/{logged}/model"))


@pytest.mark.parametrize(("uri", "error", "match"), [
    ("runs:/0123456789abcdef0123456789abcdef/model", NotFoundError, "not found"),
    ("runs:/{run}/nothing", NotFoundError, "has no artifact 'nothing'"),
    ("runs:/{run}/../../../etc", ArtifactPathError, "'..' would leave"),
    ("runs:/{run}//etc/passwd", ArtifactPathError, "is absolute"),
    ("runs://model", InvalidInputError, "runs:/<run_id>/<path>"),
    ("models:/iris/1", NotFoundError, "registered model 'iris' not found"),
    ("models:/iris@champion", NotFoundError, "registered model 'iris' not found"),
    ("models:/iris/one", InvalidInputError, "positive integer"),
    ("models:/iris@latest", InvalidInputError, "reserved"),
    ("s3://bucket/model", InvalidInputError, "unsupported URI scheme 's3'"),
    ("/no/such/folder", NotFoundError, "does not exist"),
])
def test_bad_uris_are_one_line_tracking_errors(logged, uri, error, match):
    uri = uri.format(run=logged)
    for load in (tracking.pyfunc.load_model, tracking.sklearn.load_model,
                 lambda u: download_artifacts(artifact_uri=u)):
        with pytest.raises(error, match=match) as info:
            load(uri)
        assert isinstance(info.value, TrackingError) and "\n" not in str(info.value)


def test_a_link_planted_in_the_run_folder_is_not_followed(logged, root, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    os.symlink(secret, Client(root).artifact_dir(logged) / "planted")
    with pytest.raises(ArtifactPathError, match="symbolic link"):
        tracking.pyfunc.load_model(f"runs:/{logged}/planted")


def test_download_artifacts_arguments_are_checked(logged):
    with pytest.raises(InvalidInputError, match="exactly one of"):
        download_artifacts()
    with pytest.raises(InvalidInputError, match="artifact_path goes with run_id"):
        download_artifacts(artifact_uri=f"runs:/{logged}/model", artifact_path="x")


def test_a_folder_without_mlmodel_is_not_a_model(tmp_path):
    with pytest.raises(NotFoundError, match="no MLmodel file"):
        tracking.pyfunc.load_model(tmp_path)


def test_loading_a_local_folder_opens_no_store(tmp_path, iris, monkeypatch):
    X, y = iris
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWEEPS_TRACKING_URI", raising=False)
    tracking.sklearn.save_model(LogisticRegression(max_iter=300).fit(X, y), "m")
    assert tracking.pyfunc.load_model("m").predict(X[:2]).shape == (2,)
    assert Path(download_artifacts(artifact_uri="m", dst_path="copy")) == tmp_path / "copy" / "m"
    assert not (tmp_path / "runs").exists()
    with pytest.raises(InvalidInputError, match="whole file system"):
        download_artifacts(artifact_uri="/")


def test_tracking_artifacts_download_artifacts_is_mlflows(logged, tmp_path):
    import tracking.artifacts
    got = tracking.artifacts.download_artifacts(artifact_uri=f"runs:/{logged}/notes",
                                                dst_path=tmp_path / "d")
    assert Path(got) == tmp_path / "d" / "notes" and Path(got).is_dir()
