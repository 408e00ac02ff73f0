import DataPipeline
import Foundation
import SwiftCLIP
import XCTest

/// Runs `body(communicator)` on one thread per rank of an in-process group; returns the results in rank order.
func onRanks<R>(_ size: Int, _ body: @escaping @Sendable (InProcessCommunicator) -> R) -> [R] {
    let group = InProcessCommunicator.group(size: size)
    let results = UncheckedBox(UnsafeMutableBufferPointer<R?>.allocate(capacity: size))
    results.value.initialize(repeating: nil)
    defer { results.value.deallocate() }
    let box = UncheckedBox(body)
    // One thread per rank (a thread pool could run fewer at once, and ranks wait for each other).
    let done = DispatchGroup()
    for r in 0..<size {
        done.enter()
        Thread {
            Parallel.withThreadBudget(1) { results.value[r] = box.value(group[r]) }
            done.leave()
        }.start()
    }
    done.wait()
    return results.value.map { $0! }
}

final class CommunicatorTests: XCTestCase {
    func testAllGatherConcatenatesInRankOrder() {
        let gathered = onRanks(3) { c in
            c.allGather(rows: Tensor(shape: [2, 2], scalars: (0..<4).map { Float(10 * c.rank + $0) })).scalars
        }
        let expected: [Float] = [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]
        for g in gathered { XCTAssertEqual(g, expected) }
        XCTAssertEqual(onRanks(2) { $0.allGather([$0.rank * 7, -1]) }, [[0, -1, 7, -1], [0, -1, 7, -1]])
    }

    /// 1e8 + 1 rounds back to 1e8 in float: only the rank-order sum ((1e8 + 1) + (-1e8)) gives 0
    /// (any other order gives 1), on every rank.
    func testAllReduceAddsInRankOrder() {
        let inputs: [[Float]] = [[1e8, 2], [1, 3], [-1e8, 4]]
        let sums = onRanks(3) { c -> [Float] in
            var values = inputs[c.rank]
            values.withUnsafeMutableBufferPointer { c.allReduceSum($0) }
            return values
        }
        for s in sums { XCTAssertEqual(s, [0, 9]) }
    }

    func testBroadcastAndAny() {
        let results = onRanks(3) { c -> ([Float], Bool, Bool) in
            var t = Tensor(shape: [3], scalars: [Float(c.rank), 1, 2])
            c.broadcast(&t, root: 2)
            c.barrier()
            return (t.scalars, c.any(c.rank == 1), c.any(false))
        }
        for (values, some, none) in results {
            XCTAssertEqual(values, [2, 1, 2])
            XCTAssertTrue(some)
            XCTAssertFalse(none)
        }
    }

    /// Gradients summed over parameters in buckets equal the per-rank sum, parameter by parameter.
    func testGradientAllReduceInBuckets() {
        let grads = onRanks(2) { c -> [[Float]] in
            let params = (0..<5).map { k in Variable(Tensor(shape: [k + 1], repeating: 0), requiresGrad: true) }
            for (k, p) in params.enumerated() where k != 3 {
                p.grad = Tensor(shape: [k + 1], scalars: (0...k).map { Float(100 * c.rank + 10 * k + $0) })
            }
            c.allReduceGradients(of: params, bucketElements: 4)
            return params.map { $0.grad?.scalars ?? [] }
        }
        let expected: [[Float]] = (0..<5).map { (k: Int) -> [Float] in
            k == 3 ? [] : (0...k).map { (i: Int) -> Float in Float(100 + 20 * k + 2 * i) }
        }
        XCTAssertEqual(grads[0], expected)
        XCTAssertEqual(grads[1], expected)
    }
}

/// R ranks (threads standing in for processes) × W workers compute the gradient of one process
/// with R·W workers: bit for bit when the additions pair up the same way, else within rounding.
final class RankEquivalenceTests: XCTestCase {
    let config = ModelConfig(embedDim: 8, visionCfg: VisionConfig(imageSize: 8, patchSize: 4, width: 16, layers: 1, headWidth: 8),
                             textCfg: TextConfig(contextLength: 8, vocabSize: 49408, width: 16, heads: 2, layers: 1))

    /// Every rank's gradients after one step on the global batch of 24 (each rank given its share).
    func gradients(ranks: Int, workers: Int, accumulation: Int, sync: DataParallelStep.GradientSync = .afterBackward,
                   objective: @escaping @Sendable () -> any Objective = { CLIPObjective() }) -> [[Float]] {
        let batch = syntheticInputs(batch: 24, config: config)
        let config = self.config
        return onRanks(ranks) { c in
            let share = RankShare(rank: c.rank, ranks: ranks, groups: accumulation)
            let local = share.localBatchSize(24)
            let rows = (0..<local).map { share.globalRow($0, batchSize: 24) }
            let mine = TowerInputs(images: Tensor.concat(rows.map { batch.images.slice(axis: 0, $0..<($0 + 1)) }, axis: 0),
                                   tokens: rows.flatMap { batch.tokens[($0 * 8)..<(($0 + 1) * 8)] })
            let model = CLIPModel(config, seed: 1)
            let step = DataParallelStep(model: model, objective: objective(), workers: workers, accumulation: accumulation,
                                        communicator: c)
            step.gradientSync = sync
            step.overlapBucketElements = 300   // several buckets even on this small model
            step.run(mine)
            return model.parameters.flatMap { $0.grad?.scalars ?? [] }
        }
    }

    func testTwoRanksEqualTwoWorkersBitForBit() {
        let inProcess = gradients(ranks: 1, workers: 2, accumulation: 1)[0]
        for g in gradients(ranks: 2, workers: 1, accumulation: 1) { XCTAssertEqual(g, inProcess) }
        let four = gradients(ranks: 1, workers: 4, accumulation: 1)[0]
        for g in gradients(ranks: 2, workers: 2, accumulation: 1) { XCTAssertEqual(g, four) }
    }

    func testOtherRankCountsAgreeWithinRounding() {
        let reference = gradients(ranks: 1, workers: 1, accumulation: 1)[0]
        let scale = reference.map(abs).max()!
        for (r, w, k) in [(3, 1, 1), (2, 1, 2), (2, 2, 2), (4, 1, 1), (3, 2, 2)] {
            let perRank = gradients(ranks: r, workers: w, accumulation: k)
            for g in perRank.dropFirst() { XCTAssertEqual(g, perRank[0], "ranks disagree: \(r) × \(w), accumulation \(k)") }
            XCTAssertEqual(perRank[0].count, reference.count)
            let diff = zip(perRank[0], reference).map { abs($0 - $1) }.max()!
            // fp32 summation-order noise: ≈ 16 ulps of the largest gradient at most (a wrong split is O(1)).
            XCTAssertLessThan(diff, 2e-6 * scale, "ranks \(r) × workers \(w), accumulation \(k)")
        }
    }

    func testOverlappedAllReduceGivesTheSameGradientsBitForBit() {
        for (r, w, k) in [(2, 1, 1), (2, 2, 1), (2, 3, 1), (3, 2, 2), (2, 1, 3)] {
            let after = gradients(ranks: r, workers: w, accumulation: k)
            let overlapped = gradients(ranks: r, workers: w, accumulation: k, sync: .overlapped)
            XCTAssertEqual(overlapped, after, "ranks \(r) × workers \(w), accumulation \(k)")
        }
        // Token features (FILIP) take other outputs through the backward pass.
        let filip = { @Sendable () -> any Objective in FILIPObjective() }
        XCTAssertEqual(gradients(ranks: 2, workers: 2, accumulation: 1, sync: .overlapped, objective: filip),
                       gradients(ranks: 2, workers: 2, accumulation: 1, objective: filip))
    }

    func testOverlappedBucketsAreReadyBeforeTheBackwardPassEnds() {
        let batch = syntheticInputs(batch: 8, config: config)
        let config = self.config
        let overlaps = onRanks(2) { c in
            let model = CLIPModel(config, seed: 1)
            let step = DataParallelStep(model: model, objective: CLIPObjective(), workers: 1, communicator: c)
            step.gradientSync = .overlapped
            step.overlapBucketElements = 300
            step.run(batch.slice((c.rank * 4)..<((c.rank + 1) * 4)))
            // Every parameter but the logit scale (the objective's) is finished once by the one worker.
            return (step.lastOverlap!.remainingDeliveriesWhenReady, model.parameters.count - 1)
        }
        for (remaining, deliveries) in overlaps {
            XCTAssertGreaterThan(remaining.count, 3, "several buckets")
            XCTAssertEqual(remaining.last, 0, "the last bucket waits for the last parameter")
            XCTAssertGreaterThan(remaining.first!, 3 * deliveries / 4, "the first bucket was ready early in the backward pass")
            XCTAssertGreaterThan(remaining[remaining.count / 2], deliveries / 4, "buckets are ready layer by layer")
            XCTAssertEqual(remaining, remaining.sorted(by: >), "buckets leave in the order the backward pass finishes them")
        }
    }
}

/// `train.gradient_sync: auto` overlaps the all-reduce only where it can pay.
final class GradientSyncChoiceTests: XCTestCase {
    /// Shape of a job without any transport (the policy reads only the sizes).
    final class Sizes: Communicator, @unchecked Sendable {
        let rank = 0, worldSize: Int, localSize: Int
        init(world: Int, local: Int) { (worldSize, localSize) = (world, local) }
        func allGather(_ local: UnsafeRawBufferPointer, into result: UnsafeMutableRawBufferPointer) {}
        func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {}
        func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) {}
        func barrier() {}
        func abort(code: Int32) -> Never { fatalError() }
    }

    func testAutoOverlapsAcrossMachinesOrOnIdleCoresOnly() {
        func auto(world: Int, local: Int, workers: Int, cores: Int) -> DataParallelStep.GradientSync {
            GradientSyncChoice.auto.resolved(for: Sizes(world: world, local: local), workers: workers, cores: cores)
        }
        XCTAssertEqual(auto(world: 1, local: 1, workers: 2, cores: 8), .afterBackward, "one rank: nothing to sum")
        XCTAssertEqual(auto(world: 2, local: 2, workers: 1, cores: 2), .afterBackward, "every core runs a worker")
        XCTAssertEqual(auto(world: 2, local: 2, workers: 2, cores: 8), .overlapped, "idle cores")
        XCTAssertEqual(auto(world: 8, local: 2, workers: 4, cores: 8), .overlapped, "several machines")
        XCTAssertEqual(GradientSyncChoice.overlap.resolved(for: Sizes(world: 2, local: 2), workers: 1, cores: 2), .overlapped)
        XCTAssertEqual(GradientSyncChoice.afterBackward.resolved(for: Sizes(world: 8, local: 2), workers: 1, cores: 8), .afterBackward)
    }
}
