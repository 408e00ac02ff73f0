import TensorCore

/// The rows of each global batch that one rank of a data-parallel job reads.
///
/// The global batch (B rows) is `groups` micro-batches of m = B / groups rows (feature-caching
/// accumulation); rank r of R holds rows r·m/R ..< (r+1)·m/R of each micro-batch, micro-batch after
/// micro-batch. Gathering every rank's features micro-batch by micro-batch in rank order thus
/// restores the global order, whatever R is.
public struct RankShare: Sendable, Equatable {
    public let rank: Int
    public let ranks: Int
    public let groups: Int

    public init(rank: Int, ranks: Int, groups: Int = 1) {
        ensure(ranks >= 1 && (0..<ranks).contains(rank) && groups >= 1, "rank \(rank) of \(ranks) (groups \(groups)) is not a valid share")
        (self.rank, self.ranks, self.groups) = (rank, ranks, groups)
    }

    /// Rows of a global batch of `batchSize` held by each rank (`batchSize` must be divisible by ranks × groups).
    public func localBatchSize(_ batchSize: Int) -> Int { batchSize / ranks }

    /// The global row of this rank's local row `local`, in a global batch of `batchSize` rows.
    public func globalRow(_ local: Int, batchSize: Int) -> Int {
        let part = batchSize / (groups * ranks)          // rows per rank per micro-batch
        return (local / part) * (batchSize / groups) + rank * part + local % part
    }

    /// The local row of global row `row` when this rank holds it, else nil.
    func localRow(_ row: Int, batchSize: Int) -> Int? {
        let micro = batchSize / groups, part = micro / ranks
        guard (row % micro) / part == rank else { return nil }
        return (row / micro) * part + row % part
    }
}

/// The absolute positions (epoch · N + p) a loader visits, in order, numbered by a stream index.
///
/// Without a share: every position (the stream index counts positions). With a share: in each
/// epoch, the share's rows of each complete global batch of consecutive positions; the positions
/// after the last complete batch of an epoch belong to nobody (a single loader drops them too).
///
/// With an `origin` (a resume on another layout), the stream first reads the positions the origin
/// leaves unconsumed in the epochs it touches — dealt out the same way, as if they were the whole
/// epoch: complete global batches of B consecutive remaining positions, the share's rows of each —
/// then every later epoch as above. Positions increase with the stream index.
struct PositionStream: Sendable {
    /// N, the dataset size.
    let count: Int
    /// B, the global batch size.
    let batchSize: Int
    let share: RankShare?
    let origin: ConsumedPositions?
    /// The epochs the origin leaves partly consumed, in order (empty without an origin).
    private let opening: [OpeningEpoch]
    /// Stream indices of the opening epochs together.
    private let openingLength: Int
    /// The first epoch read whole (0 without an origin).
    private let regularEpoch: Int

    /// One epoch of the opening: the positions `start ..< (epoch + 1) · N` except `excluded`.
    private struct OpeningEpoch: Sendable {
        let epoch: Int
        let start: Int
        let excluded: [Int]         // sorted absolute positions in start ..< (epoch + 1) · N
        let firstIndex: Int         // stream index of its first entry
        let entries: Int            // stream indices it holds
        let remaining: Int          // positions it deals out (before dropping an incomplete global batch)
    }

    init(count: Int, batchSize: Int, share: RankShare?, origin: ConsumedPositions? = nil) {
        (self.count, self.batchSize, self.share, self.origin) = (count, batchSize, share, origin)
        guard let origin else { (opening, openingLength, regularEpoch) = ([], 0, 0); return }
        let first = origin.frontier / count, last = max(first, (origin.beyond.last ?? origin.frontier) / count)
        var epochs: [OpeningEpoch] = [], index = 0
        for epoch in first...last {
            let start = max(origin.frontier, epoch * count), end = (epoch + 1) * count
            let excluded = origin.beyond.filter { $0 >= start && $0 < end }
            let remaining = end - start - excluded.count
            let entries = share.map { (remaining / batchSize) * $0.localBatchSize(batchSize) } ?? remaining
            epochs.append(OpeningEpoch(epoch: epoch, start: start, excluded: excluded, firstIndex: index,
                                       entries: entries, remaining: remaining))
            index += entries
        }
        (opening, openingLength, regularEpoch) = (epochs, index, last + 1)
    }

    /// Stream indices per whole epoch.
    var perEpoch: Int {
        guard let share else { return count }
        return (count / batchSize) * share.localBatchSize(batchSize)
    }

    /// The absolute position of stream index `index`.
    func position(_ index: Int) -> Int {
        if index < openingLength, let part = opening.last(where: { $0.firstIndex <= index && $0.entries > 0 }) {
            var p = part.start + dealt(index - part.firstIndex)
            for x in part.excluded where x <= p { p += 1 }   // the dealt-th position not excluded
            return p
        }
        let index = index - openingLength
        let epoch = index / perEpoch, within = index % perEpoch
        return (regularEpoch + epoch) * count + dealt(within)
    }

    /// The stream index of absolute position `position`, or nil when this stream does not visit it.
    func index(of position: Int) -> Int? {
        guard position >= 0 else { return nil }
        let epoch = position / count
        if epoch < regularEpoch {
            guard let part = opening.first(where: { $0.epoch == epoch }), position >= part.start,
                  !part.excluded.contains(position) else { return nil }
            let k = position - part.start - part.excluded.count(where: { $0 < position })
            guard let j = undealt(k, of: part.remaining) else { return nil }
            return part.firstIndex + j
        }
        guard let j = undealt(position % count, of: count) else { return nil }
        return openingLength + (epoch - regularEpoch) * perEpoch + j
    }

    /// Whether stream index `index` is the first of an epoch after another (an epoch boundary).
    func startsEpoch(_ index: Int) -> Bool {
        index > 0 && position(index) / count != position(index - 1) / count
    }

    /// The smallest stream index in `0 ... bound` whose position is at least `position` (`bound` if none).
    func firstIndex(atOrAfter position: Int, upTo bound: Int) -> Int {
        var (low, high) = (0, bound)
        while low < high {
            let mid = (low + high) / 2
            if self.position(mid) < position { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Which of an epoch's (remaining) positions the `within`-th entry of this stream in that epoch reads,
    /// counted from the epoch's first (remaining) position.
    private func dealt(_ within: Int) -> Int {
        guard let share else { return within }
        let local = share.localBatchSize(batchSize)
        return (within / local) * batchSize + share.globalRow(within % local, batchSize: batchSize)
    }

    /// The inverse of `dealt` for the `k`-th of `available` positions, nil when this stream does not read it.
    private func undealt(_ k: Int, of available: Int) -> Int? {
        guard let share else { return k }
        guard k / batchSize < available / batchSize, let row = share.localRow(k % batchSize, batchSize: batchSize) else { return nil }
        return (k / batchSize) * share.localBatchSize(batchSize) + row
    }
}
