/// One WebDataset sample: the consecutive tar members that share a key.
public struct WebDatasetSample: Sendable, Equatable {
    /// The member path up to the first "." of its file name (WebDataset's `__key__`).
    public var key: String
    /// Offset of the sample's first member in the tar.
    public var offset: Int
    /// Lower-cased extension (everything after the first "." of the file name: "jpg", "txt", "seg.png") → bytes.
    public var files: [String: [UInt8]]
    /// Extension → where its bytes lie in the (uncompressed) tar.
    public var ranges: [String: Range<Int>] = [:]
}

/// Groups a tar's members into samples exactly as WebDataset does: a member `dir/000123.jpg` has key
/// `dir/000123` and extension `jpg`; consecutive members with the same key form a sample, and a repeated
/// extension starts a new one. Members whose file name has no "." or starts with "." are ignored.
public struct WebDatasetSamples {
    private let reader: TarReader
    private var pending: (member: TarMember, key: String, extension: String)?
    private var damage: Error?

    public init(_ reader: TarReader) { self.reader = reader }

    /// Splits a member path into (key, lower-cased extension); nil for names WebDataset ignores.
    public static func split(_ name: String) -> (key: String, extension: String)? {
        let slash = name.lastIndex(of: "/").map { name.index(after: $0) } ?? name.startIndex
        let file = name[slash...]
        guard !file.hasPrefix("."), let dot = file.firstIndex(of: "."), dot != file.startIndex else { return nil }
        return (String(name[..<dot]), String(name[name.index(after: dot)...]).lowercased())
    }

    /// The next sample, or nil at the end of the tar. When the tar turns out damaged (`TarError`), the
    /// sample being gathered is returned with the members read completely so far, and the error is thrown
    /// by the next call.
    public mutating func next() throws -> WebDatasetSample? {
        if let damage { throw damage }
        var sample: WebDatasetSample? = nil
        while true {
            let next: (member: TarMember, key: String, extension: String)
            if let pending {
                next = pending
                self.pending = nil
            } else {
                let member: TarMember?
                do {
                    member = try reader.next()
                } catch {
                    guard sample != nil else { throw error }
                    damage = error
                    return sample
                }
                guard let member else { return sample }
                guard let (key, ext) = Self.split(member.name) else { continue }
                next = (member, key, ext)
            }
            if var current = sample {
                guard current.key == next.key, current.files[next.extension] == nil else {
                    pending = next
                    return current
                }
                current.files[next.extension] = next.member.data
                current.ranges[next.extension] = next.member.dataRange
                sample = current
            } else {
                sample = WebDatasetSample(key: next.key, offset: next.member.offset, files: [next.extension: next.member.data],
                                          ranges: [next.extension: next.member.dataRange])
            }
        }
    }
}

extension TarMember {
    /// Where the member's bytes lie in the (uncompressed) tar.
    var dataRange: Range<Int> { dataOffset ..< dataOffset + data.count }
}
