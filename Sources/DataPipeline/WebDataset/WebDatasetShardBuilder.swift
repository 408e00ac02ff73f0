import Foundation
import Tokenization

/// Converts WebDataset tars into shards (`make-shards webdataset`), one shard per tar. Tars as
/// img2dataset writes them: per sample `{key}.jpg|.jpeg|.png` + `{key}.txt` + optional
/// `{key}.json` (ignored), grouped consecutively in `.tar` files (gzipped or not).
public struct WebDatasetShardBuilder: Sendable {
    /// The tar files, in order.
    public var tars: [String]
    public var format: StoredImageFormat = .jpeg
    /// Tars converted at the same time.
    public var workers = ProcessInfo.processInfo.activeProcessorCount

    public init(tars: [String]) { self.tars = tars }

    /// Expands command-line paths as `TarPaths.tars(in:)` does: a brace pattern stands for its tars, a
    /// folder for every `*.tar`, `*.tar.gz` and `*.tgz` in it, sorted by name; a file is taken as given.
    /// Throws for a missing path, a folder without tars, or two tars that would write one shard.
    public init(paths: [String]) throws {
        var tars: [String] = []
        for path in paths {
            do { tars += try TarPaths.tars(in: path) } catch { throw ShardBuildError(description: "\(error)") }
        }
        var seen: [String: String] = [:]
        for tar in tars {
            let shard = Self.shardName(for: tar)
            if let other = seen[shard] {
                throw ShardBuildError(description: "\(tar): has the same name as \(other); both would write \(shard)")
            }
            seen[shard] = tar
        }
        self.init(tars: tars)
    }

    /// The shard a tar is converted into: its file name with `.tar` (`.tar.gz`, `.tgz`) replaced by `.h5`.
    public static func shardName(for tar: String) -> String {
        let name = URL(fileURLWithPath: tar).lastPathComponent
        let ending = TarPaths.tarExtensions.first { name.hasSuffix($0) } ?? ""
        return String(name.dropLast(ending.count)) + ".h5"
    }
}

/// What a WebDataset build wrote, kept from an earlier run and skipped.
public struct WebDatasetBuildSummary: Sendable, CustomStringConvertible {
    /// The shards written by this run, their items and every skipped sample (and damaged tar).
    public var build: BuildSummary
    /// Shards already in the output folder from an earlier run, whose tars were not read again.
    public var kept: [String]

    public var description: String {
        var lines = build.description.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if !kept.isEmpty {
            lines.insert("kept \(kept.count) shard\(kept.count == 1 ? "" : "s") converted by an earlier run "
                         + "(--overwrite converts their tars again)", at: 1)
        }
        return lines.joined(separator: "\n")
    }
}

/// Converts WebDataset tars into shards, one shard per tar (`00042.tar` → `00042.h5`), streaming each tar
/// (nothing is extracted) and converting `workers` tars at a time.
///
/// Each sample becomes an item as `WebDatasetItem` says (the rule training from tars applies too), with
/// its key in `/keys` and its image stored as `source.format` says; the samples it leaves out are skipped
/// and reported. A tar that is truncated or corrupt keeps the samples before the damage (the members of the
/// sample it interrupts that were read completely count as that sample); the rest of it is one skip entry
/// naming the tar and the byte offset.
///
/// Cheap to rerun: each shard is written atomically, and a tar whose shard already exists is not read
/// again (unless `overwrite`), so an interrupted build resumes where it stopped. An output folder holding
/// other `.h5` files is refused unless `overwrite`, which removes them once the build has succeeded.
@discardableResult
public func buildShards(from source: WebDatasetShardBuilder, output: String, overwrite: Bool = false,
                        progressStyle: BuildProgress.Style = .silent) throws -> WebDatasetBuildSummary {
    guard !source.tars.isEmpty else { throw ShardBuildError(description: "no tar files given") }
    guard source.workers > 0 else { throw ShardBuildError(description: "--workers must be positive, got \(source.workers)") }
    let manager = FileManager.default
    let outputURL = URL(fileURLWithPath: output)
    let createdOutput = try createFolderIfMissing(output)
    let shardNames = source.tars.map(WebDatasetShardBuilder.shardName(for:))
    let existing = Set(((try? manager.contentsOfDirectory(atPath: output)) ?? []).filter { $0.hasSuffix(".h5") && !$0.hasPrefix(".") })
    let foreign = existing.subtracting(shardNames).sorted()
    if !foreign.isEmpty && !overwrite {
        throw ShardBuildError(description: "\(output): holds \(foreign.count) .h5 file(s) that none of the given tars writes "
                              + "(\(foreign[0]), …); use another folder or --overwrite to replace them")
    }
    let todo = source.tars.indices.filter { overwrite || !existing.contains(shardNames[$0]) }
    let progress = BuildProgress(total: todo.count, style: progressStyle)
    let state = WebDatasetBuildState(count: source.tars.count)
    DispatchQueue.concurrentPerform(iterations: min(source.workers, max(todo.count, 1))) { _ in
        while let position = state.claim(upTo: todo.count) {
            let t = todo[position]
            do {
                let result = try convertTar(source.tars[t], to: outputURL.appendingPathComponent(shardNames[t]).path,
                                            format: source.format, progress: progress, state: state)
                let done = state.record(result, for: t)
                if progress.style == .lines { progress.note("\(URL(fileURLWithPath: source.tars[t]).lastPathComponent): \(result.items) items, "
                              + "\(result.skipped.count) skipped (\(done)/\(todo.count) tars)") }  // a terminal gets the bar
                progress.advance()
            } catch {
                state.fail(error)
            }
        }
    }
    progress.finish()
    if let error = state.error {
        if createdOutput, ((try? manager.contentsOfDirectory(atPath: output)) ?? ["?"]).isEmpty { try? manager.removeItem(atPath: output) }
        throw error
    }
    let results = state.results
    var shards: [String] = [], skipped = SkipTally()
    var items = 0, bytes = 0
    for t in todo {
        guard let result = results[t] else { continue }
        if result.items > 0 { shards.append(shardNames[t]) }
        items += result.items
        bytes += result.bytes
        for item in result.skipped.items { skipped.add(source: item.source, item.why) }
    }
    let converted = Set(todo)
    let kept = source.tars.indices.filter { !converted.contains($0) }.map { shardNames[$0] }
    if shards.isEmpty && kept.isEmpty {
        if createdOutput { try? manager.removeItem(atPath: output) }
        throw ShardBuildError(description: skipped.isEmpty ? "\(output): no items to write (the tars hold no samples)"
                              : "\(output): no items to write, all \(skipped.count) samples were skipped: \(skipped.summaryLine())")
    }
    if overwrite {
        for name in foreign { try? manager.removeItem(atPath: outputURL.appendingPathComponent(name).path) }
    }
    return WebDatasetBuildSummary(build: BuildSummary(output: output, items: items, shards: shards, bytes: bytes, skipped: skipped),
                                  kept: kept)
}

/// Creates `folder` (and its parents) unless it exists; returns whether it was created.
func createFolderIfMissing(_ folder: String) throws -> Bool {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) {
        guard isDirectory.boolValue else { throw ShardBuildError(description: "\(folder): exists and is not a folder") }
        return false
    }
    do {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    } catch {
        throw ShardBuildError(description: "\(folder): cannot create output folder (\(error.localizedDescription))")
    }
    return true
}

/// What converting one tar gave.
struct TarConversion: Sendable {
    var items = 0
    var bytes = 0
    var skipped = SkipTally()
}

/// Work queue and results shared by the conversion threads.
final class WebDatasetBuildState: @unchecked Sendable {
    private let lock = NSLock()
    private var nextPosition = 0
    private var stored: [TarConversion?]
    private var firstError: Error?
    private var notedSkips = 0
    /// Skips printed as they happen; the rest only appear in the summary's counts.
    static let skipsNoted = 5

    init(count: Int) { stored = Array(repeating: nil, count: count) }

    func claim(upTo count: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard firstError == nil, nextPosition < count else { return nil }
        nextPosition += 1
        return nextPosition - 1
    }

    private var recorded = 0

    /// Stores a tar's result; returns how many tars are done.
    func record(_ result: TarConversion, for tar: Int) -> Int {
        lock.lock(); defer { lock.unlock() }
        stored[tar] = result
        recorded += 1
        return recorded
    }

    func fail(_ error: Error) { lock.lock(); if firstError == nil { firstError = error }; lock.unlock() }
    var results: [TarConversion?] { lock.lock(); defer { lock.unlock() }; return stored }
    var error: Error? { lock.lock(); defer { lock.unlock() }; return firstError }

    /// Whether this skip is among the first few of the build (to be printed now).
    func shouldNoteSkip() -> Bool {
        lock.lock(); defer { lock.unlock() }
        notedSkips += 1
        return notedSkips <= Self.skipsNoted
    }
}

/// Converts one tar into the shard at `path` (atomically; none when every sample is skipped, and an old one
/// there is removed). Throws only when the shard cannot be written.
func convertTar(_ tar: String, to path: String, format: StoredImageFormat, progress: BuildProgress,
                state: WebDatasetBuildState) throws -> TarConversion {
    var result = TarConversion()
    func skip(_ source: String, _ reason: SkipReason) {
        result.skipped.add(source: source, reason)
        if state.shouldNoteSkip() { progress.note("skipped \(source): \(reason)") }
    }
    let writer = ShardWriter(path: path)
    do {
        var samples = WebDatasetSamples(try TarReader(path: tar))
        while let sample = try samples.next() {
            let item: WebDatasetItem
            do { item = try WebDatasetItem(sample) } catch { skip("\(tar):\(sample.key)", error); continue }
            let image = storedImage(item.image, encoded: item.imageBytes, as: format)
            try writer.append(ShardItem(image: image, caption: item.caption, key: item.key))
        }
    } catch let error as TarError {
        skip("\(tar) at byte \(error.offset)", SkipReason("damaged tar, rest of it unread", detail: error.message))
    }
    if writer.count > 0 {
        result.bytes = try writer.finish()
        result.items = writer.count
    } else {
        try? FileManager.default.removeItem(atPath: path)
    }
    return result
}
