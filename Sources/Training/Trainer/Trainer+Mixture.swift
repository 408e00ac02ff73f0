import DataPipeline
import Foundation
import TensorCore
import Autograd
import NeuralNet
import Objectives
import Optimization
import Tokenization
import Checkpointing
import Distributed
import ModelStore
import Evaluation

/// `data.train` as a dataset (one source, or a `MixtureDataset`), and the per-source sample counts of a mixture.
extension Trainer {
    /// The training dataset: the paths as one dataset; a `MixtureDataset` of the sources for a mixture
    /// or with `data.resampled` (then a plain list is one source of weight 1). Each source (shards or tars)
    /// is opened by `resolver`.
    static func openTrainingData(_ config: TrainingConfig, resolver: TrainingSourceResolver) throws -> any DatasetSource {
        let entries: [TrainData.MixtureEntry]
        switch config.data.train {
        case let .paths(paths):
            guard config.data.resampled else { return try resolver.open(paths) }
            entries = [.init(source: paths, weight: 1)]
        case let .mixture(list):
            entries = list
        }
        let components = try entries.map {
            MixtureDataset.Component(name: $0.name, dataset: try resolver.open($0.source), weight: $0.weight)
        }
        do {
            return try MixtureDataset(components: components, sampling: config.data.resampled ? .resampled : .proportional,
                                      seed: config.run.seed, shuffle: config.data.shuffle)
        } catch let error as MixtureError {
            throw ConfigError("data.train: \(error)")
        }
    }

    /// The training mixture, nil for a plain dataset.
    var mixture: MixtureDataset? { loader.dataset as? MixtureDataset }

    /// Counts the batch's samples by source (this rank's rows; `syncSourceSamples` sums the ranks).
    func countSources(of batch: Batch) {
        guard let mixture else { return }
        if unsyncedSourceSamples.isEmpty { unsyncedSourceSamples = [Int](repeating: 0, count: mixture.components.count) }
        for index in batch.indices { unsyncedSourceSamples[mixture.source(of: index, epoch: batch.epoch)] += 1 }
    }

    /// Samples per source name so far (all ranks, as of the last sync); nil for a plain dataset.
    var sourceSampleCounts: [String: Int]? {
        guard let mixture, let counts = state.sourceSamples else { return nil }
        return Dictionary(zip(mixture.components.map(\.name), counts), uniquingKeysWith: +)
    }

    /// "data: samples per source: A 700 (70.0%, weight 70.0%), B 300 (30.0%, weight 30.0%)".
    func sourceSummaryLine() -> String? {
        guard let mixture, let counts = state.sourceSamples else { return nil }
        let total = max(1, counts.reduce(0, +))
        let weights = mixture.components.reduce(0) { $0 + $1.weight }
        let parts = zip(mixture.components, counts).map { c, n in
            "\(c.name) \(n) (\(String(format: "%.1f", 100 * Double(n) / Double(total)))%, weight \(String(format: "%.1f", 100 * c.weight / weights))%)"
        }
        return "data: samples per source: " + parts.joined(separator: ", ")
    }
}
