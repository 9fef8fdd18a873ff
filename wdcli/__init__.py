"""wdcli: Wide & Deep learning from declarative YAML specs."""

__version__ = "0.1.0"

import os as _os

# Idle OpenMP threads (torch's, MKL's) sleep instead of spinning. Where cores are shared (several trainings, tune
# trials, serve's workers, other work), spinning threads take the time the working ones need: four trainings on
# two cores ran at 6% of their speed alone. OpenMP reads this once, when torch loads it, so it is set here,
# before any part of wdcli imports torch (from Python, import wdcli before torch, or set it yourself). A policy
# or spin count set in the environment wins (docs/scale.md).
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
