import Foundation

/// A lock-protected map from a piece's UTF-8 bytes to its token ids, shared by all threads that
/// use one tokenizer. Bounded: when it holds `capacity` pieces it starts over, so memory stays
/// flat on corpora with unbounded vocabularies (URLs, numbers, names).
final class BPECache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [[UInt8]: [Int32]] = [:]
    let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    func ids(for piece: [UInt8]) -> [Int32]? {
        lock.lock()
        defer { lock.unlock() }
        return entries[piece]
    }

    func insert(_ ids: [Int32], for piece: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[piece] = ids
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }
}
