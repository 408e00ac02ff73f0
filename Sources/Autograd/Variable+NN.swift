/// Differentiable neural-network ops backed by the fused kernels of TensorCore.
extension Variable {
    /// `op(self) @ op(other)` on the last two axes (see `Tensor.matmul`).
    /// Backward: `dA = dC Bᵀ`, `dB = Aᵀ dC` (with the transposes folded into the GEMMs).
    public func matmul(_ other: Variable, transposeOther: Bool = false) -> Variable {
        let (a, b) = (value, other.value)
        let out = a.matmul(b, transposeOther: transposeOther)
        let flops = 2 * Double(out.count) * Double(a.shape.last!)
        return Variable.record(out, "matmul", [self, other], flops: flops) { g in
            let da: Tensor? = self.requiresGrad ? g.matmul(b, transposeOther: !transposeOther) : nil
            var db: Tensor? = nil
            if other.requiresGrad {
                if b.rank == 2 {
                    let k = a.shape.last!, n = g.shape.last!
                    let a2 = a.reshaped([-1, k]), g2 = g.reshaped([-1, n])
                    db = transposeOther ? g2.matmul(a2, transposeSelf: true) : a2.matmul(g2, transposeSelf: true)
                } else {
                    db = transposeOther ? g.matmul(a, transposeSelf: true) : a.matmul(g, transposeSelf: true)
                }
            }
            return [da, db]
        }
    }

    /// `x Wᵀ + b` with PyTorch's weight layout W [out, in]; x [..., in] → [..., out].
    public func linear(weight: Variable, bias: Variable?) -> Variable {
        let inDim = weight.shape[1]
        ensure(shape.last == inDim, "linear expects last dimension \(inDim), got \(shape)")
        let x = value, w = weight.value
        var y = x.matmul(w, transposeOther: true)
        if let bias { y = y + bias.value }
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        return Variable.record(y, "linear", inputs, flops: 2 * Double(y.count) * Double(inDim)) { g in
            let outDim = w.shape[0]
            let g2 = g.reshaped([-1, outDim])
            let dx: Tensor? = self.requiresGrad ? g.matmul(w) : nil
            let dw: Tensor? = weight.requiresGrad ? g2.matmul(x.reshaped([-1, inDim]), transposeSelf: true) : nil
            var grads = [dx, dw]
            if bias != nil { grads.append(g2.sum(axis: 0)) }
            return grads
        }
    }

    public func softmax() -> Variable {
        let y = value.softmax()
        return Variable.record(y, "softmax", [self]) { [Tensor.softmaxBackward(y: y, dy: $0)] }
    }
    public func logSoftmax() -> Variable {
        let y = value.logSoftmax()
        return Variable.record(y, "log_softmax", [self]) { [Tensor.logSoftmaxBackward(y: y, dy: $0)] }
    }

    /// Layer norm over the last axis with gain γ and bias β (fused kernels).
    public func layerNorm(weight: Variable, bias: Variable, eps: Float = 1e-5) -> Variable {
        let x = value, gamma = weight.value
        let (y, mean, rstd) = LayerNormKernel.forward(x, gamma: gamma, beta: bias.value, eps: eps)
        return Variable.record(y, "layer_norm", [self, weight, bias]) { g in
            let r = LayerNormKernel.backward(x, gamma: gamma, mean: mean, rstd: rstd, dy: g)
            return [r.dx, r.dgamma, r.dbeta]
        }
    }

    /// Rows of `self` [V, C] at `indices` (embedding lookup); backward scatter-adds.
    public func gatherRows(_ indices: [Int]) -> Variable {
        let s = shape
        return Variable.record(value.gatherRows(indices), "gather", [self]) { g in
            [Tensor.scatterAddRows(g, indices: indices, shape: s)]
        }
    }

    /// Row-wise L2 normalization along the last axis.
    public func l2Normalized() -> Variable {
        let (y, norms) = value.l2Normalized()
        return Variable.record(y, "l2_normalize", [self]) { [Tensor.l2NormalizedBackward(y: y, norms: norms, dy: $0)] }
    }

    /// Mean softmax cross-entropy of rows of `self` [N, C] against `targets`, with label smoothing.
    public func crossEntropy(targets: [Int], labelSmoothing: Float = 0) -> Variable {
        let (loss, grad) = Tensor.softmaxCrossEntropy(logits: value, targets: targets, labelSmoothing: labelSmoothing)
        return Variable.record(Tensor(loss), "cross_entropy", [self]) { g in [grad * g.scalar] }
    }

    /// Multi-head attention on a fused `qkv` [B, T, 3W] → [B, T, W] (fused kernels).
    public func attention(heads: Int, mask: Tensor? = nil) -> Variable {
        let qkv = value
        let (out, probs) = AttentionKernel.forward(qkv: qkv, heads: heads, mask: mask)
        let (b, t, w) = (qkv.shape[0], qkv.shape[1], qkv.shape[2] / 3)
        return Variable.record(out, "attention", [self], flops: 4 * Double(b * t * t * w)) { g in
            [AttentionKernel.backward(qkv: qkv, probs: probs, heads: heads, dout: g)]
        }
    }

    /// 2-d convolution of NHWC `self` [B, H, W, C] with weight [O, C, k, k] → [B, OH, OW, O].
    public func conv2d(weight: Variable, bias: Variable? = nil, stride: Int, padding: Int = 0) -> Variable {
        let geo = Conv2DGeometry(input: shape, weight: weight.shape, stride: stride, padding: padding)
        let cols = ConvolutionKernel.im2col(value, geo)                    // [N, C·k·k]
        let w2 = weight.value.reshaped([geo.outChannels, geo.patchSize])   // [O, C·k·k]
        var y = cols.matmul(w2, transposeOther: true)                      // [N, O]
        if let bias { y = y + bias.value }
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        let wShape = weight.shape
        let flops = 2 * Double(geo.rows * geo.patchSize * geo.outChannels)
        return Variable.record(y.reshaped([geo.batch, geo.outHeight, geo.outWidth, geo.outChannels]), "conv2d", inputs, flops: flops) { g in
            let g2 = g.reshaped([geo.rows, geo.outChannels])
            let dx: Tensor? = self.requiresGrad ? ConvolutionKernel.col2im(g2.matmul(w2), geo) : nil
            let dw: Tensor? = weight.requiresGrad ? g2.matmul(cols, transposeSelf: true).reshaped(wShape) : nil
            var grads = [dx, dw]
            if bias != nil { grads.append(g2.sum(axis: 0)) }
            return grads
        }
    }

    /// Average pooling on NHWC input.
    public func avgPool(kernel: Int, stride: Int) -> Variable {
        let s = shape
        return Variable.record(ConvolutionKernel.avgPool(value, kernel: kernel, stride: stride), "avg_pool", [self]) { g in
            [ConvolutionKernel.avgPoolBackward(g, inputShape: s, kernel: kernel, stride: stride)]
        }
    }
}
