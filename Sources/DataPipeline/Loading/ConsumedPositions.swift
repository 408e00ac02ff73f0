/// The positions of the global sample order (absolute: epoch · N + p) that a data-parallel job has
/// consumed — read into a batch, or met and skipped as a bad item — at a checkpoint, whatever its
/// layout: every position below `frontier`, and `beyond`.
///
/// Ranks drift apart (a rank that skips an item takes its next own position instead), so the
/// positions consumed are a prefix of the global order plus a few later ones. A resume on another
/// layout deals out the rest again (`DataLoader(…, dealtFrom:)`): each new rank reads its rows of
/// global batches of the positions not consumed, in global order, so no position is read twice and
/// none is passed over, whatever the rank counts.
public struct ConsumedPositions: Codable, Equatable, Sendable {
    /// Every position below it is consumed (or, at the end of an epoch, was nobody's to read).
    public let frontier: Int
    /// The positions at or after `frontier` consumed too, sorted.
    public let beyond: [Int]

    /// Throws unless `beyond` is sorted, without repeats, and at or after `frontier` ≥ 0.
    public init(frontier: Int, beyond: [Int]) throws {
        guard frontier >= 0, beyond.first.map({ $0 >= frontier }) ?? true, zip(beyond, beyond.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw DataLoaderError.invalidState("consumed positions: frontier \(frontier) with \(beyond.prefix(3))… is not a frontier followed by sorted later positions")
        }
        (self.frontier, self.beyond) = (frontier, beyond)
    }

    /// Decodes `{"frontier": F, "beyond": [...]}`, checked as `init(frontier:beyond:)` checks it.
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(frontier: try values.decode(Int.self, forKey: .frontier), beyond: try values.decode([Int].self, forKey: .beyond))
    }

    private enum CodingKeys: String, CodingKey { case frontier, beyond }

    /// What the loaders of one layout have consumed, from each rank's next position (`DataLoader.state`,
    /// in rank order; one for a single process).
    /// - Parameters:
    ///   - count: N, the dataset size.
    ///   - batchSize: the global batch size those loaders read.
    ///   - groups: their micro-batches per batch (`RankShare.groups`; any value for a single process).
    ///   - dealtFrom: what their streams were dealt from (`DataLoader.dealtFrom`), nil from the start.
    /// - Throws: when a rank's position is not one its stream reads (the layout is not the one that saved it).
    public static func reconcile(_ positions: [LoaderState], count: Int, batchSize: Int, groups: Int,
                                 dealtFrom: ConsumedPositions?) throws -> ConsumedPositions {
        let ranks = positions.count
        guard ranks >= 1, count > 0, batchSize > 0, groups >= 1, ranks == 1 || batchSize % (ranks * groups) == 0 else {
            throw DataLoaderError.invalidState("cannot reconcile \(ranks) ranks reading batches of \(batchSize) in \(groups) groups")
        }
        let absolute = positions.map { $0.epoch * count + $0.position }
        let frontier = absolute.min()!
        var beyond = Set(dealtFrom?.beyond.filter { $0 >= frontier } ?? [])
        for (rank, position) in absolute.enumerated() {
            let stream = PositionStream(count: count, batchSize: batchSize,
                                        share: ranks > 1 ? RankShare(rank: rank, ranks: ranks, groups: groups) : nil,
                                        origin: dealtFrom)
            let next = position == 0 && dealtFrom == nil ? 0 : stream.index(of: position)
            guard let next, (0...count).contains(positions[rank].position) else {
                throw DataLoaderError.invalidState("rank \(rank) of \(ranks) was saved at epoch \(positions[rank].epoch), position \(positions[rank].position), which it does not read with batches of \(batchSize) in \(groups) groups")
            }
            for index in stream.firstIndex(atOrAfter: frontier, upTo: next)..<next { beyond.insert(stream.position(index)) }
        }
        return try ConsumedPositions(frontier: frontier, beyond: beyond.sorted())
    }

    /// Whether loaders dealt from this have all left the epochs it touches (`positions`: each rank's
    /// next position): from there on they read what loaders started from the beginning read.
    public func isSettled(by positions: [LoaderState], count: Int) -> Bool {
        let firstWhole = (max(frontier, beyond.last ?? frontier) / count + 1) * count
        return positions.allSatisfy { $0.epoch * count + $0.position >= firstWhole }
    }

    /// How many positions of `epoch` (of N = `count`) remain to be read: those from the frontier on not in `beyond`.
    public func remaining(inEpoch epoch: Int, count: Int) -> Int {
        let start = max(frontier, epoch * count), end = (epoch + 1) * count
        guard start < end else { return 0 }
        return end - start - beyond.count(where: { $0 >= start && $0 < end })
    }
}
