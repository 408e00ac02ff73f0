import Foundation

/// The memory behind a tensor: a 64-byte aligned block of `Float32`, returned to
/// `BufferPool.shared` when the last tensor using it goes away.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let capacity: Int

    /// A block of at least `count` floats, uninitialized (callers fill it).
    @usableFromInline init(count: Int) {
        (pointer, capacity) = BufferPool.shared.acquire(count: count)
    }

    deinit { BufferPool.shared.release(pointer, capacity: capacity) }
}

/// Reuses freed tensor buffers, so a training step in the steady state does not call `malloc`
/// per op. Thread-safe.
///
/// Buffers come in size classes: exact up to 1024 floats, above that eight classes per power of
/// two (at most 12.5% unused). A request takes a free buffer of its own class or, failing that,
/// of one of the next two classes (at most ≈ 25% larger), so memory freed by one shape serves
/// another of similar size — the backward pass's parameter gradients reuse the activation
/// buffers it has just released instead of adding to the peak.
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

    /// The class of a request for `count` floats: the capacity its buffer will have.
    static func sizeClass(_ count: Int) -> Int {
        if count <= 1024 { return max(count, 1) }
        let step = 1 << (Int.bitWidth - 1 - count.leadingZeroBitCount - 3)   // 2^⌊log2 count⌋ / 8
        return (count + step - 1) / step * step
    }

    /// A buffer of at least `count` floats and its capacity.
    func acquire(count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        let wanted = Self.sizeClass(count)
        lock.lock()
        var capacity = wanted
        for _ in 0..<(wanted > 1024 ? 3 : 1) {
            if var list = free[capacity], let p = list.popLast() {
                free[capacity] = list
                freeBytes -= capacity * 4
                take(capacity)
                lock.unlock()
                return (p, capacity)
            }
            capacity = Self.sizeClass(capacity + 1)
        }
        take(wanted)
        allocations += 1
        lock.unlock()
        let raw = UnsafeMutableRawPointer.allocate(byteCount: wanted * 4, alignment: 64)
        return (raw.bindMemory(to: Float.self, capacity: wanted), wanted)
    }

    /// Counts a buffer of `capacity` floats as live (lock held).
    private func take(_ capacity: Int) {
        liveBuffers += 1
        liveBytes += capacity * 4
        peakLiveBytes = max(peakLiveBytes, liveBytes)
    }

    func release(_ p: UnsafeMutablePointer<Float>, capacity: Int) {
        let bytes = capacity * 4
        lock.lock()
        liveBuffers -= 1
        liveBytes -= bytes
        if freeBytes + bytes <= retainLimitBytes {
            free[capacity, default: []].append(p)
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
