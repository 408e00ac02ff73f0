import TensorCore

/// The order in which the loader visits a dataset, and the random stream of every sample.
///
/// Both are pure functions of `(seed, epoch)` and `(seed, epoch, position)`: the same seed gives the same
/// sequence on every run, with any number of threads, and after resuming. So is the caption a training
/// epoch reads from an item with several captions: a function of `(seed, epoch, item)`.
struct SampleOrder: Sendable {
    let count: Int
    let seed: UInt64
    let shuffle: Bool

    /// The epoch's permutation of global item indices: a Fisher–Yates shuffle of the whole dataset seeded
    /// by `(seed, epoch)` (which also shuffles the order of shards), or `0 ..< count` when not shuffling.
    func permutation(epoch: Int) -> [Int32] {
        ensure(count < Int(Int32.max), "datasets of more than 2³¹ items are not supported")
        var order = (0..<Int32(count)).map { $0 }
        guard shuffle else { return order }
        var rng = RandomGenerator(seed: RandomGenerator.derivedSeed(seed, domain: 1, UInt64(epoch)))
        var i = count - 1
        while i > 0 {
            let j = Int.random(in: 0...i, using: &rng)
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }

    /// The random stream of the sample at `position` of `epoch` (augmentation draws only from it).
    func sampleGenerator(epoch: Int, position: Int) -> RandomGenerator {
        RandomGenerator(seed: RandomGenerator.derivedSeed(seed, domain: 2, UInt64(epoch), UInt64(position)))
    }

    /// Which of an item's `captions` (> 1) training reads in `epoch`: uniform over `0 ..< captions`,
    /// drawn from a generator seeded by `(seed, epoch, item)` — the item's global index, not its
    /// position, so the choice does not depend on the shuffle, the rank or the resume point.
    static func captionNumber(seed: UInt64, epoch: Int, item: Int, captions: Int) -> Int {
        var rng = RandomGenerator(seed: RandomGenerator.derivedSeed(seed, domain: 6, UInt64(epoch), UInt64(item)))
        return Int.random(in: 0..<captions, using: &rng)
    }
}
