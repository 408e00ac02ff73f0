import ArgumentParser
import TensorCore

/// `--precision fp32|bf16` (`bench`, `evaluate`, `embed`, `filter`).
extension MatmulPrecision: ExpressibleByArgument {}
