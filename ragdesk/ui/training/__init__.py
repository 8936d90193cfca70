"""The training room: LoRA training dialog, its form and worker."""
