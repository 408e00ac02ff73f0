import Foundation

/// The staging folders `.make-shards-partial-PID/` of `ShardSetWriter`: removed on SIGINT/SIGTERM/SIGHUP
/// (when the command asked for it) and, should a build still die without removing its own (SIGKILL, a
/// crash), by the next build into the same output folder.
extension ShardSetWriter {
    static let stagingPrefix = ".make-shards-partial-"

    /// Removes the staging folders in `output` whose build process no longer runs. Those of live
    /// processes — another build writing into the same folder right now — are left alone.
    static func removeStaleStaging(in output: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
        for name in names where name.hasPrefix(stagingPrefix) {
            guard let pid = Int32(name.dropFirst(stagingPrefix.count).prefix { $0.isNumber }),
                  pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: output).appendingPathComponent(name).path)
        }
    }

    /// Makes SIGINT, SIGTERM and SIGHUP remove the staging folder of every build in progress (and an output
    /// folder a build created, when that leaves it empty), then end the process with status 128 + signal.
    /// For commands; call once, before building.
    public static func removeStagingOnSignals() {
        StagingRegistry.shared.installSignalHandlers([SIGINT, SIGTERM, SIGHUP])
    }
}

/// The staging folders of the builds in progress in this process.
final class StagingRegistry: @unchecked Sendable {
    static let shared = StagingRegistry()

    private let lock = NSLock()
    /// staging folder → the output folder the build created (nil when it existed before).
    private var folders: [String: String?] = [:]
    private var sources: [any DispatchSourceSignal] = []
    /// Set when a signal's handler starts removing the staging folders: a build that fails from then on
    /// (its folder vanished) waits for the handler's exit instead of reporting that failure itself.
    private var interrupted = false

    func register(staging: String, createdOutput: String?) {
        lock.lock()
        defer { lock.unlock() }
        folders[staging] = createdOutput
    }

    func unregister(staging: String) {
        lock.lock()
        defer { lock.unlock() }
        folders[staging] = nil
    }

    func installSignalHandlers(_ signals: [Int32]) {
        lock.lock()
        defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for number in signals {
            signal(number, SIG_IGN)    // delivered to the dispatch source instead of ending the process
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                lock.lock()
                interrupted = true
                lock.unlock()
                removeAll()
                _exit(128 + number)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Blocks for good when a signal is being handled: the handler removes the staging folders and
    /// ends the process with 128 + the signal, which is the outcome to report, not the write error its
    /// removal caused here.
    func parkIfInterrupted() {
        lock.lock()
        let parked = interrupted
        lock.unlock()
        guard parked else { return }
        while true { pause() }
    }

    /// Removes every registered staging folder (renamed first, so the build cannot add files to it while
    /// it is being removed) and each output folder a build created, when empty.
    private func removeAll() {
        lock.lock()
        let pending = folders
        lock.unlock()
        for (staging, createdOutput) in pending {
            let doomed = staging + "-interrupted"
            let target = rename(staging, doomed) == 0 ? doomed : staging
            try? FileManager.default.removeItem(atPath: target)
            if let createdOutput { rmdir(createdOutput) }
            FileHandle.standardError.write(Data("\ninterrupted: removed the partial shards in \(URL(fileURLWithPath: staging).deletingLastPathComponent().path)\n".utf8))
        }
    }
}
