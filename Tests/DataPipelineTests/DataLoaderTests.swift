import DataPipeline
import Foundation
import XCTest

final class DataLoaderTests: XCTestCase {
    private let context = 8

    private func trainConfiguration(threads: Int, seed: UInt64 = 7) -> DataLoaderConfiguration {
        DataLoaderConfiguration(batchSize: 4, imageSize: 12, contextLength: context,
                                augmentation: Augmentation(randomResizedCrop: RandomResizedCrop(scale: 0.5...1.0),
                                                           horizontalFlip: true),
                                mode: .train, seed: seed, threads: threads, prefetchBatches: 2)
    }

    private func batches(_ loader: DataLoader, _ n: Int) throws -> [Batch] {
        try (0..<n).map { _ in try XCTUnwrap(try loader.next()) }
    }

    private func assertSame(_ a: [Batch], _ b: [Batch], _ message: String = "", line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.indices, y.indices, message, line: line)
            XCTAssertTrue(x.images == y.images, "images differ \(message)", line: line)
            XCTAssertEqual(x.tokens, y.tokens, message, line: line)
            XCTAssertEqual(x.captions, y.captions, message, line: line)
            XCTAssertEqual(x.labels, y.labels, message, line: line)
            XCTAssertEqual(x.epoch, y.epoch, message, line: line)
        }
    }

    func testEpochsCoverTheDatasetAndDropTheLastBatch() throws {
        let dataset = try threeRawShards(self)
        let loader = try DataLoader(dataset: dataset, configuration: trainConfiguration(threads: 2),
                                    tokenizer: wordTokenizer(contextLength: context))
        let epoch0 = try batches(loader, 5)
        XCTAssertEqual(loader.state, LoaderState(epoch: 0, position: 20))
        let epoch1 = try batches(loader, 5)
        XCTAssertEqual(epoch0.map(\.epoch), [0, 0, 0, 0, 0])
        XCTAssertEqual(epoch1.map(\.epoch), [1, 1, 1, 1, 1])
        XCTAssertEqual(loader.droppedCount, 3)
        let seen0 = epoch0.flatMap(\.indices), seen1 = epoch1.flatMap(\.indices)
        XCTAssertEqual(Set(seen0).count, 20)
        XCTAssertNotEqual(seen0, seen1)
        XCTAssertNotEqual(seen0, Array(0..<20))
        let b = epoch0[0]
        XCTAssertEqual(b.images.count, 4 * 12 * 12 * 3)
        XCTAssertEqual(b.tokens.count, 4 * context)
        XCTAssertNil(b.longTokens)
        for (k, index) in b.indices.enumerated() {
            let (s, i) = dataset.locate(index)
            XCTAssertEqual(b.captions[k], "item \(i) of shard \(s)")
            XCTAssertEqual(b.labels?[k], i % 3)
            XCTAssertEqual(Array(b.tokens[(k * context)..<((k + 1) * context)]), wordTokenizer(contextLength: context)(b.captions[k]))
        }
        XCTAssertGreaterThan(loader.totalWaitSeconds, 0)
        XCTAssertGreaterThanOrEqual(loader.totalWaitSeconds, loader.lastWaitSeconds)
    }

    func testBatchesAreIdenticalAcrossRunsAndThreadCounts() throws {
        let dataset = try threeRawShards(self)
        let reference = try batches(try DataLoader(dataset: dataset, configuration: trainConfiguration(threads: 1),
                                                   tokenizer: wordTokenizer(contextLength: context)), 10)
        for threads in [1, 2, 4] {
            let loader = try DataLoader(dataset: dataset, configuration: trainConfiguration(threads: threads),
                                        tokenizer: wordTokenizer(contextLength: context))
            assertSame(reference, try batches(loader, 10), "threads \(threads)")
        }
        let otherSeed = try batches(try DataLoader(dataset: dataset, configuration: trainConfiguration(threads: 2, seed: 8),
                                                   tokenizer: wordTokenizer(contextLength: context)), 1)
        XCTAssertNotEqual(otherSeed[0].indices, reference[0].indices)
    }

    func testResumeContinuesTheSameSequence() throws {
        let dataset = try threeRawShards(self)
        let reference = try batches(try DataLoader(dataset: dataset, configuration: trainConfiguration(threads: 2),
                                                   tokenizer: wordTokenizer(contextLength: context)), 12)
        for stop in [0, 1, 3, 4, 5, 7] {
            let first = try DataLoader(dataset: dataset, configuration: trainConfiguration(threads: 2),
                                       tokenizer: wordTokenizer(contextLength: context))
            _ = try batches(first, stop)
            // Through JSON, as a checkpoint would store it.
            let saved = try JSONEncoder().encode(first.state)
            let state = try JSONDecoder().decode(LoaderState.self, from: saved)
            let resumed = try DataLoader(dataset: dataset, configuration: trainConfiguration(threads: 3),
                                         tokenizer: wordTokenizer(contextLength: context), resumeFrom: state)
            assertSame(Array(reference[stop...]), try batches(resumed, 12 - stop), "resumed after \(stop) batches")
        }
        XCTAssertThrowsError(try DataLoader(dataset: dataset, configuration: trainConfiguration(threads: 1),
                                            tokenizer: wordTokenizer(contextLength: context),
                                            resumeFrom: LoaderState(epoch: 0, position: 99)))
    }

    func testEvalModeIsOrderedUnaugmentedAndKeepsTheLastBatch() throws {
        let dir = try temporaryDirectory(self)
        let items = try writeRawShard(dir + "/a.h5", count: 7, size: 10, seed: 3)
        let dataset = try ShardDataset(path: dir + "/a.h5")
        let configuration = DataLoaderConfiguration(batchSize: 3, imageSize: 10, contextLength: context,
                                                    augmentation: Augmentation(normalization: .unit),
                                                    mode: .eval, threads: 2)
        let loader = try DataLoader(dataset: dataset, configuration: configuration,
                                    tokenizer: wordTokenizer(contextLength: context))
        var all: [Batch] = []
        while let batch = try loader.next() { all.append(batch) }
        XCTAssertEqual(all.map(\.size), [3, 3, 1])
        XCTAssertEqual(all.flatMap(\.indices), Array(0..<7))
        let images = all.flatMap(\.images)
        let expected = items.flatMap { item -> [Float] in
            guard case let .raw(image) = item.image else { return [] }
            return image.pixels.map { Float($0) / 255 }
        }
        assertClose(images, expected, accuracy: 1e-6)
        XCTAssertNil(try loader.next())
        XCTAssertEqual(loader.state, LoaderState(epoch: 1, position: 0))
    }

    func testCorruptJPEGsAreSkippedDeterministically() throws {
        let dir = try temporaryDirectory(self)
        try writeJPEGShard(dir + "/j.h5", count: 10, seed: 4, corrupt: [2, 5])
        let dataset = try ShardDataset(path: dir)
        let log = LogCollector()
        let eval = try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: 4, imageSize: 16, contextLength: context, mode: .eval),
            tokenizer: wordTokenizer(contextLength: context), log: log.sink)
        var all: [Batch] = []
        while let batch = try eval.next() { all.append(batch) }
        XCTAssertEqual(all.map(\.size), [4, 4])
        XCTAssertEqual(all.flatMap(\.indices), [0, 1, 3, 4, 6, 7, 8, 9])
        XCTAssertEqual(eval.skippedCount, 2)
        XCTAssertEqual(eval.skippedItems.map(\.index), [2, 5])
        XCTAssertTrue(eval.skippedItems[0].reason.hasPrefix("corrupt JPEG"), eval.skippedItems[0].reason)
        XCTAssertEqual(log.lines.count, 2)
        XCTAssertTrue(log.lines[0].contains("j.h5 item 2: corrupt JPEG"), log.lines[0])

        // Training: the same batches with 1 and 4 threads; skips counted every epoch, logged once.
        func run(_ threads: Int) throws -> ([Batch], DataLoader) {
            let loader = try DataLoader(
                dataset: dataset,
                configuration: DataLoaderConfiguration(batchSize: 3, imageSize: 16, contextLength: context, seed: 1,
                                                       threads: threads),
                tokenizer: wordTokenizer(contextLength: context), log: { _ in })
            return (try batches(loader, 6), loader)
        }
        let (one, loader) = try run(1)
        assertSame(one, try run(4).0)
        XCTAssertFalse(one.flatMap(\.indices).contains(2))
        XCTAssertFalse(one.flatMap(\.indices).contains(5))
        // Three epochs met the two bad items three times each: still two skipped items.
        XCTAssertEqual(loader.skippedItems.count, 2)
        XCTAssertEqual(loader.skippedCount, 2)
    }

    func testEmptyCaptionsAndMissingDatasetsAreSkipped() throws {
        let dir = try temporaryDirectory(self)
        let writer = ShardWriter(path: dir + "/shard-0.h5")
        for i in 0..<4 {
            try writer.append(ShardItem(image: .raw(RGBImage(height: 4, width: 4, filledWith: (UInt8(i), 0, 0))),
                                        caption: i == 1 ? "  " : "caption \(i)"))
        }
        try writer.finish()
        let file = try HDF5File(path: dir + "/shard-1.h5", mode: .create)   // no /captions
        try file.setAttribute("format", string: "swiftclip-shard")
        try file.setAttribute("version", integer: 1)
        try file.write("/images", shape: [2, 4, 4, 3], values: [UInt8](repeating: 1, count: 96))
        try file.close()
        let loader = try DataLoader(
            dataset: try ShardDataset(path: dir),
            configuration: DataLoaderConfiguration(batchSize: 8, imageSize: 4, contextLength: context, mode: .eval),
            tokenizer: wordTokenizer(contextLength: context), log: { _ in })
        let batch = try XCTUnwrap(try loader.next())
        XCTAssertEqual(batch.indices, [0, 2, 3])
        XCTAssertEqual(loader.skippedItems.map(\.reason), ["empty caption", "no /captions dataset", "no /captions dataset"])
    }

    func testTrainingThrowsWhenNoBatchCanBeFilled() throws {
        let dir = try temporaryDirectory(self)
        try writeJPEGShard(dir + "/j.h5", count: 4, corrupt: [0, 1, 2])
        let loader = try DataLoader(
            dataset: try ShardDataset(path: dir),
            configuration: DataLoaderConfiguration(batchSize: 2, imageSize: 8, contextLength: context),
            tokenizer: wordTokenizer(contextLength: context), log: { _ in })
        XCTAssertThrowsError(try loader.next()) { error in
            XCTAssertTrue("\(error)".contains("fewer than 2 usable items"), "\(error)")
        }
    }

    func testWrongTokenizerLengthIsAnError() throws {
        let loader = try DataLoader(
            dataset: try threeRawShards(self),
            configuration: DataLoaderConfiguration(batchSize: 2, imageSize: 8, contextLength: context),
            tokenizer: { _ in [1, 2, 3] })
        XCTAssertThrowsError(try loader.next())
    }

    func testLongCaptionTokens() throws {
        let dir = try temporaryDirectory(self)
        try writeRawShard(dir + "/l.h5", count: 4, size: 8, longCaptions: true)
        let loader = try DataLoader(
            dataset: try ShardDataset(path: dir),
            configuration: DataLoaderConfiguration(batchSize: 2, imageSize: 8, contextLength: context,
                                                   longContextLength: 16, mode: .eval),
            tokenizer: wordTokenizer(contextLength: context), longTokenizer: wordTokenizer(contextLength: 16))
        let batch = try XCTUnwrap(try loader.next())
        XCTAssertEqual(batch.longTokens?.count, 2 * 16)
        XCTAssertEqual(Array(batch.longTokens![0..<16]),
                       wordTokenizer(contextLength: 16)("a long caption. item 0 of shard 0. more words."))
    }

    func testLongCaptionsAreInTheBatchWhenTheDatasetHasThem() throws {
        let dir = try temporaryDirectory(self)
        try writeRawShard(dir + "/l.h5", count: 3, size: 8, longCaptions: true)
        try writeRawShard(dir + "/s.h5", count: 2, size: 8, seed: 1)
        func firstBatch(_ path: String, needsCaptions: Bool = true) throws -> Batch {
            let loader = try DataLoader(
                dataset: try ShardDataset(path: path),
                configuration: DataLoaderConfiguration(batchSize: 5, imageSize: 8, contextLength: context, mode: .eval,
                                                       needsCaptions: needsCaptions),
                tokenizer: wordTokenizer(contextLength: context))
            return try XCTUnwrap(try loader.next())
        }
        // Without a long-caption tokenizer too; "" for the items of a shard without /long_captions.
        XCTAssertEqual(try firstBatch(dir).longCaptions,
                       (0..<3).map { "a long caption. item \($0) of shard 0. more words." } + ["", ""])
        XCTAssertNil(try firstBatch(dir + "/s.h5").longCaptions)
        XCTAssertNil(try firstBatch(dir, needsCaptions: false).longCaptions)
    }

    func testEvaluationWithoutCaptionsKeepsLabelledItems() throws {
        let dir = try temporaryDirectory(self)
        let writer = ShardWriter(path: dir + "/shard-0.h5", classnames: ["a", "b"])
        for i in 0..<3 {
            try writer.append(ShardItem(image: .raw(RGBImage(height: 4, width: 4, filledWith: (UInt8(i), 0, 0))),
                                        caption: i == 1 ? "" : "caption \(i)", label: i % 2))
        }
        try writer.finish()
        let file = try HDF5File(path: dir + "/shard-1.h5", mode: .create)   // labels, no /captions
        try file.setAttribute("format", string: "swiftclip-shard")
        try file.setAttribute("version", integer: 1)
        try file.write("/images", shape: [2, 4, 4, 3], values: [UInt8](repeating: 9, count: 96))
        try file.write("/labels", shape: [2], values: [Int64(1), 0])
        try file.close()
        let dataset = try ShardDataset(path: dir)
        let log = LogCollector()
        let configuration = DataLoaderConfiguration(batchSize: 4, imageSize: 4, contextLength: context,
                                                    augmentation: Augmentation(normalization: .unit), mode: .eval,
                                                    needsCaptions: false)
        // A tokenizer of the wrong length would fail the loader if it were called.
        let loader = try DataLoader(dataset: dataset, configuration: configuration, tokenizer: { _ in [] }, log: log.sink)
        var all: [Batch] = []
        while let batch = try loader.next() { all.append(batch) }
        XCTAssertEqual(all.map(\.size), [4, 1])
        XCTAssertEqual(all.flatMap(\.indices), Array(0..<5))
        XCTAssertEqual(all.flatMap { $0.labels ?? [] }, [0, 1, 0, 1, 0])
        XCTAssertEqual(all.flatMap(\.captions), ["", "", "", "", ""])
        XCTAssertEqual(all.flatMap(\.tokens), [Int32](repeating: 0, count: 5 * context))
        XCTAssertEqual(all[0].images[3 * 16 * 3], 9 / 255, accuracy: 1e-6)   // item 3: shard 1's first image
        XCTAssertEqual(loader.skippedCount, 0)
        XCTAssertEqual(log.lines, [])

        XCTAssertThrowsError(try DataLoader(dataset: dataset, configuration: configuration,
                                            tokenizer: wordTokenizer(contextLength: context),
                                            longTokenizer: wordTokenizer(contextLength: 16))) { error in
            XCTAssertTrue("\(error)".contains("needsCaptions"), "\(error)")
        }
    }
}
