import Foundation

/// A value behind a lock, for state shared across threads that is rarely written: the registries
/// (objectives, towers, dataset kinds) that programs add to at start-up and loader threads read.
public final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    public init(_ value: Value) { self.value = value }

    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
