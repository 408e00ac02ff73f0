import Foundation
import DataPipeline
import Tokenization
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import Distributed
import ModelStore
import Evaluation
import Training

/// Loader throughput: images per second delivered by `DataLoader` in training mode.
public enum LoaderBenchmark {
    /// `count` synthetic JPEG photos (`width`×`height`, smooth gradients plus noise) with captions.
    public static func syntheticJPEGs(count: Int, width: Int = 500, height: Int = 375) throws -> [(jpeg: [UInt8], caption: String)] {
        var rng = RandomGenerator(seed: 9)
        return try (0..<count).map { i in
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height { for x in 0..<width {
                let base = (y * width + x) * 3
                pixels[base] = UInt8((x * 255 / width + i * 13) % 256)
                pixels[base + 1] = UInt8((y * 255 / height) % 256)
                pixels[base + 2] = UInt8(rng.next() % 64 + 96)
            } }
            return (try JPEG.encode(RGBImage(height: height, width: width, pixels: pixels), quality: 90), "a synthetic photo number \(i).")
        }
    }

    /// Writes a shard of `count` synthetic JPEG photos (`syntheticJPEGs`).
    public static func makeJPEGShard(at path: String, count: Int, width: Int = 500, height: Int = 375) throws {
        try writeShard(try syntheticJPEGs(count: count, width: width, height: height), at: path)
    }

    /// Writes `photos` as one shard.
    public static func writeShard(_ photos: [(jpeg: [UInt8], caption: String)], at path: String) throws {
        let writer = ShardWriter(path: path)
        for photo in photos { try writer.append(ShardItem(image: .jpeg(photo.jpeg), caption: photo.caption)) }
        _ = try writer.finish()
    }

    /// Writes `photos` as WebDataset tars in img2dataset's layout (`{key}.jpg` + `{key}.txt`), `perTar`
    /// samples each, named `00000.tar`, … in `folder` (gzip-compressed `.tar.gz` when `gzip`); returns their paths.
    @discardableResult
    public static func writeTars(_ photos: [(jpeg: [UInt8], caption: String)], in folder: String, perTar: Int, gzip: Bool = false) throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return try stride(from: 0, to: photos.count, by: perTar).map { start in
            var tar = TarFileWriter()
            for i in start ..< min(photos.count, start + perTar) {
                let key = String(format: "%09d", i)
                tar.add(name: key + ".jpg", data: photos[i].jpeg)
                tar.add(name: key + ".txt", data: Array(photos[i].caption.utf8))
            }
            let path = URL(fileURLWithPath: folder).appendingPathComponent(String(format: "%05d.tar", start / perTar) + (gzip ? ".gz" : "")).path
            try Data(gzip ? try Gzip.compress(tar.finished()) : tar.finished()).write(to: URL(fileURLWithPath: path))
            return path
        }
    }

    /// Images per second over `batches` training batches (after one warm-up batch).
    public static func measure(dataset: any DatasetSource, imageSize: Int, batchSize: Int, threads: Int, batches: Int) throws -> Double {
        let tokenizer = try CLIPTokenizer.bundled()
        let loader = try DataLoader(
            dataset: dataset,
            configuration: DataLoaderConfiguration(batchSize: batchSize, imageSize: imageSize, contextLength: 77,
                                                   augmentation: Augmentation(randomResizedCrop: RandomResizedCrop(scale: 0.9...1.0)),
                                                   mode: .train, shuffle: true, seed: 0, threads: threads),
            tokenizer: { tokenizer.tokenize($0, contextLength: 77) })
        _ = try loader.next()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<batches { _ = try loader.next() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Double(batches * batchSize) / seconds
    }
}
