import Foundation
import Objectives
import TestSupport
import XCTest

/// Forward + backward time of each objective (B = 256, D = 256; FILIP at B = 512, n1 = 50,
/// n2 = 77, d = 256) and FILIP's peak extra memory. Skipped unless `SWIFTCLIP_BENCH=1`; the
/// kernels are optimized even in debug builds (`-Ounchecked`), so `swift test` measures them.
final class ObjectiveBenchmarkTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["SWIFTCLIP_BENCH"] == "1", "set SWIFTCLIP_BENCH=1 to run")
    }

    /// Best of `repeats` wall-clock times of forward + backward, in milliseconds.
    func time(_ repeats: Int = 3, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return best
    }

    func testPooledObjectives() {
        let (b, d) = (256, 256)
        let image = GradientCheck.random([b, d], seed: 1), texts = (2..<6).map { GradientCheck.random([b, d], seed: UInt64($0)) }
        let objectives: [(String, any Objective, Int)] = [
            ("clip", CLIPObjective(), 0), ("align", ALIGNObjective(), 0), ("convirt", ConVIRTObjective(), 0),
            ("siglip(block 128)", SigLIPObjective(), 0), ("longclip", LongCLIPObjective(), 1), ("multipos(k 3)", MultiPositiveObjective(k: 3), 3),
        ]
        for (name, objective, extra) in objectives {
            let ms = time {
                let x = Variable(image, requiresGrad: true), y = Variable(texts[0], requiresGrad: true)
                let extras = texts[1...].prefix(extra).map { Variable($0, requiresGrad: true) }
                let scalars = ObjectiveScalars(logitScale: Variable(Tensor(objective.initialScalars.logitScale), requiresGrad: true),
                                               logitBias: objective.initialScalars.logitBias.map { Variable(Tensor($0), requiresGrad: true) })
                objective.loss(Features(image: x, text: y, extraTexts: extras), scalars).backward()
            }
            print(String(format: "BENCH %@ B=%d D=%d forward+backward %.2f ms", name, b, d, ms))
        }
    }

    func testFILIP() {
        let (b, n1, n2, e) = (512, 50, 77, 256)
        let x = GradientCheck.random([b, n1, e], seed: 1), y = GradientCheck.random([b, n2, e], seed: 2)
        let lengths = (0..<b).map { 2 + ($0 * 29) % (n2 - 1) }
        let mask = Tensor(shape: [b, n2], scalars: lengths.flatMap { len in (0..<n2).map { $0 < len ? 1 : 0 } })
        let validCount = lengths.reduce(0, +)
        for threads in [1, Parallel.threads] {
            var extraBytes = 0, indexBytes = 0
            let ms = time(1) {
                Parallel.withThreadBudget(threads) {
                    let xv = Variable(x, requiresGrad: true), yv = Variable(y, requiresGrad: true)
                    let features = Features(image: Variable(Tensor.zeros([b, 1])), text: Variable(Tensor.zeros([b, 1])),
                                            imageTokens: xv, textTokens: yv, textMask: mask)
                    let before = BufferPool.shared.liveBytes
                    BufferPool.shared.resetPeak()
                    let loss = FILIPObjective().loss(features, ObjectiveScalars(logitScale: Variable(Tensor(2.659), requiresGrad: true)))
                    loss.backward()
                    extraBytes = BufferPool.shared.peakLiveBytes - before
                    indexBytes = b * b * (n1 + n2) * 2
                }
            }
            let gflop = 2.0 * Double(b * b) * Double(n1 * n2 * e) / 1e9
            print(String(format: "BENCH filip B=%d n1=%d n2=%d d=%d threads=%d forward+backward %.0f ms (%.0f GFLOP similarity GEMMs, %.1f GFLOP/s), peak extra tensor memory %.1f MiB + argmax indices %.1f MiB; mean valid text tokens %.1f",
                         b, n1, n2, e, threads, ms, gflop, gflop / (ms / 1000), Double(extraBytes) / 1048576, Double(indexBytes) / 1048576,
                         Double(validCount) / Double(b)))
        }
    }
}
