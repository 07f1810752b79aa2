"""The unified sample format (records in JSON Lines) and the streaming dataset over it."""

from .dataset import DATASET_FILE, RecordDataset, read_dataset_info, record_files, write_dataset
from .record import (
    ANSWER_BINS,
    FORMAT_VERSION,
    IMAGE_PLACEHOLDER,
    REGION_PLACEHOLDER,
    Record,
    Targets,
    VisualPrompt,
    read_records,
    write_records,
)

__all__ = [
    "ANSWER_BINS", "FORMAT_VERSION", "IMAGE_PLACEHOLDER", "REGION_PLACEHOLDER", "Record", "Targets", "VisualPrompt",
    "read_records", "write_records", "DATASET_FILE", "RecordDataset", "read_dataset_info", "record_files",
    "write_dataset",
]  # fmt: skip
