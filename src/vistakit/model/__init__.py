"""The vistakit model: vision tower → instruction-guided image tokenizer → language model, plus its processor
(images and prompts → tensors, text → typed predictions) and generation engine.

    model, processor = create_model(make_config("tiny"), texts)        # new, tokenizer trained on texts
    model.save_pretrained("ckpt", processor)
    model, processor = load_pretrained("ckpt")
    results = Engine(model, processor).generate([[image]], ["<image>\\nWhere is the red circle?"])
"""

from .config import ImageTokenizerConfig, LMConfig, ModelConfig, VisionConfig, apply_overrides, read_config
from .engine import Engine, GenerationResult
from .loading import InitReport, build_tokenizer, create_model, load_for_finetuning, load_pretrained
from .modeling import VistaModel, VistaOutput, build_model
from .presets import PRESETS, make_config, preset_names
from .processor import VistaBatch, VistaProcessor
from .text_tokenizer import add_vista_tokens, load_tokenizer, train_tokenizer

__all__ = [
    "PRESETS",
    "Engine",
    "GenerationResult",
    "ImageTokenizerConfig",
    "InitReport",
    "LMConfig",
    "ModelConfig",
    "VisionConfig",
    "VistaBatch",
    "VistaModel",
    "VistaOutput",
    "VistaProcessor",
    "add_vista_tokens",
    "apply_overrides",
    "build_model",
    "build_tokenizer",
    "create_model",
    "load_for_finetuning",
    "load_pretrained",
    "load_tokenizer",
    "make_config",
    "preset_names",
    "read_config",
    "train_tokenizer",
]  # fmt: skip
