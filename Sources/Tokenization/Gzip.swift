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
