/// `y = x Wᵀ + b` with PyTorch's layout: weight [out, in], bias [out].
public final class Linear: Layer {
    public let weight: Variable
    public let bias: Variable?

    public init(_ inputDimensions: Int, _ outputDimensions: Int, bias: Bool = true, using rng: inout RandomGenerator) {
        weight = parameter(Initializer.pytorchDefault([outputDimensions, inputDimensions], fanIn: inputDimensions, using: &rng))
        self.bias = bias ? parameter(Initializer.pytorchDefault([outputDimensions], fanIn: inputDimensions, using: &rng)) : nil
    }

    /// - Parameter x: [..., in]. - Returns: [..., out].
    public func callAsFunction(_ x: Variable) -> Variable { x.linear(weight: weight, bias: bias) }

    public func visitParameters(_ prefix: String, _ visit: (String, Variable) -> Void) {
        visit(prefix + "weight", weight)             // [out, in]
        if let bias { visit(prefix + "bias", bias) } // [out]
    }
}

/// Layer normalization over the last axis (eps 1e-5), gain 1 and bias 0 at init.
public final class LayerNorm: Layer {
    public let weight: Variable  // [C]
    public let bias: Variable    // [C]
    public let eps: Float

    public init(_ features: Int, eps: Float = 1e-5) {
        weight = parameter(.ones([features]))
        bias = parameter(.zeros([features]))
        self.eps = eps
    }

    public func callAsFunction(_ x: Variable) -> Variable { x.layerNorm(weight: weight, bias: bias, eps: eps) }

    public func visitParameters(_ prefix: String, _ visit: (String, Variable) -> Void) {
        visit(prefix + "weight", weight)
        visit(prefix + "bias", bias)
    }
}
