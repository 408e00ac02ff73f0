import Foundation

/// Progress of a long build on standard error: a redrawn bar on a terminal, plain lines otherwise.
public final class BuildProgress: @unchecked Sendable {
    public enum Style: Sendable {
        /// A bar redrawn in place (for terminals).
        case bar
        /// One line per event (for logs and pipes).
        case lines
        case silent

        /// `.bar` when standard error is a terminal, else `.lines`.
        public static var automatic: Style { isatty(STDERR_FILENO) != 0 ? .bar : .lines }
    }

    public let style: Style
    private let total: Int?
    private var done = 0
    private var lastDraw: UInt64 = 0
    private let lock = NSLock()

    public init(total: Int?, style: Style = .automatic) {
        self.total = total
        self.style = style
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Counts `n` more items processed.
    public func advance(by n: Int = 1) {
        lock.lock()
        defer { lock.unlock() }
        done += n
        guard style == .bar else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        if now - lastDraw < 100_000_000 && done != total { return }
        lastDraw = now
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let width = 30, filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            write("\r\(bar) \(done)/\(total) (\(Int(fraction * 100))%)")
        } else {
            write("\r\(done) items")
        }
    }

    /// A one-line message (a shard written, a file skipped); clears the bar first on a terminal.
    public func note(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        switch style {
        case .bar: write("\r\u{1B}[K\(line)\n")
        case .lines: write(line + "\n")
        case .silent: break
        }
    }

    /// Ends the bar's line.
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        if style == .bar { write("\r\u{1B}[K") }
    }
}
