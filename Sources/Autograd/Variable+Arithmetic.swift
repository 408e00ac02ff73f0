/// Differentiable element-wise arithmetic, unary functions, reductions and layout ops.
/// Each op's backward sits beside its forward and saves only what it needs.
extension Variable {
    public static func + (a: Variable, b: Variable) -> Variable {
        let (sa, sb) = (a.shape, b.shape)
        return record(a.value + b.value, "add", [a, b]) { g in [g.sumToShape(sa), g.sumToShape(sb)] }
    }
    public static func - (a: Variable, b: Variable) -> Variable {
        let (sa, sb) = (a.shape, b.shape)
        return record(a.value - b.value, "sub", [a, b]) { g in [g.sumToShape(sa), (-g).sumToShape(sb)] }
    }
    public static func * (a: Variable, b: Variable) -> Variable {
        let (x, y) = (a.value, b.value)
        return record(x * y, "mul", [a, b]) { g in
            [a.requiresGrad ? (g * y).sumToShape(x.shape) : nil, b.requiresGrad ? (g * x).sumToShape(y.shape) : nil]
        }
    }
    public static func / (a: Variable, b: Variable) -> Variable {
        let (x, y) = (a.value, b.value)
        return record(x / y, "div", [a, b]) { g in
            [a.requiresGrad ? (g / y).sumToShape(x.shape) : nil,
             b.requiresGrad ? (-(g * x) / (y * y)).sumToShape(y.shape) : nil]
        }
    }
    public static func + (a: Variable, s: Float) -> Variable { record(a.value + s, "add_scalar", [a]) { [$0] } }
    public static func - (a: Variable, s: Float) -> Variable { a + (-s) }
    public static func * (a: Variable, s: Float) -> Variable { record(a.value * s, "mul_scalar", [a]) { [$0 * s] } }
    public static func * (s: Float, a: Variable) -> Variable { a * s }
    public static func / (a: Variable, s: Float) -> Variable { a * (1 / s) }
    public static prefix func - (a: Variable) -> Variable { a * -1 }

    /// `eˣ`. Backward `dx = dy · y` reuses the output.
    public func exp() -> Variable {
        let y = value.exp()
        return Variable.record(y, "exp", [self]) { [$0 * y] }
    }
    /// `ln x`. Backward `dx = dy / x`.
    public func log() -> Variable {
        let x = value
        return Variable.record(x.log(), "log", [self]) { [$0 / x] }
    }
    /// Backward `dx = dy (1 − y²)`.
    public func tanh() -> Variable {
        let y = value.tanh()
        return Variable.record(y, "tanh", [self]) { [Tensor.broadcasting($0, y) { g, y in g * (1 - y * y) }] }
    }
    /// Backward `dx = dy · y(1 − y)`.
    public func sigmoid() -> Variable {
        let y = value.sigmoid()
        return Variable.record(y, "sigmoid", [self]) { [Tensor.broadcasting($0, y) { g, y in g * y * (1 - y) }] }
    }
    /// Exact GELU `x·Φ(x)` (fused forward/backward kernels).
    public func gelu() -> Variable {
        guard GradMode.isEnabled && requiresGrad else { return Variable.record(value.gelu(), "gelu", [self]) { _ in [nil] } }
        let (y, derivative) = value.geluWithDerivative()
        return Variable.record(y, "gelu", [self]) { [$0 * derivative] }
    }
    /// QuickGELU `x·σ(1.702x)`.
    public func quickGelu() -> Variable {
        let x = value
        return Variable.record(x.quickGelu(), "quick_gelu", [self]) { [Tensor.quickGeluBackward(x: x, dy: $0)] }
    }
    public func relu() -> Variable {
        let x = value
        return Variable.record(x.relu(), "relu", [self]) { [Tensor.broadcasting($0, x) { g, x in g.replacing(with: 0, where: x .<= 0) }] }
    }
    /// Clamp; the gradient passes where the input lies strictly inside the bounds.
    public func clamped(min lo: Float = -.infinity, max hi: Float = .infinity) -> Variable {
        let x = value
        return Variable.record(x.clamped(min: lo, max: hi), "clamp", [self]) {
            [Tensor.broadcasting($0, x) { g, x in g.replacing(with: 0, where: (x .< lo) .| (x .> hi)) }]
        }
    }
    /// `condition ? self : other` (condition nonzero = true, no gradient to it).
    public func select(where condition: Tensor, else other: Variable) -> Variable {
        let out = Tensor.select(condition, value, other.value)
        let (sa, sb) = (shape, other.shape)
        let zeros = Tensor.zeros(out.shape)
        return Variable.record(out, "where", [self, other]) { g in
            [Tensor.select(condition, g, zeros).sumToShape(sa), Tensor.select(condition, zeros, g).sumToShape(sb)]
        }
    }

    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        let inShape = shape
        let keptShape = axes.map { ax in inShape.enumerated().map { ax.map { Shape.axis($0, rank: inShape.count) }.contains($0.offset) ? 1 : $0.element } }
            ?? inShape.map { _ in 1 }
        return Variable.record(value.sum(axes: axes, keepDims: keepDims), "sum", [self]) { g in
            [g.reshaped(keptShape).broadcast(to: inShape)]
        }
    }
    public func sum(axis: Int, keepDims: Bool = false) -> Variable { sum(axes: [axis], keepDims: keepDims) }
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        let n = (axes ?? Array(0..<shape.count)).map { shape[Shape.axis($0, rank: shape.count)] }.reduce(1, *)
        return sum(axes: axes, keepDims: keepDims) / Float(n)
    }
    public func mean(axis: Int, keepDims: Bool = false) -> Variable { mean(axes: [axis], keepDims: keepDims) }
    /// `log Σ exp` along `axis`. Backward `dx = dy · softmax(x)`.
    public func logSumExp(axis: Int, keepDims: Bool = false) -> Variable {
        let x = value, ax = Shape.axis(axis, rank: shape.count)
        let y = x.logSumExp(axis: ax, keepDims: true)
        var outShape = y.shape
        if !keepDims { outShape.remove(at: ax) }
        return Variable.record(y.reshaped(outShape), "logsumexp", [self]) { g in
            [(x - y).exp() * g.reshaped(y.shape)]
        }
    }
    /// Maximum along `axis`; the gradient goes to the first maximal element.
    public func max(axis: Int, keepDims: Bool = false) -> Variable {
        let x = value, ax = Shape.axis(axis, rank: shape.count)
        let idx = x.argmax(axis: ax)
        let (outer, n, inner) = (x.shape[..<ax].reduce(1, *), x.shape[ax], x.shape[(ax + 1)...].reduce(1, *))
        return Variable.record(x.max(axis: ax, keepDims: keepDims), "max", [self]) { g in
            let dx = Tensor.zeros(x.shape)
            for o in 0..<outer { for i in 0..<inner { dx.pointer[(o * n + idx[o * inner + i]) * inner + i] = g.pointer[o * inner + i] } }
            return [dx]
        }
    }

    public func reshaped(_ newShape: [Int]) -> Variable {
        let old = shape
        return Variable.record(value.reshaped(newShape), "reshape", [self]) { [$0.reshaped(old)] }
    }
    public func permuted(_ order: [Int]) -> Variable {
        var inverse = order
        for (i, o) in order.enumerated() { inverse[o] = i }
        return Variable.record(value.permuted(order), "permute", [self]) { [$0.permuted(inverse)] }
    }
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Variable {
        var order = Array(0..<shape.count)
        order.swapAt(Shape.axis(a, rank: shape.count), Shape.axis(b, rank: shape.count))
        return permuted(order)
    }
    public func slice(axis: Int, _ range: Range<Int>) -> Variable {
        let ax = Shape.axis(axis, rank: shape.count), full = shape[ax]
        return Variable.record(value.slice(axis: ax, range), "slice", [self]) { g in
            var parts: [Tensor] = []
            var before = g.shape, after = g.shape
            before[ax] = range.lowerBound; after[ax] = full - range.upperBound
            if range.lowerBound > 0 { parts.append(.zeros(before)) }
            parts.append(g)
            if range.upperBound < full { parts.append(.zeros(after)) }
            return [Tensor.concat(parts, axis: ax)]
        }
    }
    public static func concat(_ parts: [Variable], axis: Int) -> Variable {
        let ax = Shape.axis(axis, rank: parts[0].shape.count)
        let sizes = parts.map { $0.shape[ax] }
        return record(Tensor.concat(parts.map(\.value), axis: ax), "concat", parts) { g in g.split(axis: ax, sizes: sizes) }
    }
    public func split(axis: Int, sizes: [Int]) -> [Variable] {
        var start = 0
        return sizes.map { size in defer { start += size }; return slice(axis: axis, start..<(start + size)) }
    }
    public func broadcast(to target: [Int]) -> Variable {
        let old = shape
        return Variable.record(value.broadcast(to: target), "broadcast", [self]) { [$0.sumToShape(old)] }
    }
}
