/// The one error type of the Checkpointing module: a file (or folder) and what is wrong with it.
///
/// Its `description` is always a single line, `PATH: reason`, so commands can print it as their
/// one-line failure reason. Text that comes from a file (tensor names, JSON snippets) is escaped
/// before it is put into a reason, so a hostile file cannot break the line.
public struct CheckpointingError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// The bytes do not form a valid file of the expected format (safetensors, manifest, `latest`).
        case malformedFile
        /// Valid, but uses a feature this implementation does not read (e.g. an unknown dtype).
        case unsupported
        /// A checkpoint folder lacks a file, or a file does not match its manifest.
        case incompleteCheckpoint
        /// A name, step or tensor the caller asked for does not exist.
        case notFound
        /// The caller passed something unusable (shape/data mismatch, bad file name, ...).
        case invalidArgument
        /// A system call failed; `code` is its `errno`.
        case io(code: Int32)
    }

    public let kind: Kind
    /// The file or folder the error is about, as given by the caller (for writer input errors:
    /// the tensor, e.g. `tensor 'visual.proj'`).
    public let path: String
    /// What is wrong, in one line.
    public let reason: String

    public init(_ kind: Kind, path: String, reason: String) {
        self.kind = kind
        self.path = path
        self.reason = oneLine(reason)
    }

    public var description: String { "\(oneLine(path)): \(reason)" }
}

/// `text` with line breaks and other control characters replaced by visible escapes.
func oneLine(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: isControl) else { return text }
    var result = ""
    for scalar in text.unicodeScalars {
        if isControl(scalar) {
            result += "\\u{" + String(scalar.value, radix: 16) + "}"
        } else {
            result.unicodeScalars.append(scalar)
        }
    }
    return result
}

private func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{2028}" || scalar == "\u{2029}"
        || scalar == "\u{85}"
}

/// A name from a file, quoted and shortened for an error message: `'visual.proj'`.
func quotedForMessage(_ name: String, limit: Int = 80) -> String {
    let escaped = oneLine(name)
    if escaped.count <= limit { return "'\(escaped)'" }
    return "'\(escaped.prefix(limit))…'"
}
