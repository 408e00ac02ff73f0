/// Long-CLIP's positional-embedding stretch (Zhang et al., 2024, "Long-CLIP: Unlocking the
/// Long-Text Capability of CLIP"): CLIP's 77 text positions become 248 by keeping the first 20
/// (well trained) and interpolating the rest 4× —
///
///     PE′[p] = PE[p]                                         p < 20
///     PE′[20 + 4i + k] = (1 − k/4)·PE[20 + i] + (k/4)·PE[21 + i]   i ∈ 0..<56, k ∈ 0..<4
///     PE′[244 + k] = PE[76] + (k/4)·(PE[76] − PE[75])              k ∈ 0..<4 (extrapolated)
///
/// The first 20 rows stay frozen at CLIP's values during fine-tuning; rows 20..<248 train.
public enum LongCLIP {
    public static let sourceLength = 77
    public static let targetLength = 248
    /// Rows of the stretched positional embedding that stay frozen.
    public static let frozenPositions = 0..<20

    /// Stretches a positional embedding [77, W] to [248, W] (computed in Double, rounded once).
    public static func stretchPositionalEmbedding(_ pe: Tensor) -> Tensor {
        ensure(pe.rank == 2 && pe.shape[0] == sourceLength,
                     "Long-CLIP stretches a positional embedding [77, W], got \(pe.shape)")
        let w = pe.shape[1]
        let out = Tensor(uninitializedShape: [targetLength, w])
        let src = pe.pointer, dst = out.pointer
        func row(_ p: Int, _ c: Int) -> Double { Double(src[p * w + c]) }
        let kept = frozenPositions.upperBound
        for p in 0..<kept { for c in 0..<w { dst[p * w + c] = src[p * w + c] } }
        for i in 0..<(sourceLength - kept - 1) {
            for k in 0..<4 {
                let t = Double(k) / 4
                for c in 0..<w { dst[(kept + 4 * i + k) * w + c] = Float((1 - t) * row(kept + i, c) + t * row(kept + i + 1, c)) }
            }
        }
        let last = sourceLength - 1
        for k in 0..<4 {
            let t = Double(k) / 4
            for c in 0..<w { dst[(targetLength - 4 + k) * w + c] = Float(row(last, c) + t * (row(last, c) - row(last - 1, c))) }
        }
        return out
    }

    /// Zeroes the gradient rows of the frozen positions (`grad` is [248, W]), so an optimizer
    /// step leaves them at CLIP's values.
    public static func zeroFrozenRows(of grad: inout Tensor) {
        ensure(grad.rank == 2 && grad.shape[0] >= frozenPositions.upperBound,
                     "Long-CLIP expects a positional-embedding gradient [248, W], got \(grad.shape)")
        let w = grad.shape[1]
        grad.withUnsafeMutableBufferPointer { g in
            for i in 0..<(frozenPositions.upperBound * w) { g[i] = 0 }
        }
    }

    /// 1 for trainable rows, 0 for frozen rows: [248, 1], to multiply a gradient by.
    public static var trainableRowMask: Tensor {
        let m = Tensor.ones([targetLength, 1])
        for p in frozenPositions { m.pointer[p] = 0 }
        return m
    }

    /// `model.stretch_positional_embedding` on loading weights: a `positional_embedding` whose
    /// length differs from the model's `contextLength` is stretched (77 → 248); one that already
    /// fits is left as it is. Throws one line when the stretched length still does not fit.
    public static func stretchOnLoad(_ tensors: inout [String: Tensor], contextLength: Int) throws {
        guard let pe = tensors["positional_embedding"], pe.shape[0] != contextLength else { return }
        let stretched = stretchPositionalEmbedding(pe)
        guard stretched.shape[0] == contextLength else {
            throw ObjectiveConfigError("model.stretch_positional_embedding: the stretched embedding has \(stretched.shape[0]) positions but the model config's text context_length is \(contextLength)")
        }
        tensors["positional_embedding"] = stretched
    }

    /// `model.stretch_positional_embedding` after each backward pass: the frozen rows of the
    /// positional embedding's gradient become 0, so CLIP's first positions stay as they were.
    public static func freezeRows(of positionalEmbedding: Variable) {
        guard var g = positionalEmbedding.grad else { return }
        zeroFrozenRows(of: &g)
        positionalEmbedding.grad = g
    }
}
