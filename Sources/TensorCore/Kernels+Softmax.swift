import Foundation

/// Row-wise softmax, log-softmax and fused softmax cross-entropy over the last axis.
extension Tensor {
    /// `exp(x − max) / Σ exp(x − max)` along the last axis.
    public func softmax() -> Tensor {
        let n = shape.last ?? 1, rows = count / Swift.max(n, 1)
        let out = Tensor(uninitializedShape: shape)
        let src = pointer, dst = out.pointer
        Parallel.forEachChunk(rows, grain: Swift.max(1, 4096 / Swift.max(n, 1))) { range in
            for r in range { softmaxRow(src + r * n, dst + r * n, n) }
        }
        return out
    }

    /// `x − logΣexp(x)` along the last axis.
    public func logSoftmax() -> Tensor {
        let n = shape.last ?? 1, rows = count / Swift.max(n, 1)
        let out = Tensor(uninitializedShape: shape)
        for r in 0..<rows {
            let x = pointer + r * n, y = out.pointer + r * n
            var m = -Float.infinity
            for j in 0..<n { m = Swift.max(m, x[j]) }
            mapVectorized(x, y, n) { vexp($0 - m) }
            let lse = Foundation.log(sumVectorized(y, n)) + m
            mapVectorized(x, y, n) { $0 - lse }
        }
        return out
    }

    /// Backward of softmax given its output `y`: `dx = y ⊙ (dy − Σ dy⊙y)`.
    public static func softmaxBackward(y: Tensor, dy: Tensor) -> Tensor {
        let n = y.shape.last ?? 1, rows = y.count / Swift.max(n, 1)
        let dx = Tensor(uninitializedShape: y.shape)
        for r in 0..<rows {
            let yr = y.pointer + r * n, g = dy.pointer + r * n
            let s = dotVectorized(yr, g, n)
            zipVectorized(yr, g, dx.pointer + r * n, n) { y, g in y * (g - s) }
        }
        return dx
    }

    /// Backward of log-softmax given its output `y`: `dx = dy − softmax · Σ dy`.
    public static func logSoftmaxBackward(y: Tensor, dy: Tensor) -> Tensor {
        let n = y.shape.last ?? 1, rows = y.count / Swift.max(n, 1)
        let dx = Tensor(uninitializedShape: y.shape)
        for r in 0..<rows {
            let g = dy.pointer + r * n
            let s = sumVectorized(g, n)
            zipVectorized(y.pointer + r * n, g, dx.pointer + r * n, n) { y, g in g - vexp(y) * s }
        }
        return dx
    }

    /// Fused softmax cross-entropy over rows of `logits` [N, C] with integer `targets` [N]
    /// and label smoothing ε (target distribution `(1−ε)·onehot + ε/C`).
    ///
    /// Returns the mean loss and `dlogits = (softmax − q) / N` for a unit upstream gradient.
    public static func softmaxCrossEntropy(logits: Tensor, targets: [Int], labelSmoothing: Float = 0)
        -> (loss: Float, gradient: Tensor)
    {
        ensure(logits.rank == 2 && logits.shape[0] == targets.count,
                     "cross-entropy needs logits [N, C] and N targets, got \(logits.shape) and \(targets.count)")
        let (rows, c) = (logits.shape[0], logits.shape[1])
        let grad = Tensor(uninitializedShape: logits.shape)
        var total: Double = 0
        let offValue = labelSmoothing / Float(c), onValue = 1 - labelSmoothing + offValue
        for r in 0..<rows {
            let x = logits.pointer + r * c, p = grad.pointer + r * c
            let t = targets[r]
            ensure(t >= 0 && t < c, "cross-entropy target \(t) out of range 0..<\(c)")
            var m = -Float.infinity
            for j in 0..<c { m = Swift.max(m, x[j]) }
            mapVectorized(x, p, c) { vexp($0 - m) }
            let z = sumVectorized(p, c)
            let lse = Foundation.log(z) + m
            // loss_r = Σ_j −q_j (x_j − lse) = lse − ε/C Σ x − (1−ε) x_t
            let sumX = sumVectorized(x, c)
            total += Double(lse - offValue * sumX - (1 - labelSmoothing) * x[t])
            let inv = 1 / (z * Float(rows)), off = offValue / Float(rows)
            mapVectorized(p, p, c) { $0 * inv - off }
            p[t] -= (onValue - offValue) / Float(rows)
        }
        return (Float(total / Double(rows)), grad)
    }
}

/// `y = softmax(x)` over one row of `n` (`y` may be `x`); a fully masked row (all −∞) gives the
/// uniform distribution rather than NaN.
///
/// Two passes after the maximum: exp and its sum together, then the scale. A row of 16 or more
/// ends with the vector of its last 16 elements, loaded before the overlapping ones are
/// overwritten and kept in a register, with only its new lanes summed — no partial loads or
/// stores (they cost a row of 65 a third of its time). The summation order depends on `n` only.
@inline(__always)
func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var m = maxVectorized(x, n)
    if m == -.infinity { m = 0 }  // fully masked row: uniform result rather than NaN
    guard n >= 16 else {
        mapVectorized(x, y, n) { vexp($0 - m) }
        let inv = 1 / sumVectorized(y, n)
        mapVectorized(y, y, n) { $0 * inv }
        return
    }
    let xr = UnsafeRawPointer(x), yr = UnsafeMutableRawPointer(y)
    let shift = Vec(repeating: m)
    let tail = n % 16, full = n - tail, last = 4 * (n - 16)
    let tailE = tail > 0 ? vexp(xr.loadUnaligned(fromByteOffset: last, as: Vec.self) - shift) : Vec()
    var sum = Vec()
    var i = 0
    while i < full {
        let e = vexp(xr.loadUnaligned(fromByteOffset: 4 * i, as: Vec.self) - shift)
        yr.storeBytes(of: e, toByteOffset: 4 * i, as: Vec.self)
        sum += e
        i += 16
    }
    if tail > 0 { sum += tailE.replacing(with: 0, where: laneIndex .< Float(16 - tail)) }
    let inv = Vec(repeating: 1 / horizontalSum(sum))
    i = 0
    while i < full {
        yr.storeBytes(of: yr.loadUnaligned(fromByteOffset: 4 * i, as: Vec.self) * inv, toByteOffset: 4 * i, as: Vec.self)
        i += 16
    }
    if tail > 0 { yr.storeBytes(of: tailE * inv, toByteOffset: last, as: Vec.self) }
}

/// Softmax backward over one row of `n`, in place on the gradient: `d = p ⊙ (d − Σ p ⊙ d)`, with
/// the overlapping last vector of `softmaxRow`; the dot product's order depends on `n` only.
@inline(__always)
func softmaxBackwardRow(_ p: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) {
    guard n >= 16 else {
        let dot = dotVectorized(p, d, n)
        zipVectorized(p, d, d, n) { p, d in p * (d - dot) }
        return
    }
    let pr = UnsafeRawPointer(p), dr = UnsafeMutableRawPointer(d)
    let tail = n % 16, full = n - tail, last = 4 * (n - 16)
    let tailP = pr.loadUnaligned(fromByteOffset: last, as: Vec.self), tailD = dr.loadUnaligned(fromByteOffset: last, as: Vec.self)
    var sum = Vec()
    var i = 0
    while i < full {
        sum += pr.loadUnaligned(fromByteOffset: 4 * i, as: Vec.self) * dr.loadUnaligned(fromByteOffset: 4 * i, as: Vec.self)
        i += 16
    }
    if tail > 0 { sum += (tailP * tailD).replacing(with: 0, where: laneIndex .< Float(16 - tail)) }
    let dot = Vec(repeating: horizontalSum(sum))
    i = 0
    while i < full {
        let pv = pr.loadUnaligned(fromByteOffset: 4 * i, as: Vec.self), dv = dr.loadUnaligned(fromByteOffset: 4 * i, as: Vec.self)
        dr.storeBytes(of: pv * (dv - dot), toByteOffset: 4 * i, as: Vec.self)
        i += 16
    }
    if tail > 0 { dr.storeBytes(of: tailP * (tailD - dot), toByteOffset: last, as: Vec.self) }
}

/// Lane numbers 0…15, as floats: a float comparison makes a vector mask in one instruction (an
/// integer one, `SIMD16<Int32>`, was compiled lane by lane through memory).
private var laneIndex: Vec {
    @inline(__always) get { Vec(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }
}

/// The sum of 16 lanes as a tree of halves: four dependent adds, not fifteen.
@inline(__always)
func horizontalSum(_ v: Vec) -> Float {
    let s8 = v.lowHalf + v.highHalf, s4 = s8.lowHalf + s8.highHalf, s2 = s4.lowHalf + s4.highHalf
    return s2[0] + s2[1]
}
