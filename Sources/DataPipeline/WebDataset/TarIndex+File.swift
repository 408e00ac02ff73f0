import Foundation
import Tokenization

/// The encoded index — what `TarIndexCache` files hold and what a `TarIndex` reads in place. Little-endian
/// Int64 fields: "SCTARIX2"; the tar's path (length, UTF-8), size and modification time; the item count
/// and one 32-byte record per item (image start and length in the uncompressed tar, offset of its text in
/// the text block, key length << 32 | caption length); the text block (length, then each item's key and
/// caption); the skips (count, then source, reason, has-detail, detail); the access points (count, -1 for
/// a plain tar, then output, input, bits, window offset (-1: none) and length each) and the window block;
/// last an FNV-1a 64 checksum of everything before it (a file cut short or damaged is built again, never
/// trusted).
extension TarIndex {
    static let magic = Array("SCTARIX2".utf8)

    /// Where the parts of an encoded index begin (byte offsets into it).
    struct Layout: Sendable {
        struct Point: Sendable { var output: Int; var input: Int; var bits: Int; var window: Range<Int>? }
        static let itemRecord = 32
        var items = 0
        var text = 0
        /// Nil for a plain tar.
        var points: [Point]?
    }

    static func encode(file: TarFileIdentity, items: [(key: String, image: Range<Int>, caption: String)],
                       skipped: SkipTally, points: [GzipAccessPoint]?) -> Data {
        var w = IndexWriter()
        w.bytes += magic
        w.string(file.path); w.int(file.size); w.int(Int(file.modified))
        w.int(items.count)
        var textOffset = 0
        for item in items {
            let (key, caption) = (item.key.utf8.count, item.caption.utf8.count)
            w.int(item.image.lowerBound); w.int(item.image.count); w.int(textOffset); w.int(key << 32 | caption)
            textOffset += key + caption
        }
        w.int(textOffset)
        for item in items { w.bytes += item.key.utf8; w.bytes += item.caption.utf8 }
        w.int(skipped.count)
        for skip in skipped.items {
            w.string(skip.source); w.string(skip.why.reason)
            w.int(skip.why.detail == nil ? 0 : 1); w.string(skip.why.detail ?? "")
        }
        w.int(points?.count ?? -1)
        var windowOffset = 0
        for point in points ?? [] {
            w.int(point.output); w.int(point.input); w.int(point.bits)
            w.int(point.window == nil ? -1 : windowOffset); w.int(point.window?.count ?? 0)
            windowOffset += point.window?.count ?? 0
        }
        w.int(windowOffset)
        for point in points ?? [] { w.bytes += point.window ?? [] }
        w.int(Int(bitPattern: UInt(fnv1a(w.bytes))))
        return Data(w.bytes)
    }

    /// The index `bytes` encode; nil when they are not a whole, undamaged index.
    init?(bytes: Data) {
        let bytes = bytes.startIndex == 0 ? bytes : Data(bytes)
        guard bytes.count >= Self.magic.count + 8, bytes.starts(with: Self.magic) else { return nil }
        let parsed: (TarFileIdentity, Int, SkipTally, Layout)? = bytes.withUnsafeBytes { raw in
            let body = raw.count - 8
            guard UInt64(bitPattern: raw.loadUnaligned(fromByteOffset: body, as: Int64.self).littleEndian) == Self.fnv1a(UnsafeRawBufferPointer(rebasing: raw[..<body])) else { return nil }
            var r = IndexReader(raw: raw, end: body, position: Self.magic.count)
            guard let path = r.string(), let size = r.int(), let modified = r.int(), let count = r.int(), count >= 0,
                  count <= (body - r.position) / Layout.itemRecord else { return nil }
            var layout = Layout()
            layout.items = r.position
            r.position += count * Layout.itemRecord
            guard let textLength = r.int(), textLength >= 0, r.position + textLength <= body else { return nil }
            layout.text = r.position
            for i in 0..<count {   // every record's text inside the block: reads never leave the buffer
                let record = layout.items + i * Layout.itemRecord
                func int(_ k: Int) -> Int { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: record + 8 * k, as: Int64.self))) }
                let (start, length, text, lengths) = (int(0), int(1), int(2), int(3))
                guard start >= 0, length >= 0, text >= 0, lengths >= 0, text + (lengths >> 32) + (lengths & 0xFFFF_FFFF) <= textLength else { return nil }
            }
            r.position += textLength
            guard let skipCount = r.int(), skipCount >= 0 else { return nil }
            var skipped = SkipTally()
            for _ in 0..<skipCount {
                guard let source = r.string(), let reason = r.string(), let hasDetail = r.int(), let detail = r.string() else { return nil }
                skipped.add(source: source, SkipReason(reason, detail: hasDetail == 1 ? detail : nil))
            }
            guard let pointCount = r.int(), pointCount >= -1, pointCount <= (body - r.position) / 40 else { return nil }
            var points: [Layout.Point] = []
            var windows: [(Int, Int)] = []
            for _ in 0..<max(pointCount, 0) {
                guard let output = r.int(), let input = r.int(), let bits = r.int(), let window = r.int(), let length = r.int(),
                      output >= 0, input >= 0, (0...7).contains(bits), length >= 0 else { return nil }
                points.append(Layout.Point(output: output, input: input, bits: bits, window: nil))
                windows.append((window, length))
            }
            guard let windowLength = r.int(), windowLength >= 0, r.position + windowLength == body else { return nil }
            for (p, (start, length)) in windows.enumerated() where start >= 0 {
                guard start + length <= windowLength else { return nil }
                points[p].window = r.position + start ..< r.position + start + length
            }
            layout.points = pointCount < 0 ? nil : points
            return (TarFileIdentity(path: path, size: size, modified: Int64(modified)), count, skipped, layout)
        }
        guard let (file, count, skipped, layout) = parsed else { return nil }
        (self.file, self.count, self.skipped, self.bytes, self.layout) = (file, count, skipped, bytes, layout)
    }

    static func fnv1a<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
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
    let raw: UnsafeRawBufferPointer
    let end: Int
    var position: Int

    mutating func int() -> Int? {
        guard position + 8 <= end else { return nil }
        defer { position += 8 }
        return Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: Int64.self)))
    }
    mutating func string() -> String? {
        guard let count = int(), count >= 0, position + count <= end else { return nil }
        defer { position += count }
        return String(decoding: UnsafeRawBufferPointer(rebasing: raw[position ..< position + count]), as: UTF8.self)
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
        guard let path = self.file(for: file.path),
              let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped),
              let index = TarIndex(bytes: data), index.file == file else { return nil }
        return index
    }

    /// Stores `index` (atomically). Throws a one-line error naming the file when it cannot be written.
    public func store(_ index: TarIndex) throws {
        guard let folder, let path = file(for: index.file.path) else { return }
        let temporary = path + ".tmp-\(getpid())-\(UInt64.random(in: 0 ... .max))"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try index.bytes.write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw TarSourceError("\(path): cannot write the tar index (\(error.localizedDescription))")
        }
    }
}
