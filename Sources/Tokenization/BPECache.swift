import Foundation

/// A map from a piece's UTF-8 bytes to its token ids, shared by all threads that use one
/// tokenizer. It is split into shards, each behind its own lock and chosen by an FNV-1a hash
/// of the bytes, so loader threads rarely wait on each other. Bounded: a shard that holds
/// `capacity / shardCount` pieces starts over, so memory stays flat on corpora with unbounded
/// vocabularies (URLs, numbers, names).
final class BPECache: @unchecked Sendable {
    private final class Shard {
        let lock = NSLock()
        var entries: [[UInt8]: [Int32]] = [:]
    }

    static let shardCount = 32
    private let shards: [Shard]
    private let shardCapacity: Int

    init(capacity: Int = 131_072) {
        shards = (0..<Self.shardCount).map { _ in Shard() }
        shardCapacity = max(1, capacity / Self.shardCount)
    }

    @inline(__always)
    private func shard(for piece: [UInt8]) -> Shard {
        var hash: UInt32 = 2_166_136_261
        for byte in piece { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return shards[Int(hash % UInt32(Self.shardCount))]
    }

    func ids(for piece: [UInt8]) -> [Int32]? {
        let shard = shard(for: piece)
        shard.lock.lock()
        defer { shard.lock.unlock() }
        return shard.entries[piece]
    }

    func insert(_ ids: [Int32], for piece: [UInt8]) {
        let shard = shard(for: piece)
        shard.lock.lock()
        defer { shard.lock.unlock() }
        if shard.entries.count >= shardCapacity { shard.entries.removeAll(keepingCapacity: true) }
        shard.entries[piece] = ids
    }

    /// Number of cached pieces.
    var count: Int {
        shards.reduce(0) { total, shard in
            shard.lock.lock()
            defer { shard.lock.unlock() }
            return total + shard.entries.count
        }
    }
}
