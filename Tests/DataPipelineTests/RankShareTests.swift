import DataPipeline
import Foundation
import XCTest

/// Each rank of a data-parallel job reads only its rows of every global batch, and together the
/// ranks read exactly the batches of a single loader.
final class RankShareTests: XCTestCase {
    private let context = 8

    private func loader(_ dataset: ShardDataset, share: RankShare?, resumeFrom: LoaderState? = nil) throws -> DataLoader {
        let configuration = DataLoaderConfiguration(
            batchSize: 4, imageSize: 12, contextLength: context,
            augmentation: Augmentation(randomResizedCrop: RandomResizedCrop(scale: 0.5...1.0), horizontalFlip: true),
            mode: .train, seed: 7, threads: 2, prefetchBatches: 2, share: share)
        return try DataLoader(dataset: dataset, configuration: configuration,
                              tokenizer: wordTokenizer(contextLength: context), resumeFrom: resumeFrom)
    }

    /// Global row g of each batch, assembled from the ranks' rows: (indices, image rows, token rows).
    private func assemble(_ perRank: [[Batch]], shares: [RankShare]) -> [(indices: [Int], images: [Float], tokens: [Int32])] {
        let pixels = 12 * 12 * 3
        return (0..<perRank[0].count).map { k in
            var indices = [Int](repeating: -1, count: 4)
            var images = [Float](repeating: .nan, count: 4 * pixels)
            var tokens = [Int32](repeating: -1, count: 4 * context)
            for (r, share) in shares.enumerated() {
                let batch = perRank[r][k]
                XCTAssertEqual(batch.size, 4 / share.ranks)
                for l in 0..<batch.size {
                    let g = share.globalRow(l, batchSize: 4)
                    indices[g] = batch.indices[l]
                    images.replaceSubrange((g * pixels)..<((g + 1) * pixels), with: batch.images[(l * pixels)..<((l + 1) * pixels)])
                    tokens.replaceSubrange((g * context)..<((g + 1) * context), with: batch.tokens[(l * context)..<((l + 1) * context)])
                }
            }
            return (indices, images, tokens)
        }
    }

    func testRanksTogetherReadTheSingleLoadersBatches() throws {
        let data = try threeRawShards(self)   // 23 items: 5 global batches of 4 per epoch, 3 dropped
        let single = try loader(data, share: nil)
        let reference = try (0..<12).map { _ in try XCTUnwrap(try single.next()) }   // crosses two epoch ends
        for (ranks, groups) in [(2, 1), (2, 2), (4, 1), (1, 1)] {
            let shares = (0..<ranks).map { RankShare(rank: $0, ranks: ranks, groups: groups) }
            let loaders = try shares.map { try loader(data, share: $0) }
            let perRank = try loaders.map { l in try (0..<12).map { _ in try XCTUnwrap(try l.next()) } }
            for (k, got) in assemble(perRank, shares: shares).enumerated() {
                XCTAssertEqual(got.indices, reference[k].indices, "ranks \(ranks), groups \(groups), batch \(k)")
                XCTAssertTrue(got.images == reference[k].images, "images: ranks \(ranks), groups \(groups), batch \(k)")
                XCTAssertEqual(got.tokens, reference[k].tokens, "ranks \(ranks), groups \(groups), batch \(k)")
            }
        }
    }

    func testShareRowsInterleaveMicroBatches() {
        // B = 8, 2 micro-batches of 4, 2 ranks: rank 0 holds rows 0, 1, 4, 5; rank 1 rows 2, 3, 6, 7.
        XCTAssertEqual((0..<4).map { RankShare(rank: 0, ranks: 2, groups: 2).globalRow($0, batchSize: 8) }, [0, 1, 4, 5])
        XCTAssertEqual((0..<4).map { RankShare(rank: 1, ranks: 2, groups: 2).globalRow($0, batchSize: 8) }, [2, 3, 6, 7])
        XCTAssertEqual((0..<4).map { RankShare(rank: 1, ranks: 2).globalRow($0, batchSize: 8) }, [4, 5, 6, 7])
    }

    func testEachRankResumesItsOwnSequence() throws {
        let data = try threeRawShards(self)   // 23 items: 5 global batches of 4 per epoch, 3 dropped
        let share = RankShare(rank: 1, ranks: 2)
        let reference = try loader(data, share: share)
        let expected = try (0..<8).map { _ in try XCTUnwrap(try reference.next()).indices }
        for stop in [1, 4, 5, 6] {
            let first = try loader(data, share: share)
            for _ in 0..<stop { _ = try first.next() }
            let resumed = try loader(data, share: share, resumeFrom: first.state)
            XCTAssertEqual(try (stop..<8).map { _ in try XCTUnwrap(try resumed.next()).indices }, Array(expected[stop...]), "after \(stop)")
        }
        // Position 0 of epoch 0 belongs to rank 0: rank 1 cannot start there.
        XCTAssertThrowsError(try loader(data, share: share, resumeFrom: LoaderState(epoch: 0, position: 1)))
    }
}
