import Foundation
import Tokenization

/// Which version of a tar file an index describes: its path, size and modification time. A tar that
/// changed (another size or time) is indexed again, and reads from one that changed mid-run fail.
public struct TarFileIdentity: Sendable, Equatable {
    /// The absolute path.
    public var path: String
    public var size: Int
    /// Modification time in nanoseconds since 1970.
    public var modified: Int64

    /// The identity of the file at `path` now; nil when it cannot be examined.
    public static func current(_ path: String) -> TarFileIdentity? {
        var info = stat()
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard stat(absolute, &info) == 0 else { return nil }
        return TarFileIdentity(path: absolute, size: Int(info.st_size),
                               modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }
}

/// One tar's random-access index: the training items (`WebDatasetItem`'s rule) with where each image's
/// bytes lie in the uncompressed tar and its caption, the samples left out with their reasons, and for a
/// gzip-compressed tar the access points to inflate from (`Gzip.accessPoints`, one per MiB of tar).
///
/// The index is its encoded bytes (`TarIndex+File.swift`), read in place — memory-mapped when it comes
/// from a `TarIndexCache` file — so millions of items and the access points' 32 KiB windows cost page
/// cache, not heap: an item is decoded when it is read.
public struct TarIndex: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var key: String
        /// The image member's bytes in the uncompressed tar.
        public var image: Range<Int>
        /// The caption as `WebDatasetItem` makes it (trimmed, checked).
        public var caption: String
    }

    public let file: TarFileIdentity
    /// The number of items.
    public let count: Int
    /// The samples left out (and a damaged rest of the tar), as `make-shards webdataset` reports them.
    public let skipped: SkipTally
    /// The encoded index and where its parts begin.
    let bytes: Data
    let layout: Layout

    public static func == (a: TarIndex, b: TarIndex) -> Bool { a.bytes == b.bytes }

    /// Item `i` (`0 ..< count`).
    public func item(_ i: Int) -> Item {
        precondition(i >= 0 && i < count, "item \(i) out of range 0..<\(count)")
        return bytes.withUnsafeBytes { raw in
            let record = layout.items + i * Layout.itemRecord
            func int(_ k: Int) -> Int { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: record + 8 * k, as: Int64.self))) }
            let (start, length, text, lengths) = (int(0), int(1), layout.text + int(2), int(3))
            let (keyLength, captionLength) = (lengths >> 32, lengths & 0xFFFF_FFFF)
            func string(_ offset: Int, _ count: Int) -> String {
                String(decoding: UnsafeRawBufferPointer(rebasing: raw[offset ..< offset + count]), as: UTF8.self)
            }
            return Item(key: string(text, keyLength), image: start ..< start + length, caption: string(text + keyLength, captionLength))
        }
    }

    /// Every item, in tar order.
    public var items: [Item] { (0..<count).map(item) }

    /// Where to start inflating a gzip-compressed tar; nil for a plain one.
    public var accessPoints: [GzipAccessPoint]? { layout.points.map { $0.indices.map(accessPoint) } }

    /// Access point `p` with its window read from the index.
    func accessPoint(_ p: Int) -> GzipAccessPoint {
        let point = layout.points![p]
        let window = point.window.map { Array(bytes[bytes.startIndex + $0.lowerBound ..< bytes.startIndex + $0.upperBound]) }
        return GzipAccessPoint(output: point.output, input: point.input, bits: point.bits, window: window)
    }

    /// Reads the whole tar once: groups samples, keeps the items `WebDatasetItem` keeps (decoding each
    /// image once to check it) and counts the rest by reason. A damaged tar keeps the items before the
    /// damage; the rest is one skip naming the byte offset, as `make-shards webdataset` counts it.
    /// A gzip-compressed tar gets an access point about every `gzipSpacing` bytes of uncompressed tar.
    public static func build(_ file: TarFileIdentity, gzipSpacing: Int = 1 << 20) throws -> TarIndex {
        let path = file.path
        var items: [(key: String, image: Range<Int>, caption: String)] = []
        var skipped = SkipTally()
        do {
            var samples = WebDatasetSamples(try TarReader(path: path))
            while let sample = try samples.next() {
                do {
                    let item = try WebDatasetItem(sample)
                    items.append((item.key, sample.ranges[item.imageExtension]!, item.caption))
                } catch {
                    skipped.add(source: "\(path):\(sample.key)", error)
                }
            }
        } catch let error as TarError {
            skipped.add(source: "\(path) at byte \(error.offset)", SkipReason("damaged tar, rest of it unread", detail: error.message))
        }
        var points: [GzipAccessPoint]? = nil
        if Self.isGzip(path) {
            do { points = try Gzip.accessPoints(path: path, spacing: gzipSpacing).points } catch {
                throw TarSourceError("\(path): cannot read the tar (\(error.localizedDescription))")
            }
        }
        let bytes = encode(file: file, items: items, skipped: skipped, points: points)
        guard let index = TarIndex(bytes: bytes) else { preconditionFailure("an index just encoded does not decode") }
        return index
    }

    static func isGzip(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 2)) == Data([0x1F, 0x8B])
    }

    /// The bytes at `range` of the (uncompressed) tar, after checking that the tar is still the file
    /// indexed. Throws `TarReadError` (one line: what went wrong) otherwise.
    public func read(_ range: Range<Int>) throws -> [UInt8] {
        guard let now = TarFileIdentity.current(file.path) else { throw TarReadError("tar unreadable (\(String(cString: strerror(errno))))") }
        guard now == file else {
            throw TarReadError("tar changed since it was indexed (size \(now.size), was \(file.size); modified \(now.modified / 1_000_000_000), was \(file.modified / 1_000_000_000))")
        }
        if let points = layout.points {
            var lo = 0, hi = points.count - 1   // the last point at or before the range
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if points[mid].output <= range.lowerBound { lo = mid } else { hi = mid - 1 }
            }
            do { return try Gzip.read(path: file.path, points: [accessPoint(lo)], at: range.lowerBound, count: range.count) } catch {
                throw TarReadError("tar unreadable (\(error))")
            }
        }
        let fd = open(file.path, O_RDONLY)
        guard fd >= 0 else { throw TarReadError("tar unreadable (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: range.count)
        var done = 0
        while done < range.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, range.count - done, off_t(range.lowerBound + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw TarReadError(n < 0 ? "tar unreadable (\(String(cString: strerror(errno))))"
                                         : "tar truncated: the image at byte \(range.lowerBound) needs \(range.count) bytes, the file ends first")
            }
            done += n
        }
        return bytes
    }
}

/// A read from an indexed tar that failed: the description is the reason the loader reports for the
/// item it skips ("tar changed since it was indexed …", "tar unreadable (…)").
public struct TarReadError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A tar source that cannot be opened: one line naming the file and the cause.
public struct TarSourceError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
