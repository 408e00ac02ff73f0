import Foundation

/// The tar files a path or pattern names (`data.train`, `make-shards webdataset`).
public enum TarPaths {
    /// The endings of tar files: plain and gzip-compressed (`TarReader` and `TarIndex` read both).
    public static let tarExtensions = [".tar", ".tar.gz", ".tgz"]

    static func isTarName(_ path: String) -> Bool { tarExtensions.contains { path.hasSuffix($0) } }

    /// Whether `entry` is a pattern rather than a path: it holds a brace, or several patterns joined by
    /// `::` as OpenCLIP's `--train-data 'a/{0..9}.tar::b/{0..9}.tar'` (read one after the other).
    public static func isPattern(_ entry: String) -> Bool { entry.contains("::") || BraceExpansion.hasBraces(entry) }

    /// Whether `entry` names tars: a pattern, a tar file name, or a folder holding tars and no `.h5` shards.
    public static func namesTars(_ entry: String) -> Bool {
        if entry.contains("::") { return entry.components(separatedBy: "::").allSatisfy(namesTars) }
        if BraceExpansion.hasBraces(entry) || isTarName(entry) { return true }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: entry) else { return false }
        let visible = names.filter { !$0.hasPrefix(".") }
        return visible.contains(where: isTarName) && !visible.contains { $0.hasSuffix(".h5") }
    }

    /// The tar files `entry` names, in order: a pattern's expansion, the file itself, or a folder's
    /// `.tar`, `.tar.gz` and `.tgz` files sorted by name; for `a::b`, those of `a` then those of `b`.
    /// Throws one line for a missing tar (naming it and the pattern), a pattern that expands to other
    /// files, or a folder without tars.
    public static func tars(in entry: String) throws -> [String] {
        if entry.contains("::") { return try entry.components(separatedBy: "::").flatMap(tars(in:)) }
        if BraceExpansion.hasBraces(entry) {
            let paths: [String]
            do { paths = try BraceExpansion.expand(entry) } catch { throw TarSourceError("\(error)") }
            for path in paths {
                guard isTarName(path) else { throw TarSourceError("\(entry): expands to \(path), not a .tar, .tar.gz or .tgz file") }
                guard FileManager.default.fileExists(atPath: path) else {
                    throw TarSourceError("\(path): no such tar file (from the pattern \(entry), \(paths.count) tars)")
                }
            }
            return paths
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: entry, isDirectory: &isDirectory) else { throw TarSourceError("\(entry): no such tar file or folder") }
        guard isDirectory.boolValue else { return [entry] }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: entry)) ?? []).filter { isTarName($0) && !$0.hasPrefix(".") }.sorted()
        guard !names.isEmpty else { throw TarSourceError("\(entry): folder contains no .tar, .tar.gz or .tgz files") }
        return names.map { URL(fileURLWithPath: entry).appendingPathComponent($0).path }
    }
}
