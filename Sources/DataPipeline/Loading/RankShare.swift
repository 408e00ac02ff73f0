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
/// Without a share: every position (the stream index is the position). With a share: in each
/// epoch, the share's rows of each complete global batch of consecutive positions; the positions
/// after the last complete batch of an epoch belong to nobody (a single loader drops them too).
struct PositionStream: Sendable {
    /// N, the dataset size.
    let count: Int
    /// B, the global batch size.
    let batchSize: Int
    let share: RankShare?

    /// Stream indices per epoch.
    var perEpoch: Int {
        guard let share else { return count }
        return (count / batchSize) * share.localBatchSize(batchSize)
    }

    /// The absolute position of stream index `index`.
    func position(_ index: Int) -> Int {
        guard let share else { return index }
        let local = share.localBatchSize(batchSize)
        let epoch = index / perEpoch, within = index % perEpoch
        return epoch * count + (within / local) * batchSize + share.globalRow(within % local, batchSize: batchSize)
    }

    /// The stream index of absolute position `position`, or nil when this stream does not visit it.
    func index(of position: Int) -> Int? {
        guard let share else { return position }
        let epoch = position / count, p = position % count, block = p / batchSize
        guard block < count / batchSize, let row = share.localRow(p % batchSize, batchSize: batchSize) else { return nil }
        return epoch * perEpoch + block * share.localBatchSize(batchSize) + row
    }
}
