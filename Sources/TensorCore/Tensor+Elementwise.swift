/// Element-wise arithmetic with NumPy broadcasting, and unary functions.
extension Tensor {
    /// `f(a[i], b[i])` over the broadcast shape of `a` and `b`.
    @inline(__always)
    public static func broadcasting(_ a: Tensor, _ b: Tensor, _ f: (Vec, Vec) -> Vec) -> Tensor {
        if a.shape == b.shape {
            let out = Tensor(uninitializedShape: a.shape)
            zipVectorized(a.pointer, b.pointer, out.pointer, a.count, f)
            return out
        }
        let shape = Shape.broadcast(a.shape, b.shape)
        let out = Tensor(uninitializedShape: shape)
        if b.count == 1 {
            let s = Vec(repeating: b.pointer[0])
            mapVectorized(a.pointer, out.pointer, a.count) { f($0, s) }
            return out
        }
        if a.count == 1 {
            let s = Vec(repeating: a.pointer[0])
            mapVectorized(b.pointer, out.pointer, b.count) { f(s, $0) }
            return out
        }
        // Trailing-block broadcast: b (or a) repeats every `inner` elements.
        if a.count == out.count && b.shape.drop(while: { $0 == 1 }).elementsEqual(shape.suffix(b.shape.drop(while: { $0 == 1 }).count)) {
            let inner = b.count
            for o in stride(from: 0, to: out.count, by: inner) {
                zipVectorized(a.pointer + o, b.pointer, out.pointer + o, inner, f)
            }
            return out
        }
        if b.count == out.count && a.shape.drop(while: { $0 == 1 }).elementsEqual(shape.suffix(a.shape.drop(while: { $0 == 1 }).count)) {
            let inner = a.count
            for o in stride(from: 0, to: out.count, by: inner) {
                zipVectorized(a.pointer, b.pointer + o, out.pointer + o, inner, f)
            }
            return out
        }
        // General case: walk the output with broadcast strides; innermost axis contiguous or repeated.
        let sa = Shape.broadcastStrides(a.shape, to: shape), sb = Shape.broadcastStrides(b.shape, to: shape)
        let rank = shape.count
        let inner = shape[rank - 1]
        let ia = sa[rank - 1], ib = sb[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var va = [Float](repeating: 0, count: inner), vb = [Float](repeating: 0, count: inner)
        var o = 0
        while o < out.count {
            var oa = 0, ob = 0
            for d in 0..<(rank - 1) { oa += index[d] * sa[d]; ob += index[d] * sb[d] }
            for j in 0..<inner { va[j] = a.pointer[oa + j * ia]; vb[j] = b.pointer[ob + j * ib] }
            zipVectorized(va, vb, out.pointer + o, inner, f)
            o += inner
            var d = rank - 2
            while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
        }
        return out
    }

    @inline(__always)
    public func map(_ f: (Vec) -> Vec) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        mapVectorized(pointer, out.pointer, count, f)
        return out
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, +) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, -) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, *) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, /) }
    public static func + (a: Tensor, s: Float) -> Tensor { a.map { $0 + s } }
    public static func - (a: Tensor, s: Float) -> Tensor { a.map { $0 - s } }
    public static func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }
    public static func * (s: Float, a: Tensor) -> Tensor { a.map { $0 * s } }
    public static func / (a: Tensor, s: Float) -> Tensor { a.map { $0 / s } }
    public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }

    /// In place `self += other` (same shape), the gradient-accumulation primitive.
    public static func += (a: inout Tensor, b: Tensor) {
        ensure(a.shape == b.shape || a.count == b.count, "+= needs equal shapes, got \(a.shape) and \(b.shape)")
        a.makeUnique()
        zipVectorized(a.pointer, b.pointer, a.pointer, a.count, +)
    }

    /// In place `self *= s`.
    public static func *= (a: inout Tensor, s: Float) {
        a.makeUnique()
        mapVectorized(a.pointer, a.pointer, a.count) { $0 * s }
    }

    public func exp() -> Tensor { map(vexp) }
    public func log() -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        for i in 0..<count { out.pointer[i] = Foundation.log(pointer[i]) }
        return out
    }
    public func sqrt() -> Tensor { map { $0.squareRoot() } }
    public func tanh() -> Tensor { map(vtanh) }
    public func sigmoid() -> Tensor { map(vsigmoid) }
    public func relu() -> Tensor { map { $0.replacing(with: 0, where: $0 .< 0) } }
    public func squared() -> Tensor { map { $0 * $0 } }
    public func clamped(min lo: Float = -.infinity, max hi: Float = .infinity) -> Tensor {
        map { clamp($0, lo, hi) }
    }

    /// Exact GELU: `x · Φ(x) = ½x(1 + erf(x/√2))`.
    public func gelu() -> Tensor { map { $0 * vnormalCDFAndPDF($0).cdf } }
    /// Gradient of exact GELU: `dy · (Φ(x) + x·φ(x))`.
    public static func geluBackward(x: Tensor, dy: Tensor) -> Tensor {
        ensure(x.shape == dy.shape, "GELU backward needs matching shapes, got \(x.shape) and \(dy.shape)")
        let dx = Tensor(uninitializedShape: x.shape)
        zipVectorized(x.pointer, dy.pointer, dx.pointer, x.count) { x, dy in
            let (cdf, pdf) = vnormalCDFAndPDF(x)
            return dy * (cdf + x * pdf)
        }
        return dx
    }

    /// Exact GELU and its derivative `Φ(x) + x·φ(x)` in one pass (they share one exponential).
    /// Keeping the derivative instead of the input makes GELU's backward a plain product.
    public func geluWithDerivative() -> (y: Tensor, derivative: Tensor) {
        let y = Tensor(uninitializedShape: shape), d = Tensor(uninitializedShape: shape)
        let (src, yp, dp, n) = (pointer, y.pointer, d.pointer, count)
        let raw = (UnsafeRawPointer(src), UnsafeMutableRawPointer(yp), UnsafeMutableRawPointer(dp))
        Parallel.forEachChunk(n / 16, grain: 4096) { r in
            for v in r {
                let o = v * 64
                let x = raw.0.loadUnaligned(fromByteOffset: o, as: Vec.self)
                let (cdf, pdf) = vnormalCDFAndPDF(x)
                raw.1.storeBytes(of: x * cdf, toByteOffset: o, as: Vec.self)
                raw.2.storeBytes(of: cdf + x * pdf, toByteOffset: o, as: Vec.self)
            }
        }
        let tail = n - n % 16
        if tail < n {
            var x = Vec(repeating: 0)
            for j in 0..<(n - tail) { x[j] = src[tail + j] }
            let (cdf, pdf) = vnormalCDFAndPDF(x)
            for j in 0..<(n - tail) { yp[tail + j] = x[j] * cdf[j]; dp[tail + j] = cdf[j] + x[j] * pdf[j] }
        }
        return (y, d)
    }

    /// QuickGELU of OpenAI CLIP: `x · σ(1.702x)`.
    public func quickGelu() -> Tensor { map { $0 * vsigmoid(1.702 * $0) } }
    /// Gradient of QuickGELU: `dy · (σ(1.702x) + 1.702x·σ(1.702x)(1 − σ(1.702x)))`.
    public static func quickGeluBackward(x: Tensor, dy: Tensor) -> Tensor {
        broadcasting(x, dy) { x, dy in
            let s = vsigmoid(1.702 * x)
            return dy * (s + 1.702 * x * s * (1 - s))
        }
    }

    /// `condition ? a : b` element-wise, where `condition` is nonzero for true (broadcast to `a`).
    public static func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let ab = broadcasting(a, b) { a, _ in a }  // a broadcast to the joint shape
        let bb = broadcasting(b, a) { b, _ in b }
        let shape = Shape.broadcast(ab.shape, condition.shape)
        let cond = broadcasting(condition, Tensor(shape: shape, repeating: 0)) { c, _ in c }
        ensure(cond.shape == ab.shape, "select: condition \(condition.shape) does not broadcast to \(ab.shape)")
        let out = Tensor(uninitializedShape: ab.shape)
        for i in 0..<out.count { out.pointer[i] = cond.pointer[i] != 0 ? ab.pointer[i] : bb.pointer[i] }
        return out
    }
}

import Foundation

