"""Search spaces: a YAML file -> a validated, frozen `SearchSpec`. Never imports TensorFlow.

`config` holds one trial's concrete settings (and so the tutorial's defaults),
`names` the metric names and closed sets, `params` what each hyperparameter may
hold, `spec` the frozen result, `reading` the file and its YAML, `fields` and
`validation` the two checking stages.
"""

from tuner_app.space.config import ModelConfig, TrainingConfig
from tuner_app.space.names import ALGORITHMS, METRICS, OBJECTIVES, TOP_KS, metric_key
from tuner_app.space.params import (
    PARAM_DEFAULTS,
    PARAM_RULES,
    Choice,
    Fixed,
    ParamSpec,
    Range,
    param_values,
)
from tuner_app.space.reading import SEARCH_SPACES_DIR, resolve_space_path
from tuner_app.space.spec import EvaluationSpec, SearchSpec, SplitSpec, TrainingSpec, TunerSpec
from tuner_app.space.validation import load_space, parse_space

__all__ = [
    "ALGORITHMS", "METRICS", "OBJECTIVES", "PARAM_DEFAULTS", "PARAM_RULES", "SEARCH_SPACES_DIR", "TOP_KS",
    "Choice", "EvaluationSpec", "Fixed", "ModelConfig", "ParamSpec", "Range", "SearchSpec", "SplitSpec",
    "TrainingConfig", "TrainingSpec", "TunerSpec", "load_space", "metric_key", "param_values", "parse_space",
    "resolve_space_path",
]
