import DataPipeline
import TensorCore
import Foundation
import XCTest

/// Loader throughput, printed in images/s. Opt-in (it takes a few seconds and the numbers depend on the
/// machine): `SWIFTCLIP_MEASURE=1 swift test --filter ThroughputTests`.
final class ThroughputTests: XCTestCase {
    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["SWIFTCLIP_MEASURE"] == "1" else {
            throw XCTSkip("set SWIFTCLIP_MEASURE=1 to measure loader throughput")
        }
    }

    private func measure(_ loader: DataLoader, batches: Int, label: String) throws -> Double {
        _ = try loader.next()   // warm-up: threads started, prefetch queue filled
        let start = Date()
        var images = 0
        for _ in 0..<batches { images += try XCTUnwrap(try loader.next()).size }
        let seconds = Date().timeIntervalSince(start)
        let rate = Double(images) / seconds
        print(String(format: "THROUGHPUT %@: %.0f images/s (%d images in %.2f s, data wait %.2f s)",
                     label, rate, images, seconds, loader.totalWaitSeconds))
        return rate
    }

    /// 224 px random-resized-crop from ~500×375 JPEGs (the size of typical web/ImageNet images), 2 threads.
    func testJPEG224RandomResizedCrop() throws {
        let dir = try temporaryDirectory(self)
        let writer = ShardWriter(path: dir + "/jpeg.h5")
        var bytes = 0
        for i in 0..<128 {
            let (h, w) = i % 2 == 0 ? (375, 500) : (500, 375)
            let jpeg = try JPEG.encode(syntheticImage(height: h, width: w, seed: UInt64(i)), quality: 90)
            bytes += jpeg.count
            try writer.append(ShardItem(image: .jpeg(jpeg), caption: "a synthetic photo number \(i)"))
        }
        try writer.finish()
        print("THROUGHPUT mean JPEG size \(bytes / 128) bytes")
        let dataset = try ShardDataset(path: dir + "/jpeg.h5")
        // Decode alone, one thread, for reference.
        let start = Date()
        for i in 0..<64 { _ = try dataset.shards[0].image(at: i).decoded() }
        print(String(format: "THROUGHPUT decode only (1 thread): %.0f images/s", 64 / Date().timeIntervalSince(start)))
        let decoded = try dataset.shards[0].image(at: 0).decoded()
        var rng = RandomGenerator(seed: 0)
        var output = [Float](repeating: 0, count: 224 * 224 * 3)
        let augmentation = Augmentation(randomResizedCrop: RandomResizedCrop(scale: 0.9...1.0))
        let resampleStart = Date()
        for _ in 0..<64 {
            output.withUnsafeMutableBufferPointer {
                augmentation.apply(to: decoded, size: 224, training: true, using: &rng, into: $0)
            }
        }
        print(String(format: "THROUGHPUT crop+resize+normalize only (1 thread): %.0f images/s", 64 / Date().timeIntervalSince(resampleStart)))
        for threads in [1, 2] {
            let loader = try DataLoader(
                dataset: dataset,
                configuration: DataLoaderConfiguration(batchSize: 64, imageSize: 224, contextLength: 77,
                                                       augmentation: Augmentation(randomResizedCrop: RandomResizedCrop(scale: 0.9...1.0)),
                                                       threads: threads),
                tokenizer: wordTokenizer(contextLength: 77))
            _ = try measure(loader, batches: 8, label: "jpeg 224 rrc, \(threads) thread(s)")
        }
    }

    /// Fashion-MNIST 28 px raw shards, random-resized-crop (0.9, 1), 2 threads.
    func testFashionMNIST28Raw() throws {
        guard FileManager.default.fileExists(atPath: FashionMNISTSource.defaultDirectory + "/t10k-images-idx3-ubyte.gz") else {
            throw XCTSkip("Fashion-MNIST is not installed")
        }
        let dir = try temporaryDirectory(self)
        var source = FashionMNISTSource(templates: CaptionTemplates(["a photo of a {}."]))
        source.split = .test
        try buildShards(from: source, output: dir, shardSize: 5000)
        let dataset = try ShardDataset(path: dir)
        for threads in [1, 2] {
            let loader = try DataLoader(
                dataset: dataset,
                configuration: DataLoaderConfiguration(batchSize: 256, imageSize: 28, contextLength: 77,
                                                       augmentation: Augmentation(randomResizedCrop: RandomResizedCrop(scale: 0.9...1.0)),
                                                       threads: threads),
                tokenizer: wordTokenizer(contextLength: 77))
            _ = try measure(loader, batches: 30, label: "fashion-mnist 28 raw rrc, \(threads) thread(s)")
        }
    }
}
