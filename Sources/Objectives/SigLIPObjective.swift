import Foundation

/// SigLIP's pairwise sigmoid loss (Zhai et al., 2023, "Sigmoid Loss for Language Image
/// Pre-Training"):
///
///     x = l2norm(image), y = l2norm(text), logits = exp(t′)·x yᵀ + b   [B, B]
///     z = 2I − 1 (+1 for the B positive pairs, −1 for the B² − B negatives)
///     loss = −(1/B) Σ_ij log σ(z_ij · logits_ij)
///
/// `t′` is the model's `logit_scale` (init ln 10, clamped to [0, ln 100] after each step as
/// OpenCLIP does) and `b` its `logit_bias` (init −10).
///
/// Computed by one fused op in blocks of `blockSize` texts: at most a [B, blockSize] slice of the
/// logits exists at once, in the forward and (recomputed) in the backward pass.
public struct SigLIPObjective: Objective {
    /// Texts per block.
    public var blockSize: Int
    public var initialLogitScale: Float
    public var initialLogitBias: Float
    public var maxLogitScale: Float = Foundation.log(100)
    /// False when the features are already L2-normalized; gradients are then with respect to them.
    public var normalizesFeatures = true

    public init(blockSize: Int = 128, initialLogitScale: Float = Foundation.log(10), initialLogitBias: Float = -10) {
        ensure(blockSize >= 1, "SigLIP's block size must be at least 1, got \(blockSize)")
        (self.blockSize, self.initialLogitScale, self.initialLogitBias) = (blockSize, initialLogitScale, initialLogitBias)
    }

    public var needs: ObjectiveNeeds { ObjectiveNeeds() }
    public var initialScalars: InitialScalars { InitialScalars(logitScale: initialLogitScale, logitBias: initialLogitBias) }

    public func loss(_ f: Features, _ s: ObjectiveScalars) -> Variable {
        guard let bias = s.logitBias else {
            fatalError("SigLIP needs the model's logit_bias (create the model with init_logit_bias)")
        }
        return sigmoidLoss(normalized(f.image, normalizesFeatures), normalized(f.text, normalizesFeatures),
                           logitScale: s.logitScale, logitBias: bias, blockSize: blockSize)
    }

    public func constrain(_ s: ObjectiveScalars) {
        s.logitScale.value = s.logitScale.value.clamped(min: 0, max: maxLogitScale)
    }
}

/// The fused, blocked SigLIP loss on normalized features x [B, D], y [B, D] with scalars t′, b [].
///
/// Backward (recomputing each block's logits): `dℓ_ij = −z_ij σ(−z_ij ℓ_ij) / B`,
/// `dx = e^{t′} dℓ y`, `dy = e^{t′} dℓᵀ x`, `dt′ = e^{t′} Σ dℓ ⊙ x yᵀ`, `db = Σ dℓ`.
func sigmoidLoss(_ x: Variable, _ y: Variable, logitScale: Variable, logitBias: Variable, blockSize: Int) -> Variable {
    ensure(x.shape.count == 2 && x.shape == y.shape,
                 "SigLIP expects image and text features of equal shape [B, D], got \(x.shape) and \(y.shape)")
    let (xv, yv) = (x.value, y.value)
    let (n, d) = (xv.shape[0], xv.shape[1])
    let scale = Foundation.exp(logitScale.value.scalar), bias = logitBias.value.scalar
    let block = min(blockSize, max(n, 1))
    let dots = Tensor(uninitializedShape: [n, block])   // x y_Jᵀ for one text block J

    /// x y_Jᵀ for texts j0 ..< j0 + bj into `dots` (row stride bj).
    func computeDots(_ j0: Int, _ bj: Int) {
        BLAS.sgemm(transA: false, transB: true, m: n, n: bj, k: d, a: xv.pointer, lda: d,
                   b: yv.pointer + j0 * d, ldb: d, c: dots.pointer, ldc: bj)
    }

    var total = 0.0
    for j0 in stride(from: 0, to: n, by: block) {
        let bj = min(block, n - j0)
        computeDots(j0, bj)
        for i in 0..<n {
            var row = 0.0
            for jj in 0..<bj {
                let logit = scale * dots.pointer[i * bj + jj] + bias
                let u = i == j0 + jj ? logit : -logit
                row += Double(softplus(-u))   // −log σ(u)
            }
            total += row
        }
    }
    let loss = Tensor(Float(total / Double(n)))

    return Variable.record(loss, "siglip_loss", [x, y, logitScale, logitBias]) { g in
        let upstream = g.scalar / Float(n)
        let dx = Tensor.zeros([n, d]), dy = Tensor(uninitializedShape: [n, d])
        var dScale = 0.0, dBias = 0.0
        for j0 in stride(from: 0, to: n, by: block) {
            let bj = min(block, n - j0)
            computeDots(j0, bj)
            // dots ← e^{t′}·dℓ in place, accumulating dt′ and db on the way.
            for i in 0..<n {
                var rowScale = 0.0, rowBias = 0.0
                for jj in 0..<bj {
                    let p = dots.pointer[i * bj + jj]
                    let z: Float = i == j0 + jj ? 1 : -1
                    let dl = -z * sigmoid(-z * (scale * p + bias)) * upstream
                    rowScale += Double(dl * p)
                    rowBias += Double(dl)
                    dots.pointer[i * bj + jj] = scale * dl
                }
                dScale += rowScale; dBias += rowBias
            }
            // dx += (e^{t′} dℓ) y_J ; dy_J = (e^{t′} dℓ)ᵀ x
            BLAS.sgemm(transA: false, transB: false, m: n, n: d, k: bj, a: dots.pointer, lda: bj,
                       b: yv.pointer + j0 * d, ldb: d, beta: 1, c: dx.pointer, ldc: d)
            BLAS.sgemm(transA: true, transB: false, m: bj, n: d, k: n, a: dots.pointer, lda: bj,
                       b: xv.pointer, ldb: d, c: dy.pointer + j0 * d, ldc: d)
        }
        return [dx, dy, Tensor(Float(dScale) * scale), Tensor(Float(dBias))]
    }
}

/// `log(1 + eᵛ)`, stable for large |v|.
@inline(__always)
func softplus(_ v: Float) -> Float { Swift.max(v, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(v))) }

@inline(__always)
func sigmoid(_ v: Float) -> Float {
    v >= 0 ? 1 / (1 + Foundation.exp(-v)) : { let e = Foundation.exp(v); return e / (1 + e) }()
}

extension SigLIPObjective {
    /// `objective: {type: siglip}`: `block_size`, `temperature_init` (τ, logit_scale = ln(1/τ)).
    public struct Options: ObjectiveOptions {
        public static let type = "siglip"
        public var temperatureInit: Float?
        public var blockSize: Int?
        public enum CodingKeys: String, CodingKey, CaseIterable { case temperatureInit = "temperature_init", blockSize = "block_size" }
        public init(blockSize: Int? = nil, temperatureInit: Float? = nil) { (self.blockSize, self.temperatureInit) = (blockSize, temperatureInit) }

        public func makeObjective() throws -> any Objective {
            var o = SigLIPObjective()
            if let t = try logitScale(temperature: .temperatureInit, temperatureInit) { o.initialLogitScale = t }
            if let b = try checkedAtLeastOne(.blockSize, blockSize) { o.blockSize = b }
            return o
        }
    }
}
