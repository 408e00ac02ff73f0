import Foundation

/// TFRecord framing, the container of TensorBoard event files: each record is its length
/// (UInt64, little-endian), the masked CRC-32C of those 8 bytes, the data, and the masked
/// CRC-32C of the data (UInt32s, little-endian).
public enum TFRecord {
    /// One framed record.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = littleEndian(UInt64(data.count))
        out += length
        out += littleEndian(CRC32C.masked(length))
        out += data
        out += littleEndian(CRC32C.masked(data))
        return out
    }

    /// The records of a file's bytes, in order, with the byte offset after the last intact record.
    /// Reading stops at the first record that is cut short or fails a checksum (`damage` says
    /// which and where); everything before it is returned.
    public static func records(in bytes: [UInt8]) -> (records: [[UInt8]], intactBytes: Int, damage: String?) {
        var records: [[UInt8]] = [], at = 0
        while at < bytes.count {
            guard bytes.count - at >= 12 else { return (records, at, "record at byte \(at) is cut short") }
            let lengthBytes = bytes[at..<at + 8]
            guard readUInt32(bytes, at + 8) == CRC32C.masked(lengthBytes) else { return (records, at, "record at byte \(at): length checksum mismatch") }
            let length = lengthBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard length <= UInt64(bytes.count - at - 16) else { return (records, at, "record at byte \(at) is cut short") }
            let start = at + 12, end = start + Int(length)
            let data = Array(bytes[start..<end])
            guard readUInt32(bytes, end) == CRC32C.masked(data) else { return (records, at, "record at byte \(at): data checksum mismatch") }
            records.append(data)
            at = end + 4
        }
        return (records, at, nil)
    }

    static func littleEndian<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
    }

    private static func readUInt32(_ b: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[at + $1]) << ($1 * 8) }
    }
}
