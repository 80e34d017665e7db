"""PyTorch/ONNX side of the engine. Importable without Django so GPU boxes and benches can use it.

Nothing here imports torch at package import: each module imports it itself, and only code that
runs the model (workers, commands, tests) imports those modules.
"""
