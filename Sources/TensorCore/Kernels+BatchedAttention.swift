/// Attention whose per-head products run as batched GEMMs: one oneDNN matmul call per product for
/// all heads of a block of batch items (`AttentionKernel.Products.batched`).
///
/// oneDNN's batched kernels (`brg:avx512_core`, `brg:avx512_core_bf16`) need operands that are
/// dense in memory, so each block first packs its items' Q, K and V out of `qkv` [B, T, 3W] into
/// three [items, T, W] buffers (heads stay interleaved: head h of token t at `t·W + h·Dh`, a
/// permutation of a packed [items, H, T, Dh] array, which oneDNN takes as it is); the attention
/// probabilities [B, H, T, T], `out` and `dout` [B, T, W] are dense already. Per block:
///
///     forward   S = scale · Q Kᵀ → probs;  mask, softmax rows;  out = P V
///     backward  dV = Pᵀ dO;  dP = dO Vᵀ;  dS = P ⊙ (dP − rowsum(dP ⊙ P));  dQ = scale · dS K;  dK = scale · dSᵀ Q
///
/// then dQ, dK and dV are interleaved into `dqkv` [B, T, 3W].
///
/// Operands are fp32, or in `MatmulPrecision.bf16` rounded to bf16 while packing: bf16 patterns for
/// oneDNN's native bf16 kernel, or bf16 values held in fp32 for its fp32 kernel where bf16 is not
/// native (the numerics of `BLAS.gemmBF16` either way). Accumulation and outputs are fp32.
///
/// Determinism: blocks are a fixed number of batch items (a function of the shape only), each
/// oneDNN call runs on one thread, and threads take whole blocks — so results do not depend on the
/// thread count or on timing.
struct BatchedAttention {
    /// What the GEMM operands hold.
    enum Operands {
        /// fp32 values, for oneDNN's f32 kernel.
        case f32
        /// bf16 values held in fp32 (low 16 bits zero), for oneDNN's f32 kernel: bf16 numerics where
        /// the CPU has no bf16 kernel.
        case bf16Rounded
        /// bf16 patterns, for oneDNN's native bf16 kernel.
        case bf16

        var type: DNNL.InputType { self == .bf16 ? .bf16 : .f32 }
        /// Floats of storage per element.
        var floatsPerElement: Double { self == .bf16 ? 0.5 : 1 }
    }

    let batch: Int, tokens: Int, width: Int, heads: Int
    let operands: Operands
    /// Batch items per oneDNN call.
    let itemsPerBlock: Int
    var headWidth: Int { width / heads }
    var scale: Float { 1 / Float(headWidth).squareRoot() }
    var blocks: Int { (batch + itemsPerBlock - 1) / itemsPerBlock }

    /// The batched products for `qkv` [B, T, 3W] with `heads` heads, in `precision`; nil when
    /// oneDNN has no kernel for them here — none but its reference one, or (with
    /// `requireBatchedKernel`) none but `gemm:jit`, which runs a batch one GEMM at a time and is no
    /// faster than the per-head path. `bf16Path` says how bf16 runs (native oneDNN or rounded fp32).
    init?(batch: Int, tokens: Int, width: Int, heads: Int, precision: MatmulPrecision,
          bf16Path: BF16Engine.Path = BF16Engine.detected.path, requireBatchedKernel: Bool, backward: Bool) {
        guard batch > 0, tokens > 0, width > 0 else { return nil }
        (self.batch, self.tokens, self.width, self.heads) = (batch, tokens, width, heads)
        operands = precision == .fp32 ? .f32 : bf16Path == .oneDNN ? .bf16 : .bf16Rounded
        itemsPerBlock = Self.itemsPerBlock(tokens: tokens, width: width, heads: heads, batch: batch)
        // The calling thread creates (and caches) every primitive the call will use, to see that
        // oneDNN has them; threads running blocks create their own from the same descriptions.
        var items = [itemsPerBlock]
        if batch % itemsPerBlock != 0 { items.append(batch % itemsPerBlock) }
        for n in items {
            for problem in backward ? backwardProblems(items: n).all : forwardProblems(items: n).all {
                guard let name = DNNL.implementation(of: problem),
                      !requireBatchedKernel || name.hasPrefix("brg") else { return nil }
            }
        }
    }

    /// Batch items per call: the most whose forward operands and probabilities fit in about 1 MiB
    /// (Zen 4's L2 per core), at least one. Measured on Zen 4 (thread CPU time): 64-wide heads over
    /// 65 tokens ran alike with 1 to 8 items per call and slower with 16; 32-wide heads over 25
    /// tokens 1.2–1.4× faster with 16–32 items than with 2–8 (a call costs microseconds).
    static func itemsPerBlock(tokens t: Int, width w: Int, heads h: Int, batch: Int) -> Int {
        let bytesPerItem = 4 * (4 * t * w + h * t * t)
        return Swift.max(1, Swift.min(batch, (1 << 20) / Swift.max(1, bytesPerItem)))
    }

    // MARK: - Layouts and problems

    /// A [items, T, W] buffer (or `out`/`dout`) seen as [items, H] matrices [T, Dh], or their transposes.
    func heads(transposed: Bool = false) -> DNNL.Layout {
        let strides = [tokens * width, headWidth]
        return transposed ? DNNL.Layout(batchStrides: strides, row: 1, column: width)
                          : DNNL.Layout(batchStrides: strides, row: width, column: 1)
    }

    /// A [items, H, T, T] buffer (probabilities, dP, dS) as [items, H] matrices [T, T], or their transposes.
    func scores(transposed: Bool = false) -> DNNL.Layout {
        let strides = [heads * tokens * tokens, tokens * tokens]
        return transposed ? DNNL.Layout(batchStrides: strides, row: 1, column: tokens)
                          : DNNL.Layout(batchStrides: strides, row: tokens, column: 1)
    }

    func problem(items: Int, m: Int, n: Int, k: Int, a: DNNL.Layout, b: DNNL.Layout, c: DNNL.Layout,
                 alpha: Float = 1) -> DNNL.Problem {
        DNNL.Problem(type: operands.type, batch: [items, heads], m: m, n: n, k: k, a: a, b: b, c: c,
                     alpha: alpha, beta: 0, threads: 1)
    }

    /// `S = scale · Q Kᵀ` [T, T] and `O = P V` [T, Dh] per head.
    func forwardProblems(items: Int) -> (scores: DNNL.Problem, output: DNNL.Problem, all: [DNNL.Problem]) {
        let (t, dh) = (tokens, headWidth)
        let s = problem(items: items, m: t, n: t, k: dh, a: heads(), b: heads(transposed: true), c: scores(), alpha: scale)
        let o = problem(items: items, m: t, n: dh, k: t, a: scores(), b: heads(), c: heads())
        return (s, o, [s, o])
    }

    /// `dV = Pᵀ dO`, `dP = dO Vᵀ`, `dQ = scale · dS K`, `dK = scale · dSᵀ Q` per head.
    func backwardProblems(items: Int) -> (dv: DNNL.Problem, dp: DNNL.Problem, dq: DNNL.Problem, dk: DNNL.Problem, all: [DNNL.Problem]) {
        let (t, dh) = (tokens, headWidth)
        let dv = problem(items: items, m: t, n: dh, k: t, a: scores(transposed: true), b: heads(), c: heads())
        let dp = problem(items: items, m: t, n: t, k: dh, a: heads(), b: heads(transposed: true), c: scores())
        let dq = problem(items: items, m: t, n: dh, k: t, a: scores(), b: heads(), c: heads(), alpha: scale)
        let dk = problem(items: items, m: t, n: dh, k: t, a: scores(transposed: true), b: heads(), c: heads(), alpha: scale)
        return (dv, dp, dq, dk, [dv, dp, dq, dk])
    }

    func run(_ problem: DNNL.Problem, a: UnsafeRawPointer, b: UnsafeRawPointer, c: UnsafeMutablePointer<Float>) {
        ensure(DNNL.matmul(problem, a: a, b: b, c: c), "oneDNN has no kernel for batched attention \(problem.description)")
    }

    // MARK: - Forward and backward

    /// Fills `out` [B, T, W] and `probs` [B, H, T, T] from `qkv` [B, T, 3W] and an optional additive
    /// mask (`maskStride` 0 for one [T, T] mask, T·T for one per item).
    func forward(qkv: UnsafePointer<Float>, mask: UnsafePointer<Float>?, maskStride: Int,
                 out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>) {
        let (t, w, h) = (tokens, width, heads)
        let perItemScores = h * t * t
        Parallel.forEachChunk(blocks) { range in
            let nb = itemsPerBlock
            let scratch = AttentionScratch(operands, counts: [3 * nb * t * w, operands == .f32 ? 0 : nb * perItemScores])
            defer { withExtendedLifetime(scratch) {} }   // its buffers are used through raw pointers below
            let (q, k, v) = (scratch[0], scratch[0].advanced(by: nb * t * w), scratch[0].advanced(by: 2 * nb * t * w))
            let pOperand = scratch[1]
            for block in range {
                let first = block * nb, items = Swift.min(nb, batch - first)
                pack(qkv: qkv, items: first..<(first + items), q: q, k: k, v: v)
                let problems = forwardProblems(items: items)
                let s = probs + first * perItemScores
                run(problems.scores, a: q.raw, b: k.raw, c: s)
                for row in 0..<(items * h * t) {
                    let r = s + row * t
                    if let mask { zipVectorized(r, mask + (first + row / (h * t)) * maskStride + (row % t) * t, r, t, +) }
                    softmaxRow(r, r, t)
                    if operands != .f32 { pOperand.write(r, count: t, at: row * t) }
                }
                run(problems.output, a: operands == .f32 ? UnsafeRawPointer(s) : pOperand.raw, b: v.raw, c: out + first * t * w)
            }
        }
    }

    /// The gradient `dqkv` [B, T, 3W] given the forward probabilities and `dout` [B, T, W].
    func backward(qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>, dout: UnsafePointer<Float>,
                  dqkv: UnsafeMutablePointer<Float>) {
        let (t, w, h) = (tokens, width, heads)
        let perItemScores = h * t * t
        Parallel.forEachChunk(blocks) { range in
            let nb = itemsPerBlock
            let converted = operands == .f32 ? 0 : nb * t * w + 2 * nb * perItemScores   // dO, P, dS operands
            let scratch = AttentionScratch(operands, counts: [3 * nb * t * w, converted])
            let floats = TensorStorage(count: nb * perItemScores + 3 * nb * t * w)   // dP (then dS); dQ, dK, dV
            defer { withExtendedLifetime((scratch, floats)) {} }   // their buffers are used through raw pointers below
            let (q, k, v) = (scratch[0], scratch[0].advanced(by: nb * t * w), scratch[0].advanced(by: 2 * nb * t * w))
            let (dOOperand, pOperand) = (scratch[1], scratch[1].advanced(by: nb * t * w))
            let dSOperand = scratch[1].advanced(by: nb * t * w + nb * perItemScores)
            let dp = floats.pointer, dq = dp + nb * perItemScores
            let (dk, dv) = (dq + nb * t * w, dq + 2 * nb * t * w)
            for block in range {
                let first = block * nb, items = Swift.min(nb, batch - first)
                pack(qkv: qkv, items: first..<(first + items), q: q, k: k, v: v)
                let p = probs + first * perItemScores, g = dout + first * t * w
                if operands != .f32 {
                    dOOperand.write(g, count: items * t * w, at: 0)
                    pOperand.write(p, count: items * perItemScores, at: 0)
                }
                let (pA, dOA) = operands == .f32 ? (UnsafeRawPointer(p), UnsafeRawPointer(g)) : (pOperand.raw, dOOperand.raw)
                let problems = backwardProblems(items: items)
                run(problems.dv, a: pA, b: dOA, c: dv)
                run(problems.dp, a: dOA, b: v.raw, c: dp)
                for row in 0..<(items * h * t) {
                    softmaxBackwardRow(p + row * t, dp + row * t, t)
                    if operands != .f32 { dSOperand.write(dp + row * t, count: t, at: row * t) }
                }
                let dSA = operands == .f32 ? UnsafeRawPointer(dp) : dSOperand.raw
                run(problems.dq, a: dSA, b: k.raw, c: dq)
                run(problems.dk, a: dSA, b: q.raw, c: dk)
                for row in 0..<(items * t) {   // interleave into dqkv rows [dQ | dK | dV]
                    let target = dqkv + (first * t + row) * 3 * w
                    target.update(from: dq + row * w, count: w)
                    (target + w).update(from: dk + row * w, count: w)
                    (target + 2 * w).update(from: dv + row * w, count: w)
                }
            }
        }
    }

    /// Q, K and V of `items` out of `qkv` [B, T, 3W] into three [items, T, W] operand buffers.
    func pack(qkv: UnsafePointer<Float>, items: Range<Int>, q: OperandBuffer, k: OperandBuffer, v: OperandBuffer) {
        let (t, w) = (tokens, width)
        for row in 0..<(items.count * t) {
            let source = qkv + (items.lowerBound * t + row) * 3 * w
            q.write(source, count: w, at: row * w)
            k.write(source + w, count: w, at: row * w)
            v.write(source + 2 * w, count: w, at: row * w)
        }
    }
}

/// A region of operand elements (fp32, bf16 values in fp32, or bf16 patterns) inside a scratch block.
struct OperandBuffer {
    let pointer: UnsafeMutableRawPointer
    let operands: BatchedAttention.Operands
    var raw: UnsafeRawPointer { UnsafeRawPointer(pointer) }

    /// The region `count` elements further on.
    func advanced(by count: Int) -> OperandBuffer {
        OperandBuffer(pointer: pointer + count * (operands == .bf16 ? 2 : 4), operands: operands)
    }

    /// Writes `count` floats from `source` as operand elements starting at element `offset`.
    @inline(__always)
    func write(_ source: UnsafePointer<Float>, count: Int, at offset: Int) {
        switch operands {
        case .f32: (pointer.assumingMemoryBound(to: Float.self) + offset).update(from: source, count: count)
        case .bf16Rounded: BFloat16.round(source, toFloats: pointer.assumingMemoryBound(to: Float.self) + offset, count: count)
        case .bf16: BFloat16.round(source, into: pointer.assumingMemoryBound(to: UInt16.self) + offset, count: count)
        }
    }
}

/// Pooled scratch for one thread's blocks: one operand region per requested element count.
struct AttentionScratch {
    private let storage: TensorStorage
    private let regions: [OperandBuffer]

    init(_ operands: BatchedAttention.Operands, counts: [Int]) {
        let floats = counts.map { Int((Double($0) * operands.floatsPerElement).rounded(.up)) }
        storage = TensorStorage(count: Swift.max(1, floats.reduce(0, +)))
        var offset = 0
        var regions: [OperandBuffer] = []
        for n in floats {
            regions.append(OperandBuffer(pointer: UnsafeMutableRawPointer(storage.pointer + offset), operands: operands))
            offset += n
        }
        self.regions = regions
    }

    subscript(_ i: Int) -> OperandBuffer { regions[i] }
}
