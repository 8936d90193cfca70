"""Local language models: the llama.cpp engine, LoRA adapters and GGUF tools."""
