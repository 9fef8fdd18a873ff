"""wdcli: Wide & Deep learning from declarative YAML specs."""

__version__ = "0.1.0"

import os as _os

# Idle OpenMP threads (torch's) spin only briefly before they sleep. libgomp's default (300,000 spins, a few ms)
# is fastest alone and ruinous where cores are shared (several trainings, tune trials, serve's workers, other
# work): four trainings on two cores ran at 4-5% of their speed alone; sleeping at once (OMP_WAIT_POLICY=PASSIVE)
# held 31-36% but cost a quiet machine's training 30% (80k against 115k rows/s). 1,000 spins kept 112-115k alone
# and 25% under four at once (docs/scale.md). OpenMP reads this once, when torch loads it, so it is set here,
# before any part of wdcli imports torch (from Python, import wdcli before torch, or set it yourself). A policy
# or spin count set in the environment wins.
SPINCOUNT = "1000"
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = SPINCOUNT
