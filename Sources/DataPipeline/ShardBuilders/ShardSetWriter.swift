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
    /// (source, reason) of every input item that was left out.
    public var skipped: [(source: String, reason: String)]

    public var description: String {
        let megabytes = String(format: "%.1f MB", Double(bytes) / 1_000_000)
        var lines = ["wrote \(items) items in \(shards.count) shard\(shards.count == 1 ? "" : "s") (\(megabytes)) to \(output)"]
        if skipped.isEmpty { return lines[0] }
        lines.append("skipped \(skipped.count) item\(skipped.count == 1 ? "" : "s"):")
        var byReason: [String: [String]] = [:]
        for (source, reason) in skipped { byReason[reason, default: []].append(source) }
        for (reason, sources) in byReason.sorted(by: { $0.value.count > $1.value.count }) {
            let examples = sources.prefix(3).joined(separator: ", ") + (sources.count > 3 ? ", …" : "")
            lines.append("  \(sources.count) × \(reason) (\(examples))")
        }
        return lines.joined(separator: "\n")
    }
}

/// Writes a stream of items as a folder of shards `shard-00000.h5`, `shard-00001.h5`, … of at most
/// `shardSize` items each.
///
/// Never leaves a half-written output: shards are staged in a hidden folder inside `output` and moved into
/// place only by `finish()`; `abandon()` (also run on deinit without `finish()`) removes the staging folder
/// and the output folder itself if this writer created it. An output folder that already holds `.h5` files
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
    private var skipped: [(source: String, reason: String)] = []
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
            let existing = ((try? manager.contentsOfDirectory(atPath: output)) ?? []).filter { $0.hasSuffix(".h5") && !$0.hasPrefix(".") }
            if !existing.isEmpty && !overwrite {
                throw ShardBuildError(description: "\(output): already contains \(existing.count) .h5 file(s); use --overwrite to replace them")
            }
            createdOutput = false
        } else {
            do {
                try manager.createDirectory(atPath: output, withIntermediateDirectories: true)
            } catch {
                throw ShardBuildError(description: "\(output): cannot create output folder (\(error.localizedDescription))")
            }
            createdOutput = true
        }
        staging = URL(fileURLWithPath: output).appendingPathComponent(".make-shards-partial-\(ProcessInfo.processInfo.processIdentifier)").path
        do {
            try manager.createDirectory(atPath: staging, withIntermediateDirectories: true)
        } catch {
            throw ShardBuildError(description: "\(output): cannot write in output folder (\(error.localizedDescription))")
        }
    }

    deinit { if !done { abandon() } }

    private func shardName(_ n: Int) -> String { String(format: "shard-%05d.h5", n) }

    /// Adds an item, writing a shard whenever `shardSize` items have gathered.
    public func append(_ item: ShardItem) throws {
        if current == nil {
            current = ShardWriter(path: URL(fileURLWithPath: staging).appendingPathComponent(shardName(staged.count)).path,
                                  classnames: classnames)
        }
        try current!.append(item)
        items += 1
        progress.advance()
        if current!.count == shardSize { try flush() }
    }

    /// Records an input item that was left out.
    public func skip(source: String, reason: String) {
        skipped.append((source, reason))
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
            guard !staged.isEmpty else { throw ShardBuildError(description: "\(output): no items to write (every input item was skipped)") }
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
        } catch {
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
        if createdOutput, ((try? manager.contentsOfDirectory(atPath: output)) ?? ["?"]).isEmpty {
            try? manager.removeItem(atPath: output)
        }
        progress.finish()
    }
}
