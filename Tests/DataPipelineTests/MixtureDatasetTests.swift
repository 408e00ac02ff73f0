import DataPipeline
import Foundation
import TensorCore
import XCTest

/// A weighted mixture of sources (issue 24.2): exact per-epoch proportions (largest remainder),
/// fresh items of a down-weighted source every epoch, determinism for a seed, resampling with
/// replacement, any rank count and exact resume through `DataLoader`, and the refusals.
final class MixtureDatasetTests: XCTestCase {
    /// `count` 2×2 items named "NAME i" (pixel value i % 256), from one "file" NAME.
    final class NamedSource: DatasetSource {
        let name: String, count: Int, size: (height: Int, width: Int)?, names: [String]?
        init(_ name: String, _ count: Int, size: (Int, Int)? = nil, classnames: [String]? = nil) {
            (self.name, self.count, self.names) = (name, count, classnames)
            self.size = size.map { (height: $0.0, width: $0.1) }
        }
        var classnames: [String]? { names }
        var fixedImageSize: (height: Int, width: Int)? { size }
        func origin(of index: Int) -> (path: String, part: Int, index: Int) { (name, 0, index) }
        func image(at index: Int) throws -> ShardImage {
            precondition((0..<count).contains(index), "read outside the source")
            return .raw(RGBImage(height: 2, width: 2, pixels: [UInt8](repeating: UInt8(index % 256), count: 12)))
        }
        func caption(at index: Int) throws -> String { "\(name) \(index)" }
    }

    private func mixture(_ sizes: [Int], _ weights: [Double], _ sampling: MixtureDataset.Sampling = .proportional,
                         seed: UInt64 = 5) throws -> MixtureDataset {
        try MixtureDataset(components: sizes.indices.map { .init(name: "s\($0)", dataset: NamedSource("s\($0)", sizes[$0]), weight: weights[$0]) },
                           sampling: sampling, seed: seed)
    }

    /// The oracle: Hamilton's method in integers for integer weights (floor of N·w/W, the leftover to
    /// the largest remainders N·w mod W, ties to the earlier source).
    private func hamilton(_ total: Int, _ weights: [Int]) -> [Int] {
        let sum = weights.reduce(0, +)
        var counts = weights.map { total * $0 / sum }
        let byRemainder = weights.indices.sorted { (total * weights[$0] % sum, -$0) > (total * weights[$1] % sum, -$1) }
        for s in byRemainder.prefix(total - counts.reduce(0, +)) { counts[s] += 1 }
        return counts
    }

    func testEveryEpochHoldsTheApportionedCounts() throws {
        XCTAssertEqual(MixtureDataset.apportion(10, weights: [1, 1, 1]), [4, 3, 3])
        XCTAssertEqual(MixtureDataset.apportion(1000, weights: [0.7, 0.3]), [700, 300])
        var rng = RandomGenerator(seed: 1)
        for _ in 0..<1000 {
            let weights = (0..<Int.random(in: 1...5, using: &rng)).map { _ in Int.random(in: 1...9, using: &rng) }
            let total = Int.random(in: weights.count...500, using: &rng)
            XCTAssertEqual(MixtureDataset.apportion(total, weights: weights.map(Double.init)), hamilton(total, weights), "\(total) \(weights)")
        }
        // Sources of 30, 50 and 20 items at weights 5 : 3 : 2 → epochs of 100 with 50, 30, 20.
        let m = try mixture([30, 50, 20], [5, 3, 2])
        XCTAssertEqual(m.count, 100)
        for epoch in [0, 1, 7] {
            var counts = [0, 0, 0]
            for i in 0..<m.count { counts[m.source(of: i, epoch: epoch)] += 1 }
            XCTAssertEqual(counts, hamilton(100, [5, 3, 2]), "epoch \(epoch)")
        }
    }

    /// A down-weighted source shows each item once per pass, passes running across epochs; an up-weighted
    /// one repeats each item once per pass within an epoch.
    func testItemsComeInPassesAcrossEpochs() throws {
        let m = try mixture([10, 30], [1, 1])   // 20 per epoch each: s0 twice over, s1 two thirds
        var drawn: [[Int]] = [[], []]
        for epoch in 0..<3 {
            var perEpoch: [[Int]] = [[], []]
            for i in 0..<m.count { let (s, item) = m.locate(i, epoch: epoch); perEpoch[s].append(item) }
            XCTAssertEqual(perEpoch[0].sorted(), (0..<10).flatMap { [$0, $0] }, "epoch \(epoch): each item of s0 twice")
            drawn[0] += perEpoch[0]; drawn[1] += perEpoch[1]
        }
        XCTAssertEqual(drawn[1].count, 60)
        XCTAssertEqual(Array(drawn[1][0..<30]).sorted(), Array(0..<30), "first pass over s1: every item once")
        XCTAssertEqual(Array(drawn[1][30..<60]).sorted(), Array(0..<30), "second pass over s1")
        XCTAssertNotEqual(Array(drawn[1][0..<30]), Array(drawn[1][30..<60]), "each pass in its own order")
    }

    func testTheMappingIsAFunctionOfTheSeed() throws {
        for sampling in [MixtureDataset.Sampling.proportional, .resampled] {
            let a = try mixture([40, 60], [2, 1], sampling), b = try mixture([40, 60], [2, 1], sampling)
            let c = try mixture([40, 60], [2, 1], sampling, seed: 6)
            let map = { (m: MixtureDataset) in (0..<3).flatMap { e in (0..<100).map { m.locate($0, epoch: e).source * 1000 + m.locate($0, epoch: e).item } } }
            XCTAssertEqual(map(a), map(b), "\(sampling)")
            XCTAssertNotEqual(map(a), map(c), "\(sampling): another seed")
        }
    }

    /// Resampling draws sources with probability w/W (a binomial oracle: 4σ) and items with replacement.
    func testResampledDrawsFollowTheWeights() throws {
        let m = try mixture([1000, 3000], [0.7, 0.3], .resampled)
        var fromFirst = 0, draws = 0
        var seen = Set<Int>(), repeats = 0
        for epoch in 0..<5 {
            for i in 0..<m.count {
                let (s, item) = m.locate(i, epoch: epoch)
                XCTAssertTrue((0..<[1000, 3000][s]).contains(item))
                draws += 1
                if s == 0 { fromFirst += 1; if !seen.insert(item).inserted { repeats += 1 } }
            }
        }
        let p = Double(fromFirst) / Double(draws), sigma = (0.7 * 0.3 / Double(draws)).squareRoot()
        XCTAssertEqual(p, 0.7, accuracy: 4 * sigma)
        XCTAssertEqual(seen.count, 1000, "14 000 draws from 1000 items reach them all")
        XCTAssertGreaterThan(repeats, 0)
    }

    /// Through `DataLoader`: the mixture's reads resolve per epoch, the ranks together read the single
    /// loader's batches, and a loader resumed from a saved state continues with the same batches.
    func testLoaderRanksAndResume() throws {
        let m = try mixture([12, 20], [3, 1])   // epochs of 32: 24 from s0, 8 from s1
        func loader(_ share: RankShare?, from state: LoaderState? = nil) throws -> DataLoader {
            try DataLoader(dataset: m, configuration: DataLoaderConfiguration(
                batchSize: 8, imageSize: 2, contextLength: 8, augmentation: Augmentation(normalization: .unit),
                mode: .train, seed: 9, threads: 3, share: share),
                tokenizer: wordTokenizer(contextLength: 8), resumeFrom: state, log: { _ in })
        }
        let single = try loader(nil)
        let reference = try (0..<12).map { _ in try XCTUnwrap(try single.next()) }   // three epochs
        for epoch in 0..<3 {
            let captions = reference[(4 * epoch)..<(4 * epoch + 4)].flatMap(\.captions)
            XCTAssertEqual(captions.filter { $0.hasPrefix("s0 ") }.count, 24, "epoch \(epoch)")
            for batch in reference[(4 * epoch)..<(4 * epoch + 4)] {
                for (row, index) in batch.indices.enumerated() {
                    let (s, item) = m.locate(index, epoch: batch.epoch)
                    XCTAssertEqual(batch.captions[row], "s\(s) \(item)")
                    XCTAssertEqual(batch.images[row * 12], Float(item) / 255, accuracy: 1e-6)
                }
            }
        }
        let s1Items = reference.flatMap(\.captions).filter { $0.hasPrefix("s1 ") }
        XCTAssertEqual(Set(s1Items[0..<16]).count, 16, "s1's draws of epochs 0 and 1 are all from its first pass")
        XCTAssertEqual(Set(s1Items).count, 20, "three epochs reach every item of s1")
        for ranks in [2, 4] {
            let loaders = try (0..<ranks).map { try loader(RankShare(rank: $0, ranks: ranks)) }
            for k in 0..<12 {
                let rows = try loaders.map { try XCTUnwrap(try $0.next()).captions }
                XCTAssertEqual(rows.flatMap { $0 }, reference[k].captions, "\(ranks) ranks, batch \(k)")
            }
        }
        let first = try loader(nil)
        for _ in 0..<5 { _ = try first.next() }
        let resumed = try loader(nil, from: first.state)
        for k in 5..<12 { XCTAssertEqual(try XCTUnwrap(try resumed.next()).captions, reference[k].captions, "resumed batch \(k)") }
    }

    func testSkipsNameTheSourcesFile() throws {
        final class Broken: DatasetSource {
            let count = 4
            func origin(of index: Int) -> (path: String, part: Int, index: Int) { ("broken.h5", 0, index) }
            func image(at index: Int) throws -> ShardImage { .jpeg([0xFF, 0xD8, 0xFF, 0xE0, 0, 1]) }
            func caption(at index: Int) throws -> String { "x" }
        }
        let m = try MixtureDataset(components: [.init(name: "ok", dataset: NamedSource("ok", 8), weight: 1),
                                                .init(name: "broken", dataset: Broken(), weight: 1)], seed: 1)
        let loader = try DataLoader(dataset: m, configuration: DataLoaderConfiguration(
            batchSize: 2, imageSize: 2, contextLength: 8, augmentation: Augmentation(normalization: .unit), mode: .train, seed: 1),
            tokenizer: wordTokenizer(contextLength: 8), log: { _ in })
        for _ in 0..<12 { _ = try loader.next() }   // 4 epochs of 6 good items: each broken item skipped, reported once
        XCTAssertEqual(Set(loader.skippedItems.map(\.shardPath)), ["broken.h5"])
        XCTAssertEqual(loader.skippedItems.map(\.index).sorted(), [0, 1, 2, 3])
    }

    func testMixturesThatCannotWorkAreRefused() throws {
        func refusal(_ components: [MixtureDataset.Component]) -> String {
            do { _ = try MixtureDataset(components: components, seed: 0); return "accepted" } catch { return "\(error)" }
        }
        let a = NamedSource("a", 10), b = NamedSource("b", 10)
        XCTAssertEqual(refusal([]), "a mixture needs at least one source")
        XCTAssertEqual(refusal([.init(name: "a", dataset: a, weight: 1), .init(name: "b", dataset: b, weight: 0)]),
                       "b: weight must be a positive finite number, got 0.0")
        XCTAssertEqual(refusal([.init(name: "a", dataset: a, weight: .nan)]), "a: weight must be a positive finite number, got nan")
        XCTAssertEqual(refusal([.init(name: "a", dataset: a, weight: .infinity)]), "a: weight must be a positive finite number, got inf")
        XCTAssertEqual(refusal([.init(name: "a", dataset: a, weight: 1), .init(name: "b", dataset: b, weight: 1e-3)]),
                       "b: weight 0.001 gives no item in an epoch of 20 items")
        XCTAssertEqual(refusal([.init(name: "a", dataset: NamedSource("a", 4, size: (16, 16)), weight: 1),
                                .init(name: "b", dataset: NamedSource("b", 4, size: (28, 28)), weight: 1)]),
                       "b: images are 28×28 but a's are 16×16; build the sources at one image size")
        XCTAssertEqual(refusal([.init(name: "a", dataset: NamedSource("a", 4, classnames: ["x", "y"]), weight: 1),
                                .init(name: "b", dataset: NamedSource("b", 4, classnames: ["y", "x"]), weight: 1)]),
                       "b: class names differ from those of a")
        // Raw at one size, or raw beside encoded: accepted.
        XCTAssertEqual(refusal([.init(name: "a", dataset: NamedSource("a", 4, size: (16, 16)), weight: 1),
                                .init(name: "b", dataset: NamedSource("b", 4), weight: 1)]), "accepted")
    }

    /// Raw HDF5 shards report their stored size, so shards built at other sizes are refused as a mixture.
    func testShardDatasetsReportTheirRawImageSize() throws {
        let dir = try temporaryDirectory(self)
        try writeRawShard(dir + "/a.h5", count: 3, size: 16)
        try writeRawShard(dir + "/b.h5", count: 3, size: 8)
        let a = try ShardDataset(path: dir + "/a.h5"), b = try ShardDataset(path: dir + "/b.h5")
        XCTAssertEqual(a.fixedImageSize.map { [$0.height, $0.width] }, [16, 16])
        XCTAssertNil(try ShardDataset(paths: [dir + "/a.h5", dir + "/b.h5"]).fixedImageSize)
        XCTAssertThrowsError(try MixtureDataset(components: [.init(name: "a", dataset: a, weight: 1), .init(name: "b", dataset: b, weight: 1)], seed: 0)) {
            XCTAssertEqual("\($0)", "b: images are 8×8 but a's are 16×16; build the sources at one image size")
        }
    }
}
