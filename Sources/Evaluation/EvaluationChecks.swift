import DataPipeline
import TensorCore
import Foundation
import Autograd
import NeuralNet
import Objectives
import Tokenization
import Checkpointing
import ModelStore

extension Tensor {
    /// The first row (along axis 0) holding a NaN or an infinity, or nil when every value is finite.
    func firstNonFiniteRow() -> Int? {
        let rowLength = shape.dropFirst().reduce(1, *)
        return withUnsafeBufferPointer { values in
            values.firstIndex { !$0.isFinite }.map { $0 / Swift.max(rowLength, 1) }
        }
    }

    /// Throws a one-line error when an embedding is not finite: ranking NaNs would report a
    /// confident number (every comparison with NaN is false), so evaluation and export refuse them.
    /// - Parameter what: names row `i`, e.g. `{ "image \($0)" }`.
    func requireFinite(_ what: (Int) -> String) throws {
        if let row = firstNonFiniteRow() {
            throw RunError("\(what(row)): the model's embedding is not finite (NaN or infinity; are its weights finite?)")
        }
    }
}

extension DatasetSource {
    /// "SOURCE item i" for global item `index` (`origin(of:)`: the shard, tar or file holding it).
    func itemName(_ index: Int) -> String {
        let origin = origin(of: index)
        return "\(origin.path) item \(origin.index)"
    }

    /// Throws a one-line data error naming the source and item when a label is not one of the
    /// `classCount` classes (negative, or beyond the class names given).
    func requireLabels(within classCount: Int) throws {
        for i in 0..<count {
            guard let label = label(at: i), label < 0 || label >= classCount else { continue }
            throw ConfigError("\(itemName(i)) has label \(label), outside the \(classCount) class names (0..<\(classCount))")
        }
    }
}
