import DataPipeline
import XCTest

/// A data source that is not a shard set (issue 14.5): one type conforming to `DatasetSource` goes
/// through `DataLoader` as shards do — images, captions, labels and skips.
final class DatasetSourceTests: XCTestCase {
    /// Six 2×2 items in two "files" of three: every pixel of item i is 10·i, caption "item i", label i % 2;
    /// item 2's caption is blank and item 4's JPEG is corrupt.
    final class MemorySource: DatasetSource {
        let count = 6
        var hasLabels: Bool { true }
        func origin(of index: Int) -> (path: String, part: Int, index: Int) { ("memory-\(index / 3)", index / 3, index % 3) }
        func image(at index: Int) throws -> ShardImage {
            index == 4 ? .jpeg([0xFF, 0xD8, 0xFF, 0xE0, 0, 1])
                : .raw(RGBImage(height: 2, width: 2, pixels: [UInt8](repeating: UInt8(10 * index), count: 12)))
        }
        func caption(at index: Int) throws -> String { index == 2 ? " " : "item \(index)" }
        func label(at index: Int) -> Int? { index % 2 }
    }

    func testLoaderReadsAnySource() throws {
        let loader = try DataLoader(
            dataset: MemorySource(),
            configuration: DataLoaderConfiguration(batchSize: 8, imageSize: 2, contextLength: 8,
                                                   augmentation: Augmentation(normalization: .unit), mode: .eval, threads: 2),
            tokenizer: wordTokenizer(contextLength: 8), log: { _ in })
        let batch = try XCTUnwrap(try loader.next())
        XCTAssertEqual(batch.indices, [0, 1, 3, 5])
        XCTAssertEqual(batch.captions, ["item 0", "item 1", "item 3", "item 5"])
        XCTAssertEqual(batch.labels, [0, 1, 1, 1])
        XCTAssertNil(batch.longCaptions)
        let expected = [0, 1, 3, 5].flatMap { [Float](repeating: Float(10 * $0) / 255, count: 12) }
        XCTAssertEqual(batch.images.count, expected.count)
        for (a, b) in zip(batch.images, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        XCTAssertEqual(loader.skippedItems.map { "\($0.shardPath) \($0.shard) \($0.index)" }, ["memory-0 0 2", "memory-1 1 1"])
        XCTAssertEqual(loader.skippedItems.first?.reason, "empty caption")
        XCTAssertTrue(loader.skippedItems.last?.reason.hasPrefix("corrupt JPEG") == true, "\(loader.skippedItems)")
        XCTAssertNil(try loader.next())
    }

    /// A source without long captions refuses a Long-CLIP loader's long-caption reads item by item.
    func testLongCaptionsDefaultToNone() throws {
        let loader = try DataLoader(
            dataset: MemorySource(),
            configuration: DataLoaderConfiguration(batchSize: 2, imageSize: 2, contextLength: 8, longContextLength: 8,
                                                   augmentation: Augmentation(normalization: .unit), mode: .eval),
            tokenizer: wordTokenizer(contextLength: 8), longTokenizer: wordTokenizer(contextLength: 8), log: { _ in })
        XCTAssertNil(try loader.next())
        XCTAssertEqual(Set(loader.skippedItems.map(\.reason)), ["empty caption", "no long caption"])
    }
}
