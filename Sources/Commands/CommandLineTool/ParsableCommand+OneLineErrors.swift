import ArgumentParser
import Foundation

/// The error convention every SwiftCLIP command follows (docs/DESIGN.md: "exits non-zero with a one-line reason"):
/// - a runtime error — bad data, a missing or unreadable file, a full disk, a non-finite stop — is one line
///   on standard error, `TOOL: error: REASON` (line breaks in the reason become spaces), and exit status 1,
///   without the usage text;
/// - an argument error — a parse failure or a failed `validate()` (`ValidationError`) — is ArgumentParser's
///   message with the usage text and exit status 64; `--help` prints the help and exits 0.
extension ParsableCommand {
    /// The command's entry point, instead of ArgumentParser's `main()`: parses the process arguments and
    /// runs the (sub)command they name under the convention above. `TOOL` is this (root) command's name.
    public static func mainWithOneLineErrors() {
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch let error where error is CleanExit || error is ExitCode || !declares(type(of: command)) {
            // A command that asks for its help (no subcommand given) or an exit status, or ArgumentParser's
            // own `--help` / `help` command, whose run() throws the help request for exit(withError:) to print.
            exit(withError: error)
        } catch {
            exitWithOneLine(error)
        }
    }

    /// Whether `command` is this tool or one of its subcommands (at any depth), as opposed to a
    /// command ArgumentParser adds itself.
    static func declares(_ command: ParsableCommand.Type) -> Bool {
        func walk(_ type: ParsableCommand.Type) -> Bool {
            type == command || type.configuration.subcommands.contains(where: walk)
        }
        return walk(Self.self)
    }

    /// Prints `TOOL: error: REASON` on standard error, as one line, and exits with status 1.
    public static func exitWithOneLine(_ error: Error) -> Never {
        let tool = configuration.commandName ?? String(describing: Self.self).lowercased()
        let reason = String(describing: error).replacingOccurrences(of: "\r\n", with: " ")
            .replacingOccurrences(of: "\n", with: " ")
        fflush(nil)   // what was printed before comes before the error, also when standard output is a pipe
        FileHandle.standardError.write(Data("\(tool): error: \(reason)\n".utf8))
        Foundation.exit(1)
    }
}
