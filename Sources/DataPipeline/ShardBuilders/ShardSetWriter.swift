import TensorCore
import Foundation

/// A `make-shards` input or output problem; the description is one line naming the file.
public struct ShardBuildError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(description: String) { self.description = description }
}

/// What a build wrote and what it skipped.
public struct BuildSummary: Sendable, CustomStringConvertible {
    public var output: String
    public var items: Int
    public var shards: [String]
    public var bytes: Int
    /// Every input item that was left out, with its reason.
    public var skipped: SkipTally

    /// "wrote N items in S shards (MB) to OUTPUT", then the skipped items counted by reason.
    public var description: String {
        let megabytes = String(format: "%.1f MB", Double(bytes) / 1_000_000)
        let wrote = "wrote \(items) items in \(shards.count) shard\(shards.count == 1 ? "" : "s") (\(megabytes)) to \(output)"
        return ([wrote] + skipped.report()).joined(separator: "\n")
    }
}

/// Writes a stream of items as a folder of shards `shard-00000.h5`, `shard-00001.h5`, … of at most
/// `shardSize` items each.
///
/// Never leaves a half-written output: shards are staged in a hidden folder `.make-shards-partial-PID/` inside
/// `output` and moved into place only by `finish()`; `abandon()` (also run on deinit without `finish()`)
/// removes the staging folder and the output folder itself if this writer created it. A signal removes them
/// too (`removeStagingOnSignals()`), and staging folders of dead processes are removed by the next build. An output folder that already holds `.h5` files
/// is refused unless `overwrite`, which replaces them when the build succeeds.
public final class ShardSetWriter {
    public let output: String
    public let shardSize: Int
    public let classnames: [String]?
    public let progress: BuildProgress

    private let staging: String
    private let overwrite: Bool
    private let createdOutput: Bool
    private var current: ShardWriter?
    private var staged: [String] = []       // file names in staging
    private var items = 0
    private var bytes = 0
    private var skipped = SkipTally()
    private var done = false

    public init(output: String, shardSize: Int, classnames: [String]? = nil, overwrite: Bool = false,
                progress: BuildProgress = BuildProgress(total: nil, style: .silent)) throws {
        guard shardSize > 0 else { throw ShardBuildError(description: "--shard-size must be positive, got \(shardSize)") }
        self.output = output
        self.shardSize = shardSize
        self.classnames = classnames
        self.overwrite = overwrite
        self.progress = progress
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: output, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ShardBuildError(description: "\(output): exists and is not a folder") }
            if !overwrite { try Self.requireNoShards(in: output) }
            createdOutput = false
        } else {
            do {
                try manager.createDirectory(atPath: output, withIntermediateDirectories: true)
            } catch {
                throw Self.outputError(output, error, "cannot create output folder")
            }
            createdOutput = true
        }
        Self.removeStaleStaging(in: output)
        staging = URL(fileURLWithPath: output).appendingPathComponent(Self.stagingPrefix + "\(getpid())").path
        do {
            try manager.createDirectory(atPath: staging, withIntermediateDirectories: true)
        } catch {
            throw Self.outputError(output, error, "cannot write in output folder")
        }
        StagingRegistry.shared.register(staging: staging, createdOutput: createdOutput ? output : nil)
    }

    deinit { if !done { abandon() } }

    /// Refuses an `output` folder that already holds `.h5` files (what `init` does without `overwrite`).
    public static func requireNoShards(in output: String) throws {
        let existing = ((try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []).filter { $0.hasSuffix(".h5") && !$0.hasPrefix(".") }
        if !existing.isEmpty {
            throw ShardBuildError(description: "\(output): already contains \(existing.count) .h5 file(s); use --overwrite to replace them")
        }
    }

    /// "permission denied: OUTPUT" for a folder this user may not write, else what failed and why.
    private static func outputError(_ output: String, _ error: any Error, _ what: String) -> ShardBuildError {
        switch (error as? CocoaError)?.code {
        case .fileWriteNoPermission?: return ShardBuildError(description: "permission denied: \(output)")
        case .fileWriteVolumeReadOnly?: return ShardBuildError(description: "read-only file system: \(output)")
        default: return ShardBuildError(description: "\(output): \(what) (\(error.localizedDescription))")
        }
    }

    private func shardName(_ n: Int) -> String { String(format: "shard-%05d.h5", n) }

    /// Adds an item, writing a shard whenever `shardSize` items have gathered.
    public func append(_ item: ShardItem) throws {
        if current == nil {
            current = ShardWriter(path: URL(fileURLWithPath: staging).appendingPathComponent(shardName(staged.count)).path,
                                  classnames: classnames)
        }
        do {
            try current!.append(item)
            items += 1
            progress.advance()
            if current!.count == shardSize { try flush() }
        } catch {
            StagingRegistry.shared.parkIfInterrupted()   // a signal removed the staging folder under us
            throw error
        }
    }

    /// Records an input item that was left out (`reason`: a `SkipReason`, a string literal, or
    /// `SkipReason(error)` for the error that reading it threw).
    public func skip(source: String, reason: SkipReason) {
        skipped.add(source: source, reason)
        progress.advance()
    }

    private func flush() throws {
        guard let writer = current else { return }
        current = nil
        let size = try writer.finish()
        bytes += size
        let name = URL(fileURLWithPath: writer.path).lastPathComponent
        staged.append(name)
        progress.note("wrote \(name): \(writer.count) item\(writer.count == 1 ? "" : "s"), \(String(format: "%.1f", Double(size) / 1_000_000)) MB")
    }

    /// Writes the last shard, moves every shard into `output` and returns the summary.
    public func finish() throws -> BuildSummary {
        ensure(!done, "ShardSetWriter.finish called twice")
        do {
            try flush()
            guard !staged.isEmpty else {
                let reasons = skipped.isEmpty ? "the input has no items"
                    : "all \(skipped.count) input item\(skipped.count == 1 ? " was" : "s were") skipped: \(skipped.summaryLine())"
                throw ShardBuildError(description: "\(output): no items to write, \(reasons)")
            }
            let manager = FileManager.default
            if overwrite {
                for name in (try? manager.contentsOfDirectory(atPath: output)) ?? [] where name.hasSuffix(".h5") && !name.hasPrefix(".") {
                    try manager.removeItem(atPath: URL(fileURLWithPath: output).appendingPathComponent(name).path)
                }
            }
            for name in staged {
                let source = URL(fileURLWithPath: staging).appendingPathComponent(name).path
                let destination = URL(fileURLWithPath: output).appendingPathComponent(name).path
                guard rename(source, destination) == 0 else {
                    throw ShardBuildError(description: "\(destination): cannot move shard into place: \(String(cString: strerror(errno)))")
                }
            }
            try? manager.removeItem(atPath: staging)
            StagingRegistry.shared.unregister(staging: staging)
        } catch {
            StagingRegistry.shared.parkIfInterrupted()
            abandon()
            throw error
        }
        done = true
        progress.finish()
        return BuildSummary(output: output, items: items, shards: staged, bytes: bytes, skipped: skipped)
    }

    /// Removes everything this writer staged (and the output folder, if it created it and it is now empty).
    public func abandon() {
        done = true
        current = nil
        let manager = FileManager.default
        try? manager.removeItem(atPath: staging)
        StagingRegistry.shared.unregister(staging: staging)
        if createdOutput, ((try? manager.contentsOfDirectory(atPath: output)) ?? ["?"]).isEmpty {
            try? manager.removeItem(atPath: output)
        }
        progress.finish()
    }
}
