import Foundation
import TensorCore

/// Several datasets sampled in fixed proportions (`data.train` as `[{source, weight}]`), itself a
/// `DatasetSource`, so the loader's order, rank sharding, skips and resume apply unchanged.
///
/// **Epoch.** An epoch of a mixture has N = Σ Nₛ items (the sizes of its sources), as many as the
/// sources concatenated. The loader permutes `0 ..< N` each epoch as for any dataset; index i of
/// epoch e is then mapped to a source and an item of it by `resolve(_:epoch:)`:
///
/// - `.proportional` (the default): source s owns the nₛ indices `offsets[s] ..< offsets[s] + nₛ`,
///   where nₛ apportions N to the weights by the largest-remainder method (nₛ = ⌊N·wₛ/W⌋, the
///   leftover items to the largest remainders, ties to the earlier source), so every epoch holds
///   exactly nₛ items of source s. Source s is read as an endless stream of passes, each pass a
///   permutation of its Nₛ items seeded by (seed, s, pass): epoch e takes the stream's items
///   e·nₛ ..< (e+1)·nₛ. A down-weighted source (nₛ < Nₛ) thus shows new items every epoch and every
///   item once before any repeats; an up-weighted one (nₛ > Nₛ) repeats each item once per pass.
/// - `.resampled` (OpenCLIP's `--dataset-resampled`): each index of each epoch independently draws
///   a source with probability wₛ / W and an item of it uniformly (with replacement), from a
///   generator seeded by (seed, epoch, index). For sources much larger than a run: no pass over
///   them is implied, and the proportions hold in expectation.
///
/// Reads take the item key `resolve` returns (epoch · N + index); origins name the source's file.
public final class MixtureDataset: DatasetSource, @unchecked Sendable {
    /// How a mixture maps an epoch's indices to its sources' items.
    public enum Sampling: String, Sendable, Codable {
        /// Exact per-epoch counts, items without replacement within each pass over a source.
        case proportional
        /// Independent draws with replacement (proportions in expectation).
        case resampled
    }

    /// One source of a mixture.
    public struct Component: Sendable {
        /// How logs and metrics name the source (its config entry).
        public var name: String
        /// The source's items.
        public var dataset: any DatasetSource
        /// A positive, finite weight (weights are normalized over the mixture).
        public var weight: Double
        /// A source named `name` (logs, metrics) sampled with `weight`.
        public init(name: String, dataset: any DatasetSource, weight: Double) {
            (self.name, self.dataset, self.weight) = (name, dataset, weight)
        }
    }

    /// The sources, in `data.train` order.
    public let components: [Component]
    /// How epochs map to the sources' items.
    public let sampling: Sampling
    /// The run seed: passes and draws are pure functions of it.
    public let seed: UInt64
    /// Whether a source's passes are shuffled (`data.shuffle`); otherwise each pass is in item order.
    public let shuffle: Bool
    /// N: items per epoch, Σ Nₛ.
    public let count: Int
    /// nₛ: the items of each source per epoch in `.proportional` sampling (largest remainder).
    public let quotas: [Int]
    /// `offsets[s]` is the first index owned by source s (`.proportional`); `offsets.last == count`.
    public let offsets: [Int]
    /// The class names the sources share (nil when none has them).
    public let classnames: [String]?
    /// Whether every source has labels.
    public let hasLabels: Bool
    /// Whether any source has long captions.
    public let hasLongCaptions: Bool
    /// Whether any source has items with several captions.
    public var hasMultipleCaptions: Bool { components.contains { $0.dataset.hasMultipleCaptions } }
    /// The raw image size every source stores, nil when any source stores encoded images.
    public var fixedImageSize: (height: Int, width: Int)? { commonImageSize }

    private let commonImageSize: (height: Int, width: Int)?
    private let cumulativeWeights: [Double]   // normalized, last == 1
    private let passes = Locked<[PassKey: [Int32]]>([:])

    /// Throws `MixtureError` when the components cannot be mixed: none, a weight that is not positive and
    /// finite, an empty source, a source that would get no item per epoch, different class names, or
    /// images stored raw at different sizes.
    /// - Parameters:
    ///   - components: the sources and their weights.
    ///   - sampling: exact per-epoch counts (`.proportional`) or independent draws (`.resampled`).
    ///   - seed: the run seed.
    ///   - shuffle: whether each pass over a source is a seeded permutation (false: item order).
    public init(components: [Component], sampling: Sampling = .proportional, seed: UInt64, shuffle: Bool = true) throws {
        guard !components.isEmpty else { throw MixtureError("a mixture needs at least one source") }
        for c in components {
            guard c.weight.isFinite && c.weight > 0 else { throw MixtureError("\(c.name): weight must be a positive finite number, got \(c.weight)") }
            guard c.dataset.count > 0 else { throw MixtureError("\(c.name): the source has no items") }
            guard c.dataset.count < Int(Int32.max) else { throw MixtureError("\(c.name): sources of more than 2³¹ items are not supported") }
        }
        let total = components.reduce(0) { $0 + $1.dataset.count }
        let quotas = Self.apportion(total, weights: components.map(\.weight))
        if sampling == .proportional, let empty = quotas.firstIndex(of: 0) {
            throw MixtureError("\(components[empty].name): weight \(components[empty].weight) gives no item in an epoch of \(total) items")
        }
        var names: [String]? = nil, nameSource = ""
        var size: (height: Int, width: Int)? = nil, sizeSource = ""
        for c in components {
            if let theirs = c.dataset.classnames {
                if let names, names != theirs { throw MixtureError("\(c.name): class names differ from those of \(nameSource)") }
                (names, nameSource) = (theirs, c.name)
            }
            if let theirs = c.dataset.fixedImageSize {
                if let size, size != theirs {
                    throw MixtureError("\(c.name): images are \(theirs.height)×\(theirs.width) but \(sizeSource)'s are \(size.height)×\(size.width); build the sources at one image size")
                }
                (size, sizeSource) = (theirs, c.name)
            }
        }
        let weightSum = components.reduce(0) { $0 + $1.weight }
        var running = 0.0
        cumulativeWeights = components.indices.map { s in
            running += components[s].weight
            return s == components.count - 1 ? 1 : running / weightSum
        }
        self.components = components
        self.sampling = sampling
        self.seed = seed
        self.shuffle = shuffle
        self.count = total
        self.quotas = quotas
        offsets = quotas.reduce(into: [0]) { $0.append($0.last! + $1) }
        classnames = names
        hasLabels = components.allSatisfy { $0.dataset.hasLabels }
        hasLongCaptions = components.contains { $0.dataset.hasLongCaptions }
        commonImageSize = components.allSatisfy { $0.dataset.fixedImageSize != nil } ? size : nil
    }

    /// Largest-remainder (Hamilton) apportionment of `total` items to `weights`: ⌊total·wₛ/W⌋ each, then
    /// one more to the largest fractional parts (ties to the earlier source) until they sum to `total`.
    /// Shares and remainders are compared to a few units in the last place of `total`, so weights
    /// written as decimals (0.7, 0.3) apportion as the fractions they spell rather than by rounding noise.
    public static func apportion(_ total: Int, weights: [Double]) -> [Int] {
        let sum = weights.reduce(0, +)
        let quantum = max(1e-9, 64 * Double(total).ulp)
        let shares = weights.map { w -> Double in
            let x = Double(total) * w / sum, nearest = x.rounded()
            return abs(x - nearest) <= quantum ? nearest : x
        }
        var counts = shares.map { Int($0.rounded(.down)) }
        let remainders = shares.indices.map { Int(((shares[$0] - Double(counts[$0])) / quantum).rounded()) }
        let order = shares.indices.sorted { (remainders[$0], -$0) > (remainders[$1], -$1) }
        for s in order.prefix(max(0, total - counts.reduce(0, +))) { counts[s] += 1 }
        return counts
    }

    /// The source that index `index` of epoch `epoch` reads from.
    public func source(of index: Int, epoch: Int) -> Int { locate(index, epoch: epoch).source }

    /// The item key of index `index` in epoch `epoch` (reads decode it): epoch · N + index.
    public func resolve(_ index: Int, epoch: Int) -> Int { epoch * count + index }

    /// The source and the source's item that `index` of `epoch` maps to.
    public func locate(_ index: Int, epoch: Int) -> (source: Int, item: Int) {
        switch sampling {
        case .proportional:
            var lo = 0, hi = offsets.count - 2   // the last s with offsets[s] <= index
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if offsets[mid] <= index { lo = mid } else { hi = mid - 1 }
            }
            let n = components[lo].dataset.count
            let stream = epoch * quotas[lo] + (index - offsets[lo])
            return (lo, Int(pass(source: lo, stream / n)[stream % n]))
        case .resampled:
            var rng = RandomGenerator(seed: RandomGenerator.derivedSeed(seed, domain: 17, UInt64(epoch), UInt64(index)))
            let u = Double(rng.next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
            let s = cumulativeWeights.firstIndex { u < $0 } ?? components.count - 1
            return (s, Int.random(in: 0..<components[s].dataset.count, using: &rng))
        }
    }

    private struct PassKey: Hashable { var source: Int, pass: Int }

    /// Pass `pass` over source `s`: a permutation of its items seeded by (seed, s, pass), or item order
    /// without shuffling. A few recent passes per source are kept.
    private func pass(source s: Int, _ pass: Int) -> [Int32] {
        let key = PassKey(source: s, pass: pass)
        if let cached = passes.withLock({ $0[key] }) { return cached }
        let n = components[s].dataset.count
        var order = (0..<Int32(n)).map { $0 }
        if shuffle {
            var rng = RandomGenerator(seed: RandomGenerator.derivedSeed(seed, domain: 16, UInt64(s), UInt64(pass)))
            var i = n - 1
            while i > 0 {
                order.swapAt(i, Int.random(in: 0...i, using: &rng))
                i -= 1
            }
        }
        passes.withLock { cache in
            cache = cache.filter { $0.key.source != s || abs($0.key.pass - pass) <= 2 }
            cache[key] = order
        }
        return order
    }

    /// The component and its own item key for a mixture item key.
    private func component(_ key: Int) -> (dataset: any DatasetSource, item: Int) {
        let (s, item) = locate(key % count, epoch: key / count)
        let dataset = components[s].dataset
        return (dataset, dataset.resolve(item, epoch: key / count))
    }

    public func origin(of key: Int) -> (path: String, part: Int, index: Int) { let (d, i) = component(key); return d.origin(of: i) }
    public func image(at key: Int) throws -> ShardImage { let (d, i) = component(key); return try d.image(at: i) }
    public func caption(at key: Int) throws -> String { let (d, i) = component(key); return try d.caption(at: i) }
    public func captionCount(at key: Int) -> Int { let (d, i) = component(key); return d.captionCount(at: i) }
    public func caption(at key: Int, number: Int) throws -> String { let (d, i) = component(key); return try d.caption(at: i, number: number) }
    public func hasLongCaption(at key: Int) -> Bool { let (d, i) = component(key); return d.hasLongCaption(at: i) }
    public func longCaption(at key: Int) throws -> String { let (d, i) = component(key); return try d.longCaption(at: i) }
    public func label(at key: Int) -> Int? { let (d, i) = component(key); return d.label(at: i) }
}

/// Why sources cannot be mixed (one line, naming the source).
public struct MixtureError: Error, CustomStringConvertible, Sendable {
    /// The one-line reason, starting with the source's name.
    public var description: String
    /// The one-line reason.
    public init(_ description: String) { self.description = description }
}
