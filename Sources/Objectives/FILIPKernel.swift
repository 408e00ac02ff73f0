/// FILIP's token-wise late interaction as one differentiable op with a blocked forward and an
/// argmax-scatter backward (Yao et al., 2021, "FILIP: Fine-grained Interactive Language-Image
/// Pre-Training").
///
/// For image tokens X_i [n1, d] and the valid text tokens Y_j [r ∈ V_j, d] (both unit rows):
///
///     s^I_ij = (1/n1)    Σ_k      max_{r ∈ V_j} ⟨X_ik, Y_jr⟩     image→text
///     s^T_ij = (1/|V_j|) Σ_{r∈V_j} max_k        ⟨X_ik, Y_jr⟩     text→image
///
/// both indexed [image i, text j]. The forward computes them in blocks of (images × texts), one
/// `sgemm` per block ([bi·n1, d] × [d, Σ_j |V_j|], the valid tokens of the block's texts packed
/// together, so padding costs nothing), and the [B, B, n1, n2] similarity tensor never exists; only the argmax indices are kept (B²·(n1 + n2) `UInt16`). The backward scatters the
/// output gradients through them: with `c^I = ds^I_ij / n1`, `c^T = ds^T_ij / |V_j|`,
///
///     dX_ik += c^I · Y_j,argmax_r(i,j,k)        dY_j,argmax_r(i,j,k) += c^I · X_ik
///     dX_i,argmax_k(i,j,r) += c^T · Y_jr        dY_jr += c^T · X_i,argmax_k(i,j,r)
///
/// Ties go to the first maximal index. Blocks run in parallel with `Parallel.forEachChunk`; every
/// entry is computed by the same code whatever the thread, and the backward gives each image
/// (for dX) or text (for dY) to one thread that sums in a fixed order, so results are deterministic.
public enum FILIPKernel {
    /// The forward results and what the backward needs.
    public struct Result: @unchecked Sendable {
        /// s^I [B, B] and s^T [B, B], indexed [image, text].
        public var imageToText: Tensor
        public var textToImage: Tensor
        /// argmax_r for each (i, j, k): [B, B, n1].
        var bestTextToken: [UInt16]
        /// argmax_k for each (i, j, r): [B, B, n2] (only valid r are meaningful).
        var bestImageToken: [UInt16]
        /// Bytes held by the argmax indices.
        public var indexBytes: Int { (bestTextToken.count + bestImageToken.count) * MemoryLayout<UInt16>.size }
    }

    /// - Parameters:
    ///   - imageTokens: X [B, n1, d], unit rows.
    ///   - textTokens: Y [B, n2, d], unit rows.
    ///   - validTokens: for each text j, the range V_j of its valid token positions (non-empty).
    ///   - blockSize: images and texts per block.
    public static func forward(imageTokens x: Tensor, textTokens y: Tensor, validTokens: [Range<Int>],
                               blockSize: Int) -> Result {
        ensure(x.shape[0] == y.shape[0], "FILIP's training forward pairs images and texts, got \(x.shape) and \(y.shape)")
        let (b, n1, n2) = (x.shape[0], x.shape[1], y.shape[1])
        let sImage = Tensor(uninitializedShape: [b, b]), sText = Tensor(uninitializedShape: [b, b])
        var bestText = [UInt16](repeating: 0, count: b * b * n1)
        var bestImage = [UInt16](repeating: 0, count: b * b * n2)
        bestText.withUnsafeMutableBufferPointer { bt in
            bestImage.withUnsafeMutableBufferPointer { bi in
                sweep(x, y, validTokens, blockSize, sImage: sImage, sText: sText, argmax: (bt.baseAddress!, bi.baseAddress!))
            }
        }
        return Result(imageToText: sImage, textToImage: sText, bestTextToken: bestText, bestImageToken: bestImage)
    }

    /// Scores every image against every text without keeping argmax indices (evaluation).
    /// - Parameters: imageTokens X [I, n1, d], textTokens Y [J, n2, d], unit rows; `validTokens` J ranges.
    /// - Returns: s^I and s^T, each [I, J] indexed [image, text].
    public static func scores(imageTokens x: Tensor, textTokens y: Tensor, validTokens: [Range<Int>],
                              blockSize: Int = 16) -> (imageToText: Tensor, textToImage: Tensor) {
        let sImage = Tensor(uninitializedShape: [x.shape[0], y.shape[0]])
        let sText = Tensor(uninitializedShape: [x.shape[0], y.shape[0]])
        sweep(x, y, validTokens, blockSize, sImage: sImage, sText: sText, argmax: nil)
        return (sImage, sText)
    }

    /// The blocked forward over I images × J texts, writing s^I and s^T [I, J] and, when `argmax`
    /// is given, the argmax indices ([I, J, n1] and [I, J, n2]).
    static func sweep(_ x: Tensor, _ y: Tensor, _ validTokens: [Range<Int>], _ blockSize: Int,
                      sImage: Tensor, sText: Tensor,
                      argmax: (text: UnsafeMutablePointer<UInt16>, image: UnsafeMutablePointer<UInt16>)?) {
        ensure(x.rank == 3 && y.rank == 3 && x.shape[2] == y.shape[2],
               "FILIP expects image tokens [I, n1, d] and text tokens [J, n2, d], got \(x.shape) and \(y.shape)")
        let (ni, n1, d, nj, n2) = (x.shape[0], x.shape[1], x.shape[2], y.shape[0], y.shape[1])
        ensure(validTokens.count == nj && validTokens.allSatisfy { !$0.isEmpty && $0.lowerBound >= 0 && $0.upperBound <= n2 },
               "FILIP needs a non-empty range of valid text tokens within 0..<\(n2) for each of the \(nj) texts")
        ensure(n1 >= 1 && max(n1, n2) <= Int(UInt16.max), "FILIP supports 1 ... 65535 tokens per side, got \(n1) and \(n2)")
        ensure(blockSize >= 1, "FILIP block size must be at least 1, got \(blockSize)")
        if ni == 0 || nj == 0 { return }
        let bs = min(blockSize, max(ni, nj))
        let (imageBlocks, textBlocks) = ((ni + bs - 1) / bs, (nj + bs - 1) / bs)
        let p = UncheckedBox((x.pointer, y.pointer, sImage.pointer, sText.pointer, argmax))
        // Each thread owns whole text blocks; it packs their valid tokens once and sweeps all image blocks.
        Parallel.forEachChunk(textBlocks) { range in
            let (xp, yp, si, st, best) = p.value
            let packed = Tensor(uninitializedShape: [bs * n2 + 1, d])                 // valid tokens of one text block
            let scratch = Tensor(uninitializedShape: [bs * n1 + 1, bs * n2 + 1])      // one block of similarities
            let xRows = UnsafeMutablePointer<Float>.allocate(capacity: 2 * d)
            let colMax = UnsafeMutablePointer<Float>.allocate(capacity: n2)
            let colArg = UnsafeMutablePointer<Int32>.allocate(capacity: n2)
            let rowArg = UnsafeMutablePointer<UInt16>.allocate(capacity: n1)          // argmax_r when not kept
            defer { colMax.deallocate(); colArg.deallocate(); xRows.deallocate(); rowArg.deallocate() }
            var offsets = [Int](repeating: 0, count: bs + 1)
            for jb in range {
                let j0 = jb * bs, bj = min(bs, nj - j0)
                for jj in 0..<bj {
                    let valid = validTokens[j0 + jj]
                    offsets[jj + 1] = offsets[jj] + valid.count
                    (packed.pointer + offsets[jj] * d).update(from: yp + ((j0 + jj) * n2 + valid.lowerBound) * d,
                                                              count: valid.count * d)
                }
                // OpenBLAS computes a GEMM with one column (or row) as a GEMV, whose summation order
                // differs; keep at least two of each so every similarity is computed alike.
                if offsets[bj] == 1 { (packed.pointer + d).update(from: packed.pointer, count: d) }
                let ld = max(offsets[bj], 2)
                for ib in 0..<imageBlocks {
                    let i0 = ib * bs, bi = min(bs, ni - i0)
                    var a = xp + i0 * n1 * d
                    if bi * n1 == 1 {
                        xRows.update(from: a, count: d); (xRows + d).update(from: a, count: d)
                        a = UnsafeMutablePointer(mutating: xRows)
                    }
                    // S = X_[i0..<i0+bi] Y_validᵀ   [bi·n1, Σ_j |V_j|]
                    BLAS.sgemm(transA: false, transB: true, m: max(bi * n1, 2), n: ld, k: d,
                               a: a, lda: d, b: packed.pointer, ldb: d, c: scratch.pointer, ldc: ld)
                    for ii in 0..<bi {
                        for jj in 0..<bj {
                            let (i, j) = (i0 + ii, j0 + jj)
                            let valid = validTokens[j]
                            let pair = i * nj + j
                            let s = reducePair(scratch.pointer + ii * n1 * ld + offsets[jj], ld: ld,
                                               n1: n1, m: valid.count, colMax: colMax, colArg: colArg,
                                               bestText: best.map { $0.text + pair * n1 } ?? rowArg,
                                               textOffset: valid.lowerBound)
                            si[pair] = s.image / Float(n1)
                            st[pair] = s.text / Float(valid.count)
                            if let bip = best?.image {
                                for r in 0..<valid.count { bip[pair * n2 + valid.lowerBound + r] = UInt16(colArg[r]) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Max-reductions of one pair's similarities `S[k, r]` (n1 rows of m valid columns, row stride `ld`):
    /// returns Σ_k max_r S and Σ_r max_k S (sums in index order); the argmax over r of each row goes
    /// to `bestText[k]` (offset by `textOffset`), the argmax over k of each column to `colArg[r]`.
    /// Plain loops with selects, which LLVM vectorizes (faster here than explicit `SIMD16` code).
    @inline(__always)
    static func reducePair(_ s: UnsafePointer<Float>, ld: Int, n1: Int, m: Int,
                           colMax: UnsafeMutablePointer<Float>, colArg: UnsafeMutablePointer<Int32>,
                           bestText: UnsafeMutablePointer<UInt16>, textOffset: Int) -> (image: Float, text: Float) {
        colMax.update(repeating: -.infinity, count: m)
        colArg.update(repeating: 0, count: m)
        var sumImage: Float = 0
        for k in 0..<n1 {
            let row = s + k * ld
            let kk = Int32(k)
            var best = -Float.infinity
            for r in 0..<m {
                let v = row[r], c = colMax[r]
                best = v > best ? v : best
                let better = v > c
                colMax[r] = better ? v : c
                colArg[r] = better ? kk : colArg[r]
            }
            var arg = 0
            while arg < m - 1 && row[arg] != best { arg += 1 }   // first maximal position
            bestText[k] = UInt16(textOffset + arg)
            sumImage += best
        }
        var sumText: Float = 0
        for r in 0..<m { sumText += colMax[r] }
        return (sumImage, sumText)
    }

    /// Gradients of X [B, n1, d] and Y [B, n2, d] given the gradients of s^I and s^T [B, B].
    public static func backward(imageTokens x: Tensor, textTokens y: Tensor, validTokens: [Range<Int>],
                                result: Result, dImageToText gI: Tensor, dTextToImage gT: Tensor) -> (dx: Tensor, dy: Tensor) {
        let (b, n1, d, n2) = (x.shape[0], x.shape[1], x.shape[2], y.shape[1])
        let dx = Tensor.zeros(x.shape), dy = Tensor.zeros(y.shape)
        let bs = 16, blocks = (b + bs - 1) / bs   // cache blocking only; summation order is by index
        result.bestTextToken.withUnsafeBufferPointer { bt in
            result.bestImageToken.withUnsafeBufferPointer { bi in
                let p = UncheckedBox((x.pointer, y.pointer, dx.pointer, dy.pointer, gI.pointer, gT.pointer,
                                      bt.baseAddress!, bi.baseAddress!))
                // dX: each image block belongs to one thread, which sums over texts j in increasing order.
                Parallel.forEachChunk(blocks) { range in
                    let (_, yp, dxp, _, gi, gt, btp, bip) = p.value
                    for ib in range {
                        for jb in 0..<blocks {
                            for i in (ib * bs)..<min(b, (ib + 1) * bs) {
                                for j in (jb * bs)..<min(b, (jb + 1) * bs) {
                                    let pair = i * b + j, valid = validTokens[j]
                                    let cI = gi[pair] / Float(n1), cT = gt[pair] / Float(valid.count)
                                    if cI != 0 {
                                        for k in 0..<n1 { axpy(dxp + (i * n1 + k) * d, cI, yp + (j * n2 + Int(btp[pair * n1 + k])) * d, d) }
                                    }
                                    if cT != 0 {
                                        for r in valid { axpy(dxp + (i * n1 + Int(bip[pair * n2 + r])) * d, cT, yp + (j * n2 + r) * d, d) }
                                    }
                                }
                            }
                        }
                    }
                }
                // dY: each text block belongs to one thread, which sums over images i in increasing order.
                Parallel.forEachChunk(blocks) { range in
                    let (xp, _, _, dyp, gi, gt, btp, bip) = p.value
                    for jb in range {
                        for ib in 0..<blocks {
                            for j in (jb * bs)..<min(b, (jb + 1) * bs) {
                                let valid = validTokens[j]
                                for i in (ib * bs)..<min(b, (ib + 1) * bs) {
                                    let pair = i * b + j
                                    let cI = gi[pair] / Float(n1), cT = gt[pair] / Float(valid.count)
                                    if cI != 0 {
                                        for k in 0..<n1 { axpy(dyp + (j * n2 + Int(btp[pair * n1 + k])) * d, cI, xp + (i * n1 + k) * d, d) }
                                    }
                                    if cT != 0 {
                                        for r in valid { axpy(dyp + (j * n2 + r) * d, cT, xp + (i * n1 + Int(bip[pair * n2 + r])) * d, d) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dy)
    }
}

/// `y += a·x` over `n` floats.
@inline(__always)
func axpy(_ y: UnsafeMutablePointer<Float>, _ a: Float, _ x: UnsafePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] += a * x[i] }
}

extension Variable {
    /// FILIP's similarities as one differentiable op (see `FILIPKernel`).
    /// - Parameters: `self` image tokens [B, n1, d], `textTokens` [B, n2, d], both unit rows.
    /// - Returns: [2, B, B]: s^I at index 0 and s^T at index 1, each [image, text].
    public func filipSimilarities(_ textTokens: Variable, validTokens: [Range<Int>], blockSize: Int) -> Variable {
        let (x, y) = (value, textTokens.value)
        let b = x.shape[0]
        let result = FILIPKernel.forward(imageTokens: x, textTokens: y, validTokens: validTokens, blockSize: blockSize)
        let out = Tensor.concat([result.imageToText.reshaped([1, b, b]), result.textToImage.reshaped([1, b, b])], axis: 0)
        return Variable.record(out, "filip_similarities", [self, textTokens]) { g in
            let parts = g.reshaped([2, b, b]).split(axis: 0, sizes: [1, 1])
            let (dx, dy) = FILIPKernel.backward(imageTokens: x, textTokens: y, validTokens: validTokens, result: result,
                                                dImageToText: parts[0], dTextToImage: parts[1])
            return [dx, dy]
        }
    }
}
