import Foundation
import TensorCore
import XCTest

/// bf16 rounding and bf16 GEMMs (`MatmulPrecision.bf16`) against independent oracles.
final class BFloat16Tests: XCTestCase {
    /// Round-to-nearest-even by distances in Float64: the two bf16 neighbours of `x` (truncated
    /// and one step further from zero, Inf counted as 2^128 as IEEE overflow rounding does),
    /// the nearer one, the even one on a tie. nil for NaN (checked separately).
    static func oracle(_ x: Float) -> UInt16? {
        if x.isNaN { return nil }
        let bits = x.bitPattern
        let down = bits & 0xFFFF_0000
        if down == bits { return UInt16(bits >> 16) }
        let up = down + 0x1_0000
        func value(_ b: UInt32) -> Double {
            b & 0x7FFF_FFFF == 0x7F80_0000 ? (b >> 31 == 1 ? -0x1p128 : 0x1p128) : Double(Float(bitPattern: b))
        }
        let dDown = abs(Double(x) - value(down)), dUp = abs(value(up) - Double(x))
        if dDown != dUp { return UInt16((dDown < dUp ? down : up) >> 16) }
        return UInt16(((down >> 16) & 1 == 0 ? down : up) >> 16)
    }

    static let specialPatterns: [UInt32] = [
        0x0000_0000, 0x8000_0000, 0x3F80_0000, 0xBF80_0000,          // ±0, ±1
        0x3F80_8000, 0x3F81_8000, 0xBF80_8000, 0x3F80_8001, 0x3F80_7FFF, // ties to even, just above/below a tie
        0x7F80_0000, 0xFF80_0000,                                    // ±Inf
        0x7F7F_FFFF, 0xFF7F_FFFF, 0x7F7F_7FFF, 0x7F7F_8000,          // largest floats: overflow to Inf or not
        0x0000_0001, 0x0000_8000, 0x0001_8000, 0x0000_8001, 0x007F_FFFF, 0x8000_8000, 0x807F_FFFF, // subnormals
        0x7F80_0001, 0xFF80_0001, 0x7F80_FFFF, 0x7FC0_0000, 0xFFC0_1234, 0x7FFF_FFFF, // NaNs (payload only in low bits too)
    ]

    func checkRounding(_ input: [Float], _ output: [UInt16], file: StaticString = #filePath, line: UInt = #line) {
        for (x, r) in zip(input, output) {
            if let expected = Self.oracle(x) {
                XCTAssertEqual(r, expected, String(format: "input 0x%08X", x.bitPattern), file: file, line: line)
            } else {
                let y = BFloat16.float(r)
                XCTAssertTrue(y.isNaN && y.sign == x.sign, String(format: "NaN 0x%08X became 0x%04X", x.bitPattern, r), file: file, line: line)
            }
        }
    }

    func testRoundingKernelsMatchTheOracle() {
        var rng = RandomGenerator(seed: 3)
        let random = (0..<100_003).map { i -> Float in
            let r = UInt32(truncatingIfNeeded: rng.next())
            return Float(bitPattern: i % 3 == 0 ? (r & 0xFFFF_8000) | 0x8000 : r)   // a third are exact ties
        }
        let input = Self.specialPatterns.map(Float.init(bitPattern:)) + random
        // Scalar form, vector kernel into bf16 patterns and into floats, at an odd offset and length.
        checkRounding(input, input.map(BFloat16.bits))
        for offset in [0, 1, 5] {
            let slice = Array(input[offset...])
            var patterns = [UInt16](repeating: 0, count: slice.count)
            var floats = [Float](repeating: 0, count: slice.count)
            BFloat16.round(slice, into: &patterns, count: slice.count)
            BFloat16.round(slice, toFloats: &floats, count: slice.count)
            checkRounding(slice, patterns)
            checkRounding(slice, floats.map { UInt16($0.bitPattern >> 16) })
            XCTAssertTrue(floats.allSatisfy { $0.bitPattern & 0xFFFF == 0 })
        }
    }

    /// A GEMM case: op(A) [m, k], op(B) [k, n] stored with padded leading dimensions, C with padding too.
    struct Case {
        var transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float
        var lda: Int { (transA ? m : k) + 3 }
        var ldb: Int { (transB ? k : n) + 1 }
        var ldc: Int { n + 2 }
        var aRows: Int { transA ? k : m }
        var bRows: Int { transB ? n : k }
    }

    static let cases: [Case] = [
        Case(transA: false, transB: false, m: 37, n: 29, k: 70, alpha: 1, beta: 0),
        Case(transA: false, transB: true, m: 64, n: 48, k: 33, alpha: 0.125, beta: 0),
        Case(transA: true, transB: false, m: 21, n: 65, k: 40, alpha: 1, beta: 1),
        Case(transA: true, transB: true, m: 50, n: 17, k: 9, alpha: -2, beta: 0.5),
        Case(transA: false, transB: false, m: 1, n: 300, k: 128, alpha: 1, beta: 0),
    ]

    /// Random A, B, C for `c` (C's padding holds a sentinel that no GEMM may touch).
    func operands(_ c: Case, seed: UInt64) -> (a: Tensor, b: Tensor, c: Tensor) {
        var rng = RandomGenerator(seed: seed)
        let out = Tensor.randomNormal([c.m, c.ldc], using: &rng)
        for i in 0..<c.m { for j in c.n..<c.ldc { out.pointer[i * c.ldc + j] = 12345 } }
        return (Tensor.randomNormal([c.aRows, c.lda], using: &rng), Tensor.randomNormal([c.bRows, c.ldb], using: &rng), out)
    }

    func copy(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, scalars: t.scalars) }

    /// The first `cols` columns of each row of `t`, rounded by the scalar oracle.
    func packedRounded(_ t: Tensor, cols: Int) -> Tensor { rounded(t).slice(axis: 1, 0..<cols) }

    func rounded(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, scalars: t.scalars.map { BFloat16.float(BFloat16.bits($0)) }) }

    func sgemm(_ c: Case, _ a: Tensor, _ b: Tensor, into out: Tensor) {
        BLAS.sgemm(transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: c.alpha, a: a.pointer, lda: c.lda,
                   b: b.pointer, ldb: c.ldb, beta: c.beta, c: out.pointer, ldc: c.ldc)
    }

    /// The portable path is exactly sgemm on inputs rounded by the scalar oracle; `MatmulPrecision.bf16`
    /// routes `BLAS.sgemm` (and so `Tensor.matmul`) there; fp32 is untouched outside it.
    func testPortableBF16GEMMIsSgemmOnRoundedInputs() {
        for (i, c) in Self.cases.enumerated() {
            let (a, b, start) = operands(c, seed: UInt64(i))
            let expected = copy(start), portable = copy(start), viaMode = copy(start)
            let fp32 = copy(start)
            // The oracle's inputs are packed as the portable path packs them, so both calls are the same sgemm.
            let (aCols, bCols) = (c.transA ? c.m : c.k, c.transB ? c.k : c.n)
            BLAS.sgemm(transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: c.alpha,
                       a: packedRounded(a, cols: aCols).pointer, lda: aCols, b: packedRounded(b, cols: bCols).pointer, ldb: bCols,
                       beta: c.beta, c: expected.pointer, ldc: c.ldc)
            BLAS.gemmBF16(path: .portable, transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: c.alpha,
                          a: a.pointer, lda: c.lda, b: b.pointer, ldb: c.ldb, beta: c.beta, c: portable.pointer, ldc: c.ldc)
            XCTAssertEqual(portable.scalars, expected.scalars, "case \(i)")
            sgemm(c, a, b, into: fp32)
            XCTAssertNotEqual(fp32.scalars, expected.scalars, "case \(i): bf16 rounding changed nothing")
            if BF16Engine.detected.path == .portable {
                MatmulPrecision.with(.bf16) { sgemm(c, a, b, into: viaMode) }
                XCTAssertEqual(viaMode.scalars, expected.scalars, "case \(i): MatmulPrecision.bf16")
            }
        }
        var rng = RandomGenerator(seed: 9)
        let x = Tensor.randomNormal([5, 7], using: &rng), w = Tensor.randomNormal([7, 3], using: &rng)
        if BF16Engine.detected.path == .portable {
            XCTAssertEqual(MatmulPrecision.with(.bf16) { x.matmul(w) }.scalars, rounded(x).matmul(rounded(w)).scalars)
        }
        XCTAssertNotEqual(MatmulPrecision.with(.bf16) { x.matmul(w) }.scalars, x.matmul(w).scalars)
        XCTAssertEqual(MatmulPrecision.current, .fp32)
    }

    /// `Parallel.forEachChunk` threads inherit the caller's precision.
    func testForEachChunkThreadsInheritThePrecision() {
        let seen = UnsafeMutableBufferPointer<MatmulPrecision>.allocate(capacity: 4)
        defer { seen.deallocate() }
        let box = UncheckedBox(seen)
        Parallel.withThreadBudget(4) {
            MatmulPrecision.with(.bf16) {
                Parallel.forEachChunk(4) { range in for i in range { box.value[i] = MatmulPrecision.current } }
            }
        }
        XCTAssertEqual(Array(seen), [.bf16, .bf16, .bf16, .bf16])
    }

    /// The oneDNN plumbing (strides, transposes, alpha as output scale, beta as sum post-op, one or
    /// two threads) with oneDNN's f32 kernel, which every x86-64 CPU has: equal to sgemm up to
    /// the order of accumulation.
    func testOneDNNMatmulPlumbingMatchesSgemm() throws {
        for (i, c) in Self.cases.enumerated() {
            for threads in [1, 2] {
                let (a, b, start) = operands(c, seed: UInt64(10 + i))
                let expected = copy(start), viaDNNL = copy(start)
                sgemm(c, a, b, into: expected)
                let ran = Parallel.withThreadBudget(threads) {
                    BLAS.sgemmOneDNN(transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: c.alpha,
                                     a: a.pointer, lda: c.lda, b: b.pointer, ldb: c.ldb, beta: c.beta,
                                     c: viaDNNL.pointer, ldc: c.ldc)
                }
                try XCTSkipUnless(ran, "oneDNN has no f32 matmul kernel on this CPU (\(BF16Engine.cpuISA))")
                assertClose(viaDNNL, expected, c, a, b, start, "case \(i), \(threads) threads")
            }
        }
    }

    /// The native bf16 kernel equals the portable path up to the order of accumulation (the
    /// products are the same exact fp32 values); this needs AVX512-BF16 or AMX. Elsewhere oneDNN
    /// has no bf16 kernel: the oneDNN path packs its inputs, finds none, falls back to the
    /// portable path (the same result exactly) and lists the shape.
    func testOneDNNBF16MatchesThePortablePath() throws {
        let native = BF16Engine.detected.isNative
        for (i, c) in Self.cases.enumerated() {
            let (a, b, start) = operands(c, seed: UInt64(20 + i))
            let portable = copy(start), viaDNNL = copy(start)
            for (path, out) in [(BF16Engine.Path.portable, portable), (.oneDNN, viaDNNL)] {
                BLAS.gemmBF16(path: path, transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: c.alpha,
                              a: a.pointer, lda: c.lda, b: b.pointer, ldb: c.ldb, beta: c.beta, c: out.pointer, ldc: c.ldc)
            }
            if native {
                assertClose(viaDNNL, portable, c, rounded(a), rounded(b), start, "case \(i)")
            } else {
                XCTAssertEqual(viaDNNL.scalars, portable.scalars, "case \(i)")
                XCTAssertTrue(BF16Engine.portableShapes.contains { $0.hasPrefix("\(c.m)×\(c.n)×\(c.k)") }, "case \(i)")
            }
        }
        try XCTSkipUnless(native, BF16Engine.detected.summary)
    }

    /// |x − y| ≤ 4·k·ε₃₂ · (|alpha| Σ|a||b| + |beta C₀|) element-wise (fp32 summation-order bound);
    /// C's padding untouched.
    func assertClose(_ x: Tensor, _ y: Tensor, _ c: Case, _ a: Tensor, _ b: Tensor, _ start: Tensor, _ what: String) {
        for i in 0..<c.m {
            for j in 0..<c.ldc {
                let (u, v) = (x.pointer[i * c.ldc + j], y.pointer[i * c.ldc + j])
                if j >= c.n { XCTAssertEqual(u, 12345, "\(what): padding written"); continue }
                var magnitude = 0.0
                for p in 0..<c.k {
                    let av = c.transA ? a.pointer[p * c.lda + i] : a.pointer[i * c.lda + p]
                    let bv = c.transB ? b.pointer[j * c.ldb + p] : b.pointer[p * c.ldb + j]
                    magnitude += abs(Double(av) * Double(bv))
                }
                let bound = 4 * Double(c.k + 1) * Double(Float.ulpOfOne)
                    * (Double(abs(c.alpha)) * magnitude + Double(abs(c.beta * start.pointer[i * c.ldc + j])))
                XCTAssertLessThanOrEqual(abs(Double(u) - Double(v)), bound, "\(what) at [\(i), \(j)]")
            }
        }
    }
}
