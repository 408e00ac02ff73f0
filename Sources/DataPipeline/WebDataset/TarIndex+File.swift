import Foundation
import Tokenization

/// The index files of `TarIndexCache`: little-endian binary, "SCTARIX1", the tar's identity, the items,
/// the skips and the gzip access points, then an FNV-1a 64 checksum of everything before it (a file cut
/// short or damaged is built again, never trusted).
extension TarIndex {
    static let magic = Array("SCTARIX1".utf8)

    func encoded() -> [UInt8] {
        var w = IndexWriter()
        w.bytes += Self.magic
        w.string(file.path); w.int(file.size); w.int(Int(file.modified))
        w.int(items.count)
        for item in items { w.string(item.key); w.int(item.image.lowerBound); w.int(item.image.count); w.string(item.caption) }
        w.int(skipped.count)
        for skip in skipped.items {
            w.string(skip.source); w.string(skip.why.reason)
            w.int(skip.why.detail == nil ? 0 : 1); w.string(skip.why.detail ?? "")
        }
        w.int(accessPoints == nil ? -1 : accessPoints!.count)
        for point in accessPoints ?? [] {
            w.int(point.output); w.int(point.input); w.int(point.bits)
            w.int(point.window == nil ? -1 : point.window!.count)
            w.bytes += point.window ?? []
        }
        w.int(Int(bitPattern: UInt(Self.fnv1a(w.bytes))))
        return w.bytes
    }

    /// The index in `bytes`; nil when they are not a whole, undamaged index file.
    static func decoded(_ bytes: [UInt8]) -> TarIndex? {
        guard bytes.count >= magic.count + 8, bytes.starts(with: magic) else { return nil }
        var r = IndexReader(bytes: bytes, position: bytes.count - 8)
        guard let sum = r.int(), UInt64(UInt(bitPattern: sum)) == fnv1a(bytes[..<(bytes.count - 8)]) else { return nil }
        r = IndexReader(bytes: bytes[..<(bytes.count - 8)], position: magic.count)
        guard let path = r.string(), let size = r.int(), let modified = r.int(), let count = r.int(), count >= 0 else { return nil }
        var index = TarIndex(file: TarFileIdentity(path: path, size: size, modified: Int64(modified)), items: [], skipped: SkipTally(), accessPoints: nil)
        index.items.reserveCapacity(count)
        for _ in 0..<count {
            guard let key = r.string(), let start = r.int(), let length = r.int(), start >= 0, length >= 0, let caption = r.string() else { return nil }
            index.items.append(Item(key: key, image: start ..< start + length, caption: caption))
        }
        guard let skips = r.int(), skips >= 0 else { return nil }
        for _ in 0..<skips {
            guard let source = r.string(), let reason = r.string(), let hasDetail = r.int(), let detail = r.string() else { return nil }
            index.skipped.add(source: source, SkipReason(reason, detail: hasDetail == 1 ? detail : nil))
        }
        guard let points = r.int() else { return nil }
        if points >= 0 {
            var list: [GzipAccessPoint] = []
            for _ in 0..<points {
                guard let output = r.int(), let input = r.int(), let bits = r.int(), let windowSize = r.int() else { return nil }
                var window: [UInt8]? = nil
                if windowSize >= 0 { guard let bytes = r.take(windowSize) else { return nil }; window = bytes }
                list.append(GzipAccessPoint(output: output, input: input, bits: bits, window: window))
            }
            index.accessPoints = list
        }
        return r.position == bytes.count - 8 ? index : nil
    }

    static func fnv1a<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}

private struct IndexWriter {
    var bytes: [UInt8] = []
    mutating func int(_ value: Int) { withUnsafeBytes(of: Int64(value).littleEndian) { bytes += $0 } }
    mutating func string(_ value: String) { let utf8 = Array(value.utf8); int(utf8.count); bytes += utf8 }
}

private struct IndexReader {
    let bytes: ArraySlice<UInt8>
    var position: Int
    init(bytes: [UInt8], position: Int) { self.bytes = bytes[...]; self.position = position }
    init(bytes: ArraySlice<UInt8>, position: Int) { self.bytes = bytes; self.position = position }

    mutating func take(_ count: Int) -> [UInt8]? {
        guard count >= 0, position + count <= bytes.endIndex else { return nil }
        defer { position += count }
        return Array(bytes[position ..< position + count])
    }
    mutating func int() -> Int? {
        guard let raw = take(8) else { return nil }
        return Int(Int64(littleEndian: raw.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }))
    }
    mutating func string() -> String? {
        guard let count = int(), let raw = take(count) else { return nil }
        return String(decoding: raw, as: UTF8.self)
    }
}

/// Where tar indexes are kept between runs: a folder (a run's `tar-index/`), one file per tar named
/// after it and a hash of its absolute path, written atomically (a temporary name, then a rename), so a
/// run killed while indexing leaves either no index or a whole one. Never beside the tars, which may be
/// read-only. An index whose tar changed (size or modification time) is built again and replaced.
public struct TarIndexCache: Sendable {
    /// The folder; nil keeps indexes in memory only (built on every open).
    public var folder: String?

    public init(folder: String?) { self.folder = folder }

    /// The index file of the tar at absolute path `path`.
    public func file(for path: String) -> String? {
        guard let folder else { return nil }
        let name = URL(fileURLWithPath: path).lastPathComponent
        return URL(fileURLWithPath: folder).appendingPathComponent(name + "-" + String(format: "%016llx", TarIndex.fnv1a(Array(path.utf8))) + ".index").path
    }

    /// The cached index of `file` when it is whole and describes this version of the tar.
    public func cached(_ file: TarFileIdentity) -> TarIndex? {
        guard let path = self.file(for: file.path), let data = FileManager.default.contents(atPath: path),
              let index = TarIndex.decoded([UInt8](data)), index.file == file else { return nil }
        return index
    }

    /// Stores `index` (atomically). Throws a one-line error naming the file when it cannot be written.
    public func store(_ index: TarIndex) throws {
        guard let folder, let path = file(for: index.file.path) else { return }
        let temporary = path + ".tmp-\(getpid())-\(UInt64.random(in: 0 ... .max))"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(index.encoded()).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw TarSourceError("\(path): cannot write the tar index (\(error.localizedDescription))")
        }
    }
}
