import Foundation

/// CLIP's byte-level BPE tokenizer, producing the same ids as OpenCLIP's `SimpleTokenizer`
/// (`open_clip.tokenize`) for the same merges file.
///
/// ```
/// text → clean (ftfy subset, html.unescape ×2, whitespace, lower-case)
///      → pieces (CLIP's regex) → UTF-8 bytes → byte characters, last + "</w>"
///      → merge the lowest-ranked adjacent pair until none applies → ids
/// tokenize(text) = [SOT] + ids + [EOT], zero-padded or cut to T (EOT kept last): [T]
/// ```
/// Thread-safe: the piece cache is shared behind sharded locks, everything else is immutable.
/// Differences from OpenCLIP (rare in captions): ftfy's mojibake repair is not reproduced, only
/// HTML 4 entity names and a few HTML5 ones are decoded (see `TextCleaner`, `HTMLEntities`),
/// and code points assigned after Swift's Unicode version (16) are classified as unassigned.
public final class CLIPTokenizer: Sendable {
    /// OpenAI CLIP's context length.
    public static let defaultContextLength = 77

    /// Number of token ids, V = 49,408 for the built-in vocabulary.
    public var vocabularySize: Int { vocabulary.tokens.count }
    /// `<start_of_text>`, 49,406 for the built-in vocabulary.
    public let startOfText: Int32
    /// `<end_of_text>`, 49,407 for the built-in vocabulary; the largest id.
    public let endOfText: Int32

    let vocabulary: BPEVocabulary
    private let cache = BPECache()

    /// Loads a gzip-compressed merges file (format of OpenAI's `bpe_simple_vocab_16e6.txt.gz`).
    /// - Throws: `TokenizerError` naming the file when it is missing, not gzip, or too short.
    public init(mergesFile: URL) throws {
        guard FileManager.default.fileExists(atPath: mergesFile.path) else {
            throw TokenizerError.missingFile(mergesFile)
        }
        let compressed: Data
        do {
            compressed = try Data(contentsOf: mergesFile)
        } catch {
            throw TokenizerError.unreadable(file: mergesFile, reason: error.localizedDescription)
        }
        let text: Data
        do {
            text = try Gzip.decompress(compressed)
        } catch {
            throw TokenizerError.notGzip(file: mergesFile, reason: "\(error)")
        }
        vocabulary = try BPEVocabulary(mergesText: text, file: mergesFile)
        startOfText = vocabulary.startOfText
        endOfText = vocabulary.endOfText
    }

    /// The built-in tokenizer (OpenAI's merges file shipped in this package), loaded once.
    public static func bundled() throws -> CLIPTokenizer {
        try sharedBundled.get()
    }

    private static let sharedBundled: Result<CLIPTokenizer, any Error> = Result {
        guard let url = bundledMergesFile else { throw TokenizerError.missingBundledVocabulary }
        return try CLIPTokenizer(mergesFile: url)
    }

    /// Location of the built-in merges file inside the resource bundle.
    public static var bundledMergesFile: URL? {
        Bundle.module.url(forResource: "bpe_simple_vocab_16e6.txt", withExtension: "gz",
                          subdirectory: "Resources")
            ?? Bundle.module.url(forResource: "bpe_simple_vocab_16e6.txt", withExtension: "gz")
    }

    // MARK: - Encoding

    /// Token ids of `text`, without `<start_of_text>` / `<end_of_text>`.
    public func encode(_ text: String) -> [Int32] {
        let cleaned = TextCleaner.clean(text)
        var ids: [Int32] = []
        ids.reserveCapacity(cleaned.count / 3 + 1)
        var bytes: [UInt8] = []
        for range in PreTokenizer.pieces(cleaned) {
            bytes.removeAll(keepingCapacity: true)
            for scalar in cleaned[range] { UTF8.encode(scalar) { bytes.append($0) } }
            if bytes.first == UInt8(ascii: "<"), let special = specialTokenID(bytes) {
                ids.append(special)
            } else if let cached = cache.ids(for: bytes) {
                ids += cached
            } else {
                let piece = bytePairEncode(bytes)
                cache.insert(piece, for: bytes)
                ids += piece
            }
        }
        return ids
    }

    /// `[SOT] + encode(text) + [EOT]`, zero-padded to `contextLength`; when longer, cut to
    /// `contextLength` with EOT in the last slot (as `open_clip.tokenize`).
    /// - Returns: [T] with T = `contextLength`.
    public func tokenize(_ text: String, contextLength: Int = CLIPTokenizer.defaultContextLength) -> [Int32] {
        precondition(contextLength >= 1, "contextLength must be at least 1, got \(contextLength)")
        let ids = encode(text)
        var row = [Int32](repeating: 0, count: contextLength)
        row[0] = startOfText
        let kept = min(ids.count, contextLength - 1)
        for index in 0..<kept { row[index + 1] = ids[index] }
        row[min(kept + 1, contextLength - 1)] = endOfText
        return row
    }

    /// `tokenize` for each text. - Returns: [B][T].
    public func tokenize(_ texts: [String], contextLength: Int = CLIPTokenizer.defaultContextLength) -> [[Int32]] {
        texts.map { tokenize($0, contextLength: contextLength) }
    }

    /// Text of token ids, as OpenCLIP's `decode`: bytes of the tokens as UTF-8 (invalid
    /// sequences become U+FFFD) with every "</w>" replaced by a space. Ids outside the
    /// vocabulary are skipped; padding (0) decodes as "!", so strip it first.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && Int(id) < vocabulary.tokenBytes.count {
            bytes += vocabulary.tokenBytes[Int(id)]
        }
        return String(decoding: Self.replacingEndOfWord(bytes), as: UTF8.self)
    }

    // MARK: - Internals

    /// Ids of the special tokens when `bytes` is exactly one of them.
    private func specialTokenID(_ bytes: [UInt8]) -> Int32? {
        if bytes.elementsEqual(BPEVocabulary.startOfTextToken.utf8) { return startOfText }
        if bytes.elementsEqual(BPEVocabulary.endOfTextToken.utf8) { return endOfText }
        return nil
    }

    /// Byte-pair encodes one piece: start from one token per byte (the last with "</w>"), then
    /// repeatedly merge every occurrence, left to right, of the adjacent pair with the lowest
    /// merge rank, until no adjacent pair has a rank.
    func bytePairEncode(_ bytes: [UInt8]) -> [Int32] {
        guard let last = bytes.last else { return [] }
        var word = bytes.dropLast().map { vocabulary.byteTokenIDs[Int($0)] }
        word.append(vocabulary.byteEndOfWordTokenIDs[Int(last)])
        let merges = vocabulary.merges
        while word.count > 1 {
            var best: BPEVocabulary.Merge?
            var bestIndex = 0
            for index in 0..<(word.count - 1) {
                guard let merge = merges[BPEVocabulary.pairKey(word[index], word[index + 1])] else { continue }
                if merge.rank < best?.rank ?? .max { best = merge; bestIndex = index }
            }
            guard let merge = best else { break }
            let first = word[bestIndex], second = word[bestIndex + 1]
            var read = 0, write = 0
            while read < word.count {
                if read + 1 < word.count, word[read] == first, word[read + 1] == second {
                    word[write] = merge.merged
                    read += 2
                } else {
                    word[write] = word[read]
                    read += 1
                }
                write += 1
            }
            word.removeLast(word.count - write)
        }
        return word
    }

    /// Replaces each "</w>" in a byte string by one space (on bytes, which equals doing it on
    /// the decoded text: the marker is ASCII and never inside a multi-byte sequence).
    private static func replacingEndOfWord(_ bytes: [UInt8]) -> [UInt8] {
        let marker: [UInt8] = Array("</w>".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == marker[0], i + marker.count <= bytes.count,
               bytes[i..<(i + marker.count)].elementsEqual(marker) {
                out.append(0x20)
                i += marker.count
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }
}
