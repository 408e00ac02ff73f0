import DataPipeline
import Foundation
import XCTest

/// Shard format version 2 (several captions per item): written by `ShardWriter` and by h5py
/// (Scripts/make-multicaption-shard-fixture.py), read next to version-1 shards, refused when
/// inconsistent, and sampled one caption per item per epoch when training.
final class MultiCaptionShardTests: XCTestCase {
    let context = 8

    /// Items i = 0..<count with `i % 4 + 1` captions "item i caption j" (raw 8×8 images).
    func writeMultiCaptionShard(_ path: String, count: Int, seed: UInt64 = 0) throws -> [[String]] {
        let writer = ShardWriter(path: path)
        var all: [[String]] = []
        for i in 0..<count {
            let captions = (0..<(i % 4 + 1)).map { "item \(i) caption \($0)" }
            try writer.append(ShardItem(image: .raw(syntheticImage(height: 8, width: 8, seed: seed &+ UInt64(i))), captions: captions))
            all.append(captions)
        }
        try writer.finish()
        return all
    }

    func testWriterRoundTripsSeveralCaptionsAsVersion2() throws {
        let path = try temporaryDirectory(self) + "/multi.h5"
        let captions = try writeMultiCaptionShard(path, count: 7)
        let reader = try ShardReader(path: path)
        XCTAssertEqual(reader.version, 2)
        XCTAssertTrue(reader.hasMultipleCaptions)
        XCTAssertEqual(reader.count, 7)
        for i in 0..<7 {
            XCTAssertEqual(reader.captionCount(at: i), captions[i].count)
            XCTAssertEqual(try reader.captions(of: i), captions[i])
            XCTAssertEqual(try reader.caption(at: i), captions[i][0])
            XCTAssertEqual(try reader.caption(at: i, number: captions[i].count - 1), captions[i].last!)
            XCTAssertEqual(try reader.item(at: i).captions, captions[i])
        }
        XCTAssertEqual(try reader.captions(), captions.map { $0[0] })
        XCTAssertEqual(try reader.captions(rows: 2..<5), captions[2..<5].map { $0[0] })
        let file = try HDF5File(path: path, mode: .readOnly)
        XCTAssertEqual(try file.readInt64("/caption_counts"), captions.map { Int64($0.count) })
        XCTAssertEqual(try file.shape(of: "/captions"), [captions.joined().count])
    }

    /// One caption per item stays version 1 (no /caption_counts), readable by builds before version 2.
    func testOneCaptionPerItemIsStillVersion1() throws {
        let path = try temporaryDirectory(self) + "/single.h5"
        _ = try writeRawShard(path, count: 3)
        let file = try HDF5File(path: path, mode: .readOnly)
        XCTAssertEqual(try file.integerAttribute("version"), 1)
        XCTAssertFalse(file.exists("/caption_counts"))
        let reader = try ShardReader(path: path)
        XCTAssertFalse(reader.hasMultipleCaptions)
        XCTAssertEqual(reader.captionCount(at: 2), 1)
    }

    /// A dataset mixes version-1 and version-2 shards; global indices address the right captions.
    func testDatasetMixesVersions() throws {
        let dir = try temporaryDirectory(self)
        let single = try writeRawShard(dir + "/a.h5", count: 3, size: 8)
        let multi = try writeMultiCaptionShard(dir + "/b.h5", count: 5)
        let data = try ShardDataset(path: dir)
        XCTAssertTrue(data.hasMultipleCaptions)
        XCTAssertEqual(data.count, 8)
        XCTAssertEqual(data.captionCount(at: 1), 1)
        XCTAssertEqual(try data.caption(at: 1, number: 0), single[1].caption)
        XCTAssertEqual(data.captionCount(at: 3 + 3), 4)
        XCTAssertEqual(try data.caption(at: 3 + 3, number: 2), multi[3][2])
    }

    func testH5pyWrittenVersion2Shard() throws {
        let path = fixturePath("h5py-multicaption.h5")
        let reader = try ShardReader(path: path)
        let file = try HDF5File(path: path, mode: .readOnly)
        let expected = try JSONDecoder().decode([[String]].self, from: Data(try XCTUnwrap(try file.stringAttribute("expected_captions")).utf8))
        XCTAssertEqual(reader.version, 2)
        XCTAssertEqual(reader.count, expected.count)
        XCTAssertEqual(reader.storage, .raw(height: 4, width: 6))
        for (i, captions) in expected.enumerated() {
            XCTAssertEqual(reader.captionCount(at: i), captions.count)
            XCTAssertEqual(try reader.captions(of: i), captions)
        }
        XCTAssertEqual(try reader.keys(), (0..<expected.count).map { String(format: "%06d", $0) })
    }

    /// Counts that do not describe /captions are refused at open, one line naming the file.
    func testInconsistentCaptionCountsAreRefused() throws {
        let dir = try temporaryDirectory(self)
        func shard(_ name: String, version: Int64 = 2, captions: [String], counts: [Int64]?, images: Int = 2) throws -> String {
            let path = dir + "/" + name
            let file = try HDF5File(path: path, mode: .create)
            try file.setAttribute("format", string: "swiftclip-shard")
            try file.setAttribute("version", integer: version)
            try file.write("/images", shape: [images, 2, 2, 3], values: [UInt8](repeating: 9, count: images * 12))
            try file.writeStrings("/captions", values: captions)
            if let counts { try file.write("/caption_counts", shape: [counts.count], values: counts) }
            try file.close()
            return path
        }
        func message(_ path: String) -> String {
            do { _ = try ShardReader(path: path); return "" } catch { return "\(error)" }
        }
        let zero = try shard("zero.h5", captions: ["a", "b"], counts: [2, 0])
        XCTAssertEqual(message(zero), "\(zero): /caption_counts[1] is 0, expected at least 1")
        let short = try shard("short.h5", captions: ["a", "b", "c"], counts: [2, 2])
        XCTAssertEqual(message(short), "\(short): /captions has 3 captions, /caption_counts adds up to 4")
        let length = try shard("length.h5", captions: ["a", "b", "c"], counts: [1, 1, 1])
        XCTAssertEqual(message(length), "\(length): inconsistent lengths: /images has 2 items, /caption_counts has 3")
        // Version 1 knows no /caption_counts: its /captions must have one row per item.
        let v1 = try shard("v1.h5", version: 1, captions: ["a", "b", "c"], counts: [2, 1])
        XCTAssertEqual(message(v1), "\(v1): inconsistent lengths: /images has 2 items, /captions has 3")
        XCTAssertEqual(message(try shard("ok.h5", captions: ["a", "b", "c"], counts: [2, 1])), "")
    }

    // MARK: - Training reads one caption per item per epoch

    func loader(_ data: ShardDataset, seed: UInt64, threads: Int, mode: DataLoaderConfiguration.Mode = .train,
                shuffle: Bool = true, resume: LoaderState? = nil) throws -> DataLoader {
        try DataLoader(dataset: data, configuration: DataLoaderConfiguration(batchSize: 4, imageSize: 8, contextLength: context,
                                                                             mode: mode, shuffle: shuffle, seed: seed, threads: threads),
                       tokenizer: wordTokenizer(contextLength: context), resumeFrom: resume)
    }

    /// (epoch, item) → caption read, over `batches` batches.
    func captionsRead(_ loader: DataLoader, batches: Int) throws -> [[Int]: String] {
        var read: [[Int]: String] = [:]
        for _ in 0..<batches {
            let batch = try XCTUnwrap(try loader.next())
            for (index, caption) in zip(batch.indices, batch.captions) { read[[batch.epoch, index]] = caption }
        }
        return read
    }

    func testTrainingSamplesOneCaptionPerItemPerEpochDeterministically() throws {
        let dir = try temporaryDirectory(self)
        let captions = try writeMultiCaptionShard(dir + "/m.h5", count: 40)
        let data = try ShardDataset(path: dir)
        let epochs = 6, perEpoch = 10
        let reference = try captionsRead(try loader(data, seed: 11, threads: 1), batches: epochs * perEpoch)
        XCTAssertEqual(reference.count, epochs * 40)
        // Every caption read is one of the item's; items with one caption always read it.
        for (key, caption) in reference { XCTAssertTrue(captions[key[1]].contains(caption), "\(key): \(caption)") }
        // Uniform over the item's captions: every caption number is met, and choices change across epochs.
        let numbers = reference.map { key, caption in captions[key[1]].firstIndex(of: caption)! }
        XCTAssertEqual(Set(numbers), [0, 1, 2, 3])
        let fourCaptionItems = (0..<40).filter { $0 % 4 == 3 }
        let changing = fourCaptionItems.filter { i in Set((0..<epochs).map { reference[[$0, i]]! }).count > 1 }
        XCTAssertGreaterThan(changing.count, fourCaptionItems.count / 2)
        // The same with other thread counts; after resuming mid-epoch (through JSON, as checkpoints do).
        XCTAssertEqual(try captionsRead(try loader(data, seed: 11, threads: 3), batches: epochs * perEpoch), reference)
        let first = try loader(data, seed: 11, threads: 2)
        var resumed = try captionsRead(first, batches: 13)
        let state = try JSONDecoder().decode(LoaderState.self, from: try JSONEncoder().encode(first.state))
        resumed.merge(try captionsRead(try loader(data, seed: 11, threads: 2, resume: state), batches: epochs * perEpoch - 13)) { a, _ in a }
        XCTAssertEqual(resumed, reference)
        // A function of the item, not of its place in the epoch: the same without shuffling.
        XCTAssertEqual(try captionsRead(try loader(data, seed: 11, threads: 2, shuffle: false), batches: epochs * perEpoch), reference)
        // Another seed chooses otherwise; evaluation always reads the first caption.
        XCTAssertNotEqual(try captionsRead(try loader(data, seed: 12, threads: 1), batches: epochs * perEpoch), reference)
        let eval = try captionsRead(try loader(data, seed: 11, threads: 2, mode: .eval), batches: 10)
        XCTAssertEqual(eval.count, 40)
        for (key, caption) in eval { XCTAssertEqual(caption, captions[key[1]][0]) }
    }
}
