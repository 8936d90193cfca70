"""Embedding engines behind ragdesk.embedder.Embedder: int8 ONNX (default) or PyTorch."""
