import DataPipeline
import Foundation
import XCTest

final class ShardTests: XCTestCase {
    func testRawShardRoundTrip() throws {
        let dir = try temporaryDirectory(self)
        let path = dir + "/shard-00000.h5"
        let items = try writeRawShard(path, count: 5, size: 8, longCaptions: true)
        let reader = try ShardReader(path: path)
        XCTAssertEqual(reader.count, 5)
        XCTAssertEqual(reader.storage, .raw(height: 8, width: 8))
        XCTAssertEqual(reader.classnames, ["a", "b", "c"])
        XCTAssertTrue(reader.hasLongCaptions)
        for i in 0..<5 { XCTAssertEqual(try reader.item(at: i), items[i]) }
        XCTAssertEqual(try reader.captions(), items.map(\.caption))
        guard case let .raw(image) = items[2].image, case let .raw(image3) = items[3].image else { return XCTFail() }
        XCTAssertEqual(try reader.rawImages(rows: 2..<4), image.pixels + image3.pixels)
        // Nothing but the shard is left in the folder.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["shard-00000.h5"])
    }

    func testJPEGShardRoundTripKeepsBytes() throws {
        let path = try temporaryDirectory(self) + "/s.h5"
        let items = try writeJPEGShard(path, count: 4)
        let reader = try ShardReader(path: path)
        XCTAssertEqual(reader.storage, .jpeg)
        XCTAssertNil(reader.labels)
        XCTAssertNil(reader.classnames)
        for i in 0..<4 { XCTAssertEqual(try reader.item(at: i), items[i]) }
    }

    func testUnicodeCaptions() throws {
        let path = try temporaryDirectory(self) + "/u.h5"
        let writer = ShardWriter(path: path)
        let captions = ["café ☕️", "", "日本語のキャプション", "line\nbreak"]
        for c in captions { try writer.append(ShardItem(image: .jpeg([1, 2, 3]), caption: c)) }
        try writer.finish()
        XCTAssertEqual(try ShardReader(path: path).captions(), captions)
    }

    /// HDF5 strings end at NUL: a caption, long caption or key holding one is refused, naming the item,
    /// never stored cut ("line2\0nul" as "line2"; issue 25.4). So is the same string written directly.
    func testStringsWithANULByteAreRefusedNotCut() throws {
        let dir = try temporaryDirectory(self)
        let items = [ShardItem(image: .jpeg([1]), caption: "line2\0nul"),
                     ShardItem(image: .jpeg([1]), caption: "ok", longCaption: "long\0"),
                     ShardItem(image: .jpeg([1]), caption: "ok", key: "\0key")]
        for (n, (item, field)) in zip(items, ["caption", "long caption", "key"]).enumerated() {
            let writer = ShardWriter(path: dir + "/n\(n).h5")
            try writer.append(ShardItem(image: .jpeg([1]), caption: "first", longCaption: item.longCaption.map { _ in "" },
                                        key: item.key.map { _ in "k" }))
            XCTAssertThrowsError(try writer.append(item)) { error in
                XCTAssertTrue("\(error)".hasSuffix("n\(n).h5: item 1: the \(field) holds a NUL byte (HDF5 strings end at NUL)"), "\(error)")
            }
            XCTAssertEqual(writer.count, 1)
        }
        let file = try HDF5File(path: dir + "/direct.h5", mode: .create)
        XCTAssertThrowsError(try file.writeStrings("captions", values: ["fine", "line2\0nul"])) { error in
            XCTAssertTrue("\(error)".contains("captions: value 1 holds a NUL byte"), "\(error)")
        }
        try file.close()
    }

    /// A full disk is reported whole, with its cause (issue 25.5: HDF5's message was cut at 255 bytes,
    /// "…total wri)"). `/dev/full` fails every write with ENOSPC; a long link name to it makes HDF5's
    /// message longer than the old limit.
    func testAFullDiskIsReportedWithItsCause() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: "/dev/full"), "no /dev/full")
        let link = try temporaryDirectory(self) + "/" + String(repeating: "a-long-name-", count: 16) + ".h5"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/dev/full")
        var message = ""
        do {
            let file = try HDF5File(path: link, mode: .create)
            try file.write("images", shape: [64, 64], values: [UInt8](repeating: 7, count: 64 * 64))
            try file.close()
            XCTFail("writing to /dev/full succeeded")
        } catch {
            message = "\(error)"
        }
        XCTAssertTrue(message.hasPrefix(link + ": "), message)
        XCTAssertTrue(message.contains(String(cString: strerror(ENOSPC))), message)   // "No space left on device"
        XCTAssertFalse(message.contains("\n"), message)
    }

    func testWriterRejectsMixedItems() throws {
        let path = try temporaryDirectory(self) + "/m.h5"
        let writer = ShardWriter(path: path)
        try writer.append(ShardItem(image: .raw(RGBImage(height: 2, width: 2)), caption: "x", label: 1))
        XCTAssertThrowsError(try writer.append(ShardItem(image: .raw(RGBImage(height: 3, width: 2)), caption: "y", label: 1)))
        XCTAssertThrowsError(try writer.append(ShardItem(image: .jpeg([1]), caption: "y", label: 1)))
        XCTAssertThrowsError(try writer.append(ShardItem(image: .raw(RGBImage(height: 2, width: 2)), caption: "y")))
    }

    func testDatasetAddressing() throws {
        let dir = try temporaryDirectory(self)
        try writeRawShard(dir + "/shard-00001.h5", count: 3, seed: 1)
        try writeRawShard(dir + "/shard-00000.h5", count: 4, seed: 0)
        try writeRawShard(dir + "/shard-00002.h5", count: 2, seed: 2)
        let dataset = try ShardDataset(path: dir)
        XCTAssertEqual(dataset.count, 9)
        XCTAssertEqual(dataset.shards.map { URL(fileURLWithPath: $0.path).lastPathComponent },
                       ["shard-00000.h5", "shard-00001.h5", "shard-00002.h5"])
        XCTAssertTrue(dataset.locate(0) == (0, 0))
        XCTAssertTrue(dataset.locate(3) == (0, 3))
        XCTAssertTrue(dataset.locate(4) == (1, 0))
        XCTAssertTrue(dataset.locate(8) == (2, 1))
        XCTAssertEqual(try dataset.item(at: 5).caption, "item 1 of shard 1")
        XCTAssertEqual(dataset.classnames, ["a", "b", "c"])
        XCTAssertTrue(dataset.hasLabels)
        let listed = try ShardDataset(paths: [dir + "/shard-00002.h5", dir + "/shard-00000.h5"])
        XCTAssertEqual(listed.count, 6)
        XCTAssertEqual(try listed.item(at: 0).caption, "item 0 of shard 2")
    }

    // MARK: - Documented one-line errors

    private func shardError(_ path: String) -> ShardError? {
        do {
            _ = try ShardReader(path: path)
            return nil
        } catch {
            return error as? ShardError
        }
    }

    func testMissingFile() throws {
        let path = try temporaryDirectory(self) + "/nope.h5"
        let error = try XCTUnwrap(shardError(path))
        XCTAssertEqual(error.kind, .missingFile)
        XCTAssertEqual(error.description, "no such file: \(path)")
        XCTAssertThrowsError(try ShardDataset(path: path))
    }

    func testNotHDF5() throws {
        let path = try temporaryDirectory(self) + "/text.h5"
        try "hello".write(toFile: path, atomically: true, encoding: .utf8)
        let error = try XCTUnwrap(shardError(path))
        XCTAssertEqual(error.kind, .notHDF5)
        XCTAssertEqual(error.description, "\(path): not an HDF5 file")
    }

    func testTruncatedShard() throws {
        let dir = try temporaryDirectory(self)
        let path = dir + "/t.h5"
        try writeRawShard(path, count: 20, size: 16)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        let error = try XCTUnwrap(shardError(path))
        XCTAssertEqual(error.kind, .corrupt)
        XCTAssertTrue(error.description.hasPrefix("\(path): truncated or corrupt HDF5 file"), error.description)
        XCTAssertFalse(error.description.contains("\n"))
    }

    func testWrongVersionAndFormat() throws {
        let dir = try temporaryDirectory(self)
        let path = dir + "/v.h5"
        try writeRawShard(path, count: 2, size: 4)
        do {
            let file = try HDF5File(path: path, mode: .readOnly)
            XCTAssertEqual(try file.integerAttribute("version"), 1)
        }
        // A version from the future.
        let v3 = dir + "/v3.h5"
        do {
            let file = try HDF5File(path: v3, mode: .create)
            try file.setAttribute("format", string: "swiftclip-shard")
            try file.setAttribute("version", integer: 3)
            try file.writeStrings("/captions", values: ["x"])
        }
        let error = try XCTUnwrap(shardError(v3))
        XCTAssertEqual(error.kind, .wrongVersion)
        XCTAssertEqual(error.description, "\(v3): unsupported shard version 3 (this build reads versions 1–2)")

        let other = dir + "/other.h5"
        do {
            let file = try HDF5File(path: other, mode: .create)
            try file.setAttribute("format", string: "something-else")
        }
        let formatError = try XCTUnwrap(shardError(other))
        XCTAssertEqual(formatError.kind, .wrongFormat)
        XCTAssertEqual(formatError.description,
                       "\(other): not a SwiftCLIP shard (format attribute is \"something-else\", expected \"swiftclip-shard\")")
    }

    func testInconsistentLengths() throws {
        let path = try temporaryDirectory(self) + "/l.h5"
        do {
            let file = try HDF5File(path: path, mode: .create)
            try file.setAttribute("format", string: "swiftclip-shard")
            try file.setAttribute("version", integer: 1)
            try file.write("/images", shape: [3, 2, 2, 3], values: [UInt8](repeating: 7, count: 36))
            try file.writeStrings("/captions", values: ["a", "b"])
        }
        let error = try XCTUnwrap(shardError(path))
        XCTAssertEqual(error.kind, .inconsistentLengths)
        XCTAssertEqual(error.description, "\(path): inconsistent lengths: /images has 3 items, /captions has 2")
    }

    func testMissingCaptionsOpensButItemsThrow() throws {
        let path = try temporaryDirectory(self) + "/nc.h5"
        do {
            let file = try HDF5File(path: path, mode: .create)
            try file.setAttribute("format", string: "swiftclip-shard")
            try file.setAttribute("version", integer: 1)
            try file.write("/images", shape: [2, 2, 2, 3], values: [UInt8](repeating: 7, count: 24))
        }
        let reader = try ShardReader(path: path)
        XCTAssertEqual(reader.count, 2)
        XCTAssertThrowsError(try reader.caption(at: 0)) { error in
            XCTAssertEqual((error as? ShardError)?.kind, .missingDataset)
        }
    }
}
