import Foundation

/// The memory behind a tensor: a 64-byte aligned block of `Float32`, returned to
/// `BufferPool.shared` when the last tensor using it goes away.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let capacity: Int

    /// A block of at least `count` floats, uninitialized (callers fill it).
    @usableFromInline init(count: Int) {
        capacity = count
        pointer = BufferPool.shared.acquire(count: count)
    }

    deinit { BufferPool.shared.release(pointer, count: capacity) }
}

/// Reuses freed tensor buffers by exact size, so a training step in the steady
/// state does not call `malloc` per op. Thread-safe.
public final class BufferPool: @unchecked Sendable {
    public static let shared = BufferPool()

    private let lock = NSLock()
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var freeBytes = 0
    /// Buffers held by live tensors (for leak tests).
    public private(set) var liveBuffers = 0
    /// Bytes held by live tensors, and the most ever held at once.
    public private(set) var liveBytes = 0
    public private(set) var peakLiveBytes = 0
    /// Calls that had to allocate fresh memory (pool misses).
    public private(set) var allocations = 0
    /// Free bytes kept for reuse before the pool starts returning memory to the system.
    public var retainLimitBytes = 8 << 30

    func acquire(count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = max(count, 1) * 4
        lock.lock()
        liveBuffers += 1
        liveBytes += bytes
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        if var list = free[count], let p = list.popLast() {
            free[count] = list
            freeBytes -= bytes
            lock.unlock()
            return p
        }
        allocations += 1
        lock.unlock()
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    func release(_ p: UnsafeMutablePointer<Float>, count: Int) {
        let bytes = max(count, 1) * 4
        lock.lock()
        liveBuffers -= 1
        liveBytes -= bytes
        if freeBytes + bytes <= retainLimitBytes {
            free[count, default: []].append(p)
            freeBytes += bytes
            lock.unlock()
        } else {
            lock.unlock()
            UnsafeMutableRawPointer(p).deallocate()
        }
    }

    /// Returns every pooled (unused) buffer to the system.
    public func trim() {
        lock.lock()
        let lists = free
        free = [:]
        freeBytes = 0
        lock.unlock()
        for list in lists.values { for p in list { UnsafeMutableRawPointer(p).deallocate() } }
    }

    /// Restarts peak tracking from the current live size.
    public func resetPeak() {
        lock.lock(); peakLiveBytes = liveBytes; lock.unlock()
    }
}
