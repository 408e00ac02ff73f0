import Foundation
import TensorCore
import XCTest

/// Storage behaviour, RNG reproducibility and thread-count independence.
final class EngineTests: XCTestCase {
    func testCopyOnWrite() {
        var a = Tensor(shape: [3], scalars: [1, 2, 3])
        let b = a
        a[flat: 0] = 10
        XCTAssertEqual(a.scalars, [10, 2, 3])
        XCTAssertEqual(b.scalars, [1, 2, 3])
    }

    /// A freed buffer serves a later request of a similar size (up to two classes of 1/8 of a
    /// power of two larger), not one that would waste more; live bytes count whole buffers.
    func testPoolReusesBuffersOfSimilarSize() {
        let pool = BufferPool.shared
        pool.trim()
        var a: Tensor? = Tensor(uninitializedShape: [1_200_000])   // class 19 · 2^16 floats
        let afterA = pool.allocations
        a = nil
        let b = Tensor(uninitializedShape: [1_100_000])   // class 17 · 2^16: two classes below A's
        XCTAssertEqual(pool.allocations, afterA, "a similar size was allocated afresh")
        XCTAssertEqual(b.count, 1_100_000)
        (b.pointer + b.count - 1).pointee = 1   // the whole extent is usable
        let live = pool.liveBytes
        var c: Tensor? = Tensor(uninitializedShape: [900_000])    // class 14 · 2^16: A's is too large
        XCTAssertEqual(pool.allocations, afterA + 1)
        XCTAssertEqual(pool.liveBytes - live, 14 * 65536 * 4)
        c = nil
        XCTAssertNil(a ?? c)
    }

    func testStorageIsAlignedTo64Bytes() {
        for n in [1, 3, 17, 1000] {
            XCTAssertEqual(Int(bitPattern: Tensor.zeros([n]).pointer) % 64, 0)
        }
    }

    func testRandomGeneratorIsReproducibleAndRestorable() throws {
        var a = RandomGenerator(seed: 42)
        _ = Tensor.randomNormal([10], using: &a)
        let saved = try JSONEncoder().encode(a)
        let next = Tensor.randomUniform([5], using: &a)
        var restored = try JSONDecoder().decode(RandomGenerator.self, from: saved)
        XCTAssertEqual(Tensor.randomUniform([5], using: &restored).scalars, next.scalars)
        var c = RandomGenerator(seed: 42), d = RandomGenerator(seed: 43)
        XCTAssertNotEqual(c.next(), d.next())
        // Moments of the normal generator.
        var g = RandomGenerator(seed: 7)
        let n = Tensor.randomNormal([100_000], using: &g)
        XCTAssertEqual(n.mean().scalar, 0, accuracy: 0.02)
        XCTAssertEqual(n.squared().mean().scalar, 1, accuracy: 0.02)
        let u = Tensor.randomUniform([100_000], low: 2, high: 4, using: &g)
        XCTAssertEqual(u.mean().scalar, 3, accuracy: 0.02)
    }

    /// Kernels must give bit-identical results whatever the thread count.
    func testResultsDoNotDependOnThreadCount() {
        var rng = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal([300, 64], using: &rng)
        let dy = Tensor.randomNormal([300, 64], using: &rng)
        let qkv = Tensor.randomNormal([4, 9, 48], using: &rng)
        func run() -> [Float] {
            let (_, mean, rstd) = LayerNormKernel.forward(x, gamma: .ones([64]), beta: .zeros([64]))
            let ln = LayerNormKernel.backward(x, gamma: .ones([64]), mean: mean, rstd: rstd, dy: dy)
            let (out, probs) = AttentionKernel.forward(qkv: qkv, heads: 2)
            let back = AttentionKernel.backward(qkv: qkv, probs: probs, heads: 2, dout: out)
            return ln.dx.scalars + ln.dgamma.scalars + ln.dbeta.scalars + x.softmax().scalars + back.scalars
        }
        let one = Parallel.withThreadBudget(1) { run() }
        let two = run()
        XCTAssertEqual(one, two)
        XCTAssertEqual(run(), two)
    }
}
