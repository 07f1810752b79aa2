"""vistakit: one vision-language model for coarse and fine-grained tasks."""

__version__ = "0.1.0"
