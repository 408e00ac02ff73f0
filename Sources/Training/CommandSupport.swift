import Foundation

/// Shared behaviour of the command-line tools: a one-line error on standard error and exit 1.
public enum CommandSupport {
    public static func fail(_ tool: String, _ error: Error) -> Never {
        let message = String(describing: error).replacingOccurrences(of: "\n", with: " ")
        FileHandle.standardError.write(Data("\(tool): error: \(message)\n".utf8))
        exit(1)
    }

    /// Runs `body`, turning any thrown error into a one-line message and exit status 1.
    public static func run(_ tool: String, _ body: () throws -> Void) {
        do { try body() } catch { fail(tool, error) }
    }
}
