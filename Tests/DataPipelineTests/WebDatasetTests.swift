import DataPipeline
import Foundation
import XCTest

/// `make-shards webdataset` on tars written by Python's tarfile (`Scripts/make-webdataset-fixtures.py`).
final class WebDatasetTests: XCTestCase {
    struct Item: Decodable { var key: String; var caption: String; var image: String }
    struct Skip: Decodable { var key: String; var reason: String }
    struct Expected: Decodable { var items: [Item]; var skipped: [Skip] }

    private let tars = ["a-gnu.tar", "b-pax.tar", "c-ustar.tar"]

    private func expected() throws -> [String: Expected] {
        try JSONDecoder().decode([String: Expected].self,
                                 from: Data(contentsOf: URL(fileURLWithPath: fixturePath("webdataset/expected.json"))))
    }

    /// A copy of the fixture tars in a fresh folder (tests change them).
    private func tarFolder() throws -> String {
        let dir = try temporaryDirectory(self) + "/tars"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for tar in tars { try FileManager.default.copyItem(atPath: fixturePath("webdataset/" + tar), toPath: dir + "/" + tar) }
        return dir
    }

    func testSplitsNamesIntoKeysAndExtensionsAsWebDataset() {
        XCTAssertTrue(WebDatasetSamples.split("dir.v2/000123.seg.PNG")! == ("dir.v2/000123", "seg.png"))
        XCTAssertTrue(WebDatasetSamples.split("000123.txt")! == ("000123", "txt"))
        XCTAssertNil(WebDatasetSamples.split("dir/README"))
        XCTAssertNil(WebDatasetSamples.split("dir/._000123.jpg"))
    }

    func testConvertsEachTarToAShardWithKeysCaptionsAndImageBytes() throws {
        let folder = try tarFolder()
        let output = try temporaryDirectory(self) + "/out"
        var source = try WebDatasetShardBuilder(paths: [folder])
        XCTAssertEqual(source.tars.map { URL(fileURLWithPath: $0).lastPathComponent }, tars)
        source.workers = 2
        let summary = try buildShards(from: source, output: output)
        let expected = try expected()
        XCTAssertEqual(summary.build.shards, ["a-gnu.h5", "b-pax.h5", "c-ustar.h5"])
        XCTAssertEqual(summary.build.items, expected.values.map(\.items.count).reduce(0, +))
        XCTAssertEqual(summary.build.items, 7)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: output).sorted(), summary.build.shards)
        for tar in tars {
            let want = expected[tar]!
            let reader = try ShardReader(path: output + "/" + WebDatasetShardBuilder.shardName(for: tar))
            XCTAssertEqual(try reader.keys(), want.items.map(\.key), tar)
            XCTAssertEqual(try reader.captions(), want.items.map(\.caption), tar)
            guard reader.count == want.items.count else { continue }
            for (i, item) in want.items.enumerated() {
                XCTAssertEqual(try reader.image(at: i), .jpeg(Array(Data(base64Encoded: item.image)!)), "\(tar) \(item.key)")
                XCTAssertNoThrow(try reader.image(at: i).decoded())
            }
        }
        // Skips: one entry per skipped sample, named TAR:KEY, with the documented reasons, in tar order.
        let skips = tars.flatMap { tar in expected[tar]!.skipped.map { ("\(folder)/\(tar):\($0.key)", $0.reason) } }
        XCTAssertEqual(summary.build.skipped.items.map(\.source), skips.map(\.0))
        for (got, want) in zip(summary.build.skipped.items.map(\.why.description), skips.map(\.1)) {
            XCTAssertTrue(got.hasPrefix(want), "\(got) does not start with \(want)")
        }
        XCTAssertTrue(summary.description.contains("skipped 4 items"), summary.description)

        // The loader reads the shards: PNG and JPEG alike.
        let loader = try DataLoader(
            dataset: try ShardDataset(path: output),
            configuration: DataLoaderConfiguration(batchSize: 7, imageSize: 4, contextLength: 8, mode: .eval),
            tokenizer: wordTokenizer(contextLength: 8), log: { _ in })
        XCTAssertEqual(try loader.next()?.size, 7)
        XCTAssertEqual(loader.skippedCount, 0)
    }

    func testRawStorageResizesEveryImage() throws {
        let output = try temporaryDirectory(self) + "/out"
        var source = try WebDatasetShardBuilder(paths: [try tarFolder()])
        source.format = .raw(size: 4)
        let summary = try buildShards(from: source, output: output)
        XCTAssertEqual(summary.build.items, 7)
        let dataset = try ShardDataset(path: output)
        XCTAssertEqual(dataset.shards.map(\.storage), Array(repeating: .raw(height: 4, width: 4), count: 3))
        XCTAssertEqual(try dataset.shards[1].keys(), ["000000006", "ünïcode/000000007", "000000008"])
    }

    func testDamagedTarKeepsTheSamplesBeforeTheDamage() throws {
        let folder = try tarFolder()
        let gnu = try Data(contentsOf: URL(fileURLWithPath: folder + "/a-gnu.tar"))
        try gnu.prefix(8704 + 30).write(to: URL(fileURLWithPath: folder + "/a-gnu.tar"))  // inside 000000003.jpg
        let output = try temporaryDirectory(self) + "/out"
        let summary = try buildShards(from: try WebDatasetShardBuilder(paths: [folder + "/a-gnu.tar"]), output: output)
        XCTAssertEqual(try ShardReader(path: output + "/a-gnu.h5").keys(), ["000000000", "000000001"])
        XCTAssertEqual(summary.build.skipped.items.map(\.source), [folder + "/a-gnu.tar:000000002", folder + "/a-gnu.tar at byte 8704"])
        XCTAssertEqual(summary.build.skipped.items[1].why.description,
                       "damaged tar, rest of it unread: truncated tar: member 000000003.jpg needs 60 bytes, the file ends at byte 8734")
    }

    /// `.tar.gz` and `.tgz` tars (in a folder or named) convert to the shards their plain tars give
    /// (issue 25.5: they were "not a tar file").
    func testGzipCompressedTarsConvertLikeTheirPlainTars() throws {
        let packed = try temporaryDirectory(self) + "/packed"
        try FileManager.default.createDirectory(atPath: packed, withIntermediateDirectories: true)
        for name in ["a-gnu.tar.gz", "b-pax.tgz"] {
            try FileManager.default.copyItem(atPath: fixturePath("webdataset-more/" + name), toPath: packed + "/" + name)
        }
        XCTAssertEqual(WebDatasetShardBuilder.shardName(for: "x/00042.tar.gz"), "00042.h5")
        XCTAssertEqual(WebDatasetShardBuilder.shardName(for: "00042.tgz"), "00042.h5")
        let source = try WebDatasetShardBuilder(paths: [packed])
        XCTAssertEqual(source.tars, [packed + "/a-gnu.tar.gz", packed + "/b-pax.tgz"])
        let output = try temporaryDirectory(self) + "/out"
        let summary = try buildShards(from: source, output: output)
        XCTAssertEqual(summary.build.shards, ["a-gnu.h5", "b-pax.h5"])
        let plainOutput = try temporaryDirectory(self) + "/plain"
        let folder = try tarFolder()
        let plain = try buildShards(from: try WebDatasetShardBuilder(paths: [folder + "/a-gnu.tar", folder + "/b-pax.tar"]), output: plainOutput)
        XCTAssertEqual(summary.build.items, plain.build.items)
        XCTAssertEqual(summary.build.skipped.items.map(\.reason), plain.build.skipped.items.map(\.reason))
        for shard in summary.build.shards {
            let (a, b) = (try ShardReader(path: output + "/" + shard), try ShardReader(path: plainOutput + "/" + shard))
            XCTAssertEqual(try a.keys(), try b.keys(), shard)
            XCTAssertEqual(try a.captions(), try b.captions(), shard)
            for i in 0..<a.count { XCTAssertEqual(try a.image(at: i), try b.image(at: i), "\(shard) \(i)") }
        }
        // Both spellings of one tar would write one shard: refused as for two plain tars.
        try FileManager.default.copyItem(atPath: folder + "/b-pax.tar", toPath: packed + "/b-pax.tar")
        XCTAssertThrowsError(try WebDatasetShardBuilder(paths: [packed])) { error in
            XCTAssertTrue("\(error)".contains("both would write b-pax.h5"), "\(error)")
        }
    }

    /// A caption that holds a NUL byte or is not valid UTF-8 skips its sample, counted by reason
    /// (issue 25.4: "line2\0nul" was stored as "line2", invalid bytes as U+FFFD).
    func testCaptionsWithANULByteOrInvalidUTF8AreSkipped() throws {
        struct Captions: Decodable { var items: [Item]?; var skipped: [Skip]? }
        struct Item: Decodable { var key: String; var caption: String }
        let listing = try JSONDecoder().decode([String: Captions].self,
                                               from: Data(contentsOf: URL(fileURLWithPath: fixturePath("webdataset-more/expected.json"))))
        let expected = (items: try XCTUnwrap(listing["captions.tar"]?.items), skipped: try XCTUnwrap(listing["captions.tar"]?.skipped))
        let tar = fixturePath("webdataset-more/captions.tar")
        let output = try temporaryDirectory(self) + "/out"
        let summary = try buildShards(from: WebDatasetShardBuilder(tars: [tar]), output: output)
        let reader = try ShardReader(path: output + "/captions.h5")
        XCTAssertEqual(try reader.keys(), expected.items.map(\.key))
        XCTAssertEqual(try reader.captions(), expected.items.map(\.caption))
        XCTAssertEqual(summary.build.skipped.items.map(\.source), expected.skipped.map { "\(tar):\($0.key)" })
        XCTAssertEqual(summary.build.skipped.items.map(\.reason), expected.skipped.map(\.reason))
        XCTAssertTrue(summary.description.contains("2 × caption not valid UTF-8"), summary.description)
        XCTAssertTrue(summary.description.contains("1 × caption holds a NUL byte"), summary.description)
    }

    func testRerunResumesAndOverwriteConvertsAgain() throws {
        let folder = try tarFolder()
        let output = try temporaryDirectory(self) + "/out"
        let source = try WebDatasetShardBuilder(paths: [folder])
        try buildShards(from: source, output: output)
        // A tar replaced by garbage is not read again on a rerun: its shard is kept.
        try Data(repeating: 0x41, count: 2048).write(to: URL(fileURLWithPath: folder + "/b-pax.tar"))
        try FileManager.default.removeItem(atPath: output + "/c-ustar.h5")
        let rerun = try buildShards(from: source, output: output)
        XCTAssertEqual(rerun.kept, ["a-gnu.h5", "b-pax.h5"])
        XCTAssertEqual(rerun.build.shards, ["c-ustar.h5"])
        XCTAssertEqual(rerun.build.items, 1)
        XCTAssertTrue(rerun.description.contains("kept 2 shards converted by an earlier run"), rerun.description)
        // --overwrite reads every tar again: the garbage one is reported and its old shard removed.
        let again = try buildShards(from: source, output: output, overwrite: true)
        XCTAssertEqual(again.build.shards, ["a-gnu.h5", "c-ustar.h5"])
        XCTAssertEqual(again.build.skipped.items.last?.source, folder + "/b-pax.tar at byte 0")
        XCTAssertEqual(again.build.skipped.items.last?.why.description, "damaged tar, rest of it unread: not a tar file (bad header checksum)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: output).sorted(), ["a-gnu.h5", "c-ustar.h5"])
    }

    func testBadArgumentsAreOneLineErrors() throws {
        let folder = try tarFolder()
        let output = try temporaryDirectory(self) + "/out"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try writeRawShard(output + "/shard-00000.h5", count: 1)
        XCTAssertThrowsError(try buildShards(from: try WebDatasetShardBuilder(paths: [folder]), output: output)) { error in
            XCTAssertEqual("\(error)", "\(output): holds 1 .h5 file(s) that none of the given tars writes (shard-00000.h5, …); use another folder or --overwrite to replace them")
        }
        try buildShards(from: try WebDatasetShardBuilder(paths: [folder]), output: output, overwrite: true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output + "/shard-00000.h5"))

        let other = try temporaryDirectory(self)
        try FileManager.default.copyItem(atPath: folder + "/c-ustar.tar", toPath: other + "/c-ustar.tar")
        XCTAssertThrowsError(try WebDatasetShardBuilder(paths: [folder, other + "/c-ustar.tar"])) { error in
            XCTAssertEqual("\(error)", "\(other)/c-ustar.tar: has the same name as \(folder)/c-ustar.tar; both would write c-ustar.h5")
        }
        XCTAssertThrowsError(try WebDatasetShardBuilder(paths: [other + "/missing"])) { error in
            XCTAssertEqual("\(error)", "\(other)/missing: no such tar file or folder")
        }
        // Every sample skipped: an error, and no output folder left behind.
        let empty = try temporaryDirectory(self) + "/empty"
        try Data(repeating: 0, count: 1024).write(to: URL(fileURLWithPath: other + "/c-ustar.tar"))
        XCTAssertThrowsError(try buildShards(from: try WebDatasetShardBuilder(paths: [other]), output: empty)) { error in
            XCTAssertEqual("\(error)", "\(empty): no items to write (the tars hold no samples)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: empty))
    }
}
