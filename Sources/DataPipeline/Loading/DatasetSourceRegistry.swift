import Foundation
import TensorCore

/// How dataset paths — `data.train`, `eval.zeroshot.dataset`, `evaluate --dataset` — become a
/// `DatasetSource`. Each registered kind says whether it reads a set of paths; the last
/// registered kind that does opens them, so a program's own format (docs/DESIGN.md, "Extending")
/// takes precedence over the built-in HDF5 shards, which are registered first through the same call:
///
/// ```swift
/// DatasetSourceRegistry.register(name: "parquet", reads: { $0.allSatisfy { $0.hasSuffix(".parquet") } }) {
///     try ParquetSource(paths: $0)
/// }
/// ```
public enum DatasetSourceRegistry {
    public typealias Opener = @Sendable ([String]) throws -> any DatasetSource
    public typealias Claim = @Sendable ([String]) -> Bool

    public struct Kind: Sendable {
        public let name: String
        let reads: Claim
        let open: Opener
    }

    /// Registers a kind of dataset: `reads` says whether it reads these paths (files or folders),
    /// `open` opens them as one dataset (items in path order).
    public static func register(name: String, reads: @escaping Claim, open: @escaping Opener) {
        kinds.withLock { $0.append(Kind(name: name, reads: reads, open: open)) }
    }

    /// The registered kinds, the built-in ones first.
    public static var registered: [Kind] { kinds.withLock { $0 } }

    /// The last registered kind that reads `paths`.
    static func kind(reading paths: [String]) -> Kind? { registered.last { $0.reads(paths) } }

    /// Opens `paths` with the last registered kind that reads them.
    public static func open(_ paths: [String]) throws -> any DatasetSource {
        guard let kind = kind(reading: paths) else {
            throw ShardError(.io, file: paths.joined(separator: ", "), "no registered dataset kind reads these paths (registered: \(registered.map(\.name).joined(separator: ", ")))")
        }
        return try kind.open(paths)
    }

    /// Opens one path (a file or a folder).
    public static func open(_ path: String) throws -> any DatasetSource { try open([path]) }

    /// The built-in kinds: HDF5 shards (`ShardDataset`), which claims any paths — it names the
    /// problem (not HDF5, no shards in a folder, …) when they are not shards — and WebDataset tars
    /// (`TarDataset`), which claims paths that all name tars (`TarPaths.namesTars`) and,
    /// opened here, indexes them in memory (`TrainingSourceResolver` caches the indexes in a run folder).
    private static let kinds = Locked<[Kind]>([
        Kind(name: "hdf5-shards", reads: { _ in true }, open: { try ShardDataset(paths: $0) }),
        Kind(name: TrainingSourceResolver.tarKind, reads: { !$0.isEmpty && $0.allSatisfy(TarPaths.namesTars) },
             open: { try TarDataset(tars: try $0.flatMap(TarPaths.tars(in:)), cache: TarIndexCache(folder: nil)) }),
    ])
}
