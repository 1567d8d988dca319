"""What the first call of a process pays: `import tracking` and a first `log_metric`
load neither pandas nor importlib.metadata (whose version look-ups took ~40 ms)."""

from __future__ import annotations


def test_a_first_log_metric_imports_no_pandas_and_no_package_metadata(python):
    done = python("""
        import sys, tracking
        tracking.log_metric("loss", 0.5)
        tags = tracking.get_run(tracking.last_active_run().info.run_id).data.tags
        print(",".join(m for m in ("pandas", "importlib.metadata") if m in sys.modules))
        print(tags["sys.lib.numpy"] != "")
    """)
    assert done.stdout.split("\n")[:2] == ["", "True"], done.stdout
