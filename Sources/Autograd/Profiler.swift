import Foundation

/// Per-op timing of forward and backward passes, for `bench step --profile`.
///
/// Off by default (one branch per op). When on, an op's forward time is the wall time since the
/// previous op recorded on the same thread (so it includes its glue), and its backward time is
/// the time of its backward closure. FLOPs are attributed by ops that declare them.
public enum Profiler {
    public struct Entry: Sendable {
        public var forwardSeconds = 0.0, backwardSeconds = 0.0, flops = 0.0, calls = 0
    }
    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) private static var entries: [String: Entry] = [:]
    private static let lock = NSLock()

    public static func reset() { lock.lock(); entries = [:]; lock.unlock() }
    public static func snapshot() -> [String: Entry] { lock.lock(); defer { lock.unlock() }; return entries }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    @inline(__always) public static func markStartIfEnabled() { if isEnabled { markStart() } }

    /// Marks the start of a region (e.g. a worker's forward) on this thread.
    public static func markStart() { Thread.current.threadDictionary["swiftclip.profiler.last"] = now() }

    static func forward(_ name: String, flops: Double) {
        let t = now()
        let dict = Thread.current.threadDictionary
        let last = dict["swiftclip.profiler.last"] as? Double ?? t
        dict["swiftclip.profiler.last"] = t
        lock.lock()
        entries[name, default: Entry()].forwardSeconds += t - last
        entries[name, default: Entry()].flops += flops
        entries[name, default: Entry()].calls += 1
        lock.unlock()
    }

    static func backward(_ name: String, seconds: Double, flops: Double) {
        lock.lock()
        entries[name, default: Entry()].backwardSeconds += seconds
        entries[name, default: Entry()].flops += flops
        lock.unlock()
    }
}
