import Foundation

/// Why a tokenizer could not be built. Every description is one line that names the file.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case missingFile(URL)
    case unreadable(file: URL, reason: String)
    case notGzip(file: URL, reason: String)
    case tooFewMerges(file: URL, found: Int, needed: Int)
    case malformedMerge(file: URL, line: Int)
    case missingBundledVocabulary

    public var description: String {
        switch self {
        case .missingFile(let file):
            return "merges file not found: \(file.path)"
        case .unreadable(let file, let reason):
            return "cannot read merges file \(file.path): \(reason)"
        case .notGzip(let file, let reason):
            return "merges file \(file.path) is not valid gzip: \(reason)"
        case .tooFewMerges(let file, let found, let needed):
            return "merges file \(file.path) has \(found) merges, need \(needed)"
        case .malformedMerge(let file, let line):
            return "merges file \(file.path), line \(line): expected two UTF-8 symbols separated by a space"
        case .missingBundledVocabulary:
            return "the built-in vocabulary bpe_simple_vocab_16e6.txt.gz is missing from the Tokenization bundle"
        }
    }
}
