"""The model manager: language models and adapters to download, import and choose."""
