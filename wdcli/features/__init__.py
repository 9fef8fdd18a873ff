"""The feature pipeline: fitted on training rows only (`fit_pipeline`), then the same pure `transform` at
training and at scoring time; `Encoder` is the serving path, the same arrays for one request in a millisecond.

Parts: `clean` (the cleaning rules), `fitted` (the typed fitted features), `pipeline` (them in model order, and their files), `fit`, `transform`,
`encoder`, `inputs` (columns, label and weight), `hashing` (stable hashes)."""

from .encoder import Encoder
from .fit import fit_pipeline
from .inputs import check_columns, label_array, weight_array
from .pipeline import FittedPipeline, load_pipeline
from .transform import Encoded, Ragged, transform

__all__ = [
    "Encoded",
    "Encoder",
    "FittedPipeline",
    "Ragged",
    "check_columns",
    "fit_pipeline",
    "label_array",
    "load_pipeline",
    "transform",
    "weight_array",
]
