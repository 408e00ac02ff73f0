import Autograd
import TestSupport
import XCTest

/// The buffer pool must hold memory steady across many forward/backward iterations.
final class MemoryTests: XCTestCase {
    func testNoBufferGrowthOverThousandIterations() {
        let w = Variable(GradientCheck.random([16, 8], seed: 1), requiresGrad: true)
        let b = Variable(.zeros([16]), requiresGrad: true)
        let gamma = Variable(.ones([16]), requiresGrad: true), beta = Variable(.zeros([16]), requiresGrad: true)
        let x = Variable(GradientCheck.random([4, 3, 8], seed: 2))
        func step() {
            let h = x.linear(weight: w, bias: b).layerNorm(weight: gamma, bias: beta).gelu()
            let loss = h.reshaped([12, 16]).crossEntropy(targets: Array(0..<12))
            loss.backward()
            w.grad = nil; b.grad = nil; gamma.grad = nil; beta.grad = nil
        }
        for _ in 0..<10 { step() }
        let live = BufferPool.shared.liveBuffers
        let allocations = BufferPool.shared.allocations
        for _ in 0..<1000 { step() }
        XCTAssertEqual(BufferPool.shared.liveBuffers, live, "live buffers grew")
        XCTAssertEqual(BufferPool.shared.allocations, allocations, "steady-state steps allocated fresh memory")
    }
}
