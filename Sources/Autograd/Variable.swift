import Foundation
@_exported import TensorCore

/// A node of the autodiff tape: a tensor value, and — when it depends on something that
/// requires gradients — the closure that maps its output gradient to its inputs' gradients.
///
/// Leaves that require gradients are parameters; their gradients accumulate in `grad`
/// across `backward()` calls until zeroed. Graphs are per thread of work, so data-parallel
/// workers can run forward and backward concurrently on shared parameters (`backward(into:)`
/// collects leaf gradients into a private store instead of `grad`).
public final class Variable: @unchecked Sendable {
    public var value: Tensor
    /// Accumulated gradient of a leaf (nil until the first backward through it).
    public var grad: Tensor?
    /// True for parameters and for every result computed from one while recording.
    public var requiresGrad: Bool
    /// Display name (parameter name for leaves, op name otherwise).
    public let name: String

    private(set) var inputs: [Variable]
    private(set) var backwardFn: ((Tensor) -> [Tensor?])?
    /// FLOPs of the forward computation (GEMM-like ops; backward is counted as twice this).
    var flops: Double = 0

    /// A leaf: a constant (`requiresGrad: false`) or a trainable parameter.
    public init(_ value: Tensor, requiresGrad: Bool = false, name: String = "") {
        self.value = value
        self.requiresGrad = requiresGrad
        self.name = name
        inputs = []
        backwardFn = nil
    }

    init(value: Tensor, name: String, inputs: [Variable], backward: @escaping (Tensor) -> [Tensor?]) {
        self.value = value
        self.name = name
        self.inputs = inputs
        self.requiresGrad = true
        backwardFn = backward
    }

    public var shape: [Int] { value.shape }
    public var isLeaf: Bool { backwardFn == nil }

    /// Records an op: when gradients are being recorded and some input requires them, the result
    /// keeps `backward` (output gradient → one gradient per input, nil where not needed).
    @inline(__always)
    public static func record(_ value: Tensor, _ name: String, _ inputs: [Variable], flops: Double = 0,
                              _ backward: @escaping (Tensor) -> [Tensor?]) -> Variable {
        if Profiler.isEnabled { Profiler.forward(name, flops: flops) }
        if GradMode.isEnabled && inputs.contains(where: \.requiresGrad) {
            let v = Variable(value: value, name: name, inputs: inputs, backward: backward)
            v.flops = flops
            return v
        }
        return Variable(value)
    }
}

/// Gradients of leaves collected by one backward pass, keyed by the leaf's identity.
///
/// Thread-safe: two backward passes may deliver into one store at once. A backward pass delivers
/// each leaf's gradient exactly once (after all its uses), so a store shared by two passes holds
/// `g₁ + g₂` for a leaf both reach, the same in either arrival order (float addition commutes).
public final class GradientStore: @unchecked Sendable {
    private var gradients: [ObjectIdentifier: Tensor] = [:]
    private let lock = NSLock()
    public init() {}
    public subscript(_ v: Variable) -> Tensor? { lock.withLock { gradients[ObjectIdentifier(v)] } }

    /// Removes and returns `v`'s gradient, leaving the caller the only reference (in-place updates).
    public func take(_ v: Variable) -> Tensor? { lock.withLock { gradients.removeValue(forKey: ObjectIdentifier(v)) } }

    func accumulate(_ v: Variable, _ g: Tensor) {
        let key = ObjectIdentifier(v)
        lock.withLock {
            if var existing = gradients.removeValue(forKey: key) { existing += g; gradients[key] = existing } else { gradients[key] = g }
        }
    }
}

extension Variable {
    /// Back-propagates from this scalar (or with an explicit `seed` gradient of this shape),
    /// accumulating into each leaf's `grad`.
    public func backward(seed: Tensor? = nil) {
        Variable.propagate([(self, seed)]) { leaf, g in
            guard let g else { return }
            if leaf.grad == nil { leaf.grad = g } else { leaf.grad! += g }
        }
    }

    /// Back-propagates and collects leaf gradients into `store` (leaves' `grad` untouched).
    public func backward(seed: Tensor? = nil, into store: GradientStore) {
        Variable.propagate([(self, seed)]) { leaf, g in if let g { store.accumulate(leaf, g) } }
    }

    /// One backward pass from several outputs at once, each with its own seed gradient
    /// (the gradient of `Σ ⟨output, seed⟩`), collecting leaf gradients into `store`.
    public static func backward(_ roots: [(Variable, Tensor)], into store: GradientStore) {
        propagate(roots.map { ($0.0, Optional($0.1)) }) { leaf, g in if let g { store.accumulate(leaf, g) } }
    }

    /// `backward(_:into:)` that also calls `finished(leaf)` as soon as each leaf reachable from the
    /// roots has its gradient of this pass in `store` (or is known to get none) — exactly once per
    /// leaf, in the order of `leaves(reachableFrom:)`. Lets a caller start using a leaf's gradient
    /// (e.g. sending it to other processes) while the pass goes on through earlier layers.
    public static func backward(_ roots: [(Variable, Tensor)], into store: GradientStore,
                                finished: (Variable) -> Void) {
        propagate(roots.map { ($0.0, Optional($0.1)) }) { leaf, g in
            if let g { store.accumulate(leaf, g) }
            finished(leaf)
        }
    }

    /// The leaves that require gradients and can be reached from `roots`, in the order a backward
    /// pass from those roots finishes them (layers near the outputs first).
    public static func leaves(reachableFrom roots: [Variable]) -> [Variable] {
        topologicalOrder(roots).reversed().filter(\.isLeaf)
    }

    /// Nodes reachable from `roots` through inputs that require gradients, inputs before the nodes
    /// that consume them (iterative depth-first search: no recursion limit on deep graphs).
    /// A node's leaf inputs are visited after its other inputs, so that in reverse a leaf comes
    /// right after its last consumer: a parameter is finished as soon as its layer's backward has run.
    /// (Leaves have no inputs: where they fall never changes the order of the other nodes.)
    private static func topologicalOrder(_ roots: [Variable]) -> [Variable] {
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Bool)] = roots.filter(\.requiresGrad).map { ($0, false) }
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            if !visited.insert(ObjectIdentifier(node)).inserted { continue }
            stack.append((node, true))
            for input in node.inputs where input.isLeaf && input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
            for input in node.inputs where !input.isLeaf && input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        return order
    }

    private static func propagate(_ roots: [(Variable, Tensor?)], _ deliver: (Variable, Tensor?) -> Void) {
        var grads: [ObjectIdentifier: Tensor] = [:]
        for (root, seed) in roots where root.requiresGrad {
            let start = seed ?? {
                ensure(root.value.count == 1, "backward() without a seed needs a scalar, got shape \(root.shape)")
                return Tensor(shape: root.value.shape, repeating: 1)
            }()
            ensure(start.count == root.value.count,
                         "backward seed shape \(start.shape) differs from the value's \(root.shape)")
            let key = ObjectIdentifier(root)
            if var existing = grads.removeValue(forKey: key) { existing += start; grads[key] = existing }
            else { grads[key] = start.reshaped(root.shape) }
        }
        var order = topologicalOrder(roots.map(\.0))
        // Reverse topological order; each node's closure and input links are dropped once used,
        // so activations are freed as the backward pass proceeds (graphs are consumed by backward).
        // Every reachable leaf is delivered once: its gradient, or nil when none flowed to it.
        while let node = order.popLast() {
            let g = grads.removeValue(forKey: ObjectIdentifier(node))
            guard let fn = node.backwardFn else { deliver(node, g); continue }
            guard let g else { continue }
            defer { node.backwardFn = nil; node.inputs = [] }
            let inputGrads: [Tensor?]
            if Profiler.isEnabled {
                let t = Profiler.now()
                inputGrads = fn(g)
                Profiler.backward(node.name, seconds: Profiler.now() - t, flops: 2 * node.flops)
            } else {
                inputGrads = fn(g)
            }
            for (input, ig) in zip(node.inputs, inputGrads) {
                guard input.requiresGrad, let ig else { continue }
                ensure(ig.count == input.value.count,
                             "gradient of \(node.name) for input \(input.name) has shape \(ig.shape), expected \(input.shape)")
                let key = ObjectIdentifier(input)
                if var existing = grads.removeValue(forKey: key) { existing += ig; grads[key] = existing } else { grads[key] = ig.reshaped(input.shape) }
            }
        }
    }
}

/// Whether ops record backward closures. Off inside `GradMode.noGrad { }` (evaluation,
/// feature caching), per thread of work.
public enum GradMode {
    @TaskLocal static var disabled = false
    public static var isEnabled: Bool { !disabled }
    public static func noGrad<R>(_ body: () throws -> R) rethrows -> R {
        try $disabled.withValue(true, operation: body)
    }
}
