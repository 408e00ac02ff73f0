import Foundation

/// Long-CLIP's fine-tuning loss with primary component matching (Zhang et al., 2024,
/// "Long-CLIP: Unlocking the Long-Text Capability of CLIP"):
///
///     xL = l2norm(image), yL = l2norm(long caption), yS = l2norm(short caption)   [B, D]
///     μ = mean over rows of xL, P [D, m] = first m right singular vectors of (xL − μ)
///     xS = (xL − μ) P Pᵀ + μ                                  (not re-normalized)
///     loss = CLIP_ε(xL, yL) + w · CLIP_ε(xS, yS),   CLIP_ε = ½[CE_ε(s x yᵀ) + CE_ε(s y xᵀ)]
///
/// with s = exp(t) (the model's `logit_scale`, clamped like CLIP), ε = 0.1, w = 1 (the current
/// reference; the paper used 0.1), m = min(32, B, D). P is a constant (stop-gradient); the
/// gradient flows through μ and the projection. Short captions come in `Features.extraTexts[0]`,
/// long ones in `Features.text`.
///
/// P comes from the eigenvectors of the smaller of (xL−μ)ᵀ(xL−μ) [D, D] and (xL−μ)(xL−μ)ᵀ [B, B]
/// in Double (`SymmetricEigen`). Components whose singular value is numerically zero (rank < m)
/// are left out: they do not change xS, and their direction would be arbitrary.
public struct LongCLIPObjective: Objective {
    public var shortWeight: Float
    public var components: Int
    public var labelSmoothing: Float
    public var initialLogitScale: Float = Foundation.log(1 / 0.07)
    public var maxLogitScale: Float = Foundation.log(100)
    /// False when the features are already L2-normalized; gradients are then with respect to them.
    public var normalizesFeatures = true

    public init(shortWeight: Float = 1, components: Int = 32, labelSmoothing: Float = 0.1) {
        ensure(components >= 1, "Long-CLIP needs at least one principal component, got \(components)")
        (self.shortWeight, self.components, self.labelSmoothing) = (shortWeight, components, labelSmoothing)
    }

    public var needs: ObjectiveNeeds { ObjectiveNeeds(extraCaptionSets: 1) }

    /// The long caption is the main text; the extra set is the short caption (`/captions` when the
    /// shard has long captions too and they differ, else the long caption's first sentence).
    public func captionSets(_ batch: CaptionBatch) -> CaptionSets {
        func firstSentence(_ text: String) -> String { batch.sentences(text).first ?? text }
        guard let long = batch.longCaptions else {
            return CaptionSets(main: batch.captions, extra: [batch.captions.map(firstSentence)])
        }
        let short = zip(batch.captions, long).map { short, long in
            short.isEmpty || short == long ? firstSentence(long) : short
        }
        return CaptionSets(main: long, extra: [short])
    }
    public var initialScalars: InitialScalars { InitialScalars(logitScale: initialLogitScale) }

    public func loss(_ f: Features, _ s: ObjectiveScalars) -> Variable {
        ensure(f.extraTexts.count >= 1, "Long-CLIP needs the short-caption features in Features.extraTexts[0]")
        let xL = normalized(f.image, normalizesFeatures)
        let yL = normalized(f.text, normalizesFeatures), yS = normalized(f.extraTexts[0], normalizesFeatures)
        let xS = LongCLIPObjective.shortImageFeatures(xL, components: components)
        let long = clipLoss(xL, yL, logitScale: s.logitScale, labelSmoothing: labelSmoothing)
        let short = clipLoss(xS, yS, logitScale: s.logitScale, labelSmoothing: labelSmoothing)
        return long + short * shortWeight
    }

    public func constrain(_ s: ObjectiveScalars) {
        s.logitScale.value = s.logitScale.value.clamped(min: 0, max: maxLogitScale)
    }

    /// `xS = (xL − μ) P Pᵀ + μ` with P = `principalComponents(xL, count:)` held constant.
    /// - Parameter xL: [B, D]. - Returns: [B, D].
    public static func shortImageFeatures(_ xL: Variable, components: Int) -> Variable {
        shortImageFeatures(xL, projection: principalComponents(xL.value, count: components))
    }

    /// `xS = (xL − μ) P Pᵀ + μ` for a given constant P [D, m].
    public static func shortImageFeatures(_ xL: Variable, projection: Tensor) -> Variable {
        let p = Variable(projection)                                          // [D, m], constant
        let mu = xL.mean(axis: 0, keepDims: true)                             // [1, D]
        if projection.shape[1] == 0 { return mu.broadcast(to: xL.shape) }     // all rows equal
        return (xL - mu).matmul(p).matmul(p, transposeOther: true) + mu
    }

    /// The first `min(count, B, D)` right singular vectors of `x − mean(x)`, as columns [D, m]
    /// (fewer when the centered matrix has lower rank). Signs are arbitrary; P Pᵀ is not.
    public static func principalComponents(_ x: Tensor, count: Int) -> Tensor {
        ensure(x.rank == 2, "principal components need a matrix [B, D], got \(x.shape)")
        let (b, d) = (x.shape[0], x.shape[1])
        var centered = [Double](repeating: 0, count: b * d)   // [B, D]
        for c in 0..<d {
            var mean = 0.0
            for r in 0..<b { mean += Double(x.pointer[r * d + c]) }
            mean /= Double(max(b, 1))
            for r in 0..<b { centered[r * d + c] = Double(x.pointer[r * d + c]) - mean }
        }
        let m = min(count, b, d)
        let useGram = b < d
        let n = useGram ? b : d
        // Gram [B, B] = Xc Xcᵀ, or covariance [D, D] = Xcᵀ Xc.
        var a = [Double](repeating: 0, count: n * n)
        centered.withUnsafeBufferPointer { xc in
            a.withUnsafeMutableBufferPointer { ap in
                if useGram {
                    for i in 0..<b { for j in i..<b {
                        var s = 0.0
                        for c in 0..<d { s += xc[i * d + c] * xc[j * d + c] }
                        ap[i * n + j] = s; ap[j * n + i] = s
                    } }
                } else {
                    for r in 0..<b {
                        let row = xc.baseAddress! + r * d
                        for i in 0..<d {
                            let xi = row[i]
                            if xi == 0 { continue }
                            for j in i..<d { ap[i * n + j] += xi * row[j] }
                        }
                    }
                    for i in 0..<d { for j in 0..<i { ap[i * n + j] = ap[j * n + i] } }
                }
            }
        }
        let eigen = SymmetricEigen(a, n: n)
        let threshold = max(eigen.values.first ?? 0, 0) * 1e-12
        let kept = (0..<m).filter { eigen.values[$0] > threshold }
        let p = Tensor.zeros([d, kept.count])
        for (col, idx) in kept.enumerated() {
            var v = [Double](repeating: 0, count: d)
            if useGram {
                // v = Xcᵀ u / σ
                let sigma = eigen.values[idx].squareRoot()
                for r in 0..<b {
                    let u = eigen.vectors[idx * n + r]
                    for c in 0..<d { v[c] += centered[r * d + c] * u }
                }
                for c in 0..<d { v[c] /= sigma }
            } else {
                for c in 0..<d { v[c] = eigen.vectors[idx * n + c] }
            }
            for c in 0..<d { p.pointer[c * kept.count + col] = Float(v[c]) }
        }
        return p
    }
}

extension LongCLIPObjective {
    /// `objective: {type: longclip}`: `label_smoothing`, `short_weight`, `components`, `temperature_init`.
    public struct Options: ObjectiveOptions {
        public static let type = "longclip"
        public static let readsCLIPScalars = true
        public var labelSmoothing: Float?
        public var temperatureInit: Float?
        public var shortWeight: Float?
        public var components: Int?
        public enum CodingKeys: String, CodingKey, CaseIterable {
            case labelSmoothing = "label_smoothing", temperatureInit = "temperature_init", shortWeight = "short_weight", components
        }
        public init(labelSmoothing: Float? = nil, shortWeight: Float? = nil, components: Int? = nil, temperatureInit: Float? = nil) {
            (self.labelSmoothing, self.shortWeight, self.components, self.temperatureInit) = (labelSmoothing, shortWeight, components, temperatureInit)
        }

        public func makeObjective() throws -> any Objective {
            var o = LongCLIPObjective()
            if let e = try checkedLabelSmoothing(.labelSmoothing, labelSmoothing) { o.labelSmoothing = e }
            if let t = try logitScale(temperature: .temperatureInit, temperatureInit) { o.initialLogitScale = t }
            if let w = try checked(.shortWeight, shortWeight, "must be non-negative", { $0 >= 0 && $0.isFinite }) { o.shortWeight = w }
            if let m = try checkedAtLeastOne(.components, components) { o.components = m }
            return o
        }
    }
}
