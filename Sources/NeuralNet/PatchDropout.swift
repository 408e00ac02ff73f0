/// Patch dropout (FLIP, Li et al. 2023, "Scaling Language-Image Pre-training via Masking";
/// OpenCLIP's `patch_dropout`): during training each image keeps a random subset of its patch
/// tokens — `max(1, ⌊N · (1 − rate)⌋)` of its N patches, the class token always — and the vision
/// transformer runs on those only, so its cost falls almost in proportion. Evaluation sees every
/// patch.
///
/// Which patches a sample keeps is a pure function of a per-sample seed (the trainer derives it
/// from the run seed, the epoch and the sample's dataset index), so results do not depend on the
/// worker count and resume exactly.
public struct PatchDropout: Sendable, Equatable {
    /// The fraction of patch tokens dropped, in [0, 1).
    public let rate: Double

    public init(rate: Double) {
        ensure(rate >= 0 && rate < 1, "patch dropout rate must be in [0, 1), got \(rate)")
        self.rate = rate
    }

    /// How many of `patches` tokens an image keeps (OpenCLIP: `max(1, int(N * (1 - p)))`).
    public func keptCount(of patches: Int) -> Int { max(1, Int(Double(patches) * (1 - rate))) }

    /// The ascending indices (in 0 ..< `patches`) of the patches one sample keeps: the first
    /// `keptCount` draws of a Fisher–Yates shuffle seeded by `seed`, sorted.
    public func keptPatches(of patches: Int, seed: UInt64) -> [Int] {
        let k = keptCount(of: patches)
        guard k < patches else { return Array(0..<patches) }
        var rng = RandomGenerator(seed: seed)
        var order = Array(0..<patches)
        for i in 0..<k { order.swapAt(i, Int.random(in: i..<patches, using: &rng)) }
        return order[0..<k].sorted()
    }
}
