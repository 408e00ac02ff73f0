import Foundation
import Tokenization

/// A tar archive that cannot be read on; the description is one line naming the file and the byte offset.
public struct TarError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    /// Offset of the header or data where reading failed.
    public let offset: Int
    public let message: String

    public var description: String { "\(path) at byte \(offset): \(message)" }
}

/// One regular file of a tar archive.
public struct TarMember: Sendable, Equatable {
    /// The full path inside the archive (GNU long names and pax `path` records applied).
    public var name: String
    /// Offset of the member's (first) header in the archive.
    public var offset: Int
    public var data: [UInt8]
    /// Offset of the member's data in the (uncompressed) archive.
    public var dataOffset: Int

    public init(name: String, offset: Int, data: [UInt8], dataOffset: Int) {
        (self.name, self.offset, self.data, self.dataOffset) = (name, offset, data, dataOffset)
    }
}

/// Streams the regular files of a tar archive, one at a time, straight from the file: nothing is extracted
/// and only the current member is in memory. A gzip-compressed tar (`.tar.gz`, `.tgz`: recognized by its
/// first bytes, whatever its name) is inflated through zlib as it is read; offsets are then offsets in
/// the uncompressed tar, and damaged gzip data ends the archive like other damage.
///
/// Reads POSIX ustar (with the `prefix` field), GNU tar (`././@LongLink` long names, type `L`) and pax
/// (type `x` extended headers: `path` and `size`) — what Python's `tarfile`, GNU tar and img2dataset write.
/// Directories, links, devices, global pax headers and other entry types are skipped. The archive ends at
/// a zero block; a header with a bad checksum, or a file that ends inside a header or a member's data or
/// before the end-of-archive block, throws `TarError` with the offset.
public final class TarReader {
    public let path: String
    /// Size of the archive file in bytes.
    public let size: Int
    /// Offset of the next header.
    public private(set) var offset = 0

    private let handle: FileHandle
    /// The inflated stream of a gzip-compressed tar; nil for a plain one.
    private let gzip: GzipReader?
    /// Bytes of the (uncompressed) tar read or skipped so far: where the data ended when a read falls short.
    private var position = 0
    private var ended = false
    private static let block = 512

    public init(path: String) throws {
        self.path = path
        guard let handle = FileHandle(forReadingAtPath: path),
              let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = attributes[.size] as? Int
        else { throw TarError(path: path, offset: 0, message: "cannot open tar file") }
        self.handle = handle
        self.size = size
        let magic = try? handle.read(upToCount: 2)
        try? handle.seek(toOffset: 0)
        do { gzip = magic == Data([0x1F, 0x8B]) ? try GzipReader(handle: handle) : nil } catch {
            throw TarError(path: path, offset: 0, message: "\(error)")
        }
    }

    deinit { try? handle.close() }

    private func fail(_ message: String, at offset: Int) -> TarError {
        ended = true
        return TarError(path: path, offset: offset, message: message)
    }

    /// "truncated tar: WHAT needs N bytes, the file ends at byte END".
    private func truncated(_ what: String, needs count: Int, endsAt end: Int, at start: Int) -> TarError {
        fail("truncated tar: \(what) needs \(count) bytes, the \(gzip == nil ? "file" : "uncompressed tar") ends at byte \(end)", at: start)
    }

    /// Up to `count` bytes from the current position (fewer only at the end of the data).
    private func bytes(_ count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        if let gzip {
            do { bytes = try gzip.read(count) } catch { throw fail("\(error)", at: position) }
        } else {
            bytes.reserveCapacity(count)
            while bytes.count < count, let chunk = try handle.read(upToCount: count - bytes.count), !chunk.isEmpty {
                bytes.append(contentsOf: chunk)
            }
        }
        position += bytes.count
        return bytes
    }

    /// Reads `count` bytes at the current position `start`, which must exist.
    private func read(_ count: Int, what: String, at start: Int) throws -> [UInt8] {
        if gzip == nil, start + count > size { throw truncated(what, needs: count, endsAt: size, at: start) }
        let bytes = try self.bytes(count)
        guard bytes.count == count else {
            if bytes.isEmpty, position == start, what == "header" { throw fail("truncated tar: no end-of-archive block", at: start) }
            throw truncated(what, needs: count, endsAt: position, at: start)
        }
        return bytes
    }

    /// Skips up to `count` bytes (fewer at the end of the data).
    private func skip(_ count: Int) throws {
        if gzip == nil {
            position = min(size, position + count)
            try handle.seek(toOffset: UInt64(position))
        } else {
            var left = count
            while left > 0 {
                let skipped = try bytes(min(left, 1 << 20)).count
                if skipped == 0 { break }
                left -= skipped
            }
        }
    }

    /// Reads or skips a member's data and the padding to the next 512-byte boundary.
    private func data(size count: Int, keep: Bool, what: String) throws -> [UInt8] {
        let start = offset
        let padded = (count + Self.block - 1) / Self.block * Self.block
        if gzip == nil, start + count > size { throw truncated(what, needs: count, endsAt: size, at: start) }
        var bytes: [UInt8] = []
        if keep {
            bytes = try read(count, what: what, at: start)
            try skip(padded - count)
        } else {
            try skip(count)
            guard position == start + count else { throw truncated(what, needs: count, endsAt: position, at: start) }
            try skip(padded - count)
        }
        offset = start + padded
        return bytes
    }

    /// The next regular file, or nil at the end of the archive.
    public func next() throws -> TarMember? {
        var longName: String? = nil
        var pax: [String: String] = [:]
        while !ended {
            let start = offset
            if gzip == nil, start == size { throw fail("truncated tar: no end-of-archive block", at: start) }
            let header = try read(Self.block, what: "header", at: start)
            offset = start + Self.block
            if header.allSatisfy({ $0 == 0 }) { ended = true; return nil }
            guard let stored = Self.number(header[148..<156]),
                  stored == Self.checksum(header) || stored == Self.checksum(header, signed: true) else {
                throw fail(start == 0 ? "not a tar file (bad header checksum)" : "corrupt tar header (bad checksum)", at: start)
            }
            guard let count = Self.number(header[124..<136]) else { throw fail("corrupt tar header (bad size field)", at: start) }
            var memberCount = count  // a pax `size` record overrides the size of the member it describes
            if let paxSize = pax["size"] {
                guard let value = Int(paxSize), value >= 0 else { throw fail("corrupt pax header (size \"\(paxSize)\")", at: start) }
                memberCount = value
            }
            switch header[156] {
            case UInt8(ascii: "L"):  // GNU long name of the next member
                let bytes = try data(size: count, keep: true, what: "GNU long name")
                longName = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "x"):  // pax extended header of the next member
                let bytes = try data(size: count, keep: true, what: "pax header")
                guard let records = Self.paxRecords(bytes) else { throw fail("corrupt pax header", at: start) }
                pax.merge(records) { $1 }
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):  // regular file
                let name = pax["path"] ?? longName ?? Self.headerName(header)
                let bytes = try data(size: memberCount, keep: true, what: "member \(name)")
                return TarMember(name: name, offset: start, data: bytes, dataOffset: start + Self.block)
            default:  // directories, links, devices, global pax headers, GNU long link names, …
                _ = try data(size: memberCount, keep: false, what: "entry")
                longName = nil
                pax = [:]
            }
        }
        return nil
    }

    // MARK: - Header fields

    /// The sum of the header's bytes with the checksum field read as spaces; `signed` reads bytes as
    /// Int8, as some old tar programs did (Python's tarfile and GNU tar accept both).
    static func checksum(_ header: [UInt8], signed: Bool = false) -> Int {
        var sum = 0
        for (i, byte) in header.enumerated() {
            sum += (148..<156).contains(i) ? 32 : signed ? Int(Int8(bitPattern: byte)) : Int(byte)
        }
        return sum
    }

    /// An octal number field (NUL/space padded), or GNU base-256 when the high bit of the first byte is set.
    static func number(_ field: ArraySlice<UInt8>) -> Int? {
        if let first = field.first, first & 0x80 != 0 {
            var value = Int(first & 0x3F)
            for byte in field.dropFirst() {
                guard value < Int.max >> 9 else { return nil }
                value = value << 8 | Int(byte)
            }
            return value
        }
        let digits = field.drop { $0 == 32 || $0 == 0 }.prefix { $0 != 0 && $0 != 32 }
        guard !digits.isEmpty else { return field.allSatisfy { $0 == 0 || $0 == 32 } ? 0 : nil }
        var value = 0
        for byte in digits {
            guard (48...55).contains(byte), value < Int.max >> 4 else { return nil }
            value = value * 8 + Int(byte - 48)
        }
        return value
    }

    /// `name`, prefixed by ustar's `prefix` field in POSIX ustar headers.
    static func headerName(_ header: [UInt8]) -> String {
        func text(_ range: Range<Int>) -> String { String(decoding: header[range].prefix { $0 != 0 }, as: UTF8.self) }
        let name = text(0..<100)
        let isPOSIXUstar = header[257..<263].elementsEqual(Array("ustar\0".utf8))
        let prefix = isPOSIXUstar ? text(345..<500) : ""
        return prefix.isEmpty ? name : prefix + "/" + name
    }

    /// Pax records `"LEN key=value\n"`; nil when malformed.
    static func paxRecords(_ bytes: [UInt8]) -> [String: String]? {
        var records: [String: String] = [:]
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0 { break }  // padding
            guard let space = bytes[i...].firstIndex(of: 32),
                  let length = Int(String(decoding: bytes[i..<space], as: UTF8.self)), length > space - i + 1,
                  i + length <= bytes.count, bytes[i + length - 1] == 10,
                  let equals = bytes[(space + 1)..<(i + length)].firstIndex(of: UInt8(ascii: "="))
            else { return nil }
            let key = String(decoding: bytes[(space + 1)..<equals], as: UTF8.self)
            records[key] = String(decoding: bytes[(equals + 1)..<(i + length - 1)], as: UTF8.self)
            i += length
        }
        return records
    }
}
