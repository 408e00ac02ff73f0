import Foundation

/// The CLIP byte-pair vocabulary built from a merges file (OpenAI's `bpe_simple_vocab_16e6.txt.gz`).
///
/// Token ids, in the order OpenCLIP's `SimpleTokenizer` assigns them:
/// ```
/// 0 ..< 256        the 256 byte characters (see `byteCharacters`)
/// 256 ..< 512      the same characters followed by "</w>" (end of word)
/// 512 ..< 512 + M  one token per merge, the concatenated pair   (M = 48,894)
/// 512 + M          "<start_of_text>"  (49,406)
/// 513 + M          "<end_of_text>"    (49,407)
/// ```
/// Merges are lines 1 ..< 49152 − 256 − 2 + 1 of the file (line 0 is a version header);
/// a merge's rank is its position among them, and a lower rank merges first.
struct BPEVocabulary: Sendable {
    /// Number of merges OpenCLIP reads from the file: 49,152 − 256 − 2 = 48,894.
    static let mergeCount = 49152 - 256 - 2
    static let startOfTextToken = "<start_of_text>"
    static let endOfTextToken = "<end_of_text>"

    /// One applicable merge: its rank (lower merges first) and the id of the merged token.
    struct Merge: Sendable {
        let rank: Int32
        let merged: Int32
    }

    /// Token text by id: [V], V = 512 + M + 2.
    let tokens: [String]
    /// Id of each byte's character token: [256], indexed by byte value.
    let byteTokenIDs: [Int32]
    /// Id of each byte's character followed by "</w>" (a piece's last byte): [256].
    let byteEndOfWordTokenIDs: [Int32]
    /// `pairKey(left, right)` → the merge of that adjacent pair of token ids.
    let merges: [UInt64: Merge]
    /// Raw bytes of each token (byte characters mapped back to bytes; "</w>" kept): [V].
    let tokenBytes: [[UInt8]]
    let startOfText: Int32
    let endOfText: Int32

    /// Packs an adjacent pair of token ids into one dictionary key.
    @inline(__always)
    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Builds the vocabulary from the decompressed merges file.
    /// - Parameter file: used only to name the file in errors.
    init(mergesText data: Data, file: URL) throws {
        let needed = Self.mergeCount
        let lines = Self.lines(of: data, upTo: needed + 1)
        guard lines.count > needed else {
            throw TokenizerError.tooFewMerges(file: file, found: max(0, lines.count - 1), needed: needed)
        }

        // Vocabulary strings in id order.
        let characters = ByteCharacters.characters
        var tokens: [String] = characters.map { String($0) }
        tokens += characters.map { String($0) + "</w>" }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(needed)
        for index in 1...needed {
            let parts = lines[index].split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
            guard parts.count == 2,
                  let left = String(bytes: parts[0], encoding: .utf8),
                  let right = String(bytes: parts[1], encoding: .utf8) else {
                throw TokenizerError.malformedMerge(file: file, line: index + 1)
            }
            pairs.append((left, right))
            tokens.append(left + right)
        }
        tokens += [Self.startOfTextToken, Self.endOfTextToken]

        // text → id; a repeated text keeps its last id, as Python's dict(zip(vocab, range)).
        var encoder: [String: Int32] = [:]
        encoder.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() { encoder[token] = Int32(id) }

        // A merge whose halves are not tokens can never apply: a word only ever holds tokens.
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(needed)
        for (rank, (left, right)) in pairs.enumerated() {
            guard let l = encoder[left], let r = encoder[right], let m = encoder[left + right] else { continue }
            merges[Self.pairKey(l, r)] = Merge(rank: Int32(rank), merged: m)
        }

        self.tokens = tokens
        self.merges = merges
        let byteCharacters = ByteCharacters.byteToCharacter
        self.byteTokenIDs = byteCharacters.map { encoder[String($0)] ?? 0 }
        self.byteEndOfWordTokenIDs = byteCharacters.map { encoder[String($0) + "</w>"] ?? 0 }
        self.tokenBytes = tokens.map(ByteCharacters.bytes(of:))
        self.startOfText = encoder[Self.startOfTextToken] ?? Int32(tokens.count - 2)
        self.endOfText = encoder[Self.endOfTextToken] ?? Int32(tokens.count - 1)
    }

    /// The first `limit` lines of `data`, split on "\n" (as Python's `str.split('\n')`).
    private static func lines(of data: Data, upTo limit: Int) -> [ArraySlice<UInt8>] {
        let bytes = [UInt8](data)
        var lines: [ArraySlice<UInt8>] = []
        lines.reserveCapacity(limit)
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == 0x0A {
            lines.append(bytes[start..<index])
            start = index + 1
            if lines.count == limit { return lines }
        }
        if start < bytes.count { lines.append(bytes[start...]) }   // no empty line after a final "\n"
        return lines
    }
}

/// GPT-2/CLIP's reversible map between bytes and printable characters.
///
/// Bytes `!`…`~`, `¡`…`¬`, `®`…`ÿ` map to the character with the same code point; the remaining
/// 68 bytes map, in increasing order, to U+0100, U+0101, …. `characters[b]` is the character for
/// byte `b`; the vocabulary lists the printable bytes first, then the remapped ones.
enum ByteCharacters {
    /// Byte → character: [256], indexed by byte value.
    static let byteToCharacter: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next) ?? " "
                next += 1
            }
        }
        return table
    }()

    /// Characters in vocabulary order (printable bytes, then the remapped ones): [256].
    static let characters: [Unicode.Scalar] = {
        let printable = (0..<256).filter(isPrintable)
        let remapped = (0..<256).filter { !isPrintable($0) }
        return (printable + remapped).map { byteToCharacter[$0] }
    }()

    /// Character code point → byte, for code points below 512 (all byte characters are).
    static let characterToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 512)
        for byte in 0..<256 { table[Int(byteToCharacter[byte].value)] = Int16(byte) }
        return table
    }()

    static func isPrintable(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The bytes a token stands for; characters outside the table keep their UTF-8 bytes.
    static func bytes(of token: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            let value = Int(scalar.value)
            if value < 512, characterToByte[value] >= 0 {
                out.append(UInt8(characterToByte[value]))
            } else {
                out += Array(String(scalar).utf8)
            }
        }
        return out
    }
}
