import Foundation
import TensorCore

/// WebDataset tars read as a training source, without an HDF5 copy: the items `make-shards webdataset`
/// would write from the same tars (`WebDatasetItem`'s rule), in the same order (tars in the order
/// given, samples in tar order), so training from the tars and from the shards built from them sees the
/// same dataset. Each tar is indexed on first open (`TarIndex`, cached by `TarIndexCache`); a read then
/// takes one image straight from the tar — a `pread` for a plain tar, inflating from the nearest access
/// point for a gzip-compressed one.
public final class TarDataset: @unchecked Sendable {
    public let tars: [String]
    public let indexes: [TarIndex]
    /// `offsets[t]` is the global index of tar `t`'s first item; `offsets.last == count`.
    public let offsets: [Int]
    /// The samples the indexes left out, every tar's, in tar order.
    public let skipped: SkipTally

    /// Indexes (or finds the cached indexes of) `tars`, `workers` tars at a time; `log` hears one line
    /// when indexing starts and one with the totals. Throws a one-line error for a tar that cannot be
    /// examined, an index that cannot be stored, or tars without a single usable item.
    public init(tars: [String], cache: TarIndexCache, workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        guard !tars.isEmpty else { throw TarSourceError("no tar files given") }
        var files: [TarFileIdentity] = []
        for tar in tars {
            guard let file = TarFileIdentity.current(tar) else { throw TarSourceError("\(tar): no such tar file") }
            files.append(file)
        }
        var found = files.map { cache.cached($0) }
        let missing = found.indices.filter { found[$0] == nil }
        if !missing.isEmpty {
            log("data: indexing \(missing.count) of \(tars.count) tar\(tars.count == 1 ? "" : "s") (first read\(cache.folder.map { "; cached in \($0)" } ?? ""))")
            let built = Locked<[Int: Result<TarIndex, Error>]>([:])
            let next = Locked(0)
            let files = files
            DispatchQueue.concurrentPerform(iterations: max(1, min(workers, missing.count))) { _ in
                while true {
                    let position = next.withLock { value -> Int in defer { value += 1 }; return value }
                    guard position < missing.count else { return }
                    let t = missing[position]
                    let result = Result { () throws -> TarIndex in
                        let index = try TarIndex.build(files[t])
                        try cache.store(index)
                        return index
                    }
                    built.withLock { $0[t] = result }
                }
            }
            for (t, result) in built.withLock({ $0 }).sorted(by: { $0.key < $1.key }) { found[t] = try result.get() }
        }
        let indexes = found.map { $0! }
        var offsets = [0], skipped = SkipTally()
        for index in indexes {
            offsets.append(offsets.last! + index.count)
            for item in index.skipped.items { skipped.add(source: item.source, item.why) }
        }
        (self.tars, self.indexes, self.offsets, self.skipped) = (tars, indexes, offsets, skipped)
        let count = offsets.last!
        guard count > 0 else {
            throw TarSourceError(skipped.isEmpty ? "\(tars[0]): the tars hold no samples"
                                 : "\(tars.count == 1 ? tars[0] : "\(tars.count) tars"): no usable items, all \(skipped.count) samples were skipped: \(skipped.summaryLine())")
        }
        log("data: \(tars.count) tar\(tars.count == 1 ? "" : "s"), \(count) items" + (skipped.isEmpty ? "" : ", \(skipped.count) samples skipped: \(skipped.summaryLine())"))
    }

    /// The (tar, index in tar) of global item `index`.
    public func locate(_ index: Int) -> (tar: Int, index: Int) {
        ensure(index >= 0 && index < count, "item \(index) out of range 0..<\(count)")
        var lo = 0, hi = indexes.count - 1   // last tar whose offset is <= index (skips empty tars)
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if offsets[mid] <= index { lo = mid } else { hi = mid - 1 }
        }
        return (lo, index - offsets[lo])
    }
}

/// The loader reads a tar's items through its index: captions from the index, images from the tar.
extension TarDataset: DatasetSource {
    public var count: Int { offsets.last! }

    public func origin(of index: Int) -> (path: String, part: Int, index: Int) {
        let (t, i) = locate(index)
        return (tars[t], t, i)
    }

    /// The image's bytes as stored in the tar (JPEG or PNG), as `make-shards webdataset` stores them.
    public func image(at index: Int) throws -> ShardImage {
        let (t, i) = locate(index)
        return .jpeg(try indexes[t].read(indexes[t].item(i).image))
    }

    public func caption(at index: Int) throws -> String {
        let (t, i) = locate(index)
        return indexes[t].item(i).caption
    }
}
