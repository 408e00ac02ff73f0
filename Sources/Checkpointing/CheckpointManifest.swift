import Foundation

/// `manifest.json` of a checkpoint folder: the step and, for every file, its size and CRC-32.
/// It is written last, inside the temporary folder, so a folder that has a valid manifest and
/// files matching it is a complete checkpoint; anything else is reported as incomplete.
///
/// ```json
/// {"format":"swiftclip-checkpoint","format_version":1,"step":500,
///  "files":{"model.safetensors":{"bytes":1234,"crc32":"cbf43926"},...}}
/// ```
public struct CheckpointManifest: Equatable, Sendable {
    public static let fileName = "manifest.json"
    public static let format = "swiftclip-checkpoint"
    public static let formatVersion = 1

    public struct FileEntry: Equatable, Sendable {
        public let byteCount: Int
        /// CRC-32 (zlib's) of the file's bytes.
        public let crc32: UInt32

        public init(byteCount: Int, crc32: UInt32) {
            self.byteCount = byteCount
            self.crc32 = crc32
        }
    }

    public let step: Int
    /// File name (inside the checkpoint folder) → size and checksum.
    public let files: [String: FileEntry]

    public init(step: Int, files: [String: FileEntry]) {
        self.step = step
        self.files = files
    }

    /// Deterministic JSON (file names in UTF-8 byte order), ending in a newline.
    func encoded() -> Data {
        let names = files.keys.sorted { $0.precedesByUTF8($1) }
        let fileMembers = names.map { name -> (key: String, json: String) in
            let entry = files[name]!
            return (name, JSONText.object([("bytes", String(entry.byteCount)),
                                           ("crc32", JSONText.quoted(CRC32.hex(entry.crc32)))]))
        }
        let text = JSONText.object([
            ("format", JSONText.quoted(Self.format)),
            ("format_version", String(Self.formatVersion)),
            ("step", String(step)),
            ("files", JSONText.object(fileMembers)),
        ])
        return Data((text + "\n").utf8)
    }

    /// Parses and validates a manifest; `path` names it in errors.
    static func decode(_ data: Data, path: String) throws -> CheckpointManifest {
        func invalid(_ reason: String) -> CheckpointingError {
            CheckpointingError(.malformedFile, path: path, reason: "invalid checkpoint manifest: " + reason)
        }
        let json: JSONValue
        do throws(JSONParseError) {
            json = try JSONValue.parse(Array(data))
        } catch {
            throw invalid("not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .object(let members) = json else { throw invalid("not a JSON object") }
        guard members["format"] == .string(Self.format) else {
            throw invalid("\"format\" is not \"\(Self.format)\"")
        }
        guard let version = members["format_version"]?.integer else { throw invalid("no integer format_version") }
        guard version == Self.formatVersion else {
            throw CheckpointingError(.unsupported, path: path,
                                     reason: "checkpoint format_version \(version); this build reads \(Self.formatVersion)")
        }
        guard let step = members["step"]?.integer, step >= 0 else { throw invalid("no non-negative integer step") }
        guard case .object(let fileMembers)? = members["files"] else { throw invalid("no \"files\" object") }
        var files: [String: FileEntry] = [:]
        for (name, value) in fileMembers {
            guard isPlainFileName(name) else { throw invalid("file name \(quotedForMessage(name)) is not a plain name") }
            guard case .object(let fields) = value, let bytes = fields["bytes"]?.integer, bytes >= 0,
                  case .string(let hex)? = fields["crc32"], hex.utf8.count == 8, let crc = UInt32(hex, radix: 16)
            else { throw invalid("entry for \(quotedForMessage(name)) needs \"bytes\" and an 8-digit hex \"crc32\"") }
            files[name] = FileEntry(byteCount: bytes, crc32: crc)
        }
        return CheckpointManifest(step: step, files: files)
    }
}

/// A name that stays inside its folder: not empty, no `/`, not `.` or `..`, no NUL.
func isPlainFileName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
}
