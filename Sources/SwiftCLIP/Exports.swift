// `import SwiftCLIP` gives every layer of the framework (docs/DESIGN.md, "Layers"): tensors and
// autograd, layers and towers, objectives, optimizers, tokenizer, data pipeline, checkpoints,
// communicators, model loading, evaluation and training. The high-level entry points are `CLIP`
// (load, encode, classify, score) and `Trainer` (train from a config, with callbacks).
@_exported import TensorCore
@_exported import Autograd
@_exported import NeuralNet
@_exported import Objectives
@_exported import Optimization
@_exported import Tokenization
@_exported import DataPipeline
@_exported import Checkpointing
@_exported import Distributed
@_exported import ModelStore
@_exported import Evaluation
@_exported import Training
