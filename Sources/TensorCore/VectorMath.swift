/// SIMD polynomial approximations of exp, erf, tanh and sigmoid, accurate to about
/// 1e-7 absolute / 2e-7 relative in Float32 — libm's scalar `expf` is several times
/// slower and would dominate GELU and softmax.
///
/// The functions on `Vec` are always inlined (`@_transparent`, as swift-numerics does):
/// `@inline(__always)` is only a hint to the optimizer, whose inlining budget left calls to
/// them in large kernels — softmax and attention kept `vexp` a call, and once `vexp` was inlined
/// GELU kept `erfGivenGaussian` one — and a call passes the 16 lanes through four 128-bit registers,
/// so the whole polynomial around it ran on 128-bit vectors (half of softmax's time).
public typealias Vec = SIMD16<Float>

/// `exp(x)` on 16 lanes, inputs clamped to [−87.3, 88.3].
@_transparent
public func vexp(_ x: Vec) -> Vec {
    // exp(x) = 2^n · exp(r), n = round(x / ln 2), |r| ≤ ln2 / 2 (Cephes polynomial).
    let x = clamp(x, -87.3, 88.3)
    let magic = Vec(repeating: 12_582_912.0)  // 1.5 · 2^23: adding it rounds to an integer
    let t = x * 1.442_695_04 + magic
    let n = t - magic
    var r = x - n * 0.693_359_375
    r = r - n * (-2.121_944_4e-4)
    var p = Vec(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    p = p * (r * r) + r + 1
    let bits = (unsafeBitCast(t, to: SIMD16<UInt32>.self) &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: Vec.self)
}

/// erf(x) by Abramowitz & Stegun 7.1.26: max abs error 1.5e-7.
@_transparent
public func verf(_ x: Vec) -> Vec { erfGivenGaussian(x, vexp(-x * x)) }

/// erf(x) when `e = exp(−x²)` is already known (GELU shares it with the normal density).
@_transparent @usableFromInline
func erfGivenGaussian(_ x: Vec, _ e: Vec) -> Vec {
    let a = abs(x)
    let t = 1 / (1 + 0.327_591_1 * a)
    var p = Vec(repeating: 1.061_405_429)
    p = p * t - 1.453_152_027
    p = p * t + 1.421_413_741
    p = p * t - 0.284_496_736
    p = p * t + 0.254_829_592
    let y = 1 - p * t * e
    return y.replacing(with: -y, where: x .< 0)
}

/// Normal CDF Φ(x) and density φ(x), sharing one exponential.
@_transparent
public func vnormalCDFAndPDF(_ x: Vec) -> (cdf: Vec, pdf: Vec) {
    let e = vexp(-0.5 * x * x)
    return (0.5 * (1 + erfGivenGaussian(x * 0.707_106_781, e)), e * 0.398_942_280)
}

@_transparent
public func vsigmoid(_ x: Vec) -> Vec { 1 / (1 + vexp(-x)) }

@_transparent
public func vtanh(_ x: Vec) -> Vec {
    // tanh(x) = sign(x)·(1 − e^{−2|x|}) / (1 + e^{−2|x|}), stable for large |x|.
    let e = vexp(-2 * abs(x))
    let y = (1 - e) / (1 + e)
    return y.replacing(with: -y, where: x .< 0)
}

@_transparent @usableFromInline
func abs(_ x: Vec) -> Vec { x.replacing(with: -x, where: x .< 0) }

/// Element-wise clamp to [lo, hi]. (The standard library's generic `clamped` is not vectorized.)
@_transparent
public func clamp(_ x: Vec, _ lo: Float, _ hi: Float) -> Vec {
    x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
}

/// Applies a SIMD function to `n` floats from `src` into `dst` (which may alias `src`).
@inline(__always)
public func mapVectorized(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int,
                          _ f: (Vec) -> Vec) {
    var i = 0
    let srcRaw = UnsafeRawPointer(src), dstRaw = UnsafeMutableRawPointer(dst)
    while i + 16 <= n {
        let v = srcRaw.loadUnaligned(fromByteOffset: i * 4, as: Vec.self)
        dstRaw.storeBytes(of: f(v), toByteOffset: i * 4, as: Vec.self)
        i += 16
    }
    if i < n { storePartial(f(loadPartial(src + i, n - i)), dst + i, n - i) }
}

/// The first `count` (< 16) floats at `p` in a vector, `fill` in the other lanes. (Setting lanes one
/// by one through a dynamic index goes through memory lane by lane: it made short rows several times
/// slower than long ones.)
@inline(__always)
public func loadPartial(_ p: UnsafePointer<Float>, _ count: Int, fill: Float = 0) -> Vec {
    var v = Vec(repeating: fill)
    withUnsafeMutableBytes(of: &v) { $0.baseAddress!.copyMemory(from: p, byteCount: count * 4) }
    return v
}

/// Stores the first `count` (< 16) lanes of `v` at `p`.
@inline(__always)
public func storePartial(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    withUnsafeBytes(of: v) { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: count * 4) }
}

/// The largest of `n` floats: −∞ for none; NaNs are skipped (as folding with `Swift.max` does).
@inline(__always)
public func maxVectorized(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vec(repeating: -.infinity)
    var i = 0
    let ar = UnsafeRawPointer(a)
    while i + 16 <= n {
        let v = ar.loadUnaligned(fromByteOffset: i * 4, as: Vec.self)
        acc = acc.replacing(with: v, where: v .> acc)
        i += 16
    }
    let (lo, hi) = (acc.lowHalf, acc.highHalf)
    let m8 = lo.replacing(with: hi, where: hi .> lo)
    let (lo4, hi4) = (m8.lowHalf, m8.highHalf)
    let m4 = lo4.replacing(with: hi4, where: hi4 .> lo4)
    var s = Swift.max(Swift.max(m4[0], m4[1]), Swift.max(m4[2], m4[3]))
    while i < n { s = Swift.max(s, a[i]); i += 1 }
    return s
}

/// Binary version of `mapVectorized`: `dst[i] = f(a[i], b[i])`.
@inline(__always)
public func zipVectorized(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                          _ n: Int, _ f: (Vec, Vec) -> Vec) {
    var i = 0
    let ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b), dr = UnsafeMutableRawPointer(dst)
    while i + 16 <= n {
        let r = f(ar.loadUnaligned(fromByteOffset: i * 4, as: Vec.self), br.loadUnaligned(fromByteOffset: i * 4, as: Vec.self))
        dr.storeBytes(of: r, toByteOffset: i * 4, as: Vec.self)
        i += 16
    }
    if i < n { storePartial(f(loadPartial(a + i, n - i), loadPartial(b + i, n - i)), dst + i, n - i) }
}

/// Sum of `n` floats with SIMD accumulators (fixed order: deterministic).
@inline(__always)
public func sumVectorized(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vec(repeating: 0)
    var i = 0
    let ar = UnsafeRawPointer(a)
    while i + 16 <= n { acc += ar.loadUnaligned(fromByteOffset: i * 4, as: Vec.self); i += 16 }
    var s = acc.sum()
    while i < n { s += a[i]; i += 1 }
    return s
}

/// Dot product of two length-`n` vectors.
@inline(__always)
public func dotVectorized(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vec(repeating: 0)
    var i = 0
    let ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b)
    while i + 16 <= n {
        acc += ar.loadUnaligned(fromByteOffset: i * 4, as: Vec.self) * br.loadUnaligned(fromByteOffset: i * 4, as: Vec.self)
        i += 16
    }
    var s = acc.sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}
