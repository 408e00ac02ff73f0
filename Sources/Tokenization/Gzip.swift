internal import CZlib
import Foundation

/// gzip/zlib decompression through the system zlib (the only file that touches it).
public enum Gzip {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Inflates a gzip (or zlib) stream. Throws when the data is truncated or corrupt.
    public static func decompress(_ input: Data) throws -> Data {
        if input.isEmpty { throw Failure(description: "empty gzip stream") }
        var stream = z_stream()
        // 15 window bits + 32: detect gzip or zlib headers automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(description: "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: chunk)
        var status: Int32 = Z_OK
        try input.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: raw.bindMemory(to: Bytef.self).baseAddress!)
            stream.avail_in = uInt(raw.count)
            repeat {
                let produced: Int = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return chunk - Int(stream.avail_out)
                }
                if status == Z_BUF_ERROR || (status == Z_OK && stream.avail_in == 0 && produced == 0) {
                    throw Failure(description: "truncated gzip data")
                }
                if status != Z_OK && status != Z_STREAM_END {
                    throw Failure(description: "corrupt gzip data (zlib status \(status))")
                }
                output.append(buffer, count: produced)
            } while status != Z_STREAM_END
        }
        return output
    }
}

extension Gzip {
    /// `input` compressed as one gzip member (zlib's default level), as `gzip` writes it.
    public static func compress(_ input: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 16: a gzip header and trailer; memory level 8 as zlib's default.
        guard deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(description: "zlib could not start deflating")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))))
        let status = input.withUnsafeBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw Failure(description: "zlib could not deflate (status \(status))") }
        return Array(output.prefix(Int(stream.total_out)))
    }
}

/// A gzip file inflated as it is read, through zlib, a chunk at a time (what `TarReader` reads a
/// `.tar.gz` through). Concatenated gzip members are read on as one stream, as `gzip -d` does.
public final class GzipReader {
    private let handle: FileHandle
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)   // zlib keeps a pointer to it: never moved
    private let input = UnsafeMutablePointer<Bytef>.allocate(capacity: GzipReader.chunk)
    private static let chunk = 1 << 16
    private var fileEnded = false
    private var memberEnded = false

    /// Reads the gzip data from `handle`'s current position on (the caller keeps the handle open).
    public init(handle: FileHandle) throws {
        self.handle = handle
        stream.initialize(to: z_stream())
        // 15 window bits + 16: gzip headers only.
        guard inflateInit2_(stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Gzip.Failure(description: "zlib could not start inflating")   // deinit frees the buffers
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    /// Up to `count` inflated bytes: fewer only at the end of the data. Throws `Gzip.Failure` for
    /// corrupt data ("corrupt gzip data (zlib's message)") or data that ends inside a member.
    public func read(_ count: Int) throws -> [UInt8] {
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: min(count, Self.chunk))
        while output.count < count {
            if stream.pointee.avail_in == 0 && !fileEnded {
                let data = try handle.read(upToCount: Self.chunk) ?? Data()
                data.copyBytes(to: input, count: data.count)
                (stream.pointee.next_in, stream.pointee.avail_in) = (input, uInt(data.count))
                fileEnded = data.isEmpty
            }
            if stream.pointee.avail_in == 0 && fileEnded {
                guard memberEnded else { throw Gzip.Failure(description: "truncated gzip data") }
                break
            }
            if memberEnded {   // more bytes after a member: the next member
                guard inflateReset(stream) == Z_OK else { throw Gzip.Failure(description: "zlib could not start the next gzip member") }
                memberEnded = false
            }
            let wanted = min(count - output.count, buffer.count)
            let status = buffer.withUnsafeMutableBufferPointer { out in
                (stream.pointee.next_out, stream.pointee.avail_out) = (out.baseAddress, uInt(wanted))
                return inflate(stream, Z_NO_FLUSH)
            }
            output += buffer[..<(wanted - Int(stream.pointee.avail_out))]
            switch status {
            case Z_STREAM_END: memberEnded = true
            case Z_OK, Z_BUF_ERROR: break   // Z_BUF_ERROR: needs more input, read above or reported as truncated
            default:
                let reason = stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw Gzip.Failure(description: "corrupt gzip data (\(reason))")
            }
        }
        return output
    }
}

// MARK: - Random access (zran-style access points)

/// A place in a gzip file where inflating can start without reading what comes before it (the design
/// of zlib's `examples/zran.c`): the start of a gzip member, or a deflate block boundary inside one,
/// with the bits of the compressed byte before the block that belong to it and the output before it
/// that back-references may reach (the last 32 KiB).
public struct GzipAccessPoint: Sendable, Equatable {
    /// Offset in the uncompressed data.
    public var output: Int
    /// Offset in the compressed file: of the member's first byte, or of the first whole byte of the block.
    public var input: Int
    /// For a block boundary: how many bits of the byte before `input` belong to the block (0...7).
    public var bits: Int
    /// For a block boundary: up to 32 KiB of output before `output`; nil at the start of a gzip member.
    public var window: [UInt8]?

    public init(output: Int, input: Int, bits: Int, window: [UInt8]?) {
        (self.output, self.input, self.bits, self.window) = (output, input, bits, window)
    }
}

extension Gzip {
    /// Size of a deflate window.
    public static let windowSize = 1 << 15
    private static let chunk = 1 << 16

    private static func failure(_ stream: UnsafeMutablePointer<z_stream>, _ status: Int32) -> Failure {
        Failure(description: "corrupt gzip data (\(stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"))")
    }

    /// Inflates the gzip file at `path` once (concatenated members read on as one stream) and returns
    /// access points: at the start of every gzip member and at the first deflate block boundary after
    /// every `spacing` bytes of output; with the size of the uncompressed data and, when the data is not
    /// gzip, is corrupt or ends inside a member, the failure that ended it (the points before it stay
    /// good). Throws only when the file cannot be opened or read.
    public static func accessPoints(path: String, spacing: Int = 1 << 20) throws -> (points: [GzipAccessPoint], size: Int, damage: Failure?) {
        var points: [GzipAccessPoint] = [], size = 0
        do {
            try accessPoints(path: path, spacing: spacing, into: &points, size: &size)
            return (points, size, nil)
        } catch let failure as Failure {
            return (points, size, failure)
        }
    }

    private static func accessPoints(path: String, spacing: Int, into points: inout [GzipAccessPoint], size totalOut: inout Int) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CocoaError(.fileReadNoPermission) }
        defer { try? handle.close() }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        let window = UnsafeMutablePointer<UInt8>.allocate(capacity: windowSize)   // circular: inflate writes into it
        defer { input.deallocate(); window.deallocate(); stream.deallocate() }
        guard inflateInit2_(stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(description: "zlib could not start inflating")
        }
        defer { inflateEnd(stream) }
        points = [GzipAccessPoint(output: 0, input: 0, bits: 0, window: nil)]
        var totalIn = 0, last = 0
        var fileEnded = false, memberEnded = false
        while true {
            if stream.pointee.avail_in == 0 && !fileEnded {
                let data = try handle.read(upToCount: chunk) ?? Data()
                data.copyBytes(to: input, count: data.count)
                (stream.pointee.next_in, stream.pointee.avail_in) = (input, uInt(data.count))
                fileEnded = data.isEmpty
            }
            if stream.pointee.avail_in == 0 && fileEnded {
                guard memberEnded else { throw Failure(description: "truncated gzip data") }
                return
            }
            if memberEnded {   // more bytes after a member: the next member
                guard inflateReset(stream) == Z_OK else { throw Failure(description: "zlib could not start the next gzip member") }
                memberEnded = false
                points.append(GzipAccessPoint(output: totalOut, input: totalIn, bits: 0, window: nil))
                last = totalOut
            }
            if stream.pointee.avail_out == 0 { (stream.pointee.next_out, stream.pointee.avail_out) = (window, uInt(windowSize)) }
            let (inBefore, outBefore) = (Int(stream.pointee.avail_in), Int(stream.pointee.avail_out))
            let status = inflate(stream, Z_BLOCK)
            totalIn += inBefore - Int(stream.pointee.avail_in)
            totalOut += outBefore - Int(stream.pointee.avail_out)
            switch status {
            case Z_STREAM_END: memberEnded = true
            case Z_OK, Z_BUF_ERROR: break
            default: throw failure(stream, status)
            }
            let type = Int(stream.pointee.data_type)
            // At the end of a block header that is not the last block's: a boundary to start from.
            if status == Z_OK, type & 128 != 0, type & 64 == 0, totalOut - last >= spacing {
                let left = Int(stream.pointee.avail_out)
                var saved = Array(UnsafeBufferPointer(start: window + (windowSize - left), count: left))
                saved += UnsafeBufferPointer(start: window, count: windowSize - left)
                points.append(GzipAccessPoint(output: totalOut, input: totalIn, bits: type & 7,
                                              window: Array(saved.suffix(min(totalOut, windowSize)))))
                last = totalOut
            }
        }
    }

    /// `count` bytes of the uncompressed data of the gzip file at `path` from offset `offset`, inflated
    /// from the last of `points` (from `accessPoints`) at or before it. Throws `Failure` when the data
    /// is corrupt or ends first (the file changed since the points were taken).
    public static func read(path: String, points: [GzipAccessPoint], at offset: Int, count: Int) throws -> [UInt8] {
        guard let point = points.last(where: { $0.output <= offset }) else { throw Failure(description: "no access point before byte \(offset)") }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Failure(description: "cannot open the file") }
        defer { try? handle.close() }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        defer { input.deallocate(); scratch.deallocate(); stream.deallocate() }
        var raw = point.window != nil   // inside a member: raw deflate, then its trailer, then gzip members
        guard inflateInit2_(stream, raw ? -15 : 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(description: "zlib could not start inflating")
        }
        defer { inflateEnd(stream) }
        try handle.seek(toOffset: UInt64(point.input - (point.bits > 0 ? 1 : 0)))
        if let window = point.window {
            if point.bits > 0 {
                guard let byte = try handle.read(upToCount: 1)?.first else { throw Failure(description: "truncated gzip data") }
                guard inflatePrime(stream, Int32(point.bits), Int32(byte >> (8 - point.bits))) == Z_OK else {
                    throw Failure(description: "zlib could not resume inside a block")
                }
            }
            let status = window.withUnsafeBufferPointer { inflateSetDictionary(stream, $0.baseAddress, uInt($0.count)) }
            guard status == Z_OK else { throw failure(stream, status) }
        }
        var toSkip = offset - point.output, trailer = 0
        var output: [UInt8] = []
        output.reserveCapacity(count)
        var fileEnded = false, memberEnded = false
        while output.count < count {
            if stream.pointee.avail_in == 0 && !fileEnded {
                let data = try handle.read(upToCount: chunk) ?? Data()
                data.copyBytes(to: input, count: data.count)
                (stream.pointee.next_in, stream.pointee.avail_in) = (input, uInt(data.count))
                fileEnded = data.isEmpty
            }
            if trailer > 0 {   // a raw deflate stream ended: its gzip trailer before the next member
                let skipped = min(trailer, Int(stream.pointee.avail_in))
                stream.pointee.next_in += skipped
                stream.pointee.avail_in -= uInt(skipped)
                trailer -= skipped
                if trailer > 0 && fileEnded { break }
                continue
            }
            if stream.pointee.avail_in == 0 && fileEnded { break }
            if memberEnded {
                guard (raw ? inflateReset2(stream, 15 + 16) : inflateReset(stream)) == Z_OK else {
                    throw Failure(description: "zlib could not start the next gzip member")
                }
                (raw, memberEnded) = (false, false)
            }
            let wanted = min(chunk, toSkip > 0 ? toSkip : count - output.count)
            (stream.pointee.next_out, stream.pointee.avail_out) = (scratch, uInt(wanted))
            let status = inflate(stream, Z_NO_FLUSH)
            let produced = wanted - Int(stream.pointee.avail_out)
            if toSkip > 0 { toSkip -= produced } else { output.append(contentsOf: UnsafeBufferPointer(start: scratch, count: produced)) }
            switch status {
            case Z_STREAM_END:
                memberEnded = true
                if raw { trailer = 8 }
            case Z_OK, Z_BUF_ERROR: break
            default: throw failure(stream, status)
            }
        }
        guard output.count == count else { throw Failure(description: "truncated gzip data") }
        return output
    }
}
