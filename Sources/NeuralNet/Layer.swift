@_exported import Autograd

/// A module with explicitly named parameters (no reflection). The dotted names are the
/// safetensors keys and match OpenCLIP's `state_dict()` names.
public protocol Layer: AnyObject {
    /// Calls `visit` with every parameter's full dotted name (prefix + own name), in a stable order.
    func visitParameters(_ prefix: String, _ visit: (String, Variable) -> Void)
}

extension Layer {
    /// All parameters by dotted name, in visiting order.
    public func namedParameters(prefix: String = "") -> [(name: String, parameter: Variable)] {
        var result: [(String, Variable)] = []
        visitParameters(prefix) { result.append(($0, $1)) }
        return result
    }

    public var parameters: [Variable] { namedParameters().map(\.parameter) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Freezes (or unfreezes) every parameter whose name starts with `prefix` (e.g. `"visual."`).
    public func setTrainable(_ trainable: Bool, prefix: String = "") {
        for (name, p) in namedParameters() where name.hasPrefix(prefix) { p.requiresGrad = trainable }
    }

    public func zeroGradients() { for p in parameters { p.grad = nil } }
}

/// A trainable tensor: a leaf `Variable` that requires gradients.
@inline(__always)
public func parameter(_ value: Tensor, _ name: String = "") -> Variable {
    Variable(value, requiresGrad: true, name: name)
}

/// PyTorch-compatible initializers drawing from an injected generator.
public enum Initializer {
    /// `U(−bound, bound)` with bound = 1/√fanIn: PyTorch's default for Linear/Conv weights
    /// (kaiming-uniform with a = √5) and biases.
    public static func pytorchDefault(_ shape: [Int], fanIn: Int, using rng: inout RandomGenerator) -> Tensor {
        let bound = 1 / Float(fanIn).squareRoot()
        return Tensor.randomUniform(shape, low: -bound, high: bound, using: &rng)
    }

    /// Xavier/Glorot uniform: bound = √(6 / (fanIn + fanOut)).
    public static func xavierUniform(_ shape: [Int], using rng: inout RandomGenerator) -> Tensor {
        let bound = (6 / Float(shape[0] + shape[1])).squareRoot()
        return Tensor.randomUniform(shape, low: -bound, high: bound, using: &rng)
    }

    public static func normal(_ shape: [Int], std: Float, using rng: inout RandomGenerator) -> Tensor {
        Tensor.randomNormal(shape, std: std, using: &rng)
    }
}
