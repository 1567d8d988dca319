"""Readable default run names, like `brave-otter-42`."""

from __future__ import annotations

import random

_ADJECTIVES = ("amber", "bold", "brave", "calm", "clever", "eager", "gentle", "keen", "lucid",
               "merry", "nimble", "quiet", "rapid", "sharp", "steady", "sunny", "swift", "vivid")
_NOUNS = ("badger", "bison", "crane", "falcon", "finch", "fox", "heron", "lynx", "marten",
          "moose", "otter", "owl", "panda", "raven", "seal", "stoat", "swan", "wren")


def random_run_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(1, 999)}"
