import Tokenization

/// The caption sets an objective trains on, from a batch's raw captions.
///
/// - Long-CLIP: the main text is the long caption; the extra set is the short caption
///   (`/captions` when the shard has long captions too, else the long caption's first sentence).
/// - Multi-positive: K extra sets of sub-captions sampled from the long caption (or the caption),
///   deterministic given (seed, epoch, sample index), so resuming reproduces them.
enum CaptionSets {
    static func make(for objective: any Objective, captions: [String], longCaptions: [String]?,
                     indices: [Int], epoch: Int, seed: UInt64) -> (main: [String]?, extra: [[String]]) {
        switch objective {
        case is LongCLIPObjective:
            guard let long = longCaptions else {
                return (captions, [captions.map { sentences(of: $0).first ?? $0 }])
            }
            let short = zip(captions, long).map { short, long in
                short.isEmpty || short == long ? (sentences(of: long).first ?? long) : short
            }
            return (long, [short])
        case let multi as MultiPositiveObjective:
            let source = longCaptions ?? captions
            var sets = Array(repeating: [String](), count: multi.k)
            for (i, caption) in source.enumerated() {
                var rng = RandomGenerator(seed: seed &+ 0x5DEE_CE66_D).split(UInt64(epoch) << 32 | UInt64(indices[i]))
                let subs = MultiPositiveObjective.sampleSubCaptions(caption, k: multi.k, using: &rng)
                for k in 0..<multi.k { sets[k].append(subs[k]) }
            }
            return (nil, sets)
        default:
            return (nil, [])
        }
    }
}
