"""`tracking.sklearn`, `tracking.pyfunc`, `tracking.models`: imported on first attribute use."""

from __future__ import annotations


def test_model_submodules_are_imported_lazily(python):
    done = python("""
        import sys, tracking
        heavy = [m for m in ("tracking.sklearn", "tracking.pyfunc", "tracking.models",
                             "sklearn", "skops", "cloudpickle") if m in sys.modules]
        assert heavy == [], heavy
        assert callable(tracking.sklearn.log_model) and callable(tracking.pyfunc.load_model)
        assert callable(tracking.models.infer_signature)
        try:
            tracking.no_such_thing
        except AttributeError as e:
            print(e)
    """)
    assert done.stdout.strip() == "module 'tracking' has no attribute 'no_such_thing'"
