import NeuralNet
import XCTest

/// Patch dropout (FLIP): which patches are kept, and that the vision transformer then depends on
/// exactly those patches.
final class PatchDropoutTests: XCTestCase {
    func testKeptCountFollowsOpenCLIP() {
        // OpenCLIP: max(1, int(num_patches * (1 - prob))).
        XCTAssertEqual(PatchDropout(rate: 0.5).keptCount(of: 49), 24)
        XCTAssertEqual(PatchDropout(rate: 0.75).keptCount(of: 64), 16)
        XCTAssertEqual(PatchDropout(rate: 0.3).keptCount(of: 10), 7)
        XCTAssertEqual(PatchDropout(rate: 0.95).keptCount(of: 10), 1)
        XCTAssertEqual(PatchDropout(rate: 0).keptCount(of: 10), 10)
    }

    func testKeptPatchesAreADeterministicUniformSubset() {
        let dropout = PatchDropout(rate: 0.5), n = 16, k = 8, seeds = 4000
        var counts = [Int](repeating: 0, count: n)
        for seed in 0..<UInt64(seeds) {
            let kept = dropout.keptPatches(of: n, seed: seed)
            XCTAssertEqual(kept.count, k)
            XCTAssertEqual(kept, kept.sorted())
            XCTAssertEqual(Set(kept).count, k)
            XCTAssertTrue(kept.allSatisfy { (0..<n).contains($0) })
            XCTAssertEqual(dropout.keptPatches(of: n, seed: seed), kept, "not a function of the seed")
            for i in kept { counts[i] += 1 }
        }
        // Each patch is kept with probability k/n = 1/2: 2000 ± 5 standard deviations (≈ 32 each).
        for (i, c) in counts.enumerated() { XCTAssertEqual(Double(c), 2000, accuracy: 160, "patch \(i) kept \(c) times") }
        XCTAssertNotEqual(dropout.keptPatches(of: n, seed: 1), dropout.keptPatches(of: n, seed: 2))
    }

    func makeViT(pool: String) -> VisionTransformer {
        var rng = RandomGenerator(seed: 5)
        return VisionTransformer(VisionConfig(imageSize: 16, patchSize: 4, width: 32, layers: 2, headWidth: 16, poolType: pool),
                                 embedDim: 8, activation: .gelu, using: &rng)
    }

    func images(_ b: Int, seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return Tensor.randomNormal([b, 16, 16, 3], using: &rng)
    }

    /// Keeping every patch is the plain forward pass, bit for bit.
    func testKeepingAllPatchesIsThePlainForward() {
        for pool in ["tok", "avg"] {
            let vit = makeViT(pool: pool), x = images(3, seed: 1)
            let plain = vit(Variable(x), returnTokens: true)
            let all = vit(Variable(x), returnTokens: true, keptPatches: (0..<3).flatMap { _ in Array(0..<16) })
            XCTAssertEqual(all.pooled.value.scalars, plain.pooled.value.scalars, pool)
            XCTAssertEqual(all.tokens!.value.scalars, plain.tokens!.value.scalars, pool)
        }
    }

    /// The output depends on the kept patches only: changing the pixels of a dropped patch
    /// changes nothing (bit for bit), changing a kept one changes the output; tokens come back
    /// for the kept patches only, and each image uses its own kept set.
    func testDroppedPatchesHaveNoInfluence() {
        for pool in ["tok", "avg"] {
            let vit = makeViT(pool: pool), b = 2
            let kept = [1, 5, 6, 14, 0, 3, 9, 15]   // image 0 keeps 1, 5, 6, 14; image 1 keeps 0, 3, 9, 15
            let x = images(b, seed: 2)
            let base = vit(Variable(x), returnTokens: true, keptPatches: kept)
            XCTAssertEqual(base.tokens!.shape, [b, 4, 8])
            /// `x` with patch `patch` (row-major on the 4×4 grid) of image `image` shifted by 1.
            func perturbed(image: Int, patch: Int) -> Tensor {
                let y = Tensor(shape: x.shape, scalars: x.scalars)
                let (py, px) = (patch / 4, patch % 4)
                for r in 0..<4 { for c in 0..<4 { for ch in 0..<3 {
                    y.pointer[((image * 16 + py * 4 + r) * 16 + px * 4 + c) * 3 + ch] += 1
                } } }
                return y
            }
            for (image, patch) in [(0, 0), (0, 15), (1, 1), (1, 14)] {   // dropped
                let out = vit(Variable(perturbed(image: image, patch: patch)), returnTokens: true, keptPatches: kept)
                XCTAssertEqual(out.pooled.value.scalars, base.pooled.value.scalars, "\(pool): dropped patch \(patch) of image \(image) changed the output")
            }
            for (image, patch) in [(0, 5), (1, 9)] {   // kept: this image's output moves, the other's does not
                let out = vit(Variable(perturbed(image: image, patch: patch)), returnTokens: true, keptPatches: kept).pooled.value
                let other = 1 - image
                let rows = { (t: Tensor, i: Int) in Array(t.scalars[(i * 8)..<((i + 1) * 8)]) }
                XCTAssertNotEqual(rows(out, image), rows(base.pooled.value, image), "\(pool): kept patch \(patch) of image \(image) had no effect")
                XCTAssertEqual(rows(out, other), rows(base.pooled.value, other), "\(pool): image \(other) depends on image \(image)")
            }
        }
    }
}
