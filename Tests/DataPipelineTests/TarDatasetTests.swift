import DataPipeline
import Foundation
import Tokenization
import TensorCore
import XCTest

/// Training straight from WebDataset tars (`TarDataset`) against tars written by Python's tarfile and
/// Pillow (`Scripts/make-webdataset-training-fixtures.py`) and the shards `make-shards webdataset` builds
/// from the same tars.
final class TarDatasetTests: XCTestCase {
    struct Item: Decodable { var key: String; var caption: String }
    struct Skip: Decodable { var key: String; var reason: String }
    struct Expected: Decodable { var items: [Item]; var skipped: [Skip] }
    let names = (0..<4).map { String(format: "%05d.tar", $0) }

    func expected() throws -> [String: Expected] {
        try JSONDecoder().decode([String: Expected].self,
                                 from: Data(contentsOf: URL(fileURLWithPath: fixturePath("webdataset-train/expected.json"))))
    }

    /// A copy of the fixture tars (`plain` or `gzip`) in a fresh folder.
    func tarFolder(_ kind: String = "plain") throws -> String {
        let dir = try temporaryDirectory(self) + "/" + kind
        try FileManager.default.copyItem(atPath: fixturePath("webdataset-train/" + kind), toPath: dir)
        return dir
    }

    func open(_ entry: String, cache: String? = nil, log: @escaping @Sendable (String) -> Void = { _ in }) throws -> any DatasetSource {
        try TrainingSourceResolver(tarIndexes: TarIndexCache(folder: cache), workers: 2, log: log).open(entry)
    }

    // MARK: - Brace patterns

    func testBracePatternsExpandAsBraceexpand() throws {
        struct Case: Decodable { var pattern: String; var expanded: [String]?; var error: Bool? }
        struct Fixture: Decodable { var cases: [Case] }
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: fixturePath("brace-expansion.json"))))
        XCTAssertGreaterThan(fixture.cases.count, 20)
        for c in fixture.cases {
            if let expanded = c.expanded {
                XCTAssertEqual(try BraceExpansion.expand(c.pattern), expanded, c.pattern)
            } else {
                XCTAssertThrowsError(try BraceExpansion.expand(c.pattern), c.pattern)
            }
        }
    }

    // MARK: - Items, skips, gzip

    func testTarsGiveTheItemsAndImagesOfTheShardsMakeShardsBuilds() throws {
        let folder = try tarFolder()
        let shards = try temporaryDirectory(self) + "/shards"
        try buildShards(from: try WebDatasetShardBuilder(paths: [folder]), output: shards)
        let fromShards = try ShardDataset(path: shards)
        let expected = try expected()
        for entry in [folder, folder + "/{00000..00003}.tar", try tarFolder("gzip") + "/{00000..00003}.tar.gz"] {
            let tars = try XCTUnwrap(try open(entry) as? TarDataset, entry)
            XCTAssertEqual(tars.count, 30, entry)
            XCTAssertEqual(tars.count, fromShards.count, entry)
            XCTAssertEqual((0..<tars.count).map { try! tars.caption(at: $0) }, names.flatMap { expected[$0]!.items.map(\.caption) }, entry)
            XCTAssertEqual(tars.indexes.flatMap { $0.items.map(\.key) }, names.flatMap { expected[$0]!.items.map(\.key) }, entry)
            for i in 0..<tars.count {
                XCTAssertEqual(try tars.image(at: i), try fromShards.image(at: i), "\(entry) item \(i)")
                XCTAssertEqual(try tars.caption(at: i), try fromShards.caption(at: i), "\(entry) item \(i)")
            }
            // Skips counted by reason, as the fixture script lists them.
            XCTAssertEqual(tars.skipped.items.map { String($0.source.split(separator: ":").last!) },
                           names.flatMap { expected[$0]!.skipped.map(\.key) }, entry)
            XCTAssertEqual(tars.skipped.items.map(\.reason), names.flatMap { expected[$0]!.skipped.map(\.reason) }, entry)
        }
    }

    func testGzipAccessPointsReadEveryRangeAsThePlainTarHoldsIt() throws {
        for name in names {
            let plain = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixturePath("webdataset-train/plain/" + name))))
            let packed = fixturePath("webdataset-train/gzip/" + name + ".gz")
            let (points, size, damage) = try Gzip.accessPoints(path: packed, spacing: 2048)
            XCTAssertNil(damage)
            XCTAssertEqual(size, plain.count)
            if name == "00002.tar" { XCTAssertEqual(points.filter { $0.window == nil }.count, 2, "two gzip members") }
            for start in stride(from: 0, to: plain.count, by: 1531) {
                for count in [1, 700, 5000] where start + count <= plain.count {
                    XCTAssertEqual(try Gzip.read(path: packed, points: points, at: start, count: count), Array(plain[start ..< start + count]),
                                   "\(name) bytes \(start) + \(count)")
                }
            }
            XCTAssertThrowsError(try Gzip.read(path: packed, points: points, at: plain.count - 10, count: 11))
            // The index with access points every 1 KiB reads each item's image as the plain tar's index does.
            let index = try TarIndex.build(TarFileIdentity.current(packed)!, gzipSpacing: 1024)
            let plainIndex = try TarIndex.build(TarFileIdentity.current(fixturePath("webdataset-train/plain/" + name))!)
            XCTAssertEqual(index.items, plainIndex.items)
            for item in index.items { XCTAssertEqual(try index.read(item.image), Array(plain[item.image])) }
        }
    }

    func testGzipAccessPointsAtDeflateBlockBoundariesReadAsWholeInflation() throws {
        let packed = fixturePath("webdataset-train/blocks.tar.gz")
        let plain = [UInt8](try Gzip.decompress(try Data(contentsOf: URL(fileURLWithPath: packed))))
        let (points, size, damage) = try Gzip.accessPoints(path: packed, spacing: 4096)
        XCTAssertNil(damage)
        XCTAssertEqual(size, plain.count)
        XCTAssertGreaterThan(points.filter { $0.window != nil }.count, 3, "block access points")
        XCTAssertTrue(points.contains { $0.bits != 0 }, "a block starting inside a byte")
        for start in stride(from: 0, to: plain.count, by: 977) {
            for count in [1, 3000, 20000] where start + count <= plain.count {
                XCTAssertEqual(try Gzip.read(path: packed, points: points, at: start, count: count), Array(plain[start ..< start + count]),
                               "bytes \(start) + \(count)")
            }
        }
        let index = try TarIndex.build(TarFileIdentity.current(packed)!, gzipSpacing: 4096)
        XCTAssertEqual(index.count, 20)
        XCTAssertEqual(index.accessPoints, points)
        for item in index.items { XCTAssertEqual(try index.read(item.image), Array(plain[item.image])) }
        // Damaged compressed data after some access points: the points before it stay and read.
        let cut = try temporaryDirectory(self) + "/cut.tar.gz"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: packed))
        try bytes.prefix(bytes.count * 2 / 3).write(to: URL(fileURLWithPath: cut))
        let partial = try Gzip.accessPoints(path: cut, spacing: 4096)
        XCTAssertNotNil(partial.damage)
        XCTAssertGreaterThan(partial.points.count, 1)
        XCTAssertEqual(Array(points.prefix(partial.points.count)), partial.points)
    }

    // MARK: - Paths and errors

    func testAMissingTarInAPatternIsOneLineNamingIt() throws {
        let folder = try tarFolder()
        XCTAssertThrowsError(try open(folder + "/{00000..00004}.tar")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(folder + "/00004.tar: no such tar file"), message)
            XCTAssertTrue(message.contains("{00000..00004}"), message)
            XCTAssertFalse(message.contains("\n"))
        }
        XCTAssertThrowsError(try open(folder + "/{00000..00001")) { XCTAssertTrue("\($0)".contains("unbalanced"), "\($0)") }
        XCTAssertThrowsError(try open(folder + "/missing.tar")) { XCTAssertEqual("\($0)", folder + "/missing.tar: no such tar file or folder") }
        XCTAssertThrowsError(try TrainingSourceResolver(tarIndexes: TarIndexCache(folder: nil)).open([folder, fixturePath("h5py-jpeg.h5")])) {
            XCTAssertTrue("\($0)".contains("holds one kind"), "\($0)")
        }
    }

    func testTheRegistryOpensTarsAndAFolderOfShardsStaysShards() throws {
        let folder = try tarFolder()
        XCTAssertTrue(try DatasetSourceRegistry.open(folder + "/{00000..00001}.tar") is TarDataset)
        XCTAssertTrue(try DatasetSourceRegistry.open(folder) is TarDataset)
        XCTAssertEqual(try DatasetSourceRegistry.open([folder + "/00000.tar", folder + "/00003.tar"]).count, 16)
        // OpenCLIP's `::` between patterns: the tars of each, one after the other.
        let joined = try XCTUnwrap(try DatasetSourceRegistry.open(folder + "/{00002..00003}.tar::" + folder + "/00000.tar") as? TarDataset)
        XCTAssertEqual(joined.tars.map { URL(fileURLWithPath: $0).lastPathComponent }, ["00002.tar", "00003.tar", "00000.tar"])
        XCTAssertThrowsError(try TarPaths.tars(in: folder + "/00000.tar::" + folder + "/{00004..00005}.tar")) {
            XCTAssertTrue("\($0)".hasPrefix(folder + "/00004.tar: no such tar file"), "\($0)")
        }
        let shards = try temporaryDirectory(self) + "/shards"
        try buildShards(from: try WebDatasetShardBuilder(paths: [folder + "/{00000..00001}.tar"]), output: shards)
        XCTAssertTrue(try DatasetSourceRegistry.open(shards) is ShardDataset)
    }

    func testNothingUsableIsOneLineWithTheReasons() throws {
        let dir = try temporaryDirectory(self)
        let tar = dir + "/broken.tar"
        try Data(repeating: 7, count: 2048).write(to: URL(fileURLWithPath: tar))
        XCTAssertThrowsError(try open(tar)) { error in
            XCTAssertTrue("\(error)".contains("no usable items, all 1 samples were skipped: 1 × damaged tar"), "\(error)")
        }
    }

    // MARK: - The index cache

    func testIndexesAreCachedInTheGivenFolderAndRebuiltWhenATarChanges() throws {
        let folder = try tarFolder()
        let cache = try temporaryDirectory(self) + "/run/tar-index"
        let lines = Locked<[String]>([])
        let log: @Sendable (String) -> Void = { line in lines.withLock { $0.append(line) } }
        let before = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        let first = try XCTUnwrap(try open(folder, cache: cache, log: log) as? TarDataset)
        XCTAssertTrue(lines.withLock { $0 }.contains { $0.hasPrefix("data: indexing 4 of 4 tars") }, "\(lines.withLock { $0 })")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasSuffix(".index") }.count, 4)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), before, "nothing written beside the tars")

        lines.withLock { $0 = [] }
        let second = try XCTUnwrap(try open(folder, cache: cache, log: log) as? TarDataset)
        XCTAssertEqual(second.indexes, first.indexes)
        XCTAssertFalse(lines.withLock { $0 }.contains { $0.contains("indexing") }, "cached indexes are used")

        // A changed tar (another modification time) and a damaged index file are indexed again.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_800_000_000)], ofItemAtPath: folder + "/00001.tar")
        let indexFile = try XCTUnwrap(TarIndexCache(folder: cache).file(for: URL(fileURLWithPath: folder + "/00002.tar").standardizedFileURL.path))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: indexFile))
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: indexFile))
        let flippedFile = try XCTUnwrap(TarIndexCache(folder: cache).file(for: URL(fileURLWithPath: folder + "/00003.tar").standardizedFileURL.path))
        var flipped = try Data(contentsOf: URL(fileURLWithPath: flippedFile))
        flipped[flipped.count / 2] ^= 0x10
        try flipped.write(to: URL(fileURLWithPath: flippedFile))
        lines.withLock { $0 = [] }
        let third = try XCTUnwrap(try open(folder, cache: cache, log: log) as? TarDataset)
        XCTAssertTrue(lines.withLock { $0 }.contains { $0.hasPrefix("data: indexing 3 of 4 tars") }, "\(lines.withLock { $0 })")
        XCTAssertEqual(third.indexes.map(\.items), first.indexes.map(\.items))
        XCTAssertNotEqual(third.indexes[1].file, first.indexes[1].file)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: indexFile)), bytes, "the damaged index was rewritten whole")
    }

    // MARK: - Damage

    func testATarDamagedBeforeIndexingKeepsTheSamplesBeforeTheDamageAsMakeShardsDoes() throws {
        let folder = try tarFolder()
        let tar = folder + "/00003.tar"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: tar))
        try bytes.prefix(bytes.count / 2 + 100).write(to: URL(fileURLWithPath: tar))
        let tars = try XCTUnwrap(try open(folder) as? TarDataset)
        let shards = try temporaryDirectory(self) + "/shards"
        let summary = try buildShards(from: try WebDatasetShardBuilder(paths: [folder]), output: shards)
        XCTAssertEqual(tars.count, summary.build.items)
        XCTAssertLessThan(tars.indexes[3].count, 8)
        XCTAssertGreaterThan(tars.indexes[3].count, 0)
        XCTAssertEqual(tars.skipped.items.map(\.reason), summary.build.skipped.items.map(\.reason))
        XCTAssertEqual(tars.skipped.items.last?.reason, "damaged tar, rest of it unread")
        let fromShards = try ShardDataset(path: shards)
        for i in 0..<tars.count { XCTAssertEqual(try tars.image(at: i), try fromShards.image(at: i)) }
    }

    func testATarDamagedMidRunSkipsItsItemsAndTrainingGoesOn() throws {
        for kind in ["plain", "gzip"] {
            let folder = try tarFolder(kind)
            let tars = try XCTUnwrap(try open(folder) as? TarDataset)
            let damaged = tars.tars[1]
            let bytes = try Data(contentsOf: URL(fileURLWithPath: damaged))
            try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: damaged))
            let (first, last) = (tars.offsets[1], tars.offsets[2])
            XCTAssertThrowsError(try tars.image(at: first)) { XCTAssertTrue("\($0)".hasPrefix("tar changed since it was indexed"), "\($0)") }
            XCTAssertNoThrow(try tars.image(at: 0))
            let lines = Locked<[String]>([])
            let loader = try DataLoader(dataset: tars, configuration: DataLoaderConfiguration(batchSize: 4, imageSize: 8, contextLength: 8, shuffle: true, seed: 1),
                                        tokenizer: wordTokenizer(contextLength: 8), log: { line in lines.withLock { $0.append(line) } })
            var seen = Set<Int>()
            for _ in 0..<12 { seen.formUnion(try XCTUnwrap(try loader.next()).indices) }
            XCTAssertTrue(seen.isDisjoint(with: first ..< last), kind)
            XCTAssertEqual(Set(loader.skippedItems.map(\.index)), Set(0 ..< last - first), kind)
            XCTAssertTrue(loader.skippedItems.allSatisfy { $0.shardPath == damaged && $0.reason.hasPrefix("tar changed since it was indexed") }, kind)
            // Every tar gone: one line, no batch.
            for tar in tars.tars { try FileManager.default.removeItem(atPath: tar) }
            let starved = try DataLoader(dataset: tars, configuration: DataLoaderConfiguration(batchSize: 4, imageSize: 8, contextLength: 8, seed: 1),
                                         tokenizer: wordTokenizer(contextLength: 8), log: { _ in })
            XCTAssertThrowsError(try starved.next()) { XCTAssertTrue("\($0)".contains("fewer than 4 usable items"), "\($0)") }
        }
    }

    // MARK: - Order and rank shares

    func testTwoRankSharesOfTarsMakeUpTheSingleLoadersBatches() throws {
        let tars = try open(try tarFolder() + "/{00000..00003}.tar")
        func configuration(_ share: RankShare?) -> DataLoaderConfiguration {
            DataLoaderConfiguration(batchSize: 8, imageSize: 8, contextLength: 8, seed: 5, threads: 2, share: share)
        }
        let single = try DataLoader(dataset: tars, configuration: configuration(nil), tokenizer: wordTokenizer(contextLength: 8))
        let ranks = try (0..<2).map { try DataLoader(dataset: tars, configuration: configuration(RankShare(rank: $0, ranks: 2)), tokenizer: wordTokenizer(contextLength: 8)) }
        for _ in 0..<8 {
            let whole = try XCTUnwrap(try single.next())
            let parts = try ranks.map { try XCTUnwrap(try $0.next()) }
            XCTAssertEqual(parts[0].indices + parts[1].indices, whole.indices)
            XCTAssertEqual(parts[0].images + parts[1].images, whole.images)
        }
    }
}
