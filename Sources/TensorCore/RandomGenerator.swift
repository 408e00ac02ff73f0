/// A seeded, splittable pseudo-random generator (xoshiro256**) whose whole state
/// is four `UInt64`s, so it can be saved in a checkpoint and restored exactly.
///
/// Nothing in SwiftCLIP reads a global RNG: every random draw takes one of these.
public struct RandomGenerator: RandomNumberGenerator, Codable, Equatable, Sendable {
    public var state: [UInt64]   // 4 words

    /// Seeds the four state words from `seed` with SplitMix64, as the xoshiro authors recommend.
    public init(seed: UInt64) {
        var s = seed
        var words = [UInt64]()
        for _ in 0..<4 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            words.append(z ^ (z >> 31))
        }
        state = words
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotl(state[3], 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// An independent stream derived from this one (e.g. one per worker or per sample);
    /// deterministic given this generator's state and `stream`.
    public func split(_ stream: UInt64) -> RandomGenerator {
        RandomGenerator(seed: state[0] ^ (state[3] &* 0x2545_F491_4F6C_DD1D) ^ (stream &* 0x9E37_79B9_7F4A_7C15))
    }

    /// Uniform in [0, 1) with 24 random bits (exact in Float32).
    @inline(__always)
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Standard normal N(0, 1) by the Box–Muller transform (one value per call, in Double).
    @inline(__always)
    public mutating func nextNormal() -> Float {
        let u1 = (Double(next() >> 11) + 1.0) * (1.0 / 9_007_199_254_740_993.0)  // (0, 1]
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2.0 * _log(u1)).squareRoot() * _cos(2.0 * Double.pi * u2))
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
@inline(__always) private func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif

extension RandomGenerator {
    /// A seed derived from `seed` for one purpose (`domain`) and up to two coordinates, e.g.
    /// (epoch, position): every random stream of a run is a pure function of the run seed and
    /// where it is used, so it is the same with any number of threads and after resuming.
    /// Domains in use: 1 the loader's epoch order, 2 a sample's augmentation, 3 make-shards caption
    /// templates, 4 generated scenes, 5 patch dropout.
    public static func derivedSeed(_ seed: UInt64, domain: UInt64, _ a: UInt64, _ b: UInt64 = 0) -> UInt64 {
        mix64(mix64(mix64(mix64(seed) ^ domain) ^ a) ^ (b &* 0xD1B5_4A32_D192_ED03))
    }

    /// SplitMix64's finalizer: a bijective 64-bit mix.
    @inline(__always)
    static func mix64(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
