import Foundation

/// How one `data.train` entry becomes a `DatasetSource`: HDF5 shards (a `.h5` file or a folder of them),
/// WebDataset tars (a `.tar`/`.tar.gz`/`.tgz` file, a folder of them, or a brace pattern such as
/// `shards/{00000..00099}.tar`, expanded as WebDataset does: `BraceExpansion`), or any kind a program
/// registered with `DatasetSourceRegistry`. Tars are indexed on first read into `tarIndexes` (a run's
/// `tar-index/` folder), never beside the data.
public struct TrainingSourceResolver: Sendable {
    /// Where tar indexes are cached.
    public var tarIndexes: TarIndexCache
    /// Tars indexed at the same time.
    public var workers: Int
    /// Hears the indexing lines ("data: indexing …", "data: N tars, M items, K samples skipped: …").
    public var log: @Sendable (String) -> Void

    public init(tarIndexes: TarIndexCache, workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        (self.tarIndexes, self.workers, self.log) = (tarIndexes, workers, log)
    }

    /// The source of one entry.
    public func open(_ entry: String) throws -> any DatasetSource { try open([entry]) }

    /// The source of entries read one after the other (items in entry order): all tars, or all of one
    /// other kind. Throws one line naming the entry for a missing tar, a pattern that names no tars, or a
    /// list that mixes tars with other data.
    public func open(_ entries: [String]) throws -> any DatasetSource {
        let tarEntries = entries.filter(TarPaths.namesTars)
        if !tarEntries.isEmpty && tarEntries.count < entries.count {
            throw TarSourceError("\(entries.first { !TarPaths.namesTars($0) }!) and \(tarEntries[0]): a list of sources read one after the other holds one kind, WebDataset tars or shards")
        }
        guard let kind = DatasetSourceRegistry.kind(reading: entries) else { return try DatasetSourceRegistry.open(entries) }
        guard kind.name == Self.tarKind else { return try kind.open(entries) }
        return try TarDataset(tars: try entries.flatMap(TarPaths.tars(in:)), cache: tarIndexes, workers: workers, log: log)
    }

    /// The registry name of the built-in tar kind.
    public static let tarKind = "webdataset-tars"
}
