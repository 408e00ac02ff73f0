import ArgumentParser
import CommandLineTool
import Foundation
import Tokenization

/// `tokenize [--vocab FILE] [--context-length N]`: one line of token ids per line of stdin.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize lines of stdin with CLIP's BPE tokenizer (ids as open_clip.tokenize).",
        discussion: """
            Prints, for each input line, <start_of_text> ids <end_of_text> zero-padded to the \
            context length, separated by spaces. Lines longer than the context are cut, keeping \
            <end_of_text> in the last slot.
            """)

    @Option(help: "Gzip-compressed BPE merges file (default: the built-in bpe_simple_vocab_16e6.txt.gz).")
    var vocab: String?

    @Option(help: "Tokens per line, including <start_of_text> and <end_of_text>.")
    var contextLength: Int = CLIPTokenizer.defaultContextLength

    func validate() throws {
        guard contextLength >= 2 else {
            throw ValidationError("--context-length must be at least 2, got \(contextLength)")
        }
    }

    func run() throws {
        let tokenizer = try vocab.map { try CLIPTokenizer(mergesFile: URL(fileURLWithPath: $0)) }
            ?? CLIPTokenizer.bundled()
        var lineNumber = 0
        var output = ""
        try forEachLine(of: FileHandle.standardInput) { bytes in
            lineNumber += 1
            let line: String   // valid UTF-8 without NUL, as every text input (TextProblem)
            do { line = try TextProblem.decode(bytes) } catch { throw Failure(description: "stdin line \(lineNumber): \(error)") }
            let ids = tokenizer.tokenize(line, contextLength: contextLength)
            output += ids.lazy.map(String.init).joined(separator: " ")
            output += "\n"
            if output.utf8.count >= 1 << 16 { print(output, terminator: ""); output = "" }
        }
        print(output, terminator: "")
    }
}

/// A runtime failure (printed as one line, `tokenize: error: …`, exit status 1).
struct Failure: Error, CustomStringConvertible {
    let description: String
}

/// Calls `body` with each line of `handle` (lines end at "\n" or "\r\n", `TextLines`).
private func forEachLine(of handle: FileHandle, _ body: ([UInt8]) throws -> Void) throws {
    var lines = TextLines()
    while true {
        let chunk = handle.availableData
        if chunk.isEmpty { break }
        for line in lines.feed(chunk) { try body(line) }
    }
    if let last = lines.finish() { try body(last) }
}

Tokenize.mainWithOneLineErrors()
