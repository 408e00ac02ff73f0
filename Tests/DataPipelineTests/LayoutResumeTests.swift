@testable import DataPipeline
import Foundation
import XCTest

/// Resuming a data-parallel job on another rank count: the ranks' positions (apart when items were
/// skipped) are reconciled in the global order, and the new ranks read exactly the positions not yet
/// consumed. Oracle: the epoch's permutation (`SampleOrder`), mapped to positions by hand.
final class LayoutResumeTests: XCTestCase {
    private let context = 8, batch = 4, items = 24, seed: UInt64 = 7   // 6 global batches of 4 per epoch

    /// The epoch-0 permutation of the loaders below (position → item index).
    private var permutation: [Int] { SampleOrder(count: items, seed: seed, shuffle: true).permutation(epoch: 0).map(Int.init) }

    /// A JPEG shard whose items at these positions of epoch 0 are corrupt.
    private func dataset(corruptAt positions: Set<Int>) throws -> ShardDataset {
        let dir = try temporaryDirectory(self)
        let order = permutation
        try writeJPEGShard(dir + "/j.h5", count: items, seed: 5, corrupt: Set(positions.map { order[$0] }))
        return try ShardDataset(path: dir)
    }

    private func loaders(_ data: ShardDataset, ranks: Int, groups: Int = 1, resumeFrom: [LoaderState]? = nil,
                         dealtFrom: ConsumedPositions? = nil) throws -> [DataLoader] {
        try (0..<ranks).map { r in
            let configuration = DataLoaderConfiguration(
                batchSize: batch, imageSize: 12, contextLength: context,
                augmentation: Augmentation(randomResizedCrop: RandomResizedCrop(scale: 0.5...1.0), horizontalFlip: true),
                mode: .train, seed: seed, threads: 2, prefetchBatches: 2,
                share: ranks > 1 ? RankShare(rank: r, ranks: ranks, groups: groups) : nil)
            return try DataLoader(dataset: data, configuration: configuration, tokenizer: wordTokenizer(contextLength: context),
                                  resumeFrom: resumeFrom?[r], dealtFrom: dealtFrom, log: { _ in })
        }
    }

    /// `steps` steps of every loader (one batch each per step), appending the item indices read to `visited[epoch]`.
    private func take(_ steps: Int, _ loaders: [DataLoader], into visited: inout [Int: [Int]]) throws -> [[Batch]] {
        try (0..<steps).map { _ in
            try loaders.map { loader in
                let b = try XCTUnwrap(try loader.next())
                visited[b.epoch, default: []] += b.indices
                return b
            }
        }
    }

    /// Item indices of these positions of epoch 0.
    private func items(at positions: some Sequence<Int>) -> [Int] { positions.map { permutation[$0] }.sorted() }

    func testTwoRanksResumedOnOneReadEveryPositionOnce() throws {
        let data = try dataset(corruptAt: [])
        var visited: [Int: [Int]] = [:]
        let two = try loaders(data, ranks: 2)
        _ = try take(3, two, into: &visited)
        let consumed = try ConsumedPositions.reconcile(two.map(\.state), count: items, batchSize: batch, groups: 1, dealtFrom: nil)
        XCTAssertEqual(consumed, try ConsumedPositions(frontier: 12, beyond: []))
        let one = try loaders(data, ranks: 1, dealtFrom: consumed)
        let after = try take(3 + 6, one, into: &visited)   // the rest of epoch 0, then all of epoch 1
        XCTAssertEqual(visited[0]!.sorted(), Array(0..<items), "every item of epoch 0 exactly once")
        XCTAssertEqual(after.prefix(3).flatMap { $0[0].indices }, Array(permutation[12...]), "the rest in the global order")
        // From epoch 1 on, the resumed loader reads what a single loader reads.
        let single = try loaders(data, ranks: 1)
        _ = try (0..<6).map { _ in try single[0].next() }
        for k in 3..<9 {
            let reference = try XCTUnwrap(try single[0].next())
            XCTAssertEqual(after[k][0].indices, reference.indices)
            XCTAssertTrue(after[k][0].images == reference.images, "batch \(k)")
        }
        XCTAssertTrue(consumed.isSettled(by: [one[0].state], count: items))
    }

    func testTwoRanksWithSkippedItemsResumedOnOne() throws {
        // Position 2 (rank 1's row) is corrupt: after 3 steps rank 0 stands at 12, rank 1 (one ahead) at 15,
        // having read 14. Position 17 is corrupt too, met after the resume.
        let data = try dataset(corruptAt: [2, 17])
        var visited: [Int: [Int]] = [:]
        let two = try loaders(data, ranks: 2)
        _ = try take(3, two, into: &visited)
        XCTAssertEqual(two.map(\.state), [LoaderState(epoch: 0, position: 12), LoaderState(epoch: 0, position: 15)])
        let consumed = try ConsumedPositions.reconcile(two.map(\.state), count: items, batchSize: batch, groups: 1, dealtFrom: nil)
        XCTAssertEqual(consumed, try ConsumedPositions(frontier: 12, beyond: [14]))
        let one = try loaders(data, ranks: 1, dealtFrom: consumed)
        _ = try take(3, one, into: &visited)   // 12, 13, 15, 16 | 18 … 21 | 22, 23 dropped at the epoch's end, then epoch 1
        XCTAssertEqual(visited[0]!.sorted(), items(at: Set(0..<items).subtracting([2, 17, 22, 23])),
                       "every readable item once, but the two that cannot fill the epoch's last batch")
        XCTAssertEqual(one[0].skippedItems.map(\.index), [permutation[17]])
    }

    func testOneRankResumedOnTwoReadsTheTwoRankBatches() throws {
        let data = try dataset(corruptAt: [])
        var visited: [Int: [Int]] = [:]
        let one = try loaders(data, ranks: 1)
        _ = try take(3, one, into: &visited)
        let consumed = try ConsumedPositions.reconcile([one[0].state], count: items, batchSize: batch, groups: 2, dealtFrom: nil)
        let two = try loaders(data, ranks: 2, groups: 2, dealtFrom: consumed)
        let after = try take(3 + 6, two, into: &visited)
        XCTAssertEqual(visited[0]!.sorted(), Array(0..<items), "every item of epoch 0 exactly once")
        // No item was skipped before the checkpoint: the two ranks read what they read uninterrupted.
        let reference = try loaders(data, ranks: 2, groups: 2)
        var unused: [Int: [Int]] = [:]
        let straight = try take(3 + 9, reference, into: &unused).suffix(9)
        for (k, (got, want)) in zip(after, straight).enumerated() {
            for r in 0..<2 {
                XCTAssertEqual(got[r].indices, want[r].indices, "step \(k), rank \(r)")
                XCTAssertTrue(got[r].images == want[r].images, "step \(k), rank \(r)")
            }
        }
    }

    func testOneRankWithSkippedItemsResumedOnTwo() throws {
        // Position 1 is corrupt: after 3 steps the single loader stands at 13. The rest, 13 ..< 24, is dealt
        // as global batches 13–16 and 17–20 (21, 22, 23 fill none); 17 is corrupt, so rank 0 (rows 17, 18)
        // has a partial batch at the epoch's end and drops 18.
        let data = try dataset(corruptAt: [1, 17])
        var visited: [Int: [Int]] = [:]
        let one = try loaders(data, ranks: 1)
        _ = try take(3, one, into: &visited)
        let consumed = try ConsumedPositions.reconcile([one[0].state], count: items, batchSize: batch, groups: 1, dealtFrom: nil)
        XCTAssertEqual(consumed, try ConsumedPositions(frontier: 13, beyond: []))
        let two = try loaders(data, ranks: 2, dealtFrom: consumed)
        _ = try take(3, two, into: &visited)
        XCTAssertEqual(visited[0]!.sorted(), items(at: Set(0..<items).subtracting([1, 17, 18, 21, 22, 23])))
        XCTAssertEqual(two.map(\.skippedItems).flatMap { $0 }.map(\.index), [permutation[17]])
    }

    func testAResumedStreamResumesExactlyAndReconcilesAgain() throws {
        let data = try dataset(corruptAt: [2, 17])
        var visited: [Int: [Int]] = [:]
        let two = try loaders(data, ranks: 2)
        _ = try take(3, two, into: &visited)
        let first = try ConsumedPositions.reconcile(two.map(\.state), count: items, batchSize: batch, groups: 1, dealtFrom: nil)
        let one = try loaders(data, ranks: 1, dealtFrom: first)
        _ = try take(1, one, into: &visited)   // 12, 13, 15, 16
        // The same layout again: exactly the batches the loader goes on with.
        let again = try loaders(data, ranks: 1, resumeFrom: [one[0].state], dealtFrom: first)
        for k in 0..<4 {
            let (a, b) = (try XCTUnwrap(try one[0].next()), try XCTUnwrap(try again[0].next()))
            XCTAssertEqual(a.indices, b.indices, "batch \(k)")
            XCTAssertTrue(a.images == b.images, "batch \(k)")
        }
        // From the mid-stream state of a dealt loader, on two ranks in two micro-batches.
        var replay: [Int: [Int]] = [:]
        replay[0] = visited[0]
        let mid = try loaders(data, ranks: 1, resumeFrom: [LoaderState(epoch: 0, position: 18)], dealtFrom: first)
        let second = try ConsumedPositions.reconcile([mid[0].state], count: items, batchSize: batch, groups: 2, dealtFrom: first)
        XCTAssertEqual(second, try ConsumedPositions(frontier: 18, beyond: []))
        let ranks = try loaders(data, ranks: 2, groups: 2, dealtFrom: second)
        _ = try take(1, ranks, into: &replay)   // 18 … 21 (rows 18, 19 | 20, 21); 22, 23 fill no batch
        XCTAssertEqual(replay[0]!.sorted(), items(at: Set(0..<items).subtracting([2, 17, 22, 23])))
        XCTAssertEqual(ranks.map { $0.state.epoch }, [1, 1], "epoch 0 has nothing left for them")
        XCTAssertTrue(second.isSettled(by: ranks.map(\.state), count: items))
        XCTAssertFalse(first.isSettled(by: [LoaderState(epoch: 0, position: 18)], count: items))
        XCTAssertEqual(try ranks.map { try XCTUnwrap(try $0.next()).epoch }, [1, 1])
    }

    func testSavedPositionsThatNoRankReadsAreRefused() {
        // Rank 1 of 2 never reads position 0 … 1 of a batch of 4.
        XCTAssertThrowsError(try ConsumedPositions.reconcile([LoaderState(epoch: 0, position: 4), LoaderState(epoch: 0, position: 5)],
                                                             count: items, batchSize: batch, groups: 1, dealtFrom: nil)) { error in
            XCTAssertTrue("\(error)".contains("rank 1 of 2 was saved at epoch 0, position 5"), "\(error)")
        }
        XCTAssertThrowsError(try ConsumedPositions(frontier: 5, beyond: [7, 6]))
    }
}
