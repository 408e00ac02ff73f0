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
    /// Writes a shard of `count` synthetic JPEG photos (`width`×`height`, smooth gradients plus noise).
    public static func makeJPEGShard(at path: String, count: Int, width: Int = 500, height: Int = 375) throws {
        var rng = RandomGenerator(seed: 9)
        let writer = ShardWriter(path: path)
        for i in 0..<count {
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height { for x in 0..<width {
                let base = (y * width + x) * 3
                pixels[base] = UInt8((x * 255 / width + i * 13) % 256)
                pixels[base + 1] = UInt8((y * 255 / height) % 256)
                pixels[base + 2] = UInt8(rng.next() % 64 + 96)
            } }
            let jpeg = try JPEG.encode(RGBImage(height: height, width: width, pixels: pixels), quality: 90)
            try writer.append(ShardItem(image: .jpeg(jpeg), caption: "a synthetic photo number \(i)."))
        }
        _ = try writer.finish()
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
