import Foundation

/// Writes a POSIX ustar archive of regular files (names up to 100 bytes), for the loader benchmark's
/// synthetic tars in img2dataset's layout.
struct TarFileWriter {
    private(set) var bytes: [UInt8] = []

    mutating func add(name: String, data: [UInt8]) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) { for (i, byte) in text.utf8.enumerated() { header[offset + i] = byte } }
        precondition(name.utf8.count <= 100, "tar member name over 100 bytes: \(name)")
        put(name, at: 0)
        put("0000644", at: 100); put("0000000", at: 108); put("0000000", at: 116)
        put(String(format: "%011o", data.count), at: 124)
        put(String(format: "%011o", 1_700_000_000), at: 136)
        put("        ", at: 148)
        header[156] = UInt8(ascii: "0")
        put("ustar", at: 257); put("00", at: 263)
        let sum = header.reduce(0) { $0 + Int($1) }
        put(String(format: "%06o", sum), at: 148); header[154] = 0; header[155] = 32
        bytes += header
        bytes += data
        bytes += [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    /// The archive with its end-of-archive blocks.
    func finished() -> [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }
}
