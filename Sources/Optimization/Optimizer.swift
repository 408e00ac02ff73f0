import Foundation
@_exported import Autograd

/// A parameter and the per-parameter hyperparameters of its group.
public struct ParameterGroupEntry {
    public let name: String
    public let parameter: Variable
    public var weightDecay: Float
    public init(name: String, parameter: Variable, weightDecay: Float) {
        (self.name, self.parameter, self.weightDecay) = (name, parameter, weightDecay)
    }
}

/// OpenCLIP's weight-decay rule: no decay for parameters with ≤ 1 dimension (biases, norm
/// gains, logit scale/bias) nor for positional and class embeddings.
public func decays(_ name: String, shape: [Int]) -> Bool {
    if shape.count <= 1 { return false }
    let leaf = name.split(separator: ".").last.map(String.init) ?? name
    return !(leaf == "positional_embedding" || leaf == "class_embedding" || name.contains("logit_"))
}

/// An optimizer updating parameters from their `grad`; its state is a name → tensor map so
/// it can be checkpointed and restored exactly.
public protocol Optimizer: AnyObject {
    var entries: [ParameterGroupEntry] { get }
    var step: Int { get }
    /// One update with learning rate `lr`; parameters without a gradient are skipped.
    func update(lr: Float)
    /// The name of the first parameter that `update(lr:)` would make non-finite (value or
    /// optimizer moment), or nil. Changes nothing: the caller skips the step instead of rolling back.
    func firstNonfiniteUpdate(lr: Float) -> String?
    /// What `update` is called in messages ("AdamW", "SGD").
    var displayName: String { get }
    func stateTensors() -> [(name: String, value: Tensor)]
    func loadState(_ tensors: [String: Tensor], step: Int) throws
}

extension Optimizer {
    public func zeroGradients() { for e in entries { e.parameter.grad = nil } }
}

/// AdamW (Loshchilov & Hutter, 2019): decoupled weight decay,
///
///     m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,
///     p ← p − lr·( m̂ / (√v̂ + ε) + λ·p ),  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)
///
/// with one fused pass over memory per parameter.
public final class AdamW: Optimizer {
    public let entries: [ParameterGroupEntry]
    public let beta1: Float, beta2: Float, eps: Float
    public private(set) var step = 0
    var m: [Tensor], v: [Tensor]

    public init(_ entries: [ParameterGroupEntry], betas: (Float, Float) = (0.9, 0.98), eps: Float = 1e-6) {
        self.entries = entries
        (beta1, beta2, self.eps) = (betas.0, betas.1, eps)
        m = entries.map { .zeros($0.parameter.shape) }
        v = entries.map { .zeros($0.parameter.shape) }
    }

    public var displayName: String { "AdamW" }

    public func update(lr: Float) {
        step += 1
        for i in entries.indices { _ = pass(i, lr: lr, step: step, apply: true) }
    }

    public func firstNonfiniteUpdate(lr: Float) -> String? {
        entries.indices.first { !pass($0, lr: lr, step: step + 1, apply: false) }.map { entries[$0].name }
    }

    /// The update of entry `i` at optimizer step `step`: stored when `apply`, else only checked.
    /// Returns false when a new value or second moment is non-finite (checked only when not applying).
    private func pass(_ i: Int, lr: Float, step: Int, apply: Bool) -> Bool {
        let e = entries[i]
        guard e.parameter.requiresGrad, let g = e.parameter.grad else { return true }
        let c1 = 1 - Float(Foundation.pow(Double(beta1), Double(step)))
        let c2 = 1 - Float(Foundation.pow(Double(beta2), Double(step)))
        let (b1, b2, eps) = (beta1, beta2, eps)
        if apply { m[i].makeUnique(); v[i].makeUnique(); e.parameter.value.makeUnique() }
        let (mp, vp, gp, pp) = (m[i].pointer, v[i].pointer, g.pointer, e.parameter.value.pointer)
        let decay = 1 - lr * e.weightDecay
        let stepSize = lr / c1, invC2 = 1 / c2
        let grain = 1 << 15
        let flags = apply ? nil : Tensor.zeros([g.count / grain + 1])   // per chunk: NaN when it found a non-finite value
        let fp = flags?.pointer
        Parallel.forEachChunk(g.count, grain: grain) { r in
            var j = r.lowerBound
            let raw = (UnsafeMutableRawPointer(mp), UnsafeMutableRawPointer(vp), UnsafeRawPointer(gp), UnsafeMutableRawPointer(pp))
            var bad = Vec(repeating: 0), badScalar: Float = 0   // stays 0 unless a value is ±inf or NaN (x·0)
            while j + 16 <= r.upperBound {
                let o = j * 4
                let gv = raw.2.loadUnaligned(fromByteOffset: o, as: Vec.self)
                let mv = b1 * raw.0.loadUnaligned(fromByteOffset: o, as: Vec.self) + (1 - b1) * gv
                let vv = b2 * raw.1.loadUnaligned(fromByteOffset: o, as: Vec.self) + (1 - b2) * gv * gv
                let pv = raw.3.loadUnaligned(fromByteOffset: o, as: Vec.self) * decay
                    - stepSize * mv / ((vv * invC2).squareRoot() + eps)
                if apply {
                    raw.0.storeBytes(of: mv, toByteOffset: o, as: Vec.self)
                    raw.1.storeBytes(of: vv, toByteOffset: o, as: Vec.self)
                    raw.3.storeBytes(of: pv, toByteOffset: o, as: Vec.self)
                } else {
                    bad += (pv + vv) * 0
                }
                j += 16
            }
            while j < r.upperBound {
                let mj = b1 * mp[j] + (1 - b1) * gp[j]
                let vj = b2 * vp[j] + (1 - b2) * gp[j] * gp[j]
                let pj = pp[j] * decay - stepSize * mj / ((vj * invC2).squareRoot() + eps)
                if apply { (mp[j], vp[j], pp[j]) = (mj, vj, pj) } else { badScalar += (pj + vj) * 0 }
                j += 1
            }
            fp?[r.lowerBound / grain] = bad.sum() + badScalar
        }
        return flags.map { sumVectorized($0.pointer, $0.count).isFinite } ?? true
    }

    public func stateTensors() -> [(name: String, value: Tensor)] {
        entries.indices.flatMap { i in [("\(entries[i].name).exp_avg", m[i]), ("\(entries[i].name).exp_avg_sq", v[i])] }
    }

    public func loadState(_ tensors: [String: Tensor], step: Int) throws {
        for (i, e) in entries.enumerated() {
            guard let mi = tensors["\(e.name).exp_avg"], let vi = tensors["\(e.name).exp_avg_sq"],
                  mi.count == e.parameter.value.count, vi.count == e.parameter.value.count else {
                throw OptimizerError("optimizer state lacks or mis-sizes the moments of \(e.name)")
            }
            m[i] = mi.reshaped(e.parameter.shape); v[i] = vi.reshaped(e.parameter.shape)
        }
        self.step = step
    }
}

/// SGD with momentum (PyTorch convention `b ← μb + g`, `p ← p − lr·b`) and decoupled weight decay.
public final class SGD: Optimizer {
    public let entries: [ParameterGroupEntry]
    public let momentum: Float
    public private(set) var step = 0
    var buffers: [Tensor]

    public init(_ entries: [ParameterGroupEntry], momentum: Float = 0.9) {
        self.entries = entries
        self.momentum = momentum
        buffers = entries.map { .zeros($0.parameter.shape) }
    }

    public var displayName: String { "SGD" }

    public func update(lr: Float) {
        step += 1
        for (i, e) in entries.enumerated() {
            guard e.parameter.requiresGrad, let g = e.parameter.grad else { continue }
            buffers[i].makeUnique(); e.parameter.value.makeUnique()
            let (bp, pp, mu, decay) = (buffers[i].pointer, e.parameter.value.pointer, momentum, 1 - lr * e.weightDecay)
            zipVectorized(bp, g.pointer, bp, g.count) { b, g in mu * b + g }
            zipVectorized(pp, bp, pp, g.count) { p, b in p * decay - lr * b }
        }
    }

    public func firstNonfiniteUpdate(lr: Float) -> String? {
        for (i, e) in entries.enumerated() {
            guard e.parameter.requiresGrad, let g = e.parameter.grad else { continue }
            let (bp, gp, pp, mu, decay) = (buffers[i].pointer, g.pointer, e.parameter.value.pointer, momentum, 1 - lr * e.weightDecay)
            var bad: Float = 0
            for j in 0..<g.count {
                let b = mu * bp[j] + gp[j]
                bad += (pp[j] * decay - lr * b) * 0
            }
            if !bad.isFinite { return e.name }
        }
        return nil
    }

    public func stateTensors() -> [(name: String, value: Tensor)] {
        entries.indices.map { ("\(entries[$0].name).momentum_buffer", buffers[$0]) }
    }

    public func loadState(_ tensors: [String: Tensor], step: Int) throws {
        for (i, e) in entries.enumerated() {
            guard let b = tensors["\(e.name).momentum_buffer"], b.count == e.parameter.value.count else {
                throw OptimizerError("optimizer state lacks or mis-sizes the momentum of \(e.name)")
            }
            buffers[i] = b.reshaped(e.parameter.shape)
        }
        self.step = step
    }
}

public struct OptimizerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm`. Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Variable], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters { if let g = p.grad { total += Double(dotVectorized(g.pointer, g.pointer, g.count)) } }
    let norm = Float(total.squareRoot())
    if norm > maxNorm && norm.isFinite {
        let s = maxNorm / (norm + 1e-6)
        for p in parameters where p.grad != nil { p.grad! *= s }
    }
    return norm
}
