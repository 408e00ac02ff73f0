import DataPipeline
import Foundation
import XCTest

/// `make-shards csv --group-by-image` and `make-shards karpathy`: several captions per image, and
/// one-line errors with nothing written for bad Karpathy inputs.
final class MultiCaptionBuildTests: XCTestCase {
    private func writeJPEG(_ path: String, seed: UInt64) throws -> [UInt8] {
        let bytes = try JPEG.encode(syntheticImage(height: 12, width: 12, seed: seed), quality: 90)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return bytes
    }

    private func error(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "" } catch { return "\(error)" }
    }

    func testCSVGroupsRowsOfOneImage() throws {
        let dir = try temporaryDirectory(self)
        let a = try writeJPEG(dir + "/a.jpg", seed: 1), b = try writeJPEG(dir + "/b.jpg", seed: 2)
        let rows = ["filepath,title", "a.jpg,a one", "b.jpg,b one", "./a.jpg,a two", "missing.jpg,gone", "a.jpg,  ", "a.jpg,a three"]
        try rows.joined(separator: "\n").write(toFile: dir + "/data.csv", atomically: true, encoding: .utf8)
        var source = CSVSource(path: dir + "/data.csv")
        source.groupByImage = true
        let summary = try buildShards(from: source, output: dir + "/grouped", shardSize: 10)
        XCTAssertEqual(summary.items, 2)
        XCTAssertEqual(summary.skipped.items.map(\.reason), ["missing file", "empty caption"])
        let grouped = try ShardReader(path: dir + "/grouped/shard-00000.h5")
        XCTAssertEqual(grouped.version, 2)
        XCTAssertEqual(try grouped.item(at: 0), ShardItem(image: .jpeg(a), captions: ["a one", "a two", "a three"]))
        XCTAssertEqual(try grouped.item(at: 1), ShardItem(image: .jpeg(b), captions: ["b one"]))

        // Without the flag: one item per usable row, as before (version 1).
        let plain = try buildShards(from: CSVSource(path: dir + "/data.csv"), output: dir + "/plain", shardSize: 10)
        XCTAssertEqual(plain.items, 4)
        let reader = try ShardReader(path: dir + "/plain/shard-00000.h5")
        XCTAssertEqual(reader.version, 1)
        XCTAssertEqual(try reader.captions(), ["a one", "b one", "a two", "a three"])
    }

    /// COCO-style entries (filepath + filename) and Flickr30k-style ones (filename only); one split.
    func karpathyJSON(_ dir: String) throws -> (json: String, bytes: [String: [UInt8]]) {
        try FileManager.default.createDirectory(atPath: dir + "/images/val2014", withIntermediateDirectories: true)
        var bytes: [String: [UInt8]] = [:]
        bytes["val2014/c1.jpg"] = try writeJPEG(dir + "/images/val2014/c1.jpg", seed: 3)
        bytes["f1.jpg"] = try writeJPEG(dir + "/images/f1.jpg", seed: 4)
        bytes["val2014/c2.jpg"] = try writeJPEG(dir + "/images/val2014/c2.jpg", seed: 5)
        let json = """
        {"images": [
          {"filepath": "val2014", "filename": "c1.jpg", "split": "test", "imgid": 0,
           "sentences": [{"raw": "A man on a moped. ", "tokens": ["a"]}, {"raw": "a moped"}, {"raw": "  "}]},
          {"filepath": "train2014", "filename": "t1.jpg", "split": "train", "sentences": [{"raw": "not in test"}]},
          {"filename": "f1.jpg", "split": "test", "sentences": [{"raw": "Two dogs ❄"}, {"raw": "dogs in snow"}, {"raw": "snow"}]},
          {"filepath": "val2014", "filename": "c2.jpg", "split": "val", "sentences": [{"raw": "validation"}]}
        ], "dataset": "coco"}
        """
        try json.write(toFile: dir + "/dataset.json", atomically: true, encoding: .utf8)
        return (dir + "/dataset.json", bytes)
    }

    func testKarpathySplitBecomesMultiCaptionShards() throws {
        let dir = try temporaryDirectory(self)
        let (json, bytes) = try karpathyJSON(dir)
        let summary = try buildShards(from: KarpathySource(json: json, images: dir + "/images", splits: ["test"]),
                                      output: dir + "/test", shardSize: 10)
        XCTAssertEqual(summary.items, 2)
        let data = try ShardDataset(path: dir + "/test")
        XCTAssertEqual(try data.item(at: 0), ShardItem(image: .jpeg(bytes["val2014/c1.jpg"]!), captions: ["A man on a moped.", "a moped"],
                                                      key: "val2014/c1.jpg"))
        XCTAssertEqual(try data.item(at: 1), ShardItem(image: .jpeg(bytes["f1.jpg"]!), captions: ["Two dogs ❄", "dogs in snow", "snow"],
                                                      key: "f1.jpg"))
        // Raw storage at a chosen size, and a COCO image found flat in the folder.
        try FileManager.default.moveItem(atPath: dir + "/images/val2014/c2.jpg", toPath: dir + "/images/c2.jpg")
        var source = KarpathySource(json: json, images: dir + "/images", splits: ["val"])
        source.format = .raw(size: 8)
        _ = try buildShards(from: source, output: dir + "/val", shardSize: 10)
        let val = try ShardReader(path: dir + "/val/shard-00000.h5")
        XCTAssertEqual(val.storage, .raw(height: 8, width: 8))
        XCTAssertEqual(try val.captions(of: 0), ["validation"])
    }

    func testBadKarpathyInputsWriteNothing() throws {
        let dir = try temporaryDirectory(self)
        let (json, _) = try karpathyJSON(dir)
        let output = dir + "/out"
        func build(_ json: String, _ splits: Set<String> = ["test"], images: String? = nil) -> String {
            error { try buildShards(from: KarpathySource(json: json, images: images ?? dir + "/images", splits: splits),
                                    output: output, shardSize: 1) }
        }
        func assertNothingWritten(_ message: String, line: UInt = #line) {
            XCTAssertFalse(message.isEmpty, line: line)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", line: line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: output), "\(message): output left behind", line: line)
        }
        // Images missing (the train split's file is absent; a wrong --images folder).
        var message = build(json, ["train"])
        XCTAssertEqual(message, "\(json): 1 of the 1 images of split train are missing under \(dir)/images (first: \(dir)/images/train2014/t1.jpg); --images must be the folder holding train2014/t1.jpg")
        assertNothingWritten(message)
        message = build(json, images: dir)
        XCTAssertTrue(message.hasPrefix("\(json): 2 of the 2 images of split test are missing"), message)
        assertNothingWritten(message)
        // Malformed JSON, another layout, no such file, an empty split.
        let bad = dir + "/bad.json"
        try "{\"images\": [".write(toFile: bad, atomically: true, encoding: .utf8)
        message = build(bad)
        XCTAssertTrue(message.hasPrefix("\(bad): not valid JSON"), message)
        assertNothingWritten(message)
        try "[1, 2]".write(toFile: bad, atomically: true, encoding: .utf8)
        XCTAssertEqual(build(bad), "\(bad): not a Karpathy-split JSON: no \"images\" list at the top level")
        try "{\"images\": [{\"filename\": \"x.jpg\", \"split\": \"test\"}]}".write(toFile: bad, atomically: true, encoding: .utf8)
        XCTAssertEqual(build(bad), "\(bad): images[0] has no \"sentences\"")
        try "{\"images\": [{\"filename\": \"x.jpg\", \"split\": \"test\", \"sentences\": [{\"raw\": 7}]}]}".write(toFile: bad, atomically: true, encoding: .utf8)
        XCTAssertEqual(build(bad), "\(bad): images[0].sentences[0].raw is not a string")
        try "{\"images\": {\"split\": \"test\"}}".write(toFile: bad, atomically: true, encoding: .utf8)
        XCTAssertEqual(build(bad), "\(bad): not a Karpathy-split JSON: no \"images\" list at the top level")
        XCTAssertEqual(build(dir + "/nope.json"), "no such file: \(dir)/nope.json")
        message = build(json, ["restval"])
        XCTAssertEqual(message, "\(json): no image in split restval (splits in the file: test, train, val)")
        assertNothingWritten(message)
        // An image that does not decode, after others were written: nothing is left.
        try "not a jpeg".write(toFile: dir + "/images/f1.jpg", atomically: true, encoding: .utf8)
        message = build(json)
        XCTAssertTrue(message.hasPrefix("\(dir)/images/f1.jpg: not a JPEG or PNG image"), message)
        XCTAssertTrue(message.contains(json), message)
        assertNothingWritten(message)
    }
}
